"""The BM25 index: postings kept in the state database, scored with numpy.

Why not FTS5's own ``bm25()``: it scores every row that matches any query term, one row at a
time through an auxiliary function, so a query with a common word ("value", "return") cost as
much as a scan of the index (hybrid search at 98k chunks: 29 ms p50, 67 ms p95, against a
25 ms p95 budget). Here a term's postings are two arrays (chunk ids, weighted term
frequencies) and a query adds up whole arrays: the same arithmetic in a few vector operations.

The scores are FTS5's, bit for bit (``tests/test_lexicon.py`` compares them): the same
tokenizer (an in-memory FTS5 table stems the tokens: ``porter unicode61 remove_diacritics 2``),
the same column weights (a term in the definition's name counts 4, in the path 1.5, in the
body 1), document length = all tokens of the row, and FTS5's formula (k1 = 1.2, b = 0.75,
IDF ``log((N - n + 0.5) / (n + 0.5))``, at least 1e-6).

Layout, in the state database and in its transactions (so lexical search always sees whole
files, as before):

- ``lexicon_docs``: each live chunk's length in tokens and its number of distinct terms (its
  postings). Deleting a chunk deletes its row; its postings stay in their segment and are
  masked out until a merge drops them.
- ``lexicon``: (term, segment) -> chunk ids and weights, each in the narrowest unsigned
  little-endian integers that hold the row's values (1, 2, 4 or 8 bytes; ``_encode``): the
  ids as gaps from the previous id (rows are sorted, so most gaps of a common term fit a
  byte; ``np.cumsum`` restores them), the weights doubled (sums of 4, 1.5 and 1 are halves:
  twice a weight is an integer, under 256 for nearly every row). The ids blob starts with a
  byte that records both widths. About 2.8 bytes a posting, against 6 as uint32 ids and
  float16 weights, and the same float64 weights when read. Each write transaction adds one
  segment with the postings of the chunks it inserted; segments of a similar size are merged
  four at a time (and all of them once half the postings are dead), so a term has a few
  rows, not one per run.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from codefind.errors import IndexCorruptError

TOKENIZER = "porter unicode61 remove_diacritics 2"
COLUMNS = ("symbol", "path", "body")
WEIGHTS = {"symbol": 4.0, "path": 1.5, "body": 1.0}
"""A match in the definition's name counts most, then the file path. Halves: postings keep
twice a chunk's weight as an integer (``_encode``)."""
K1, B = 1.2, 0.75
"""FTS5's BM25 constants."""
MERGE_FACTOR = 4
"""Segments of one size class merged at once (the size classes are powers of this)."""
DEAD_SHARE = 0.5
"""Merge every segment once this share of all postings belongs to deleted chunks."""
COMPACT_DEAD_SHARE = 0.2
"""At the end of an indexing run, merge every segment if this share of the postings is dead
(``compact``): a steady index carries at most a fifth of dead weight, not a half."""
_CACHED_TERMS = 4096

SCHEMA = """
CREATE TABLE IF NOT EXISTS lexicon_docs (
    chunk_id INTEGER PRIMARY KEY, length INTEGER NOT NULL, terms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lexicon (
    term TEXT NOT NULL,
    segment INTEGER NOT NULL,
    ids BLOB NOT NULL,
    weights BLOB NOT NULL,
    PRIMARY KEY (term, segment)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lexicon_segments (
    segment INTEGER PRIMARY KEY, postings INTEGER NOT NULL
);
"""
_WIDTHS = (1, 2, 4, 8)
"""Bytes per value a postings row may use: little-endian unsigned integers of these sizes."""

Ids = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Statistics:
    """What BM25 needs of the whole index: each chunk's length (-1: no such chunk), the
    number of chunks and their mean length."""

    lengths: Floats
    count: int
    mean_length: float


class Stemmer:
    """FTS5's tokenizer, run on text in an in-memory database (one per ``Lexicon``)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute(
            f"CREATE VIRTUAL TABLE scratch USING fts5({', '.join(COLUMNS)}, "
            f"tokenize = '{TOKENIZER}')"
        )
        self._db.execute("CREATE VIRTUAL TABLE words USING fts5vocab(scratch, 'instance')")
        self._cache: dict[str, tuple[str, ...]] = {}

    def stems(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """The FTS5 tokens of each word, in order (usually one; none for punctuation)."""
        new = [w for w in dict.fromkeys(words) if w not in self._cache]
        if new:
            found: dict[int, list[str]] = {i: [] for i in range(len(new))}
            with self._scratch([(i, "", "", word) for i, word in enumerate(new)]):
                for doc, term in self._db.execute(
                    "SELECT doc, term FROM words ORDER BY doc, offset"
                ):
                    found[int(doc)].append(str(term))
            if len(self._cache) > _CACHED_TERMS:
                self._cache.clear()
            for i, word in enumerate(new):
                self._cache[word] = tuple(found[i])
        return [self._cache[w] for w in words]

    def postings(
        self, rows: Sequence[tuple[int, str, str, str]]
    ) -> tuple[dict[str, tuple[list[int], list[float]]], dict[int, tuple[int, int]]]:
        """Postings (term -> ids, weights) of ``rows`` of (id, symbol, path, body), and each
        row's (length in tokens, distinct terms)."""
        lengths = {cid: 0 for cid, *_ in rows}
        found: dict[str, dict[int, float]] = {}
        with self._scratch(rows):
            # Grouped here, not by SQL: GROUP BY over fts5vocab took 10x longer (sorting).
            for term, doc, column in self._db.execute("SELECT term, doc, col FROM words"):
                docs = found.setdefault(term, {})
                docs[doc] = docs.get(doc, 0.0) + WEIGHTS[column]
                lengths[doc] += 1
        distinct = dict.fromkeys(lengths, 0)
        terms: dict[str, tuple[list[int], list[float]]] = {}
        for term, docs in found.items():
            ids = sorted(docs)
            terms[term] = (ids, [docs[d] for d in ids])
            for doc in ids:
                distinct[doc] += 1
        return terms, {cid: (lengths[cid], distinct[cid]) for cid in lengths}

    def _scratch(self, rows: Iterable[tuple[int, str, str, str]]) -> _Scratch:
        return _Scratch(self._db, rows)

    def close(self) -> None:
        """Close the in-memory database."""
        self._db.close()


class _Scratch:
    """The scratch table holding ``rows`` for the duration of a ``with`` block."""

    def __init__(self, db: sqlite3.Connection, rows: Iterable[tuple[int, str, str, str]]) -> None:
        self._db = db
        self._rows = rows

    def __enter__(self) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT INTO scratch (rowid, symbol, path, body) VALUES (?, ?, ?, ?)", self._rows
        )

    def __exit__(self, *exc: object) -> None:
        self._db.execute("ROLLBACK")  # the scratch table is empty again


class Lexicon:
    """Postings of one state database: written in its transactions, read for BM25.

    Readers cache the statistics and the postings they read until ``forget`` (the state
    calls it when its generation changes).
    """

    def __init__(self, db: sqlite3.Connection, path: str) -> None:
        self._db = db
        self._path = path
        self._stemmer = Stemmer()
        self._statistics: Statistics | None = None
        self._postings: dict[str, tuple[Ids, Floats]] = {}

    # --- reading ---------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop what was cached: the index changed."""
        self._statistics = None
        self._postings.clear()

    def stems(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """FTS5's tokens of each query word (see ``Stemmer.stems``)."""
        return self._stemmer.stems(words)

    def frequency(self, stems: Sequence[str]) -> int:
        """Live chunks that contain all of ``stems`` (a word FTS5 splits is a phrase)."""
        return len(self._matching(stems)[0])

    def search(
        self, words: Sequence[Sequence[str]], limit: int, allowed: Sequence[int] | None
    ) -> list[tuple[int, float]]:
        """BM25 (chunk id, score) of chunks matching any of ``words`` (each its stems), best
        first; ``limit`` rows of the highest score, by score then id."""
        stats = self.statistics()
        if stats.count == 0 or limit <= 0:
            return []
        scores = np.zeros(len(stats.lengths), dtype=np.float64)
        for stems in words:
            ids, weights = self._matching(stems)
            if not len(ids):
                continue
            idf = math.log((stats.count - len(ids) + 0.5) / (len(ids) + 0.5))
            idf = idf if idf > 0.0 else 1e-6
            lengths = stats.lengths[ids]
            scores[ids] += idf * (
                (weights * (K1 + 1.0)) / (weights + K1 * (1 - B + B * lengths / stats.mean_length))
            )
        if allowed is not None:
            keep = np.zeros(len(scores), dtype=bool)
            wanted = np.asarray([i for i in allowed if 0 <= i < len(scores)], dtype=np.int64)
            keep[wanted] = True
            scores[~keep] = 0.0
        found = np.flatnonzero(scores > 0.0)
        if len(found) > limit:
            found = found[np.argpartition(-scores[found], limit - 1)[:limit]]
            cut = scores[found].min()
            found = np.flatnonzero(scores >= cut)  # every tie at the cut-off, as FTS5 had
        order = np.lexsort((found, -scores[found]))
        return [(int(found[i]), float(scores[found[i]])) for i in order]

    def statistics(self) -> Statistics:
        """Lengths of the live chunks, their number and mean length (cached)."""
        if self._statistics is None:
            ids, counts = self._live_lengths()
            size = int(ids.max()) + 1 if len(ids) else 0
            lengths = np.full(size, -1.0, dtype=np.float64)
            lengths[ids] = counts
            total = float(counts.sum()) if len(counts) else 0.0
            count = len(ids)
            self._statistics = Statistics(lengths, count, total / count if count else 0.0)
        return self._statistics

    def _live_lengths(self) -> tuple[Ids, Ids]:
        """Every live chunk's id and length, read as two comma-joined strings.

        A fresh ``codefind search`` process needs them all before it can score: at 98k
        chunks, a row per chunk through Python took 60-110 ms; the same rows joined by
        SQLite and parsed by numpy take about 20. One aggregate pass makes both strings, so
        their orders agree.
        """
        ids, counts = self._db.execute(
            "SELECT group_concat(chunk_id), group_concat(length) "
            "FROM (SELECT chunk_id, length FROM lexicon_docs ORDER BY chunk_id)"
        ).fetchone()
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        id_array = np.fromstring(ids, dtype=np.int64, sep=",")
        length_array = np.fromstring(counts, dtype=np.int64, sep=",")
        if len(id_array) != len(length_array) or (len(id_array) and id_array.min() < 0):
            raise IndexCorruptError(
                f"The lexical index in {self._path} is damaged (chunk lengths).", path=self._path
            )
        return id_array, length_array

    def _matching(self, stems: Sequence[str]) -> tuple[Ids, Floats]:
        """Live chunks with every one of ``stems``, and the weight of the first (or none)."""
        if not stems:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ids, weights = self._term(stems[0])
        for other in stems[1:]:  # rare: FTS5 would need the words adjacent; all of them here
            keep = np.isin(ids, self._term(other)[0])
            ids, weights = ids[keep], weights[keep]
        return ids, weights

    def _term(self, term: str) -> tuple[Ids, Floats]:
        """The live postings of one term (cached)."""
        cached = self._postings.get(term)
        if cached is not None:
            return cached
        lengths = self.statistics().lengths
        parts = self._db.execute("SELECT ids, weights FROM lexicon WHERE term = ?", (term,))
        ids_parts, weight_parts = [], []
        for raw_ids, raw_weights in parts:
            ids, weights = self._read_row(term, raw_ids, raw_weights)
            ids_parts.append(ids)
            weight_parts.append(weights)
        if ids_parts:
            ids = np.concatenate(ids_parts)
            weights = np.concatenate(weight_parts)
            live = _alive(ids, lengths >= 0)
            found = (ids[live], weights[live])
        else:
            found = (np.zeros(0, dtype=np.int64), np.zeros(0))
        if len(self._postings) > _CACHED_TERMS:
            self._postings.clear()
        self._postings[term] = found
        return found

    def _read_row(self, term: str, raw_ids: bytes, raw_weights: bytes) -> tuple[Ids, Floats]:
        """One postings row (see ``_decode``), or ``IndexCorruptError`` naming the term."""
        try:
            return _decode(raw_ids, raw_weights)
        except ValueError as exc:
            raise IndexCorruptError(
                f"The lexical index in {self._path} is damaged (postings of {term!r}: {exc}).",
                path=self._path,
            ) from exc

    # --- writing (inside the state's transaction) ----------------------------------------------

    def add(self, rows: Sequence[tuple[int, str, str, str]]) -> None:
        """Index new chunks: rows of (chunk id, symbol, path, body) token strings."""
        if not rows:
            return
        terms, docs = self._stemmer.postings(rows)
        self._db.executemany(
            "INSERT OR REPLACE INTO lexicon_docs (chunk_id, length, terms) VALUES (?, ?, ?)",
            ((cid, length, count) for cid, (length, count) in docs.items()),
        )
        segment = self._new_segment(sum(len(ids) for ids, _ in terms.values()))
        self._db.executemany(
            "INSERT INTO lexicon (term, segment, ids, weights) VALUES (?, ?, ?, ?)",
            (
                (term, segment, *_encode(np.asarray(ids), np.asarray(weights)))
                for term, (ids, weights) in terms.items()
            ),
        )

    def remove(self, ids: Sequence[int]) -> None:
        """Forget deleted chunks (their postings are masked out until a merge)."""
        self._db.executemany("DELETE FROM lexicon_docs WHERE chunk_id = ?", ((i,) for i in ids))

    def maintain(self) -> None:
        """Merge segments: four of a size class into one, or all once half is dead."""
        while self._merge_some():
            pass

    def compact(self) -> bool:
        """Merge every segment if more than ``COMPACT_DEAD_SHARE`` of the postings are dead
        (a whole re-chunk leaves half of them dead, just under ``maintain``'s bar). Returns
        whether it did."""
        return self._merge_all_past(COMPACT_DEAD_SHARE, self._segment_sizes())

    def _segment_sizes(self) -> dict[int, int]:
        return dict(self._db.execute("SELECT segment, postings FROM lexicon_segments"))

    def _merge_all_past(self, dead_share: float, sizes: dict[int, int]) -> bool:
        """Merge every segment into one if more than ``dead_share`` of the postings in them
        belong to deleted chunks. Returns whether it did."""
        total = sum(sizes.values())
        if not total:
            return False
        live = int(self._db.execute("SELECT SUM(terms) FROM lexicon_docs").fetchone()[0] or 0)
        if live >= (1 - dead_share) * total:
            return False
        self._merge(sorted(sizes))
        return True

    def _merge_some(self) -> bool:
        sizes = self._segment_sizes()
        if self._merge_all_past(DEAD_SHARE, sizes):
            return False  # one segment is left: nothing more to merge
        classes: dict[int, list[int]] = {}
        for segment, postings in sorted(sizes.items()):
            classes.setdefault(int(math.log(max(postings, 1), MERGE_FACTOR)), []).append(segment)
        for members in classes.values():
            if len(members) >= MERGE_FACTOR:
                self._merge(members)
                return True
        return False

    def _new_segment(self, postings: int) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(segment), 0) + 1 FROM lexicon_segments")
        segment = int(row.fetchone()[0])
        self._db.execute(
            "INSERT INTO lexicon_segments (segment, postings) VALUES (?, ?)", (segment, postings)
        )
        return segment

    def _merge(self, segments: Sequence[int]) -> None:
        """Rewrite ``segments`` as one, without the postings of deleted chunks."""
        ids_alive = np.asarray(
            [r[0] for r in self._db.execute("SELECT chunk_id FROM lexicon_docs")], dtype=np.int64
        )
        alive = np.zeros(int(ids_alive.max()) + 1 if len(ids_alive) else 0, dtype=bool)
        alive[ids_alive] = True
        marks = ",".join("?" * len(segments))
        merged: dict[str, tuple[list[Ids], list[Floats]]] = {}
        for term, raw_ids, raw_weights in self._db.execute(
            f"SELECT term, ids, weights FROM lexicon WHERE segment IN ({marks}) "
            "ORDER BY term, segment",
            list(segments),
        ):
            ids_parts, weight_parts = merged.setdefault(str(term), ([], []))
            ids, weights = self._read_row(str(term), raw_ids, raw_weights)
            ids_parts.append(ids)
            weight_parts.append(weights)
        self._db.execute(f"DELETE FROM lexicon WHERE segment IN ({marks})", list(segments))
        self._db.execute(f"DELETE FROM lexicon_segments WHERE segment IN ({marks})", list(segments))
        rows = []
        count = 0
        for term, (ids_parts, weight_parts) in merged.items():
            ids = np.concatenate(ids_parts)
            weights = np.concatenate(weight_parts)
            keep = _alive(ids, alive)
            if keep.any():
                order = np.argsort(ids[keep], kind="stable")
                rows.append((term, ids[keep][order], weights[keep][order]))
                count += int(keep.sum())
        segment = self._new_segment(count)
        self._db.executemany(
            "INSERT INTO lexicon (term, segment, ids, weights) VALUES (?, ?, ?, ?)",
            ((t, segment, *_encode(i, w)) for t, i, w in rows),
        )

    def integrity_problem(self) -> str | None:
        """What is inconsistent in the postings (every row is read), or ``None``."""
        bad = 0
        for raw_ids, raw_weights in self._db.execute("SELECT ids, weights FROM lexicon"):
            try:
                _decode(raw_ids, raw_weights)
            except ValueError:
                bad += 1
        if bad:
            return f"{bad} postings rows of the lexical index are damaged"
        unindexed = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM chunks WHERE id NOT IN "
            "(SELECT chunk_id FROM lexicon_docs)) + (SELECT COUNT(*) FROM lexicon_docs "
            "WHERE chunk_id NOT IN (SELECT id FROM chunks))"
        ).fetchone()[0]
        if unindexed:
            return f"{unindexed} chunks are missing from the lexical index, or only there"
        return None

    def close(self) -> None:
        """Close the stemmer's database."""
        self._stemmer.close()


def _encode(ids: Ids, weights: Floats) -> tuple[bytes, bytes]:
    """A postings row: ascending chunk ids and their weights, as (ids blob, weights blob).

    The ids blob is a byte that records both widths (ids' in the low four bits, weights' in
    the high four) and the gaps between successive ids (the first from 0); the weights blob
    is twice each weight. Each in the narrowest of ``_WIDTHS`` that holds its largest value.

    Raises:
        ValueError: The ids are not ascending, or a weight is not a multiple of 1/2.
    """
    gaps = np.diff(ids.astype(np.int64), prepend=0)
    doubled = weights * 2.0
    if len(gaps) and gaps.min() < 0:
        raise ValueError("postings must be in ascending chunk id order")
    if not np.array_equal(doubled, np.floor(doubled)):
        raise ValueError("postings weights must be multiples of 1/2")
    id_width, weight_width = _width(gaps), _width(doubled)
    head = bytes([id_width | weight_width << 4])
    return (
        head + gaps.astype(f"<u{id_width}").tobytes(),
        doubled.astype(f"<u{weight_width}").tobytes(),
    )


def _decode(raw_ids: bytes, raw_weights: bytes) -> tuple[Ids, Floats]:
    """The chunk ids (int64) and weights (float64) of a row made by ``_encode``.

    Raises:
        ValueError: The blobs do not hold a row (damage).
    """
    if not raw_ids:
        raise ValueError("no widths")
    id_width, weight_width = raw_ids[0] & 0x0F, raw_ids[0] >> 4
    if id_width not in _WIDTHS or weight_width not in _WIDTHS:
        raise ValueError(f"unknown widths {id_width}, {weight_width}")
    count, odd = divmod(len(raw_ids) - 1, id_width)
    if odd or not count or len(raw_weights) != count * weight_width:
        raise ValueError("blob sizes do not match")
    gaps = np.frombuffer(raw_ids, dtype=f"<u{id_width}", offset=1)
    doubled = np.frombuffer(raw_weights, dtype=f"<u{weight_width}")
    return np.cumsum(gaps, dtype=np.int64), doubled.astype(np.float64) * 0.5


def _width(values: npt.NDArray[np.generic]) -> int:
    """The fewest bytes of ``_WIDTHS`` whose unsigned integers hold every one of ``values``
    (non-negative)."""
    largest = int(values.max()) if len(values) else 0
    return next(w for w in _WIDTHS if largest < 1 << (8 * w))


def _alive(ids: Ids, alive: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Which of ``ids`` are marked in ``alive`` (ids beyond it are not)."""
    if not len(alive):
        return np.zeros(len(ids), dtype=bool)
    return (ids < len(alive)) & alive[np.minimum(ids, len(alive) - 1)]
