"""Everything codefind keeps on disk for one checkout, behind one ``Store``.

Three parts, each in its own module:

- ``state``: SQLite with files, chunks and the BM25 index (per checkout, the source of truth);
- ``vectors``: one USearch file per (model, dimension), derived from state + cache;
- ``cache``: embedding vectors by (model, text hash), shared by all worktrees.

The store knows nothing about embedders or repositories: it takes and returns chunks, hashes
and numpy arrays. Damaged parts are detected on open and reported as ``IndexStoreError``; a
writer (``Store.open_for_writing``) recovers by rebuilding what is derived, so a damaged file
costs a rebuild from the cache, never an embedding run.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from codefind.errors import IndexFormatError, IndexStoreError
from codefind.store.cache import EmbeddingCache, text_hash
from codefind.store.lock import lock_holder, write_lock
from codefind.store.state import FileUpdate, StateDB, StoredChunk, StoredFile, SymbolRow
from codefind.store.vectors import (
    VectorIndex,
    VectorWriter,
    drop_vector_index,
    open_vector_index,
    read_manifest,
)

__all__ = [
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


@dataclass(frozen=True)
class IndexLocation:
    """Where one checkout's index and its (shared) embedding cache live."""

    index_dir: Path
    cache_dir: Path


class Store:
    """Open handles on a checkout's state, cache and vector indexes."""

    def __init__(self, location: IndexLocation, state: StateDB, cache: EmbeddingCache) -> None:
        self.location = location
        self.state = state
        self.cache = cache
        self._vectors: dict[tuple[str, int], VectorIndex] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, location: IndexLocation) -> Store:
        """Open for reading and searching (creates empty files if there are none yet).

        Raises:
            IndexStoreError: A part is damaged or from an unknown format; run
                ``codefind index`` to rebuild it.
        """
        state = StateDB(location.index_dir / STATE_FILE)
        cache = EmbeddingCache(location.cache_dir / CACHE_FILE)
        return cls(location, state, cache)

    @classmethod
    def open_for_writing(cls, location: IndexLocation, notes: list[str] | None = None) -> Store:
        """Open for indexing; a damaged or outdated state database is rebuilt from scratch.

        The caller must hold ``write_lock(location.index_dir)``. What was rebuilt is appended
        to ``notes`` for the user.
        """
        path = location.index_dir / STATE_FILE
        try:
            state = StateDB(path)
        except IndexStoreError as exc:
            if isinstance(exc, IndexFormatError) and exc.newer:
                raise
            if notes is not None:
                notes.append(f"{exc.message} Rebuilt it (vectors come from the cache).")
            _remove_state(path)
            state = StateDB(path)
        cache = EmbeddingCache(location.cache_dir / CACHE_FILE)
        return cls(location, state, cache)

    def vector_index(self, model_id: str, dim: int) -> VectorIndex:
        """The current vector index of (model, dim), re-opened if a writer replaced it."""
        with self._lock:
            key = (model_id, dim)
            current = self._vectors.get(key)
            manifest = read_manifest(self.location.index_dir, model_id, dim)
            if current is None or current.manifest != manifest:
                current = open_vector_index(self.location.index_dir, model_id, dim)
                self._vectors[key] = current
            return current

    def close(self) -> None:
        """Close the databases."""
        self.state.close()
        self.cache.close()


def _remove_state(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
