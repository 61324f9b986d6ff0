"""Choose the ranking priors on the TUNE half of the relevance benchmark (never the report half).

    python benchmarks/tune_ranking.py              # coordinate search from the defaults
    python benchmarks/tune_ranking.py --rounds 1   # one pass

Each project is indexed once and every tune question is searched once per mode; what the
priors work on (the fused candidates, the query's intent, the symbol-table matches) is kept,
and each candidate setting of the priors re-ranks those in memory (``SearchService._rank``,
the code the search itself runs). One prior changes at a time over a short, round grid; a
change is kept when it improves the objective by at least ``--min-gain`` (half a question by
default, so noise does not pick values). The objective is the mean over modes of top-1 +
top-3 + MRR@10, so a prior must help the default (hybrid) without breaking the other modes.
The chosen values go into ``codefind.ranking.RankingPriors`` by hand; then
``bench_relevance.py --split report`` reports the held-out half.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_relevance import MODES, Question, load_questions, open_workspace
from benchmarks.relevance.fetch import projects
from codefind.ranking import DEFAULT_PRIORS, RankingPriors, definition_boosts
from codefind.search import SearchService

GRIDS: dict[str, tuple[float, ...]] = {
    "definition": (0.5, 1.0, 2.0, 3.0),
    "method_tier": (0.5, 0.75, 0.9),
    "impl_tier": (0.3, 0.5, 0.7),
    "member_tier": (0.1, 0.3, 0.5),
    "prefix_factor": (0.2, 0.4, 0.7),
    "inline_factor": (0.1, 0.25, 0.5),
    "unwanted_code_penalty": (0.0, 0.04, 0.08, 0.15),
    "declaration": (0.0, 0.04, 0.08),
    "exact_case": (0.0, 0.05, 0.15),
    "file_name": (0.0, 0.015, 0.03, 0.06),
    "same_file": (0.0, 0.01, 0.02, 0.04),
}
CATEGORY_GRID = (0.0, 0.04, 0.08, 0.12, 0.2, 0.3, 0.4, 0.5)
CATEGORIES = ("test", "docs", "changelog", "example", "config", "generated")


@dataclass
class Case:
    """One question in one mode, as the priors see it."""

    question: Question
    mode: str
    service: SearchService
    fused: Any
    intent: Any
    found: Any


def capture(service: SearchService, question: Question, mode: str) -> Case:
    """Search once and keep what ``_rank`` and ``definition_boosts`` were given."""
    seen: dict[str, Any] = {}
    rank, matches = service._rank, service._symbol_matches

    def spy_rank(fused: Any, intent: Any, boosts: Any, limit: int, **kw: Any) -> Any:
        seen["fused"], seen["intent"] = list(fused), intent
        return rank(fused, intent, boosts, limit, **kw)

    def spy_matches(name: Any) -> Any:
        found = matches(name)
        seen.setdefault("found", {})[name] = found
        return found

    service._rank, service._symbol_matches = spy_rank, spy_matches  # type: ignore[method-assign]
    try:
        service.search(question.queries["en"] or "", limit=10, mode=mode)  # type: ignore[arg-type]
    finally:
        del service._rank, service._symbol_matches
    return Case(question, mode, service, seen["fused"], seen["intent"], seen.get("found", {}))


def rank_of(case: Case, priors: RankingPriors) -> int | None:
    """Where the first right hit lands with ``priors`` (None: not in the top 10)."""
    case.service.priors = priors
    boosts = definition_boosts(case.intent, case.found, priors)
    hits = case.service._rank(case.fused, case.intent, boosts, 10, rerank=False, query="")
    return next(
        (i for i, h in enumerate(hits, 1) if case.question.right(h.path, h.start_line, h.end_line)),
        None,
    )


def objective(cases: list[Case], priors: RankingPriors) -> float:
    """Mean over modes of top-1 + top-3 + MRR@10."""
    total = 0.0
    for mode in MODES:
        ranks = [rank_of(c, priors) for c in cases if c.mode == mode]
        n = len(ranks) or 1
        total += sum(1 for r in ranks if r == 1) / n
        total += sum(1 for r in ranks if r is not None and r <= 3) / n
        total += sum(1 / r for r in ranks if r is not None) / n
    return total / len(MODES)


def steps() -> list[tuple[str, float]]:
    """Every (prior, value) on the grids; category penalties are named by their category."""
    out = [(name, v) for name, grid in GRIDS.items() for v in grid]
    return out + [(category, v) for category in CATEGORIES for v in CATEGORY_GRID]


def changed(priors: RankingPriors, name: str, value: float) -> RankingPriors:
    """``priors`` with one value changed."""
    if name in CATEGORIES:
        return replace(priors, category_penalty={**priors.category_penalty, name: value})
    return replace(priors, **{name: value})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-gain", type=float, default=0.005)
    args = parser.parse_args()
    questions = load_questions("tune")
    cases: list[Case] = []
    for project in projects():
        mine = [q for q in questions if q.project == project.name]
        if not mine:
            continue
        service = open_workspace(project, "current").search_service()
        cases += [capture(service, q, mode) for q in mine for mode in MODES]
    best = DEFAULT_PRIORS
    best_score = objective(cases, best)
    print(f"defaults: {best_score:.4f} ({len(cases)} searches)", flush=True)
    for round_number in range(args.rounds):
        improved = False
        for name, value in steps():
            trial = changed(best, name, value)  # from the best so far, this round included
            score = objective(cases, trial)
            if score > best_score + args.min_gain:
                best, best_score, improved = trial, score, True
                print(f"round {round_number + 1}: {name}={value} -> {score:.4f}", flush=True)
        if not improved:
            break
    print("chosen:")
    for f in fields(RankingPriors):
        print(f"  {f.name} = {getattr(best, f.name)!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
