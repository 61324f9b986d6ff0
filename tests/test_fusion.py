"""Score fusion: the semantic signal leads, BM25 breaks ties and rescues exact words."""

from __future__ import annotations

from codefind.fusion import (
    FOREIGN_SCRIPT_LEXICAL_WEIGHT,
    LEXICAL_WEIGHT,
    Candidate,
    fuse,
    lexical_weight_for,
    rrf,
)


def ids(ranked: list[tuple[Candidate, float]]) -> list[int]:
    return [c.chunk_id for c, _ in ranked]


def test_semantic_mode_orders_by_cosine_and_drops_lexical_only() -> None:
    pool = [Candidate(1, cosine=0.2), Candidate(2, cosine=0.5), Candidate(3, bm25=9.0)]
    assert ids(fuse(pool, mode="semantic")) == [2, 1]


def test_lexical_mode_orders_by_bm25_scaled_to_the_best() -> None:
    pool = [Candidate(1, cosine=0.9, bm25=1.0), Candidate(2, bm25=4.0), Candidate(3, cosine=0.5)]
    ranked = fuse(pool, mode="lexical")
    assert ids(ranked) == [2, 1]
    assert [s for _, s in ranked] == [1.0, 0.25]


def test_definitions_found_by_name_stay_in_every_mode() -> None:
    pool = [Candidate(1, cosine=0.4, bm25=2.0), Candidate(2, named=True)]
    for mode in ("semantic", "lexical", "hybrid"):
        assert 2 in ids(fuse(pool, mode=mode)), mode


def test_hybrid_lets_bm25_decide_a_near_tie_but_not_a_clear_semantic_win() -> None:
    near_tie = [Candidate(1, cosine=0.50), Candidate(2, cosine=0.49, bm25=5.0)]
    assert ids(fuse(near_tie, mode="hybrid")) == [2, 1]
    clear = [Candidate(1, cosine=0.70), Candidate(2, cosine=0.40, bm25=5.0)]
    assert ids(fuse(clear, mode="hybrid")) == [1, 2]


def test_hybrid_score_is_cosine_plus_weighted_normalised_bm25() -> None:
    pool = [Candidate(1, cosine=0.5, bm25=2.0), Candidate(2, cosine=0.4, bm25=4.0)]
    scores = dict((c.chunk_id, s) for c, s in fuse(pool, mode="hybrid", lexical_weight=0.2))
    assert abs(scores[1] - (0.5 + 0.2 * 0.5)) < 1e-9
    assert abs(scores[2] - (0.4 + 0.2 * 1.0)) < 1e-9


def test_hybrid_without_any_vectors_falls_back_to_bm25() -> None:
    pool = [Candidate(1, bm25=1.0), Candidate(2, bm25=2.0)]
    assert ids(fuse(pool, mode="hybrid")) == [2, 1]


def test_rrf_for_reference() -> None:
    assert [cid for cid, _ in rrf([[1, 2, 3], [2, 3]])] == [2, 3, 1]


def test_queries_in_a_script_the_model_cannot_read_lean_on_bm25() -> None:
    assert lexical_weight_for("sort a list by key", multilingual=False) == LEXICAL_WEIGHT
    assert lexical_weight_for("ordenar una lista por clave", multilingual=False) == LEXICAL_WEIGHT
    russian = "отсортировать список `a` по ключу"
    assert lexical_weight_for(russian, multilingual=False) == FOREIGN_SCRIPT_LEXICAL_WEIGHT
    assert lexical_weight_for(russian, multilingual=True) == LEXICAL_WEIGHT
    assert lexical_weight_for("读取文件", multilingual=False) == FOREIGN_SCRIPT_LEXICAL_WEIGHT
    assert lexical_weight_for("123 456", multilingual=False) == LEXICAL_WEIGHT
