"""The embedding cache: one full-dimension unit vector per (model, exact text embedded).

It is content-addressed, so it is shared by every worktree of a repository (same text, same
vector), survives branch switches, and makes a killed indexing run resumable: each batch is
committed as soon as the model returns it, and the next run embeds only what is missing.
Vectors are stored at the model's native dimension; smaller Matryoshka dimensions are derived
from them (``embeddings.base.truncate``), so changing dimension never calls a model again.
They are stored as int8 (``store.quantize``: each vector scaled to use the whole int8 range,
no scale kept, since every use of a vector is a cosine), a quarter of the bytes of float32 and
exactly what the vector indexes hold (``vectors.DTYPE``): the rounding costs nothing that the
index had not already cost (``benchmarks/RESULTS.md``, "int8 vectors"). A cache of float32 or
float16 rows, as older codefinds wrote, is converted on open, and such a row written since by
an older codefind sharing the cache is still read.

A bad vector must not be served for good, so every row carries a CRC-32 of its model, key and
bytes, and ``get_many`` returns only vectors that pass it and are well formed (an int8 row's
largest component is ±127; a float row is a finite unit vector); the others count as missing
and are embedded again (``rejected`` counts them). The cache is only a cache: a file SQLite
finds damaged is moved aside and a new one started (``notes`` says so).
It is bounded by its writers: a vector that a checkout's vector file holds is forgotten here
once that file is saved (``forget``: the file is findable by text, ``store.reuse``), and
``prune`` forgets the oldest vectors of texts no checkout uses (``Indexer._prune_cache``
decides when). An index of a smaller Matryoshka dimension cannot give the full vector back,
so what it holds stays here too.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

from codefind.errors import IndexCorruptError
from codefind.store.failures import give_back_pages, is_corruption, os_failure, sqlite_failure
from codefind.store.quantize import dequantize, is_quantized, quantize

Vectors = npt.NDArray[np.float32]

STORED = np.dtype(np.int8)
"""How a vector is kept: int8, quantized (the vector indexes hold the same int8 rows)."""
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32))
"""How older codefinds kept a vector (little-endian), read to convert them."""
_LAYOUT = 2
"""``PRAGMA user_version`` of a cache whose rows are all int8 (1: float16 rows may remain,
0: float32 rows too)."""

# A rowid table, not WITHOUT ROWID: a row was a 1.5 KB vector (384 float32) when this was
# measured (int8 rows of the server models, 1024 dimensions and up, are 1 KB or more), and a
# WITHOUT ROWID table keeps at most ~1 KB of a row in its 4 KB page and spills the rest into
# an overflow page of its own, so it took 4.7 KB on disk per vector instead of ~1.6 KB.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    text_hash BLOB NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    crc INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS embeddings_by_key ON embeddings (model, text_hash);
"""
# The first layout (codefind before 2026-11-30): moved into ``embeddings`` on open.
_OLD_TABLE = "vectors"
_BATCH = 500  # SQLite's default limit on bound parameters is 999
NORM_TOLERANCE = 1e-3
"""How far from 1 a float vector's length may be, one to store or an older float row (float16
rounding moves it by ~1e-4 at most, float32 by ~1e-7)."""
WHAT = "embedding cache"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _healing(
    method: Callable[Concatenate[EmbeddingCache, _P], _R],
) -> Callable[Concatenate[EmbeddingCache, _P], _R]:
    """Run ``method``; if SQLite finds the file damaged, start a new cache and run it again.

    Other SQLite failures (full, locked, I/O) become the store's errors and change nothing.
    """

    @functools.wraps(method)
    def wrapper(self: EmbeddingCache, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if not is_corruption(exc):
                raise sqlite_failure(exc, self.path, WHAT) from exc
            self._set_aside(str(exc))
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, self.path, WHAT) from exc

    return wrapper


def text_hash(text: str) -> bytes:
    """The cache key of one embedded text (16 bytes of BLAKE2b)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """A SQLite file of vectors keyed by (model id, text hash).

    Safe to use from several processes (SQLite locking, WAL) and from one thread at a time
    per instance.

    Attributes:
        rejected: Cached vectors found bad by ``get_many`` so far (served as missing).
        notes: What was repaired, for the user (a damaged file moved aside).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected = 0
        self.notes: list[str] = []
        try:
            self._db = self._connect()
        except IndexCorruptError as exc:
            self._set_aside(exc.message, opened=False)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_failure(exc, self.path.parent, "creating the cache folder") from exc
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            _migrate(db)
            return db
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise sqlite_failure(exc, self.path, WHAT) from exc

    def _set_aside(self, reason: str, *, opened: bool = True) -> None:
        """Move a damaged cache file (with its WAL) aside and start a new, empty one.

        The WAL goes first: a new database must never meet the old database's WAL.
        """
        if opened:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("-wal", "-shm", ""):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{self.path}{suffix}").replace(f"{aside}{suffix}")
        self.notes.append(
            f"The embedding cache {self.path} was damaged ({reason}); moved it to {aside.name} "
            "and started a new one (what it lacks is embedded again)."
        )
        self._db = self._connect()

    @_healing
    def get_many(self, model: str, hashes: Iterable[bytes]) -> dict[bytes, Vectors]:
        """Cached vectors for those of ``hashes`` that are present and intact."""
        found: dict[bytes, Vectors] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), _BATCH):
            part = wanted[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT text_hash, dim, vector, crc FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                (model, *part),
            )
            for key, dim, blob, crc in rows:
                vector = _intact(model, bytes(key), int(dim), bytes(blob), crc)
                if vector is None:
                    self.rejected += 1
                else:
                    found[bytes(key)] = vector
        return found

    @_healing
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

    @_healing
    def put_many(self, model: str, vectors: Mapping[bytes, Vectors]) -> dict[bytes, Vectors]:
        """Store vectors (committed before returning: this is the resume point).

        Only finite unit vectors are kept: anything else (a blank text's zero row) is not a
        vector to serve again, so it is not worth a row.

        Returns:
            Every vector as the index should take it: a kept one as stored (quantized), what
            ``get_many`` will return, so an index built now equals one rebuilt later; any other
            as given (float32).
        """
        rows = []
        stored: dict[bytes, Vectors] = {}
        for key, vec in vectors.items():
            vector = np.asarray(vec, dtype=np.float32)
            if _is_unit(vector):
                blob, crc = _row(model, key, vector)
                rows.append((model, key, len(vector), blob, crc))
                vector = dequantize(np.frombuffer(blob, dtype=STORED))
            stored[key] = vector
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_hash, dim, vector, crc) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return stored

    @_healing
    def newest_row(self) -> int:
        """The id of the newest row (0: none); rows put later get larger ids (see ``prune``)."""
        return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM embeddings").fetchone()[0])

    @_healing
    def prune(self, model: str, live: Iterable[bytes], *, spare: int, up_to: int) -> int:
        """Forget ``model``'s vectors of texts not in ``live``, oldest first, keeping the newest
        ``spare`` of them; only rows up to id ``up_to`` are considered, so a row put (or put
        again) after the caller read ``live`` is never taken. Gives the space back to the file
        system when a quarter of the rows went. Returns how many rows were removed.
        """
        with self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS live_hashes (h BLOB PRIMARY KEY)")
            self._db.execute("DELETE FROM live_hashes")
            self._db.executemany(
                "INSERT OR IGNORE INTO live_hashes (h) VALUES (?)", ((h,) for h in live)
            )
            removed = self._db.execute(
                "DELETE FROM embeddings WHERE id IN (SELECT id FROM embeddings WHERE model = ? "
                "AND id <= ? AND text_hash NOT IN (SELECT h FROM live_hashes) "
                "ORDER BY id DESC LIMIT -1 OFFSET ?)",
                (model, up_to, spare),
            ).rowcount
            self._db.execute("DELETE FROM live_hashes")
        self._give_back_space(removed)
        return removed

    @_healing
    def forget(self, model: str, hashes: Iterable[bytes]) -> int:
        """Forget ``model``'s vectors of ``hashes`` (a vector index holds them now, see
        ``store.reuse``). Returns how many rows were removed."""
        wanted = list(dict.fromkeys(hashes))
        removed = 0
        with self._db:
            for start in range(0, len(wanted), _BATCH):
                part = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(part))
                removed += self._db.execute(
                    f"DELETE FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                    (model, *part),
                ).rowcount
        self._give_back_space(removed)
        return removed

    def _give_back_space(self, removed: int) -> None:
        """VACUUM once a quarter of the rows went (the file never shrinks by itself)."""
        if not removed:
            return
        remaining = int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        if removed * 3 >= remaining:
            give_back_pages(self._db, "VACUUM;")

    @_healing
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


def _migrate(db: sqlite3.Connection) -> None:
    """Bring an older cache file to this layout (once; cheap when there is nothing to do)."""
    _move_old_table(db)
    _add_crc_column(db)
    _to_int8(db)


def _move_old_table(db: sqlite3.Connection) -> None:
    """Move vectors from the first layout's table, then give the space back (once).

    Two processes may open an old cache at once: the write lock taken first (BEGIN
    IMMEDIATE) makes one of them migrate and the other find nothing left to do.
    """
    if not _has_old_table(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if _has_old_table(db):
            db.execute(
                "INSERT OR IGNORE INTO embeddings (model, text_hash, dim, vector) "
                f"SELECT model, text_hash, dim, vector FROM {_OLD_TABLE}"
            )
            db.execute(f"DROP TABLE {_OLD_TABLE}")
        db.commit()
    except BaseException:
        db.rollback()
        raise
    # Busy: the file stays larger than it needs to be; nothing is lost.
    with contextlib.suppress(sqlite3.OperationalError):
        db.execute("VACUUM")


def _add_crc_column(db: sqlite3.Connection) -> None:
    """Caches made before checksums get the column; their rows stay unchecked (NULL)."""
    if _has_crc(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _has_crc(db):
            db.execute("ALTER TABLE embeddings ADD COLUMN crc INTEGER")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _to_int8(db: sqlite3.Connection) -> None:
    """Rewrite float32 and float16 rows as int8, then give the space back (once per cache file).

    A row whose checksum fails stays as it is, so that it is still rejected (and embedded
    again) rather than given a checksum it never had. Like ``_move_old_table``, the write
    lock makes one of two processes opening an old cache do the work.
    """
    if _layout(db) >= _LAYOUT:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if _layout(db) < _LAYOUT:
            last = 0
            while rows := db.execute(
                "SELECT id, model, text_hash, dim, vector, crc FROM embeddings "
                "WHERE id > ? AND length(vector) <> dim ORDER BY id LIMIT 2000",
                (last,),
            ).fetchall():
                db.executemany(
                    "UPDATE embeddings SET vector = ?, crc = ? WHERE id = ?", _quantized(rows)
                )
                last = int(rows[-1][0])
            db.execute(f"PRAGMA user_version = {_LAYOUT}")
        db.commit()
    except BaseException:
        db.rollback()
        raise
    with contextlib.suppress(sqlite3.OperationalError):  # busy: the file just stays larger
        db.execute("VACUUM")


def _quantized(rows: Iterable[tuple[int, str, bytes, int, bytes, int | None]]) -> list[Any]:
    """(int8 blob, its checksum, id) for each float row that is intact."""
    out = []
    for cid, model, key, dim, blob, crc in rows:
        vector = _intact(model, bytes(key), int(dim), bytes(blob), crc)
        if vector is not None:
            out.append((*_row(model, bytes(key), vector), cid))
    return out


def _row(model: str, key: bytes, vector: Vectors) -> tuple[bytes, int]:
    """The blob a unit vector is stored as (int8, quantized), and the row's checksum."""
    blob = quantize(vector).tobytes()
    return blob, _crc(model, key, blob)


def _layout(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _has_crc(db: sqlite3.Connection) -> bool:
    return any(row[1] == "crc" for row in db.execute("PRAGMA table_info(embeddings)"))


def _has_old_table(db: sqlite3.Connection) -> bool:
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_OLD_TABLE,)
    ).fetchone()
    return row is not None


def _crc(model: str, key: bytes, blob: bytes) -> int:
    """The checksum of one row: it covers the key too, so a vector under the wrong key fails."""
    return zlib.crc32(blob, zlib.crc32(key, zlib.crc32(model.encode())))


def _intact(model: str, key: bytes, dim: int, blob: bytes, crc: int | None) -> Vectors | None:
    """The row's vector (as float32) if it is whole, matches its checksum and is well formed.

    Rows are int8 (a byte a dimension; well formed: ``is_quantized``, and returned as a unit
    vector) or, as older codefinds wrote them, float16 or float32 (well formed: ``_is_unit``).
    """
    kinds = {kind.itemsize * dim: kind for kind in (STORED, *_FLOATS)}
    kind = kinds.get(len(blob)) if dim > 0 else None
    if kind is None or (crc is not None and crc != _crc(model, key, blob)):
        return None
    if kind == STORED:
        row = np.frombuffer(blob, dtype=np.int8)
        return dequantize(row) if is_quantized(row) else None
    vector = np.frombuffer(blob, dtype=kind.newbyteorder("<")).astype(np.float32)
    return vector if _is_unit(vector) else None


def _is_unit(vector: Vectors) -> bool:
    """Whether ``vector`` is finite and of unit length (within ``NORM_TOLERANCE``)."""
    finite = bool(np.isfinite(vector).all())
    return finite and abs(float(np.linalg.norm(vector)) - 1.0) <= NORM_TOLERANCE
