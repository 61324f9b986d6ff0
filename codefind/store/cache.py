"""The embedding cache: one full-dimension unit vector per (model, exact text embedded).

It is content-addressed, so it is shared by every worktree of a repository (same text, same
vector), survives branch switches, and makes a killed indexing run resumable: each batch is
committed as soon as the model returns it, and the next run embeds only what is missing.
Vectors are stored at the model's native dimension; smaller Matryoshka dimensions are derived
from them (``embeddings.base.truncate``), so changing dimension never calls a model again.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from codefind.errors import IndexStoreError

Vectors = npt.NDArray[np.float32]

# A rowid table, not WITHOUT ROWID: a row is a 1.5 KB vector (384 float32) or more, and a
# WITHOUT ROWID table keeps at most ~1 KB of a row in its 4 KB page and spills the rest into
# an overflow page of its own, so it took 4.7 KB on disk per vector instead of ~1.6 KB.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS embeddings_by_key ON embeddings (model, text_hash);
"""
# The first layout (codefind before 2026-11-30): moved into ``embeddings`` on open.
_OLD_TABLE = "vectors"
_BATCH = 500  # SQLite's default limit on bound parameters is 999


def text_hash(text: str) -> bytes:
    """The cache key of one embedded text (16 bytes of BLAKE2b)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """A SQLite file of vectors keyed by (model id, text hash).

    Safe to use from several processes (SQLite locking, WAL) and from one thread at a time
    per instance.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise IndexStoreError(
                f"The embedding cache {path} is damaged ({exc}). Delete it; codefind will "
                "embed again what it needs."
            ) from exc

    def get_many(self, model: str, hashes: Iterable[bytes]) -> dict[bytes, Vectors]:
        """Cached vectors for those of ``hashes`` that are present."""
        found: dict[bytes, Vectors] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), _BATCH):
            part = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT text_hash, dim, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                (model, *part),
            )
            for key, dim, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (dim,):
                    found[bytes(key)] = vector
        return found

    def missing(self, model: str, hashes: Sequence[bytes]) -> list[bytes]:
        """Those of ``hashes`` with no cached vector, in their order, without duplicates."""
        wanted = list(dict.fromkeys(hashes))
        present: set[bytes] = set()
        for start in range(0, len(wanted), _BATCH):
            part = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT text_hash FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                (model, *part),
            )
            present.update(bytes(row[0]) for row in rows)
        return [h for h in wanted if h not in present]

    def put_many(self, model: str, vectors: Mapping[bytes, Vectors]) -> None:
        """Store vectors (committed before returning: this is the resume point)."""
        rows = [
            (model, key, int(vec.shape[0]), np.ascontiguousarray(vec, dtype=np.float32).tobytes())
            for key, vec in vectors.items()
        ]
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_hash, dim, vector) VALUES (?, ?, ?, ?)",
                rows,
            )

    def count(self, model: str | None = None) -> int:
        """Number of cached vectors (of one model, or all)."""
        if model is None:
            row = self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM embeddings WHERE model = ?", (model,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _migrate(self) -> None:
        """Move vectors from the first layout's table, then give the space back (once).

        Two processes may open an old cache at once: the write lock taken first (BEGIN
        IMMEDIATE) makes one of them migrate and the other find nothing left to do.
        """
        if not self._has_old_table():
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._has_old_table():
                self._db.execute(
                    "INSERT OR IGNORE INTO embeddings (model, text_hash, dim, vector) "
                    f"SELECT model, text_hash, dim, vector FROM {_OLD_TABLE}"
                )
                self._db.execute(f"DROP TABLE {_OLD_TABLE}")
            self._db.commit()
        except BaseException:
            self._db.rollback()
            raise
        # Busy: the file stays larger than it needs to be; nothing is lost.
        with contextlib.suppress(sqlite3.OperationalError):
            self._db.execute("VACUUM")

    def _has_old_table(self) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_OLD_TABLE,)
        ).fetchone()
        return row is not None
