"""Indexing and search speed on a large real tree: the Python standard library.

What it measures (issue #3, the budgets in the README), all with the built-in model on this machine:

- cold indexing: files, chunks, real tokens, chunks/s and tokens/s (budget >= 6,000 tokens/s);
- re-index with nothing changed (budget <= 1 s for ~2k files) and with one file changed;
- index size on disk (state, vectors, embedding cache); peak RSS of the indexing run and of
  one ``codefind search`` process;
- search latency p50/p95 over 200 queries inside the search service (embedding + ANN + BM25
  + fusion; budget p50 <= 10 ms, p95 <= 25 ms at 20k+ chunks), per mode;
- 30 of the queries as whole processes, side by side: ``codefind search`` and ``rg`` (a
  fixed-string search for the query's longest word, as a person would grep); the ratio is
  process against process, never the service against a process.

Run: ``python benchmarks/bench_index.py`` (the whole stdlib, about 98k chunks; the search
budget's scale is ``--quick``, a 400-file subset of about 22k chunks). The tree is copied into
``benchmarks/.work/`` (git-ignored) and reused; pass ``--fresh`` to start over (a cold run).
Results are printed and written to RESULTS.md's ``bench_index`` / ``bench_index_quick``
section.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import (
    compile_codefind,
    machine_info,
    read_section,
    stamp,
    write_section,
)
from benchmarks._trees import commit_all
from codefind.config import Settings
from codefind.evaluation import percentile
from codefind.lexical import query_tokens
from codefind.mining import mine_pairs
from codefind.workspace import Workspace

WORK = ROOT / "benchmarks" / ".work"
SKIP_DIRS = {"site-packages", "__pycache__"}
QUICK_FILES = 400


def build_tree(target: Path, quick: bool) -> int:
    """Copy the stdlib's .py files into a new git repository; returns the file count."""
    if target.exists():
        return sum(1 for _ in target.rglob("*.py"))
    source = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        p for p in source.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(source).parts)
    )
    if quick:
        files = random.Random(0).sample(files, QUICK_FILES)
    for path in files:
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    commit_all(target, "stdlib")
    return len(files)


def queries_from(tree: Path, count: int) -> list[str]:
    """Realistic queries: first sentences of docstrings in the tree, shuffled."""
    found: list[str] = []
    for path in sorted(tree.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        found.extend(p.query for p in mine_pairs(path.relative_to(tree).as_posix(), text))
    random.Random(1).shuffle(found)
    return found[:count]


def dir_size(path: Path) -> int:
    """Bytes under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed_index(tree: Path, settings: Settings) -> tuple[float, dict[str, object]]:
    workspace = Workspace.for_repository(tree, settings)
    try:
        started = time.perf_counter()
        report = workspace.indexer().run()
        return time.perf_counter() - started, report.to_json()
    finally:
        workspace.close()


def count_tokens(tree: Path, settings: Settings) -> int:
    """Real (unpadded) tokens the model ran over every indexed chunk (distinct texts only)."""
    from codefind.chunking import embedding_text

    workspace = Workspace.for_repository(tree, settings)
    embedder = workspace.embedder
    texts = list({embedding_text(s.chunk) for s in workspace.store().state.iter_chunks()})
    counter = getattr(embedder, "count_tokens", None)
    # Tokens the model actually ran: each text's count, capped at its input window.
    cap = embedder.max_tokens
    total = 0
    for start in range(0, len(texts), 1000):  # in parts: 98k encodings at once take ~1.5 GB
        part = texts[start : start + 1000]
        total += (
            sum(min(n, cap) for n in counter(part)) if counter else embedder.estimate_tokens(part)
        )
    workspace.close()
    return int(total)


def search_latency(
    tree: Path, settings: Settings, queries: list[str]
) -> dict[str, tuple[float, float]]:
    workspace = Workspace.for_repository(tree, settings)
    out = {}
    for mode in ("hybrid", "semantic", "lexical"):
        # A new service per mode: its query-vector cache must not carry one mode's
        # embeddings into the next (every query is embedded in every mode, as typed fresh).
        service = workspace.search_service()
        service.search("warm up the model and the index", mode=mode)
        times = []
        for q in queries:
            started = time.perf_counter()
            service.search(q, mode=mode)
            times.append((time.perf_counter() - started) * 1000)
        out[mode] = (percentile(times, 50), percentile(times, 95))
    workspace.close()
    return out


def rg_latency(tree: Path, queries: list[str]) -> tuple[float, float] | None:
    if shutil.which("rg") is None:
        return None
    times = []
    for q in queries:
        words = query_tokens(q) or [q]
        word = max(words, key=len)
        started = time.perf_counter()
        subprocess.run(
            ["rg", "-i", "-F", "-n", "--", word, "."],
            cwd=tree,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 50), percentile(times, 95)


COLD_ROW = re.compile(
    r"^\| cold index \| ([\d.]+ s: [\d.]+ chunks/s, [\d,]+ tokens/s)[^|]*\|", re.M
)


def earlier_cold_row(quick: bool) -> str:
    """The last measured cold run, carried forward with its date, when this run reused the
    index (a cold run of the whole stdlib takes half an hour; ``--fresh`` measures one)."""
    body = read_section("bench_index_quick" if quick else "bench_index")
    row, run = COLD_ROW.search(body), re.search(r"Run: ([^.]+?), commit (\w+)", body)
    if row is None:
        return "(index existed; pass --fresh to measure a cold run)"
    when = re.search(r"\(measured [^)]*\)", body[row.start() : row.end()])
    note = when.group(0) if when else f"(measured {run.group(1)} at {run.group(2)})" if run else ""
    return f"{row.group(1)} {note}; this run reused that index".strip()


RSS_SHIM = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
"""Runs a command and prints its peak RSS (KiB). A child's peak includes what its parent
held when it forked, so the search is started from this small process (isolated: the tree
being searched may hold modules named like the standard library), not from the
benchmark (which holds the whole index and would be counted in every child)."""


def search_rss(tree: Path, query: str) -> float:
    """Peak RSS (MB) of one ``codefind search --no-update`` process."""
    exe = shutil.which("codefind") or str(Path(sys.executable).with_name("codefind"))
    argv = [sys.executable, "-I", "-c", RSS_SHIM, exe, "search", query, "--no-update"]
    out = subprocess.run(argv, cwd=tree, capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1]) / 1024


def process_latency(tree: Path, queries: list[str]) -> tuple[float, float]:
    exe = shutil.which("codefind") or str(Path(sys.executable).with_name("codefind"))
    times, answered = [], 0
    for q in queries:
        started = time.perf_counter()
        done = subprocess.run([exe, "search", q, "--no-update", "--format", "grep"], cwd=tree,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
        times.append((time.perf_counter() - started) * 1000)
        answered += bool(done.returncode == 0 and done.stdout.strip())
    if answered < len(queries) // 2:  # a process that finds no index answers fast and wrong
        raise SystemExit(f"only {answered} of {len(queries)} searches found hits: wrong index?")
    return percentile(times, 50), percentile(times, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"a {QUICK_FILES}-file subset (about 22k chunks)"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the tree and index")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    tree = WORK / ("stdlib-quick" if args.quick else "stdlib")
    index_dir = WORK / ("index-quick" if args.quick else "index")
    if args.fresh:
        shutil.rmtree(tree, ignore_errors=True)
        shutil.rmtree(index_dir, ignore_errors=True)
    build_tree(tree, args.quick)
    settings = Settings(index_dir=index_dir)
    os.environ["CODEFIND_INDEX_DIR"] = str(index_dir)  # the codefind processes search it too
    compile_codefind()
    # CODEFIND_INDEX_DIR holds a folder per repository: measure that one.
    location = Workspace.for_repository(tree, settings).location
    cold_existing = (location.index_dir / "state.sqlite").exists()

    cold_s, cold = timed_index(tree, settings)
    index_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = count_tokens(tree, settings)
    nochange_s, nochange = timed_index(tree, settings)
    files_list = sorted(tree.rglob("*.py"))
    victim = files_list[len(files_list) // 2]
    original = victim.read_text(encoding="utf-8")
    victim.write_text(
        original + "\n\ndef added_by_benchmark():\n    return 'changed'\n", encoding="utf-8"
    )
    onechange_s, onechange = timed_index(tree, settings)
    victim.write_text(original, encoding="utf-8")
    timed_index(tree, settings)

    queries = queries_from(tree, args.queries)
    latency = search_latency(tree, settings, queries)
    proc = process_latency(tree, queries[:30])
    search_rss_mb = max(search_rss(tree, q) for q in queries[:3])
    rg = rg_latency(tree, queries[:30])  # the same queries as the codefind processes

    chunks = int(cold["chunks"])  # type: ignore[call-overload]
    embedded = int(cold["embedded"])  # type: ignore[call-overload]
    sizes = {
        "state (SQLite: chunks, symbols, BM25 postings)": dir_size(location.index_dir)
        - dir_size(location.index_dir / "vectors")
        - dir_size(location.cache_dir),
        "vectors (USearch i8)": dir_size(location.index_dir / "vectors"),
        "embedding cache (int8)": dir_size(location.cache_dir),
    }
    lines = [
        f"Machine: {machine_info()}. Run: {stamp()}.",
        f"Tree: Python {sys.version.split()[0]} standard library .py files ({len(files_list)} files"
        + (f", {QUICK_FILES}-file subset" if args.quick else "")
        + f"), {chunks} chunks, {tokens:,} real tokens.",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    if cold_existing:
        lines.append(f"| cold index | {earlier_cold_row(args.quick)} |")
    else:
        lines += [
            f"| cold index | {cold_s:.1f} s: {embedded / cold_s:.1f} chunks/s, {tokens / cold_s:,.0f} tokens/s (budget >= 6,000) |",
        ]
    lines += [
        f"| re-index, nothing changed | {nochange_s:.2f} s (embedded {nochange['embedded']}; budget <= 1 s for ~2k files) |",
        f"| re-index, one file changed | {onechange_s:.2f} s (embedded {onechange['embedded']}, removed {onechange['removed']}) |",
    ]
    lines += [f"| size: {k} | {v / 1e6:.1f} MB |" for k, v in sizes.items()]
    run = (
        "cold index"
        if not cold_existing
        else "first index run (it brings an index of an older format up to date)"
    )
    lines.append(
        f"| peak RSS: {run}, in this process | {index_rss_mb:.0f} MB (budget <= 500 MB at 100k chunks) |"
    )
    lines.append(f"| peak RSS: one `codefind search` process | {search_rss_mb:.0f} MB |")
    lines += ["", f"Search latency over {len(queries)} docstring queries, in the search service, warm:", "",
              "| mode | p50 ms | p95 ms |", "| --- | --- | --- |"]  # fmt: skip
    lines += [f"| {mode} | {p50:.1f} | {p95:.1f} |" for mode, (p50, p95) in latency.items()]
    lines.append("")
    lines.append(
        f"`codefind search --no-update` as a whole process (30 queries): p50 {proc[0]:.0f} ms, p95 {proc[1]:.0f} ms (budget <= 600 ms warm)."
    )
    if rg:
        # Like for like: a process against a process, over the same 30 queries. The service
        # figures above run inside a process that is already up; they do not compare with rg.
        lines.append(
            f"`rg -i -F -n <longest word>` as a whole process (the same 30 queries): p50 {rg[0]:.1f} ms, "
            f"p95 {rg[1]:.1f} ms; a `codefind search` process takes {proc[0] / rg[0]:.0f}x the time of an rg process."
        )
    title = "Indexing and search speed" + (f", {chunks // 1000}k chunks" if chunks else "")
    text = (
        f"## {title} (`benchmarks/bench_index.py{' --quick' if args.quick else ''}`)\n\n"
        + "\n".join(lines)
    )
    print(text)
    write_section("bench_index_quick" if args.quick else "bench_index", text)


if __name__ == "__main__":
    main()
