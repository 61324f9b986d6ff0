"""Load and churn: many searches in a row, and a repository that keeps changing under the index.

Part 1 runs 1,000 back-to-back searches through one search service and samples the RSS every
100 searches: memory must stay flat.

Part 2 is an indexing churn on a real tree (a 300-file part of the Python standard library in
a git repository): for ``--minutes`` (default 10) it adds, edits, deletes and renames files
(committing some changes, leaving others dirty or untracked), runs an incremental index after
each round, and compares the index with one built from scratch for the same tree (a fresh
state database sharing the embedding cache, so the comparison costs no embedding): the same
chunks, and the same top hits with the same scores for a set of queries. Any difference is a
bug; the script counts them and prints the first few.

Run: ``python benchmarks/stress.py [--minutes 10] [--searches 1000]``. Writes the ``stress``
section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shutil
import sys
import sysconfig
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks._trees import commit_all
from codefind.config import Settings
from codefind.evaluation import percentile
from codefind.models import Hit
from codefind.workspace import Workspace

WORK = ROOT / "benchmarks" / ".work" / "stress"
QUERIES = [
    "parse a date string", "open a file and read lines", "compress data with zlib",
    "send an email message", "split a path into parts", "escape html characters",
    "retry on failure", "sort a list of records by key", "json encode an object",
    "format a number with commas", "walk a directory tree", "read configuration file",
]  # fmt: skip


def rss_mb() -> float:
    """Current resident set size of this process, in MB."""
    with open(f"/proc/{os.getpid()}/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def make_tree(repo: Path, files: int) -> list[Path]:
    """A git repository holding ``files`` stdlib modules; returns the pool of other modules."""
    source = Path(sysconfig.get_paths()["stdlib"])
    pool = sorted(p for p in source.glob("*.py"))
    random.Random(7).shuffle(pool)
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    for path in pool[:files]:
        shutil.copyfile(path, repo / path.name)
    commit_all(repo, "start")
    return pool[files:]


def churn_round(repo: Path, pool: list[Path], rng: random.Random) -> str:
    """One round of changes: add, edit, delete, rename; sometimes commit."""
    done = []
    present = sorted(repo.glob("*.py"))
    if pool:
        new = pool.pop()
        shutil.copyfile(new, repo / new.name)
        done.append(f"add {new.name}")
    for path in rng.sample(present, min(2, len(present))):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = text.splitlines()
        at = rng.randrange(len(lines) + 1)
        lines.insert(at, f"def churn_{rng.randrange(10**6)}(x):\n    return x  # inserted")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done.append(f"edit {path.name}")
    victim = rng.choice(present)
    victim.unlink()
    done.append(f"delete {victim.name}")
    moved = rng.choice([p for p in present if p != victim])
    moved.rename(repo / f"renamed_{moved.name}")
    done.append(f"rename {moved.name}")
    if rng.random() < 0.5:
        commit_all(repo, "churn")
        done.append("commit")
    return ", ".join(done)


Snapshot = tuple[list[tuple[str, int, int, str]], dict[str, list[tuple[str, int, int, float]]]]


def snapshot(workspace: Workspace) -> Snapshot:
    """The chunks and the top hits of every query, comparable across two indexes."""
    store = workspace.store()
    chunks = sorted(
        (s.chunk.path, s.chunk.start_line, s.chunk.end_line, s.chunk.symbol)
        for s in store.state.iter_chunks()
    )
    service = workspace.search_service()
    tops = {q: [_key(h) for h in service.search(q, limit=10).hits] for q in QUERIES}
    return chunks, tops


def scratch_snapshot(repo: Path, index_dir: Path) -> Snapshot:
    """The snapshot of an index built from scratch for ``repo`` (run in a child process).

    It shares the embedding cache (a copy), so it costs no embedding. A child process keeps
    the from-scratch indexes out of the memory figures of the long-lived process.
    """
    scratch_dir = WORK / "scratch"
    shutil.rmtree(scratch_dir, ignore_errors=True)
    scratch_dir.mkdir(parents=True)
    shutil.copytree(index_dir / "cache", scratch_dir / "cache")
    scratch = Workspace.for_repository(repo, Settings(index_dir=scratch_dir))
    try:
        scratch.indexer().run()
        return snapshot(scratch)
    finally:
        scratch.close()


def difference(found: Snapshot, expected: Snapshot) -> str:
    """What differs, in a few words (for the report)."""
    if found[0] != expected[0]:
        extra, missing = set(found[0]) - set(expected[0]), set(expected[0]) - set(found[0])
        return f"chunks: {len(extra)} extra, {len(missing)} missing"
    query = next(q for q in QUERIES if found[1][q] != expected[1][q])
    return f"top hits of {query!r}: {found[1][query]} vs {expected[1][query]}"


def _key(hit: Hit) -> tuple[str, int, int, float]:
    return (hit.path, hit.start_line, hit.end_line, round(hit.score, 4))


def searches(workspace: Workspace, count: int) -> tuple[list[float], list[float]]:
    service = workspace.search_service()
    times, memory = [], []
    rng = random.Random(3)
    for n in range(count):
        query = (
            rng.choice(QUERIES)
            + f" {rng.choice(['fast', 'safely', 'in python', 'with a default', ''])}"
        )
        started = time.perf_counter()
        service.search(query, limit=10)
        times.append((time.perf_counter() - started) * 1000)
        if n % 100 == 0:
            memory.append(rss_mb())
    memory.append(rss_mb())
    return times, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()

    repo = WORK / "repo"
    pool = make_tree(repo, args.files)
    index_dir = WORK / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = Settings(index_dir=index_dir)

    incremental = Workspace.for_repository(repo, settings)
    started = time.perf_counter()
    first = incremental.indexer().run()
    first_s = time.perf_counter() - started
    times, memory = searches(incremental, args.searches)

    rng = random.Random(11)
    rounds = mismatches = 0
    index_times: list[float] = []
    churn_rss: list[float] = []
    examples: list[str] = []
    deadline = time.monotonic() + args.minutes * 60
    while time.monotonic() < deadline:
        change = churn_round(repo, pool, rng)
        started = time.perf_counter()
        incremental.indexer().run()
        index_times.append(time.perf_counter() - started)
        churn_rss.append(rss_mb())
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
            expected = child.submit(scratch_snapshot, repo, index_dir).result()
        found = snapshot(incremental)
        if found != expected:
            mismatches += 1
            if len(examples) < 3:
                examples.append(f"round {rounds + 1} ({change}): {difference(found, expected)}")
        rounds += 1
    incremental.close()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "## Load and churn (`benchmarks/stress.py`)",
        "",
        f"Machine: {machine_info()}. Run: {stamp()}.",
        f"Tree: {args.files} standard-library modules in a git repository, {first.chunks} chunks; "
        f"first index {first_s:.0f} s (built-in model).",
        "",
        f"- {args.searches} back-to-back hybrid searches: p50 {percentile(times, 50):.1f} ms, "
        f"p95 {percentile(times, 95):.1f} ms; RSS every 100 searches: "
        + ", ".join(f"{m:.0f}" for m in memory)
        + " MB.",
        f"- Churn for {args.minutes:g} minutes: {rounds} rounds of add + 2 edits + delete + rename "
        f"(half of them committed; once the pool of modules runs out, rounds only delete), an incremental index after each (p50 {percentile(index_times, 50):.2f} s, "
        f"max {max(index_times, default=0):.2f} s), compared with a from-scratch index of the same tree: "
        f"**{mismatches} mismatches** in chunks or top-10 hits"
        + (f" ({'; '.join(examples)})" if examples else "")
        + ".",
        f"- RSS of the indexing process (it also searched) after each churn round: first {churn_rss[0] if churn_rss else 0:.0f} MB, last "
        f"{churn_rss[-1] if churn_rss else 0:.0f} MB, max {max(churn_rss, default=0):.0f} MB; peak RSS of the "
        f"whole run {peak:.0f} MB.",
    ]
    text = "\n".join(lines)
    print(text)
    write_section("stress", text)


if __name__ == "__main__":
    main()
