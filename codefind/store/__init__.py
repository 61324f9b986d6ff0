"""Everything codefind keeps on disk for one checkout, behind one ``Store``.

Three parts, each in its own module:

- ``state``: SQLite with files, chunks and the BM25 index (per checkout, the source of truth);
- ``vectors``: one USearch file per (model, dimension), keyed by chunk id, with the text hash
  of each key beside it;
- ``cache``: embedding vectors by (model, text hash) that no vector file holds, shared by all
  worktrees (``reuse`` finds a vector in either).

The store knows nothing about embedders or repositories: it takes and returns chunks, hashes
and numpy arrays. Damaged parts are detected on open and in use and reported as
``IndexCorruptError``; a writer (``Store.open_for_writing``) recovers by rebuilding what is
derived: a damaged state database costs no embedding (its vectors are found by text in the
vector file), a damaged vector file costs embedding again what the cache does not hold.
Nothing else (a full disk, a lock, an I/O error) ever deletes a file: it is reported as what
it is.

A reader that meets damage cannot repair it (it holds no write lock and may not be allowed to
write), so it leaves a mark (``state.damaged``) that makes the next writer check the whole
database. Readers open the state read-only, and a folder that cannot be written at all is
still searched, as it is (``Store.read_only`` says why it cannot be updated).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from codefind.errors import (
    IndexCorruptError,
    IndexFormatError,
    IndexReadOnlyError,
    IndexStoreError,
)
from codefind.store.cache import EmbeddingCache, text_hash
from codefind.store.lock import lock_holder, write_lock
from codefind.store.state import (
    ChunkPlace,
    FileUpdate,
    StateDB,
    StoredChunk,
    StoredFile,
    SymbolRow,
)
from codefind.store.vectors import (
    VectorIndex,
    VectorWriter,
    drop_vector_index,
    open_vector_index,
    read_manifest,
)

__all__ = [
    "ChunkPlace",
    "EmbeddingCache",
    "FileUpdate",
    "IndexLocation",
    "StateDB",
    "Store",
    "StoredChunk",
    "StoredFile",
    "SymbolRow",
    "VectorIndex",
    "VectorWriter",
    "drop_vector_index",
    "lock_holder",
    "open_vector_index",
    "read_manifest",
    "text_hash",
    "write_lock",
]

STATE_FILE = "state.sqlite"
CACHE_FILE = "embeddings.sqlite"
REBUILD_ADVICE = "Run `codefind index` to rebuild it."
"""What a reader adds to a damaged or outdated index's message (a writer rebuilds it)."""
DAMAGE_MARK = "state.damaged"
"""Left by a reader that met a damaged state database; the next writer checks it all."""


@dataclass(frozen=True)
class IndexLocation:
    """Where one checkout's index and its (shared) embedding cache live."""

    index_dir: Path
    cache_dir: Path


class Store:
    """Open handles on a checkout's state, cache and vector indexes.

    Attributes:
        read_only: Why this store's index cannot be updated (a folder that is not
            writable), or ``None``.
    """

    def __init__(
        self,
        location: IndexLocation,
        state: StateDB,
        cache: EmbeddingCache | None = None,
        *,
        read_only: str | None = None,
    ) -> None:
        self.location = location
        self.state = state
        self.read_only = read_only
        self._cache = cache
        self._state_inode = _inode(state.path)
        self._vectors: dict[tuple[str, int], VectorIndex] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, location: IndexLocation) -> Store:
        """Open for reading and searching (creates an empty index if there is none yet).

        The state database is opened read-only; in a folder that cannot be written it is
        read as it is (``read_only`` says so).

        Raises:
            IndexStoreError: A part is damaged or from an unknown format (run
                ``codefind index`` to rebuild it), or there is no index and none can be made.
        """
        try:
            state, read_only = _open_state_for_reading(location.index_dir / STATE_FILE)
        except IndexCorruptError as exc:
            message = f"{exc.message} {REBUILD_ADVICE}"
            raise IndexCorruptError(message, path=exc.path) from exc
        except IndexFormatError as exc:
            raise _advised(exc) from exc
        return cls(location, state, read_only=read_only)

    @classmethod
    def open_for_writing(cls, location: IndexLocation, notes: list[str] | None = None) -> Store:
        """Open for indexing; a damaged or outdated state database is rebuilt from scratch.

        The caller must hold ``write_lock(location.index_dir)``. What was rebuilt is appended
        to ``notes`` for the user. Only damage rebuilds: a locked, full or unreadable
        database raises ``IndexStoreError`` and stays as it is.
        """
        notes = [] if notes is None else notes
        path = location.index_dir / STATE_FILE
        try:
            state = StateDB(path)
        except (IndexCorruptError, IndexFormatError) as exc:
            if isinstance(exc, IndexFormatError) and exc.newer:
                raise
            return cls(location, _fresh_state(path, exc.message, notes))
        problem = _marked_problem(state, location.index_dir / DAMAGE_MARK)
        if problem is not None:
            state.close()
            return cls(location, _fresh_state(path, problem, notes))
        return cls(location, state)

    @property
    def cache(self) -> EmbeddingCache:
        """The embedding cache (opened on first use: searching never needs it)."""
        with self._lock:
            if self._cache is None:
                self._cache = EmbeddingCache(self.location.cache_dir / CACHE_FILE)
            return self._cache

    def rebuild_state(self, damage: IndexCorruptError, notes: list[str]) -> None:
        """Replace a state database found damaged in use by an empty one (writers only)."""
        self.state.close()
        self.state = _fresh_state(self.state.path, damage.message, notes)
        self._state_inode = _inode(self.state.path)

    def refresh(self) -> None:
        """Reopen the state database if a writer replaced it (it rebuilt a damaged one).

        A new file that cannot be opened yet (a writer is still making it) is tried again
        on the next call; until then the old view is kept.
        """
        inode = _inode(self.state.path)
        if inode is None or inode == self._state_inode:
            return
        try:
            state, read_only = _open_state_for_reading(self.state.path)
        except IndexStoreError:
            return
        # The old connection is not closed here: another thread may be reading through it;
        # it closes when the last reference goes.
        self.state, self.read_only, self._state_inode = state, read_only, inode

    def report_damage(self, damage: IndexCorruptError) -> None:
        """Leave the mark that makes the next writer check (and rebuild) the state."""
        if damage.path == str(self.state.path):
            with contextlib.suppress(OSError):
                (self.location.index_dir / DAMAGE_MARK).write_text(damage.message + "\n")

    def vector_index(self, model_id: str, dim: int) -> VectorIndex:
        """The current vector index of (model, dim), re-opened if a writer replaced it.

        Raises:
            IndexStoreError: It is damaged, or it was built for another state database.
        """
        with self._lock:
            key = (model_id, dim)
            current = self._vectors.get(key)
            try:
                manifest = read_manifest(self.location.index_dir, model_id, dim)
                if current is None or current.manifest != manifest:
                    current = open_vector_index(self.location.index_dir, model_id, dim)
                    self._vectors[key] = current
            except IndexFormatError as exc:
                raise _advised(exc) from exc
        if current.manifest is not None and current.manifest.state_id != self.state.state_id:
            raise IndexStoreError(
                f"The vector index {current.manifest.file} belongs to another state database "
                f"(the index database was rebuilt or replaced since). {REBUILD_ADVICE}"
            )
        return current

    def close(self) -> None:
        """Close the databases."""
        self.state.close()
        if self._cache is not None:
            self._cache.close()


def _open_state_for_reading(path: Path) -> tuple[StateDB, str | None]:
    """The state read-only, and why it cannot be updated (``None`` when it can)."""
    folder = path.parent
    if not path.exists() or path.stat().st_size == 0:  # SQLite reads 0 bytes as empty
        try:
            StateDB(path).close()  # an empty index: a search finds nothing rather than failing
        except IndexReadOnlyError as exc:
            raise IndexStoreError(
                f"There is no index in {folder} yet, and none can be made there ({exc.message}) "
                "Set CODEFIND_INDEX_DIR to a folder you can write."
            ) from exc
    writable = os.access(folder, os.W_OK) and os.access(path, os.W_OK)
    reason = (
        None
        if writable
        else f"The index folder {folder} is not writable, so the index cannot be updated; "
        "searching it as it is."
    )
    try:
        return StateDB(path, readonly=True), reason
    except IndexReadOnlyError:
        # WAL needs a shared-memory file next to the database; where it cannot be made,
        # SQLite reads the file only if told that nobody changes it.
        return StateDB(path, immutable=True), reason


def _marked_problem(state: StateDB, mark: Path) -> str | None:
    """If a reader marked the state as damaged: what the integrity checks find, in a sentence
    (``None``: the database is sound after all). The mark is cleared either way."""
    if not mark.exists():
        return None
    try:
        found = state.integrity_problem()
        problem = (
            None if found is None else f"The index database {state.path} is damaged ({found})."
        )
    except IndexCorruptError as exc:
        problem = exc.message
    with contextlib.suppress(FileNotFoundError):
        mark.unlink()
    return problem


def _advised(exc: IndexFormatError) -> IndexFormatError:
    """An outdated format's error as a reader says it (with ``REBUILD_ADVICE``); a newer
    format's as it is (only an upgrade helps)."""
    if exc.newer:
        return exc
    return IndexFormatError(f"{exc.message} {REBUILD_ADVICE}", newer=False)


def _fresh_state(path: Path, reason: str, notes: list[str]) -> StateDB:
    notes.append(f"{reason} Rebuilt it (vectors are taken from the vector index by text).")
    _remove_state(path)
    with contextlib.suppress(FileNotFoundError):
        (path.parent / DAMAGE_MARK).unlink()
    return StateDB(path)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _remove_state(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
