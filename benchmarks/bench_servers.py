"""Indexing throughput against several GPU embedding servers: chunks/s by servers x batches in flight.

    python benchmarks/bench_servers.py                  # 1, 2, 4, 8 servers x 1..32 in flight
    python benchmarks/bench_servers.py --servers 1 2 --in-flight 1 4 --batch-ms 150

No GPU is needed: each server is a stand-in (``tests/fakeservers.py``'s SGLang server, in a
process of its own) that answers as slowly as a GPU would. A request spends ``--overhead-ms``
in parallel with the others (HTTP, tokenizing, scheduling), then occupies the server's one
"GPU" for a time proportional to its tokens, so that an average batch of 32 chunks costs
``--batch-ms`` in all when it is alone (the issue's 50-150 ms per batch, measured on an A10G
by the product's origin). More batches in flight fill the GPU's idle time; more servers add
GPUs. The client is the real thing: ``codefind``'s indexer with the ``sglang`` backend
(``sglang.urls``, ``sglang.max_concurrency``), storing every vector in the cache and the
vector index, on this machine's CPUs, and the time measured is its embedding phase.

Writes RESULTS.md's ``bench_servers`` section (``--no-write`` to print only).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks._trees import commit_all

WORK = ROOT / "benchmarks" / ".work" / "servers"
MODEL = "Qwen/Qwen3-Embedding-0.6B"
DIM = 1024
BATCH = 32


def serve(overhead: float, per_token: float, ports: Any, stop: Any) -> None:
    """One stand-in server in this process until ``stop`` is set."""
    from tests.fakeservers import GpuTiming, SGLangServer

    timing = GpuTiming(overhead=overhead, per_token=per_token)
    with SGLangServer(model=MODEL, dim=DIM, timing=timing) as server:
        ports.put(server.port)
        stop.wait()


def build_tree(target: Path, chunks: int) -> None:
    """A git repository of stdlib files holding about ``chunks`` chunks."""
    if target.exists():
        return
    from codefind.chunking import chunk_file

    source = Path(sysconfig.get_paths()["stdlib"])
    found = 0
    for path in sorted(source.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        dest = target / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        found += len(chunk_file(path.name, text))
        if found >= chunks:
            break
    commit_all(target, "stdlib files")


def mean_batch_tokens(tree: Path) -> float:
    """The stand-in servers' token count of an average batch of ``BATCH`` chunks."""
    from codefind.chunking import chunk_file, embedding_text
    from tests.fakeservers import fake_tokens

    counts = [
        fake_tokens(embedding_text(c)) + 1
        for p in sorted(tree.glob("*.py"))
        for c in chunk_file(p.name, p.read_text(encoding="utf-8"))
    ]
    return BATCH * sum(counts) / len(counts)


def embed_phase(tree: Path, urls: list[str], in_flight: int) -> tuple[int, float, float]:
    """Embed every chunk of ``tree`` from nothing: chunks embedded, seconds of embedding, and
    CPU seconds this process (the client) spent on it."""
    from codefind.config import load_settings
    from codefind.indexer import IndexProgress
    from codefind.workspace import Workspace

    os.environ["CODEFIND_INDEX_DIR"] = str(WORK / "index")
    settings = load_settings({"backend": "sglang"})
    for key, value in (("url", urls[0]), ("urls", ",".join(urls[1:])), ("model", MODEL),
                       ("max_concurrency", in_flight)):  # fmt: skip
        settings = settings.with_section_value("sglang", key, value)
    workspace = Workspace.for_repository(tree, settings)
    for part in ("cache", "vectors"):  # the chunks stay: only the embedding phase is timed
        shutil.rmtree(workspace.location.index_dir / part, ignore_errors=True)
    marks: list[tuple[float, float]] = []

    def progress(p: IndexProgress) -> None:
        if p.phase == "embed":
            marks.append((time.perf_counter(), time.process_time()))

    try:
        report = workspace.indexer(on_progress=progress).run()
    finally:
        workspace.close()
    (wall0, cpu0), (wall1, cpu1) = marks[0], marks[-1]
    return report.embedded, wall1 - wall0, cpu1 - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--in-flight", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--batch-ms", type=float, default=100.0, help="one batch alone, in all")
    parser.add_argument("--overhead-ms", type=float, default=30.0, help="of which in parallel")
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    tree = WORK / "tree"
    build_tree(tree, args.chunks)
    tokens = mean_batch_tokens(tree)
    per_token = (args.batch_ms - args.overhead_ms) / 1000 / tokens
    context = mp.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    workers = [
        context.Process(target=serve, args=(args.overhead_ms / 1000, per_token, ports, stop))
        for _ in range(max(args.servers))
    ]
    for worker in workers:
        worker.start()
    urls = [f"http://127.0.0.1:{ports.get(timeout=120)}/v1" for _ in workers]
    rows: dict[tuple[int, int], float] = {}
    cpu: dict[tuple[int, int], float] = {}
    chunks = 0
    import openai  # noqa: F401  (its import, ~1 s, would land in the first cell)

    try:
        embed_phase(tree, urls[:1], 4)  # warm-up: connections, first-use costs
        for servers in args.servers:
            for in_flight in args.in_flight:
                chunks, seconds, busy = embed_phase(tree, urls[:servers], in_flight)
                rows[servers, in_flight] = chunks / seconds
                cpu[servers, in_flight] = busy / chunks
                print(f"{servers} servers, {in_flight} in flight: {chunks / seconds:.0f} chunks/s",
                      flush=True)  # fmt: skip
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
    ceiling = BATCH / (args.batch_ms - args.overhead_ms) * 1000
    lines = [
        f"Machine (the client, and the stand-in servers as processes): {machine_info()}. "
        f"Run: {stamp()}. Load average at start: {os.getloadavg()[0]:.1f}.",
        "",
        f"Workload: {chunks:,} chunks of stdlib code, embedded from nothing by the real indexer "
        f"(`--backend sglang`, {MODEL}, {DIM} dimensions, {BATCH} chunks per batch). Each "
        f"stand-in server answers a batch alone in {args.batch_ms:.0f} ms: "
        f"{args.overhead_ms:.0f} ms in parallel with other requests, then "
        f"{per_token * 1e6:.1f} µs per token on its one GPU ({tokens:,.0f} tokens in an "
        f"average batch), so one server's GPU-bound ceiling is {ceiling:,.0f} chunks/s.",
        "",
        "Chunks/s of the embedding phase:",
        "",
        "| servers \\ batches in flight | " + " | ".join(str(n) for n in args.in_flight) + " |",
        "| --- " * (len(args.in_flight) + 1) + "|",
    ]
    for servers in args.servers:
        cells = [f"{rows[servers, n]:,.0f}" for n in args.in_flight]
        lines.append(f"| {servers} | " + " | ".join(cells) + " |")
    per_chunk = sorted(cpu.values())[len(cpu) // 2]
    lines += [
        "",
        f"The client (codefind) spent {per_chunk * 1000:.2f} ms of CPU per chunk (median over "
        f"the cells: request, checks, int8 cache, HNSW insertion), so on this machine it "
        f"cannot go past about {len(os.sched_getaffinity(0)) / per_chunk:,.0f} chunks/s with "
        "every core its own; the stand-in servers ran on the same cores here.",
    ]
    text = f"## Several embedding servers (`benchmarks/{Path(__file__).name}`)\n\n" + "\n".join(
        lines
    )
    print(text)
    if not args.no_write:
        write_section("bench_servers", text)


if __name__ == "__main__":
    main()
