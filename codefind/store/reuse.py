"""Where an indexing run finds the vectors it does not have to embed.

Each embedded text's vector is kept once: in the vector file of a checkout whose index holds
the text (its ``.hashes`` file makes it findable by text), or else in the embedding cache.
So a run that needs a text's vector looks, in this order, in

1. the index it is replacing (a changed file's unchanged chunks, a re-chunk, a state database
   rebuilt under it: the vectors are there, under other chunk ids);
2. the embedding cache (texts no index holds: a revert, a branch switch, a killed run);
3. the vector files of the model's native dimension in every checkout of the repository
   (another worktree; this checkout's own when the run builds a smaller Matryoshka
   dimension).

Only what none of them has is embedded. A vector file that cannot be read is passed over:
reuse is an economy, never a reason to fail a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from codefind.errors import IndexStoreError
from codefind.store.cache import EmbeddingCache, Vectors
from codefind.store.vectors import VectorIndex

SLICE = 4096
"""Vectors read at a time: memory stays one slice deep (a re-chunk of 98k chunks read every
vector at once and peaked at 970 MB)."""


class VectorSources:
    """Looks texts up by hash in the replaced index, the cache and other vector files."""

    def __init__(
        self,
        cache: EmbeddingCache,
        model_id: str,
        replaced: VectorIndex,
        others: Callable[[], Iterable[VectorIndex]],
    ) -> None:
        """``others`` opens the other checkouts' vector files (passing over those it cannot
        open); it is called only if the replaced index and the cache leave something missing."""
        self._cache = cache
        self._model_id = model_id
        self._replaced = replaced
        self._others = others
        self._opened: list[VectorIndex] | None = None
        self.from_cache: set[bytes] = set()
        """The hashes served by the cache (an index holds them once the run is saved)."""

    def take(self, hashes: Sequence[bytes]) -> Iterable[dict[bytes, Vectors]]:
        """The vectors of those of ``hashes`` that some source has, a slice at a time."""
        for start in range(0, len(hashes), SLICE):
            wanted = list(hashes[start : start + SLICE])
            found = vectors_by_text(self._replaced, wanted)
            rest = [h for h in wanted if h not in found]
            cached = self._cache.get_many(self._model_id, rest) if rest else {}
            self.from_cache.update(cached)
            found.update(cached)
            rest = [h for h in rest if h not in cached]
            for index in self._other_indexes() if rest else ():
                more = vectors_by_text(index, rest)
                found.update(more)
                rest = [h for h in rest if h not in more]
            yield found

    def _other_indexes(self) -> list[VectorIndex]:
        if self._opened is None:
            self._opened = [index for index in self._others() if index.count]
        return self._opened


def vectors_by_text(index: VectorIndex, hashes: Sequence[bytes]) -> dict[bytes, Vectors]:
    """The finite vectors ``index`` holds for ``hashes`` (none if its ``.hashes`` cannot be
    read)."""
    if index.count == 0 or not hashes:
        return {}
    try:
        keys = index.keys_by_hash()
    except IndexStoreError:
        return {}
    wanted = [(h, keys[h]) for h in hashes if h in keys]
    if not wanted:
        return {}
    found_keys, rows = index.vectors(np.asarray([k for _, k in wanted], dtype=np.uint64))
    by_key = dict(zip(found_keys.tolist(), rows, strict=True))
    return {h: by_key[k] for h, k in wanted if k in by_key and np.isfinite(by_key[k]).all()}
