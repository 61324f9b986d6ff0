"""Print the Markdown tables of training/README.md from the files the pipeline writes.

Why a script: the sources table (versions, licences, pair counts) and the before/after table
must match ``sources.lock``, ``data_stats.json`` and the measured results exactly; copying
numbers by hand is how they drift.

    python training/tables.py sources                       # sources + pair counts
    python training/tables.py results training/.work/results.jsonl --before base --after code
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TRAINING = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Print the requested table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="table", required=True)
    sub.add_parser("sources")
    res = sub.add_parser("results")
    res.add_argument("results")
    res.add_argument("--before", default="base")
    res.add_argument("--after", default="code")
    args = parser.parse_args(argv)
    print(
        "\n".join(
            sources_table()
            if args.table == "sources"
            else results_table(Path(args.results), args.before, args.after)
        )
    )
    return 0


def sources_table() -> list[str]:
    """One row per archive: registry, package, version, licence, role, pairs kept."""
    stats = json.loads((TRAINING / "data_stats.json").read_text("utf-8"))["per_package"]
    lines = [
        "| registry | package | version | licence (from its metadata) | role | pairs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for line in (TRAINING / "sources.lock").read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        s = json.loads(line)
        counts = stats.get(s["name"], {})
        pairs = counts.get("heldout_queries" if s["role"] == "heldout" else "kept", 0)
        lines.append(
            f"| {s['registry']} | {s['name']} | {s['version']} | {s['license'][:60]} "
            f"| {s['role']} | {pairs} |"
        )
    return lines


def results_table(path: Path, before: str, after: str) -> list[str]:
    """Per set and mode: MRR@10, R@1, R@5 before and after, and the MRR change."""
    rows: dict[tuple[str, str, str], dict[str, float]] = {}
    for line in path.read_text("utf-8").splitlines():
        r = json.loads(line)
        rows[(r["set"], r["mode"], r["model"])] = r  # the last run of a combination wins
    sets = list(dict.fromkeys(k[0] for k in rows))
    lines = [
        "| set | queries | mode | R@1 before | R@1 after | R@5 before | R@5 after "
        "| MRR@10 before | MRR@10 after | change |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in sets:
        for mode in ("semantic", "hybrid"):
            b, a = rows.get((name, mode, before)), rows.get((name, mode, after))
            if b is None or a is None:
                continue
            change = a["mrr@10"] - b["mrr@10"]
            lines.append(
                f"| {name} | {b['queries']} | {mode} | {b['recall@1']:.3f} | {a['recall@1']:.3f} "
                f"| {b['recall@5']:.3f} | {a['recall@5']:.3f} | {b['mrr@10']:.3f} "
                f"| {a['mrr@10']:.3f} | {change:+.3f} |"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
