"""Relevance on real projects: does the right code come first? (issue: relevance benchmark)

    python benchmarks/bench_relevance.py                  # report half, every mode, English
    python benchmarks/bench_relevance.py --split tune      # the half that priors are tuned on
    python benchmarks/bench_relevance.py --lang zh         # the Chinese twins
    python benchmarks/bench_relevance.py --section relevance   # also write RESULTS.md

The projects and questions are in ``benchmarks/relevance/`` (see its README: pinned archives
from the package registries, questions written by reading the code before codefind ran,
split once into tune and report halves). Each project is fetched, committed as a git
repository and indexed with the built-in model; then every question is searched in each mode
and its hits are checked against the answers (same file, overlapping lines; for a name, the
hit must contain the definition's line). Reported: top-1 / top-3 / top-10 and MRR@10 per
mode, the names sub-table (definition at rank 1), the kinds of question, and the baseline a
user has without codefind: ``rg -il KEYWORD`` (files listed, and whether an answer is among
them).

The same code measures an older codefind for a before/after table: run it with
``PYTHONPATH`` pointing at that checkout (``--label before``); only public APIs that existed
then are used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks.relevance.fetch import Project, fetch, projects

QUESTIONS = ROOT / "benchmarks" / "relevance" / "questions"
WORK = ROOT / "benchmarks" / ".work" / "relevance"
MODES = ("hybrid", "semantic", "lexical")
NAMED = ("name", "qualified")


@dataclass(frozen=True)
class Answer:
    path: str
    start: int
    end: int


@dataclass(frozen=True)
class Question:
    id: str
    project: str
    kind: str
    queries: dict[str, str | None]
    keyword: str
    answers: tuple[Answer, ...]
    split: str

    def right(self, path: str, start: int, end: int) -> bool:
        """Whether a hit (file and line range) answers this question."""
        return any(a.path == path and start <= a.end and a.start <= end for a in self.answers)


@dataclass
class Outcome:
    """One question in one mode: the rank of the first right hit (None: not in the top 10)."""

    question: Question
    mode: str
    rank: int | None
    ms: float
    hits: list[tuple[str, int, int]] = field(default_factory=list)


def load_questions(split: str, names: Iterable[str] | None = None) -> list[Question]:
    """The questions of ``split`` (``tune``, ``report`` or ``all``)."""
    wanted = set(names) if names else None
    out = []
    for path in sorted(QUESTIONS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw = json.loads(line)
            if (split != "all" and raw["split"] != split) or (
                wanted and raw["project"] not in wanted
            ):
                continue
            out.append(
                Question(
                    id=raw["id"],
                    project=raw["project"],
                    kind=raw["kind"],
                    queries={"en": raw["query"], "zh": raw["query_zh"], "ja": raw["query_ja"]},
                    keyword=raw["keyword"],
                    answers=tuple(Answer(a["path"], a["start"], a["end"]) for a in raw["answers"]),
                    split=raw["split"],
                )
            )
    return out


def open_workspace(project: Project, label: str) -> Any:
    """A workspace on the project's repository with the built-in model, indexed."""
    from codefind.config import load_settings
    from codefind.workspace import Workspace

    repo = fetch(project)
    os.environ["CODEFIND_INDEX_DIR"] = str(WORK / label / project.name)
    settings = load_settings({"backend": "local"})
    workspace = Workspace.for_repository(repo, settings)
    started = time.monotonic()
    report = workspace.indexer().run()
    print(
        f"{project.name}: {report.files} files, {report.chunks} chunks, indexed in "
        f"{time.monotonic() - started:.0f} s (embedded {report.embedded})",
        file=sys.stderr,
    )
    return workspace


def run_questions(
    service: Any, questions: Sequence[Question], modes: Sequence[str], lang: str
) -> list[Outcome]:
    """Search every question in every mode; rank of the first right hit in the top 10."""
    outcomes = []
    for question in questions:
        query = question.queries.get(lang)
        if not query:
            continue
        for mode in modes:
            started = time.perf_counter()
            result = service.search(query, limit=10, mode=mode)
            ms = (time.perf_counter() - started) * 1000
            hits = [(h.path, h.start_line, h.end_line) for h in result.hits]
            rank = next((i for i, (p, s, e) in enumerate(hits, 1) if question.right(p, s, e)), None)
            outcomes.append(Outcome(question, mode, rank, ms, hits))
    return outcomes


def rg_baseline(repo: Path, question: Question) -> tuple[int, bool]:
    """``rg -il KEYWORD``: how many files it lists, and whether an answer's file is one."""
    out = subprocess.run(
        ["rg", "-il", "--fixed-strings", question.keyword], cwd=repo, capture_output=True, text=True
    ).stdout
    files = {line.strip().removeprefix("./") for line in out.splitlines() if line.strip()}
    return len(files), any(a.path in files for a in question.answers)


@dataclass(frozen=True)
class Summary:
    queries: int
    top1: float
    top3: float
    top10: float
    mrr: float
    ms_p50: float
    ms_p95: float


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    n = len(outcomes)
    if n == 0:
        return Summary(0, 0, 0, 0, 0, 0, 0)
    ranks = [o.rank for o in outcomes]
    ms = sorted(o.ms for o in outcomes)
    return Summary(
        queries=n,
        top1=sum(1 for r in ranks if r == 1) / n,
        top3=sum(1 for r in ranks if r is not None and r <= 3) / n,
        top10=sum(1 for r in ranks if r is not None) / n,
        mrr=sum(1 / r for r in ranks if r is not None) / n,
        ms_p50=statistics.median(ms),
        ms_p95=ms[min(n - 1, int(0.95 * n))],
    )


def tables(outcomes: Sequence[Outcome], baseline: Sequence[tuple[Question, int, bool]]) -> str:
    """The markdown tables of one run."""
    lines = [
        "| mode | questions | top-1 | top-3 | top-10 | MRR@10 | ms p50 / p95 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    by_mode: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_mode[o.mode].append(o)
    for mode, group in by_mode.items():
        s = summarize(group)
        lines.append(
            f"| {mode} | {s.queries} | **{s.top1:.3f}** | {s.top3:.3f} | {s.top10:.3f} | "
            f"{s.mrr:.3f} | {s.ms_p50:.1f} / {s.ms_p95:.1f} |"
        )
    lines += ["", "By kind of question (hybrid):", ""]
    lines += ["| kind | questions | top-1 | top-3 | top-10 |", "| --- | --- | --- | --- | --- |"]
    hybrid = by_mode.get("hybrid", next(iter(by_mode.values()), []))
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in hybrid:
        by_kind["names (name + qualified)" if o.question.kind in NAMED else o.question.kind].append(
            o
        )
    for kind in sorted(by_kind):
        s = summarize(by_kind[kind])
        lines.append(f"| {kind} | {s.queries} | {s.top1:.3f} | {s.top3:.3f} | {s.top10:.3f} |")
    lines += ["", "By project (hybrid):", ""]
    lines += ["| project | questions | top-1 | top-3 | top-10 |", "| --- | --- | --- | --- | --- |"]
    by_project: dict[str, list[Outcome]] = defaultdict(list)
    for o in hybrid:
        by_project[o.question.project].append(o)
    for name in sorted(by_project):
        s = summarize(by_project[name])
        lines.append(f"| {name} | {s.queries} | {s.top1:.3f} | {s.top3:.3f} | {s.top10:.3f} |")
    if baseline:
        listed = [n for _, n, _ in baseline]
        found = sum(1 for _, _, ok in baseline if ok)
        lines += [
            "",
            f"Baseline `rg -il KEYWORD` over the same {len(baseline)} questions: the right file "
            f"is among the files listed for {found} ({found / len(baseline):.3f}); it lists "
            f"{statistics.median(listed):.0f} files at the median and {max(listed)} at most "
            "(unranked: a user reads them in path order).",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("tune", "report", "all"), default="report")
    parser.add_argument("--lang", choices=("en", "zh", "ja"), default="en")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--projects", nargs="*", default=None)
    parser.add_argument(
        "--label", default="current", help="index folder name (keep versions apart)"
    )
    parser.add_argument("--out", type=Path, help="write per-question outcomes (JSON Lines)")
    parser.add_argument("--section", help="write the tables to this section of RESULTS.md")
    parser.add_argument(
        "--codefind", type=Path, help="measure the codefind package in this checkout instead"
    )
    args = parser.parse_args(argv)
    if args.codefind:
        sys.path.insert(0, str(args.codefind.resolve()))
    modes = args.modes.split(",")
    questions = load_questions(args.split, args.projects)
    outcomes: list[Outcome] = []
    baseline: list[tuple[Question, int, bool]] = []
    for project in projects():
        mine = [q for q in questions if q.project == project.name]
        if not mine:
            continue
        workspace = open_workspace(project, args.label)
        service = workspace.search_service()
        service.search("warm up the model", limit=1)
        outcomes += run_questions(service, mine, modes, args.lang)
        baseline += [(q, *rg_baseline(fetch(project), q)) for q in mine if q.queries.get(args.lang)]
        workspace.close()
    text = tables(outcomes, baseline)
    print(text)
    if args.out:
        with args.out.open("w", encoding="utf-8") as out:
            for o in outcomes:
                row = {"id": o.question.id, "mode": o.mode, "rank": o.rank, "ms": round(o.ms, 2),
                       "kind": o.question.kind, "hits": o.hits}  # fmt: skip
                out.write(json.dumps(row) + "\n")
    if args.section:
        write_section(
            args.section,
            f"## Relevance on real projects: {args.split} half, {args.lang} queries "
            f"({args.label})\n\n`python benchmarks/bench_relevance.py --split {args.split} "
            f"--lang {args.lang}`; {stamp()}; {machine_info()}; built-in model.\n\n{text}",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
