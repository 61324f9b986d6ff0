"""Choose the ranking priors on the TUNE half of the relevance benchmark (never the report half).

    python benchmarks/tune_ranking.py              # coordinate search from the defaults
    python benchmarks/tune_ranking.py --rounds 1   # one pass

Each project of the benchmark is indexed once; then, for each candidate value of one prior at
a time (the others held), every tune question is searched in every mode and scored. The
objective is the mean over modes of top-1 + top-3 + MRR@10, so a prior must help the default
(hybrid) without breaking the single-retriever modes. Values come from short, round grids, so
the result stays explainable; the chosen values go into ``codefind.ranking.RankingPriors`` by
hand, and ``bench_relevance.py --split report`` then reports the held-out half.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_relevance import (
    MODES,
    load_questions,
    open_workspace,
    run_questions,
    summarize,
)
from benchmarks.relevance.fetch import projects
from codefind.ranking import DEFAULT_PRIORS, RankingPriors

GRIDS: dict[str, tuple[float, ...]] = {
    "definition": (0.2, 0.3, 0.5, 0.8),
    "method_tier": (0.5, 0.75, 0.9),
    "impl_tier": (0.3, 0.5, 0.7),
    "member_tier": (0.1, 0.3, 0.5),
    "prefix_factor": (0.2, 0.4, 0.7),
    "inline_factor": (0.25, 0.5, 1.0),
    "unwanted_code_penalty": (0.0, 0.04, 0.08, 0.15),
    "file_name": (0.0, 0.015, 0.03, 0.06),
    "same_file": (0.0, 0.01, 0.02, 0.04),
}
CATEGORY_GRID = (0.0, 0.04, 0.08, 0.12, 0.2)
CATEGORIES = ("test", "docs", "changelog", "example", "config", "generated")


def objective(services: dict[str, Any], questions: list[Any], priors: RankingPriors) -> float:
    """Mean over modes of top-1 + top-3 + MRR@10 on ``questions`` with ``priors``."""
    total = 0.0
    for mode in MODES:
        outcomes = []
        for name, service in services.items():
            service.priors = priors
            mine = [q for q in questions if q.project == name]
            outcomes += run_questions(service, mine, [mode], "en")
        s = summarize(outcomes)
        total += s.top1 + s.top3 + s.mrr
    return total / len(MODES)


def candidates(priors: RankingPriors) -> list[tuple[str, RankingPriors]]:
    """Every one-step change of ``priors`` on the grids."""
    out = []
    for name, grid in GRIDS.items():
        out += [(f"{name}={v}", replace(priors, **{name: v})) for v in grid]
    for category in CATEGORIES:
        for v in CATEGORY_GRID:
            penalties = {**priors.category_penalty, category: v}
            out.append((f"{category}={v}", replace(priors, category_penalty=penalties)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = load_questions("tune")
    services = {}
    for project in projects():
        if any(q.project == project.name for q in questions):
            services[project.name] = open_workspace(project, "current").search_service()
    best = DEFAULT_PRIORS
    best_score = objective(services, questions, best)
    print(f"defaults: {best_score:.4f}", flush=True)
    for round_number in range(args.rounds):
        improved = False
        for label, trial in candidates(best):
            score = objective(services, questions, trial)
            if score > best_score + 1e-9:
                best, best_score, improved = trial, score, True
                print(f"round {round_number + 1}: {label} -> {score:.4f}", flush=True)
        if not improved:
            break
    print("chosen:")
    for f in fields(RankingPriors):
        print(f"  {f.name} = {getattr(best, f.name)!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
