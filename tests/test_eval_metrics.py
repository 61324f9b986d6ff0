"""Metric functions against rankings computed by hand."""

from __future__ import annotations

import pytest

from codefind.evaluation import collapse, first_relevant_rank, mrr_at, percentile, recall_at


def test_first_relevant_rank_takes_the_first_of_several_relevant_ids() -> None:
    assert first_relevant_rank(["a", "b", "c", "d"], {"d", "b"}) == 2
    assert first_relevant_rank(["a", "b"], {"z"}) is None
    assert first_relevant_rank([], {"a"}) is None


def test_recall_counts_queries_with_a_hit_within_k() -> None:
    ranks = [1, 3, None, 6, 2]
    assert recall_at(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at(ranks, 10) == pytest.approx(4 / 5)
    assert recall_at([], 5) == 0.0


def test_mrr_at_10_ignores_ranks_beyond_10() -> None:
    ranks = [1, 2, None, 11, 4]
    assert mrr_at(ranks, 10) == pytest.approx((1 + 1 / 2 + 0 + 0 + 1 / 4) / 5)
    assert mrr_at([], 10) == 0.0


def test_collapse_keeps_each_corpus_id_once_at_its_best_chunk() -> None:
    id_of = {"a.py": "A", "b.py": "B", "c.py": "C"}
    # a.py appears twice (two chunks of one snippet): it counts at its first position.
    assert collapse(["b.py", "a.py", "b.py", "x.py", "c.py"], id_of) == ["B", "A", "C"]


def test_ties_in_score_do_not_matter_once_ranked() -> None:
    # Two relevant ids sharing the top ranks: the first one decides the rank.
    assert (
        first_relevant_rank(collapse(["a.py", "b.py"], {"a.py": "A", "b.py": "B"}), {"B", "A"}) == 1
    )


def test_percentile_interpolates() -> None:
    assert percentile([10, 20, 30, 40], 50) == pytest.approx(25)
    assert percentile([5], 95) == 5
    assert percentile([], 50) == 0.0
    values = list(range(1, 101))
    assert percentile(values, 95) == pytest.approx(95.05)
