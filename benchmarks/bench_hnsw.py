"""What the HNSW graph costs per vector, and what a smaller one would cost in recall.

    python benchmarks/bench_hnsw.py                          # benchmarks/.work/index-quick
    python benchmarks/bench_hnsw.py --index /some/index/folder --connectivity 16 8
    python benchmarks/bench_hnsw.py --connectivity 16 --expansion 64 128 256

The graph only matters above ``vectors.EXACT_SEARCH_LIMIT`` (count x dimension): below it
codefind searches by brute force, so recall can only be measured on an index past it (the
stdlib index of ``bench_index.py --quick``: 21.6k chunks x 384 > 8M). This reads that
index's int8 vectors, builds an index like ``VectorWriter`` does at each USearch
``connectivity`` asked for, and searches it with real queries (the CoSQA queries, embedded by
the built-in model) at the depths search uses: 10, and ``search.CANDIDATES`` (what fusion
takes from the ANN), with each ``expansion_search`` asked for (codefind's is
``vectors.EXPANSION_SEARCH``).
Recall is against an exact search of the same int8 vectors, so it is the graph's own loss
(USearch builds with threads, so it moves by about 0.01 from run to run). Bytes are the
serialized file per vector, less the vector itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import EVAL_DIR, machine_info, stamp
from codefind.config import load_settings
from codefind.embeddings import create_embedder
from codefind.search import CANDIDATES
from codefind.store.quantize import quantize
from codefind.store.vectors import DTYPE, EXPANSION_ADD, METRIC

INDEX = ROOT / "benchmarks" / ".work" / "index-quick"


def stored_vectors(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Keys and int8 rows of the one vector index under ``folder`` (a ``CODEFIND_INDEX_DIR``)."""
    from usearch.index import Index

    [manifest] = folder.glob("*/vectors/*.json")
    data = manifest.parent / json.loads(manifest.read_text())["file"]
    index = Index.restore(str(data), view=True)
    assert index is not None, data
    keys = np.asarray(index.keys, dtype=np.uint64)
    rows = index.get(keys, dtype="i8")
    return keys, np.vstack([np.asarray(row) for row in rows]) if isinstance(
        rows, tuple
    ) else np.asarray(rows)


def query_vectors(limit: int) -> np.ndarray:
    """The first ``limit`` CoSQA queries, as the built-in model embeds a query."""
    lines = (EVAL_DIR / "cosqa_dev" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["query"] for line in lines[:limit]]
    embedder = create_embedder(load_settings({"backend": "local"}))
    return quantize(np.vstack([embedder.embed_query(text) for text in texts]))


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact top-k that the approximate search returned too."""
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))
    return hits / exact.size


def main() -> None:
    from usearch.index import Index

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=INDEX, help="a CODEFIND_INDEX_DIR folder")
    parser.add_argument("--connectivity", type=int, nargs="*", default=[16, 12, 8])
    parser.add_argument("--expansion", type=int, nargs="*", default=[64], help="expansion_search")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()

    keys, rows = stored_vectors(args.index)
    queries = query_vectors(args.queries)
    lines = [
        f"Machine: {machine_info()}. Run: {stamp()}. {len(keys):,} vectors of {rows.shape[1]} "
        f"dimensions ({DTYPE}), {len(queries)} CoSQA queries; recall against exact search.",
        "",
        f"| connectivity | graph bytes per vector | expansion_search | recall@10 | "
        f"recall@{CANDIDATES} |",
        "| --- | --- | --- | --- | --- |",
    ]
    for connectivity in args.connectivity:
        index = Index(
            ndim=rows.shape[1], metric=METRIC, dtype=DTYPE, connectivity=connectivity,
            expansion_add=EXPANSION_ADD,
        )  # fmt: skip
        index.add(keys, rows, threads=0)
        graph = int(index.serialized_length) / len(keys) - rows.shape[1] * rows.itemsize
        for expansion in args.expansion:
            index.expansion_search = expansion  # type: ignore[misc]  # its setter is declared oddly
            cells = [f"{connectivity}", f"{graph:,.0f}", f"{expansion}"]
            for depth in (10, CANDIDATES):
                found = index.search(queries, depth, exact=False).keys
                exact = index.search(queries, depth, exact=True).keys
                cells.append(f"{recall(found, exact):.4f}")
            lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
