"""The one search service: query in, ranked hits out. Used by the app, the CLI and eval.

Where a query goes::

    query ──► translate (zh/ja → English keywords; the English side of multilingual models)
          ├─► lexical: BM25 over identifier-split tokens (SQLite FTS5)   ── instant
          └─► semantic: query vector (in a thread, meanwhile) ──► USearch (cosine)
                 ──► fuse (see ``fuse``) ──► optional rerank ──► one hit per line range ──► hits

Filters (paths, globs, languages) are applied *before* the top-k cut on both sides, never
after, so a filtered search does not come back empty just because the best matches overall
were elsewhere.

One search uses one vector index (the same snapshot ranks semantic hits and gives lexical
hits their cosines), and every score it returns is a finite number: a vector that is not
finite (an index built from bad vectors) ranks nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from codefind.embeddings.base import Embedder, Reranker, Vectors, truncate
from codefind.errors import BackendError, IndexCorruptError, IndexStoreError
from codefind.fusion import LEXICAL_WEIGHT, Candidate, fuse, lexical_weight_for
from codefind.lexical import identifier_key, name_in_query, query_tokens
from codefind.models import Hit, SearchMode
from codefind.pathfilter import PathFilter
from codefind.store import Store, StoredChunk, VectorIndex
from codefind.translation import Translation, translate_query

CANDIDATES = 100
"""How many hits each retriever contributes to fusion (more than any page of results)."""
RERANK_DEPTH = 30
"""How many fused hits the reranker re-scores."""


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to some files: path prefixes, globs and languages (all must match)."""

    paths: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.paths or self.globs or self.languages)


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query, with what happened along the way."""

    query: str
    mode: SearchMode
    hits: tuple[Hit, ...]
    translation: Translation
    semantic: bool
    """Whether semantic hits are in the list (false while no vectors exist, or lexical mode)."""
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    """Problems that degraded this search (e.g. a damaged vector index: lexical hits only)."""

    @property
    def elapsed_ms(self) -> float:
        """Total time of the search."""
        return self.timings_ms.get("total", 0.0)


class SearchService:
    """Searches one store with one embedder at one dimension.

    Thread-safe: the app searches from worker threads while indexing runs in another (the
    store reopens the vector index when an indexing run replaces it).
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder | None,
        dim: int,
        *,
        reranker: Reranker | None = None,
        translate: bool = True,
        lexical_weight: float = LEXICAL_WEIGHT,
        strict: bool = False,
    ) -> None:
        self.store = store
        self.lexical_weight = lexical_weight
        self.strict = strict
        """Raise backend errors instead of falling back to lexical hits (eval must not mix)."""
        self.embedder = embedder
        self.dim = dim
        self.reranker = reranker
        self.translate = translate
        self._lock = threading.Lock()
        self._query_vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        rerank: bool = False,
    ) -> SearchResult:
        """Rank chunks for ``query``.

        Args:
            query: What the user typed; blank queries give no hits.
            limit: Hits to return.
            mode: ``hybrid`` (both retrievers fused), ``semantic`` or ``lexical``.
            filters: Limit the search to some files.
            rerank: Re-score the top hits with the reranker (if one was given).

        Raises:
            BackendError: The embedding backend failed for the query.
            IndexCorruptError: The state database is damaged (the next indexing run is told
                to check and rebuild it).
        """
        try:
            return self._search(query, limit=limit, mode=mode, filters=filters, rerank=rerank)
        except IndexCorruptError as damage:
            self.store.report_damage(damage)
            damage.message += " Run `codefind index` to rebuild it."
            damage.args = (damage.message,)
            raise

    def _search(
        self,
        query: str,
        *,
        limit: int,
        mode: SearchMode,
        filters: SearchFilters | None,
        rerank: bool,
    ) -> SearchResult:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        warnings: list[str] = []
        translation = self._translate(query)
        if not query.strip() or limit <= 0:
            return SearchResult(query, mode, (), translation, False, {"total": 0.0})
        # The query is embedded in another thread while BM25 runs here (the model and SQLite
        # both release the GIL), and outside the lock: a slow model must not hold up a
        # lexical search that another thread (the app's instant stage) runs meanwhile.
        embedding = (
            None
            if mode == "lexical"
            else self._query_pool().submit(self._query, translation, timings, warnings)
        )
        with self._lock:
            self.store.refresh()
            if self.store.read_only:
                warnings.append(self.store.read_only)
            allowed = self._allowed_ids(filters)
            lexical = (
                [] if mode == "semantic" else self._lexical(query, translation, allowed, timings)
            )
        index, qvec = (None, None) if embedding is None else embedding.result()
        with self._lock:
            semantic = (
                [] if index is None or qvec is None else self._ann(index, qvec, allowed, timings)
            )
            candidates = self._candidates(lexical, semantic, index if semantic else None, qvec)
            name = name_in_query(query)
            if name is not None:
                candidates = self._mark_name_matches(candidates, name)
            weight = lexical_weight_for(
                translation.text, multilingual=self._multilingual, base=self.lexical_weight
            )
            ranked = fuse(candidates, mode=mode, lexical_weight=weight)
            hits = self._hydrate(
                ranked, limit, rerank=rerank and self.reranker is not None, query=query
            )
        timings["total"] = (time.perf_counter() - started) * 1000
        if translation.warning:
            warnings.append(translation.warning)
        return SearchResult(
            query, mode, tuple(hits), translation, bool(semantic), timings, tuple(warnings)
        )

    def _query_pool(self) -> ThreadPoolExecutor:
        with self._cache_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="codefind-query")
            return self._pool

    # --- stages ----------------------------------------------------------------------------

    def _translate(self, query: str) -> Translation:
        if not self.translate:
            return Translation(query, query, None)
        return translate_query(query)

    def _allowed_ids(self, filters: SearchFilters | None) -> list[int] | None:
        if filters is None or not filters.active:
            return None
        paths: list[str] | None = None
        if filters.paths or filters.globs:
            keep = PathFilter(filters.paths, filters.globs)
            paths = [p for p in self.store.state.indexed_paths() if keep.matches(p)]
        languages = list(filters.languages) or None
        return self.store.state.chunk_ids_where(paths, languages)

    def _lexical(
        self,
        query: str,
        translation: Translation,
        allowed: list[int] | None,
        timings: dict[str, float],
    ) -> list[tuple[int, float]]:
        started = time.perf_counter()
        words = query_tokens(translation.text)
        if translation.changed:
            words += [t for t in query_tokens(query) if t not in words]
        found = self.store.state.lexical_search(words, CANDIDATES, allowed)
        timings["lexical"] = (time.perf_counter() - started) * 1000
        return found

    def _query(
        self, translation: Translation, timings: dict[str, float], warnings: list[str]
    ) -> tuple[VectorIndex | None, Vectors | None]:
        """The vector index and the query vector, or ``None``s when semantic search is off."""
        if self.embedder is None:
            return None, None
        try:
            index = self.store.vector_index(self.embedder.model_id, self.dim)
        except IndexStoreError as exc:
            warnings.append(
                f"{exc.message} Showing lexical hits only; `codefind index` rebuilds it."
            )
            return None, None
        if index.count == 0:
            return None, None
        started = time.perf_counter()
        try:
            qvec = self.query_vector(self._semantic_text(translation))
        except BackendError as exc:
            if self.strict:
                raise
            warnings.append(f"{exc.message} Showing lexical hits only.")
            return None, None
        timings["embed"] = (time.perf_counter() - started) * 1000
        return index, qvec

    def _ann(
        self,
        index: VectorIndex,
        qvec: Vectors,
        allowed: list[int] | None,
        timings: dict[str, float],
    ) -> list[tuple[int, float]]:
        started = time.perf_counter()
        if allowed is None:
            keys, sims = index.search(qvec, CANDIDATES)
            found = [(int(k), float(s)) for k, s in zip(keys, sims, strict=True)]
        else:
            found = _exact_top(index.vectors(allowed), qvec, CANDIDATES)
        timings["ann"] = (time.perf_counter() - started) * 1000
        return [(cid, sim) for cid, sim in found if math.isfinite(sim)]

    @property
    def _multilingual(self) -> bool:
        return self.embedder is not None and self.embedder.multilingual

    def _semantic_text(self, translation: Translation) -> str:
        """Multilingual models get the query as typed; the built-in one gets the English."""
        return translation.original if self._multilingual else translation.text

    def query_vector(self, text: str) -> Vectors:
        """The query's vector at the index dimension (a small LRU cache: typing repeats).

        Safe from several threads; the model runs outside the cache's lock.
        """
        with self._cache_lock:
            cached = self._query_vectors.get(text)
            if cached is not None:
                self._query_vectors.move_to_end(text)
                return cached
        assert self.embedder is not None
        vector = truncate(self.embedder.embed_query(text), self.dim)
        with self._cache_lock:
            self._query_vectors[text] = vector
            if len(self._query_vectors) > 256:
                self._query_vectors.popitem(last=False)
        return vector

    def _candidates(
        self,
        lexical: Sequence[tuple[int, float]],
        semantic: Sequence[tuple[int, float]],
        index: VectorIndex | None,
        qvec: Vectors | None,
    ) -> list[Candidate]:
        by_id: dict[int, Candidate] = {}
        for rank, (cid, score) in enumerate(semantic, 1):
            by_id[cid] = Candidate(cid, cosine=score, semantic_rank=rank)
        for rank, (cid, score) in enumerate(lexical, 1):
            old = by_id.get(cid)
            by_id[cid] = Candidate(
                cid,
                cosine=old.cosine if old else None,
                semantic_rank=old.semantic_rank if old else None,
                bm25=score,
                lexical_rank=rank,
            )
        if index is not None and qvec is not None:
            _fill_cosines(by_id, index, qvec)
        return list(by_id.values())

    def _mark_name_matches(self, candidates: list[Candidate], name: str) -> list[Candidate]:
        """Flag chunks whose symbol is exactly the identifier the user typed."""
        stored = self.store.state.chunks(c.chunk_id for c in candidates)
        return [
            replace(c, name_match=True)
            if c.chunk_id in stored and identifier_key(stored[c.chunk_id].chunk.symbol) == name
            else c
            for c in candidates
        ]

    def _hydrate(
        self, ranked: Sequence[tuple[Candidate, float]], limit: int, *, rerank: bool, query: str
    ) -> list[Hit]:
        """Turn ranked ids into hits: drop ids gone from the state and overlapping ranges."""
        pool = limit if not rerank else max(limit, RERANK_DEPTH)
        hits: list[Hit] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        named: set[tuple[str, str]] = set()
        step = max(pool * 3, 30)
        for start in range(0, len(ranked), step):
            part = ranked[start : start + step]
            stored = self.store.state.chunks(c.chunk_id for c, _ in part)
            for candidate, score in part:
                chunk = stored.get(candidate.chunk_id)
                if chunk is None or _overlaps(taken, chunk, named):
                    continue
                hits.append(_hit(chunk, candidate, score))
                if len(hits) >= pool:
                    break
            if len(hits) >= pool:
                break
        if rerank:
            hits = self._rerank(query, hits)
        return hits[:limit]

    def _rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        assert self.reranker is not None
        scores = self.reranker.rerank(query, [h.text for h in hits])
        if not all(math.isfinite(s) for s in scores):
            raise BackendError(
                f"The reranker {self.reranker.model} returned scores that are not numbers."
            )
        order = sorted(range(len(hits)), key=lambda i: -scores[i])
        return [_with_score(hits[i], float(scores[i])) for i in order]


def _fill_cosines(by_id: dict[int, Candidate], index: VectorIndex, qvec: Vectors) -> None:
    """Lexical-only candidates get their cosine too, so fusion compares like with like.

    ``index`` is the one the semantic side searched: a newer one could hold other chunks.
    """
    missing = [cid for cid, c in by_id.items() if c.cosine is None]
    if not missing:
        return
    keys, matrix = index.vectors(missing)
    if len(keys):
        sims = matrix @ qvec
        for key, sim in zip(keys.tolist(), sims.tolist(), strict=True):
            if math.isfinite(sim):
                by_id[key] = replace(by_id[key], cosine=float(sim))


def _exact_top(
    found: tuple[np.ndarray, np.ndarray], qvec: Vectors, k: int
) -> list[tuple[int, float]]:
    keys, matrix = found
    if len(keys) == 0:
        return []
    sims = matrix @ qvec
    top = np.argsort(-sims)[:k]
    return [(int(keys[i]), float(sims[i])) for i in top]


def _overlaps(
    taken: dict[str, list[tuple[int, int]]], stored: StoredChunk, named: set[tuple[str, str]]
) -> bool:
    """Whether a better hit already covers this chunk's lines or its definition.

    A long definition is cut into several windows; they all carry its name, and one hit per
    definition is what a reader wants, so windows of an already listed definition are dropped.
    """
    chunk = stored.chunk
    ranges = taken.setdefault(chunk.path, [])
    if any(chunk.start_line <= end and start <= chunk.end_line for start, end in ranges):
        return True
    if chunk.symbol and (chunk.path, chunk.symbol) in named:
        return True
    ranges.append((chunk.start_line, chunk.end_line))
    if chunk.symbol:
        named.add((chunk.path, chunk.symbol))
    return False


def _hit(stored: StoredChunk, candidate: Candidate, score: float) -> Hit:
    c = stored.chunk
    return Hit(
        chunk_id=stored.id,
        path=c.path,
        language=c.language,
        start_line=c.start_line,
        end_line=c.end_line,
        symbol=c.symbol,
        kind=c.kind,
        text=c.text,
        score=score,
        semantic_rank=candidate.semantic_rank,
        lexical_rank=candidate.lexical_rank,
    )


def _with_score(hit: Hit, score: float) -> Hit:
    return replace(hit, score=score)
