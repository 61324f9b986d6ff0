"""Measure the evidence behind a top hit: real questions against nonsense and off-topic ones.

    python benchmarks/calibrate_no_match.py --split tune     # choose the threshold here
    python benchmarks/calibrate_no_match.py --split report   # and check it here

For every question of the relevance benchmark (right answers known) and every query of
``relevance/no_match.jsonl`` (nonsense strings and off-topic requests, which have no right
answer in any of the projects), it searches in hybrid mode and records the evidence codefind
has about its hits: the query's word coverage (share of its words found in the index), the
top hit's cosine, and whether the hit was found by name. It prints, for each candidate
threshold, how many right top hits would be hidden and how many no-match queries would still
show hits, so the threshold in ``codefind.confidence`` is chosen from numbers, on the tune
half only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks.bench_relevance import load_questions, open_workspace
from benchmarks.relevance.fetch import projects

NO_MATCH = ROOT / "benchmarks" / "relevance" / "no_match.jsonl"


def features(result: Any) -> dict[str, Any]:
    """The evidence of one search result's top hit."""
    top = result.hits[0] if result.hits else None
    return {
        "shown": bool(result.strong),
        "top_weak": bool(top is not None and top.weak),
        "coverage": round(result.coverage, 3),
        "cosine": None if top is None or top.cosine is None else round(top.cosine, 4),
        "named": bool(top is not None and top.named),
        "lexical": bool(top is not None and top.lexical_rank is not None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("tune", "report"), default="tune")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--section", help="write the outcome to this section of RESULTS.md")
    parser.add_argument(
        "--lang", choices=("en", "zh", "ja"), default="en", help="the questions' language"
    )
    args = parser.parse_args()
    questions = [q for q in load_questions(args.split) if q.queries.get(args.lang)]
    no_match = [
        json.loads(line)
        for line in NO_MATCH.read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["split"] == args.split
    ]
    rows = []
    for project in projects():
        workspace = open_workspace(project, "current")
        service = workspace.search_service()
        for q in (q for q in questions if q.project == project.name):
            result = service.search(q.queries[args.lang], limit=10, mode="hybrid")
            top = result.hits[0] if result.hits else None
            right = top is not None and q.right(top.path, top.start_line, top.end_line)
            rows.append({"project": project.name, "id": q.id, "kind": q.kind, "right": right,
                         **features(result)})  # fmt: skip
        for q in no_match:
            result = service.search(q["query"], limit=10, mode="hybrid")
            rows.append({"project": project.name, "id": q["id"], "kind": q["kind"],
                         "right": False, **features(result)})  # fmt: skip
        workspace.close()
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    real = [r for r in rows if r["kind"] not in ("nonsense", "off_topic")]
    fake = [r for r in rows if r["kind"] in ("nonsense", "off_topic")]
    print(f"{len(real)} questions ({sum(r['right'] for r in real)} right at rank 1), "
          f"{len(fake)} no-match searches")  # fmt: skip
    for name, rows_ in (("questions", real), ("no-match", fake)):
        cosines = sorted(r["cosine"] for r in rows_ if r["cosine"] is not None)
        quart = [cosines[int(q * (len(cosines) - 1))] for q in (0.0, 0.1, 0.25, 0.5, 0.9)]
        covs = sorted(r["coverage"] for r in rows_)
        cquart = [covs[int(q * (len(covs) - 1))] for q in (0.0, 0.1, 0.25, 0.5, 0.9)]
        print(f"{name}: cosine min/p10/p25/p50/p90 {quart}; coverage {cquart}")
    shown = sum(r["shown"] for r in fake)
    hidden = sum(1 for r in real if r["right"] and r["top_weak"])
    outcome = (
        f"with the thresholds in codefind.ranking: {shown} of {len(fake)} no-match searches "
        f"still show hits; {hidden} of {sum(r['right'] for r in real)} right top hits are weak"
    )
    print(outcome)
    if args.section:
        write_section(
            args.section,
            f"## No good match: {args.split} half{'' if args.lang == 'en' else ', ' + args.lang}"
            f"\n\n`python benchmarks/calibrate_no_match.py --split {args.split} --lang "
            f"{args.lang}`; {stamp()}; {machine_info()}; built-in model, hybrid mode. "
            f"{len(real)} {args.lang} questions of the relevance benchmark and {len(fake) // len(projects())} "
            f"nonsense or off-topic queries (relevance/no_match.jsonl) searched in each of the "
            f"{len(projects())} projects: {outcome}.",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
