"""The Chinese/Japanese - English gap on the relevance benchmark, before and after (issue 17).

    python benchmarks/bench_relevance.py --split all --lang en --out /tmp/en.jsonl
    python benchmarks/bench_relevance.py --split all --lang zh --out /tmp/zh_after.jsonl
    (the same with an older checkout: --codefind OLD --label before --out /tmp/zh_before.jsonl)
    python benchmarks/translation_gap.py --en /tmp/en.jsonl --lang zh \\
        --before /tmp/zh_before.jsonl --after /tmp/zh_after.jsonl --split report \\
        --section translation-gap-zh

The relevance questions (``benchmarks/relevance/``) were written, with their Chinese and
Japanese twins, before codefind ran on the projects, and split once into tune and report
halves. The gap is measured on the *same* questions: for each mode, Recall@5 and MRR@10 of
the English queries minus those of their twins, over the questions that have a twin. Every
weight of the sense ranking was chosen on ``tune``; ``report`` is what the README quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks.bench_relevance import load_questions

MODES = ("hybrid", "semantic", "lexical")
Ranks = dict[tuple[str, str], int | None]


def read_ranks(path: Path) -> Ranks:
    """(question id, mode) -> rank of the first right hit (``None``: not in the top 10)."""
    ranks: Ranks = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            ranks[(row["id"], row["mode"])] = row["rank"]
    return ranks


def metrics(ranks: Ranks, ids: Sequence[str], mode: str) -> tuple[float, float]:
    """(Recall@5, MRR@10) over ``ids`` in ``mode`` (a missing row counts as a miss)."""
    values = [ranks.get((i, mode)) for i in ids]
    if not values:
        return 0.0, 0.0
    recall = sum(1 for r in values if r is not None and r <= 5) / len(values)
    mrr = sum(1 / r for r in values if r is not None) / len(values)
    return recall, mrr


def table(en: Ranks, runs: dict[str, Ranks], ids: Sequence[str]) -> str:
    """Per mode: English, each run of the twins, and the gap (English minus twins)."""
    names = list(runs)
    head = ["mode", "questions", "en R@5 / MRR@10"]
    head += [f"{n} R@5 / MRR@10" for n in names] + [f"gap {n} (R@5 / MRR@10)" for n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for mode in MODES:
        base = metrics(en, ids, mode)
        cells = [mode, str(len(ids)), f"{base[0]:.3f} / {base[1]:.3f}"]
        got = {n: metrics(runs[n], ids, mode) for n in names}
        cells += [f"{got[n][0]:.3f} / {got[n][1]:.3f}" for n in names]
        cells += [f"{base[0] - got[n][0]:+.3f} / {base[1] - got[n][1]:+.3f}" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--en", type=Path, required=True, help="English per-question ranks")
    parser.add_argument("--lang", choices=("zh", "ja"), required=True)
    parser.add_argument("--run", action="append", default=[], metavar="NAME=FILE",
                        help="a run of the twins (repeatable), e.g. before=/tmp/zh_before.jsonl")  # fmt: skip
    parser.add_argument("--split", choices=("tune", "report", "all"), default="report")
    parser.add_argument("--section", help="write the table to this section of RESULTS.md")
    parser.add_argument("--note", default="", help="a paragraph to print under the table")
    args = parser.parse_args(argv)
    runs = {}
    for spec in args.run:
        name, _, file = spec.partition("=")
        runs[name] = read_ranks(Path(file))
    questions = [q for q in load_questions(args.split) if q.queries.get(args.lang)]
    ids = [q.id for q in questions]
    text = table(read_ranks(args.en), runs, ids)
    by_project: dict[str, int] = defaultdict(int)
    for q in questions:
        by_project[q.project] += 1
    text += (
        f"\n\n{len(ids)} questions with a {args.lang} twin on the {args.split} half, over "
        f"{len(by_project)} projects ({', '.join(sorted(by_project))})."
    )
    if args.note:
        text += f"\n\n{args.note}"
    print(text)
    if args.section:
        write_section(
            args.section,
            f"## Chinese/Japanese vs English on the relevance benchmark: {args.lang}, "
            f"{args.split} half (`benchmarks/translation_gap.py`)\n\n{stamp()}; "
            f"{machine_info()}; built-in model.\n\n{text}",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
