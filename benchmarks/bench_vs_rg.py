"""codefind against ripgrep, like for like: one whole process against one whole process.

    python benchmarks/bench_vs_rg.py                      # flask, httpie and zod
    python benchmarks/bench_vs_rg.py --projects flask     # one project
    chrt -f 10 python benchmarks/bench_vs_rg.py           # as recorded: at real-time priority

What a user compares: typing ``codefind search "..."`` or ``rg -i KEYWORD`` at a shell and
waiting for the answer. So both are timed the same way, from ``subprocess.run`` to exit,
each writing its hits to a pipe: ``codefind search QUERY --no-update --format grep`` (the
index is up to date; the process imports codefind, opens the index, loads the model and
embeds the query) and ``rg -i -F -n KEYWORD`` over the same checkout (the keyword a user
would grep for, from the question). The figures of the search service inside a running
process (the app's case) are printed too, labelled as such: they are not comparable with a
process that starts from nothing.

Questions and projects: the relevance benchmark's (``benchmarks/relevance/``, both halves:
nothing is tuned here). Runs are interleaved (codefind, rg, codefind, ...) so that load on
this shared machine hits both alike; one warm-up of each first, so that the page cache holds
the files and the index for both. The projects are indexed with the built-in model in the
relevance benchmark's folders (``benchmarks/.work/relevance/current``), which
``bench_relevance.py`` fills; a missing index is built first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import compile_codefind, machine_info, stamp, write_section
from benchmarks.bench_relevance import WORK, load_questions, open_workspace
from benchmarks.relevance.fetch import projects
from codefind.evaluation import percentile

DEFAULT_PROJECTS = ("flask", "httpie", "zod")


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Milliseconds from start to exit of one process, its output read from a pipe."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000


def measure(name: str, label: str) -> dict[str, object]:
    """Interleaved process timings for one project, and the in-service ones for reference."""
    project = next(p for p in projects() if p.name == name)
    questions = [q for q in load_questions("all", [name]) if q.queries.get("en")]
    workspace = open_workspace(project, label)  # indexes if needed; sets CODEFIND_INDEX_DIR
    repo = workspace.root
    files, chunks = workspace.store().state.counts()
    service = workspace.search_service()
    service.search("warm up", mode="hybrid")
    in_service = []
    for q in questions:
        started = time.perf_counter()
        service.search(q.queries["en"], mode="hybrid")
        in_service.append((time.perf_counter() - started) * 1000)
    service.close()
    workspace.close()

    exe = shutil.which("codefind") or str(Path(sys.executable).with_name("codefind"))
    env = {**os.environ, "CODEFIND_INDEX_DIR": str(WORK / label / name)}
    codefind_ms, rg_ms = [], []
    first = questions[0]
    timed([exe, "search", first.queries["en"], "--no-update", "--format", "grep"], repo, env)
    timed(["rg", "-i", "-F", "-n", "--", first.keyword, "."], repo, env)
    for q in questions:
        argv = [exe, "search", q.queries["en"], "--no-update", "--format", "grep"]
        codefind_ms.append(timed(argv, repo, env))
        rg_ms.append(timed(["rg", "-i", "-F", "-n", "--", q.keyword, "."], repo, env))
    return {
        "project": name,
        "files": files,
        "chunks": chunks,
        "queries": len(questions),
        "codefind": (percentile(codefind_ms, 50), percentile(codefind_ms, 95)),
        "rg": (percentile(rg_ms, 50), percentile(rg_ms, 95)),
        "service": (percentile(in_service, 50), percentile(in_service, 95)),
    }


def priority() -> str:
    """How this process is scheduled, for the report (``chrt -f 10 python ...`` is real time)."""
    policy = os.sched_getscheduler(0)
    if policy == os.SCHED_FIFO:
        return (
            "The script ran at real-time priority (`chrt -f 10`), as did the processes it "
            "started, so that other jobs on this shared machine did not take the two cores."
        )
    return "The script ran at normal priority on a shared machine."


def report(rows: list[dict[str, object]]) -> str:
    lines = [
        "## codefind and ripgrep, process against process (`benchmarks/bench_vs_rg.py`)",
        "",
        f"{stamp()}; {machine_info()}; built-in model; load average at start "
        f"{os.getloadavg()[0]:.1f} (a shared machine: other jobs ran at the same time).",
        "",
        "| project | files / chunks | queries | `codefind search` process p50 / p95 ms "
        "| `rg -i -F` process p50 / p95 ms | ratio of p50s | for reference: search in a running "
        "service p50 / p95 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cf, rg, sv = row["codefind"], row["rg"], row["service"]
        assert isinstance(cf, tuple) and isinstance(rg, tuple) and isinstance(sv, tuple)
        lines.append(
            f"| {row['project']} | {row['files']:,} / {row['chunks']:,} | {row['queries']} "
            f"| {cf[0]:.0f} / {cf[1]:.0f} | {rg[0]:.1f} / {rg[1]:.1f} "
            f"| **{cf[0] / rg[0]:.0f}x** | {sv[0]:.1f} / {sv[1]:.1f} |"
        )
    lines += [
        "",
        "Both columns are whole processes started by the same `subprocess.run`, interleaved, "
        "output to a pipe, after one warm-up each: `codefind search QUERY --no-update --format "
        "grep` (an up-to-date index; most of its time is Python start-up, imports and loading "
        "the model) and `rg -i -F -n KEYWORD .` (the keyword the question names, as a user "
        "would grep). The last column is the search alone inside a process that is already "
        "running (the app's case); it does not compare with a process. " + priority(),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", nargs="*", default=list(DEFAULT_PROJECTS))
    parser.add_argument("--label", default="current", help="the relevance index folder to use")
    parser.add_argument("--section", default="vs-rg", help="RESULTS.md section ('' = none)")
    args = parser.parse_args(argv)
    if shutil.which("rg") is None:
        print("rg (ripgrep) is not installed", file=sys.stderr)
        return 2
    compile_codefind()
    rows = [measure(name, args.label) for name in args.projects]
    text = report(rows)
    print(text)
    if args.section:
        write_section(args.section, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
