"""A quick sanity measurement of dictionary query translation on the eval sets.

The real numbers come from ``codefind eval``; this script only answers "does translating the
query help, and by how much" without building an index: it ranks each set's corpus for the
original and for the translated queries with the built-in embedder when that backend exists
(``codefind.embeddings.local``), otherwise with a plain BM25 over codefind's lexical tokens,
and prints recall@1/5/10 and MRR@10 for both, plus the translation time per query.

It never prints query texts (the sets are how the translation is judged; the glossary must
not be tuned on them). ``--out FILE`` writes ``{"id", "language", "changed", "text"}`` per
query for a later look.

Usage: ``python scripts/translation_check.py $CODEFIND_EVAL_DIR/humanevalxl_python_zh ...``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codefind.lexical import query_tokens, tokens
from codefind.translation import Translation, preload, translate_query

Ranker = Callable[[Sequence[str]], list[list[str]]]


@dataclass(frozen=True)
class Scores:
    """Retrieval quality of one ranking of one query set."""

    recall_1: float
    recall_5: float
    recall_10: float
    mrr_10: float

    def row(self) -> str:
        """The scores as a fixed-width table row."""
        return (
            f"R@1 {self.recall_1:.3f}  R@5 {self.recall_5:.3f}  "
            f"R@10 {self.recall_10:.3f}  MRR@10 {self.mrr_10:.3f}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure each set named on the command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", type=Path, help="eval set folders")
    parser.add_argument("--ranker", choices=("auto", "local", "bm25"), default="auto")
    parser.add_argument("--out", type=Path, help="write per-query translations (JSON Lines)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    preload(("zh", "ja"))
    print(f"dictionaries loaded in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    ranker_name = _choose_ranker(args.ranker)
    records: list[dict[str, object]] = []
    for folder in args.sets:
        records += measure_set(folder, ranker_name)
    if args.out:
        lines = (json.dumps(record, ensure_ascii=False) for record in records)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


def measure_set(folder: Path, ranker_name: str) -> list[dict[str, object]]:
    """Print original-vs-translated scores for one set; return per-query translation records."""
    corpus = _read_jsonl(folder / "corpus.jsonl")
    queries = _read_jsonl(folder / "queries.jsonl")
    ids = [str(entry["id"]) for entry in corpus]
    rank = _make_ranker(ranker_name, ids, [str(entry["code"]) for entry in corpus])
    originals = [str(query["query"]) for query in queries]
    translations, seconds = _translate_all(originals)
    relevant = [_ids(query["relevant"]) for query in queries]
    before = score(rank(originals), relevant)
    after = score(rank([t.text for t in translations]), relevant)
    changed = sum(t.changed for t in translations)
    languages = Counter(t.language or "-" for t in translations)
    print(f"\n{folder.name}  ({len(queries)} queries, {len(corpus)} corpus, ranker {ranker_name})")
    print(f"  translated {changed}/{len(queries)}; languages {dict(languages)}")
    print(f"  translation {seconds / max(len(queries), 1) * 1000:.3f} ms per query")
    print(f"  as typed    {before.row()}")
    print(f"  translated  {after.row()}")
    return [
        {
            "set": folder.name,
            "id": query["id"],
            "language": t.language,
            "changed": t.changed,
            "text": t.text,
        }
        for query, t in zip(queries, translations, strict=True)
    ]


def score(rankings: list[list[str]], relevant: list[set[str]]) -> Scores:
    """Recall@1/5/10 and MRR@10 of ``rankings`` against the relevant ids."""
    first_hits = [
        _first_hit(ranking, wanted) for ranking, wanted in zip(rankings, relevant, strict=True)
    ]
    count = max(len(first_hits), 1)

    def recall(k: int) -> float:
        return sum(1 for hit in first_hits if hit is not None and hit < k) / count

    mrr = sum(1 / (hit + 1) for hit in first_hits if hit is not None and hit < 10) / count
    return Scores(recall(1), recall(5), recall(10), mrr)


def _first_hit(ranking: list[str], wanted: set[str]) -> int | None:
    for position, item in enumerate(ranking):
        if item in wanted:
            return position
    return None


def _translate_all(queries: list[str]) -> tuple[list[Translation], float]:
    started = time.perf_counter()
    translations = [translate_query(query) for query in queries]
    return translations, time.perf_counter() - started


def _choose_ranker(requested: str) -> str:
    has_local = importlib.util.find_spec("codefind.embeddings.local") is not None
    if requested == "local" and not has_local:
        raise SystemExit("the built-in embedder (codefind.embeddings.local) is not there yet")
    if requested == "auto":
        return "local" if has_local else "bm25"
    return requested


def _make_ranker(name: str, ids: list[str], codes: list[str]) -> Ranker:
    return _local_ranker(ids, codes) if name == "local" else _bm25_ranker(ids, codes)


def _local_ranker(ids: list[str], codes: list[str]) -> Ranker:
    from codefind.config import load_settings
    from codefind.embeddings import create_embedder

    embedder = create_embedder(load_settings())
    documents = np.asarray(embedder.embed_documents(codes))

    def rank(queries: Sequence[str]) -> list[list[str]]:
        vectors = np.asarray(embedder.embed_queries(list(queries)))
        order = np.argsort(-(vectors @ documents.T), axis=1)[:, :10]
        return [[ids[i] for i in row] for row in order]

    return rank


def _bm25_ranker(ids: list[str], codes: list[str], k1: float = 1.2, b: float = 0.75) -> Ranker:
    docs = [Counter(tokens(code)) for code in codes]
    lengths = np.array([sum(doc.values()) for doc in docs], dtype=float)
    average = float(lengths.mean()) if len(lengths) else 1.0
    frequency = Counter(term for doc in docs for term in doc)
    total = len(docs)

    def idf(term: str) -> float:
        df = frequency.get(term, 0)
        return math.log(1 + (total - df + 0.5) / (df + 0.5))

    def rank(queries: Sequence[str]) -> list[list[str]]:
        out: list[list[str]] = []
        for query in queries:
            scores = np.zeros(total)
            for term in query_tokens(query):
                weight = idf(term)
                for index, doc in enumerate(docs):
                    tf = doc.get(term, 0)
                    if tf:
                        norm = k1 * (1 - b + b * lengths[index] / average)
                        scores[index] += weight * tf * (k1 + 1) / (tf + norm)
            out.append([ids[i] for i in np.argsort(-scores, kind="stable")[:10]])
        return out

    return rank


def _ids(value: object) -> set[str]:
    return {str(item) for item in value} if isinstance(value, list) else set()


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


if __name__ == "__main__":
    sys.exit(main())
