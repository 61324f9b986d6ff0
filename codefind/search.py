"""The one search service: query in, ranked hits out. Used by the app, the CLI and eval.

Where a query goes::

    query ──► translate (zh/ja → English keywords; the English side of multilingual models)
          ├─► lexical: BM25 over identifier-split tokens (numpy postings)  ── instant
          └─► semantic: query vector (in a thread, meanwhile) ──► USearch (cosine)
                 ──► fuse (``codefind.fusion``) ──► ranking priors (``codefind.ranking``:
                     definitions by name, implementation before tests and docs)
                 ──► optional rerank ──► one hit per line range ──► hits

Filters (paths, globs, languages, categories) are applied *before* the top-k cut on both sides, never
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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from codefind.embeddings.base import Embedder, Reranker, Vectors, truncate
from codefind.errors import BackendError, IndexCorruptError, IndexStoreError
from codefind.fusion import LEXICAL_WEIGHT, Candidate, fuse, lexical_weight_for
from codefind.lexical import identifier_key, query_tokens
from codefind.models import FILE_CATEGORIES, MAX_LIMIT, SCOPE_CATEGORIES, Hit, Scope, SearchMode
from codefind.pathfilter import PathFilter
from codefind.ranking import (
    DEFAULT_PRIORS,
    ChunkFacts,
    DefinitionBoost,
    NameQuery,
    QueryIntent,
    RankingPriors,
    SymbolMatch,
    analyse_query,
    apply_priors,
    definition_amount,
    definition_boosts,
    is_strong,
    mark_weak,
)
from codefind.store import REBUILD_ADVICE, ChunkPlace, Store, StoredChunk, SymbolRow, VectorIndex
from codefind.translation import Translation, translate_query

CANDIDATES = 100
"""How many hits each retriever contributes to fusion at least (more for a long ``limit``)."""
STRONG_HORIZON = 10
"""The default number of hits: a shorter list is its top (see ``SearchService._hydrate``)."""
RERANK_DEPTH = 30
"""How many fused hits the reranker re-scores."""
_T = TypeVar("_T")


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to some files: path prefixes, globs and languages (all must match)."""

    paths: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    """Only chunks of these categories (``codefind.categories``: code, test, docs, ...)."""

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.paths or self.globs or self.languages or self.categories)


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
    coverage: float = 0.0
    """Share of the query's words that occur anywhere in the index (0 for ``zzqxjvk``)."""

    @property
    def strong(self) -> tuple[Hit, ...]:
        """The hits with enough evidence (all but the ``weak`` ones, which come last)."""
        return tuple(h for h in self.hits if not h.weak)

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
        priors: RankingPriors = DEFAULT_PRIORS,
    ) -> None:
        self.store = store
        self.lexical_weight = lexical_weight
        self.priors = priors
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
        self._closed = False

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        rerank: bool = False,
        scope: Scope = "auto",
    ) -> SearchResult:
        """Rank chunks for ``query``.

        Args:
            query: What the user typed; blank queries give no hits.
            limit: Hits to return (at most ``MAX_LIMIT``).
            mode: ``hybrid`` (both retrievers fused), ``semantic`` or ``lexical``.
            filters: Limit the search to some files.
            rerank: Re-score the top hits with the reranker (if one was given).
            scope: Which files to look at (see ``codefind.models.Scope``).

        Raises:
            BackendError: The embedding backend failed for the query.
            IndexCorruptError: The state database is damaged (the next indexing run is told
                to check and rebuild it).
        """
        try:
            return self._search(
                query, limit=limit, mode=mode, filters=filters, rerank=rerank, scope=scope
            )
        except IndexCorruptError as damage:
            self.store.report_damage(damage)
            damage.message += f" {REBUILD_ADVICE}"
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
        scope: Scope,
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
            None if mode == "lexical" else self._submit(self._query, translation, timings, warnings)
        )
        limit = min(limit, MAX_LIMIT)
        depth = max(CANDIDATES, 2 * limit)
        if SCOPE_CATEGORIES[scope]:
            filters = replace(filters or SearchFilters(), categories=SCOPE_CATEGORIES[scope])
        with self._lock:
            self.store.refresh()
            if self.store.read_only:
                warnings.append(self.store.read_only)
            allowed = self._allowed_ids(filters)
            lexical = (
                []
                if mode == "semantic"
                else self._lexical(query, translation, allowed, depth, timings)
            )
        index, qvec = (None, None) if embedding is None else embedding.result()
        with self._lock:
            semantic = (
                []
                if index is None or qvec is None
                else self._ann(index, qvec, allowed, depth, timings)
            )
            intent = analyse_query(query, translation.text if translation.changed else None)
            if scope != "auto":  # the user chose the files: no preference among them
                intent = replace(intent, wanted=frozenset(FILE_CATEGORIES))
            boosts = self._definition_boosts(intent, allowed)
            candidates = self._candidates(lexical, semantic, boosts)
            if semantic and index is not None and qvec is not None:
                _fill_cosines(candidates, index, qvec)
            weight = lexical_weight_for(
                translation.text, multilingual=self._multilingual, base=self.lexical_weight
            )
            fused = fuse(candidates, mode=mode, lexical_weight=weight)
            coverage = max(self._coverage(text) for text in {query, translation.text})
            hits = self._rank(
                fused,
                intent,
                boosts,
                limit,
                rerank=rerank and self.reranker is not None,
                query=query,
                coverage=coverage,
            )
        timings["total"] = (time.perf_counter() - started) * 1000
        if translation.warning:
            warnings.append(translation.warning)
        return SearchResult(
            query,
            mode,
            tuple(mark_weak(hits, coverage)),
            translation,
            bool(semantic),
            timings,
            tuple(warnings),
            coverage,
        )

    def _coverage(self, text: str) -> float:
        """The share of ``text``'s words that occur in the index (the no-match evidence).

        A translated query is judged by its English, not by its Chinese or Japanese (which an
        English code base does not contain) nor by the runner-up senses searched alongside;
        the query as typed still counts when the code base does contain it.
        """
        words = query_tokens(text)
        return len(self.store.state.known_terms(words)) / len(words) if words else 0.0

    def definitions(
        self, name: str, *, limit: int = 10, filters: SearchFilters | None = None
    ) -> tuple[Hit, ...]:
        """The definitions of a code name (``load_config``, ``Client.send``), best first.

        The symbol table's rows for the name, ranked by the same definition prior a name
        query gets in ``search`` (exact spelling, then kind: a type before its ``impl``
        blocks, and a named container's members), each hit opening at the line that binds
        the name. No embedding and no BM25: an agent asking "where is X defined" wants the
        definition, not the places that use X. Empty when ``name`` is not a code name.
        """
        intent = analyse_query(name)
        intent = replace(intent, names=tuple(replace(n, inline=False) for n in intent.names))
        with self._lock:
            self.store.refresh()
            allowed = self._allowed_ids(filters)
            boosts = self._definition_boosts(intent, allowed)
            places = self.store.state.places(list(boosts))

            def amount(cid: int) -> float:
                place = places.get(cid)
                path = place.path if place is not None else None
                return definition_amount(boosts[cid], path, self.priors)

            order = sorted(boosts, key=lambda cid: (-amount(cid), cid))
            ranked = [(Candidate(cid, named=True), amount(cid)) for cid in order]
            hits = self._hydrate(ranked, places, limit, rerank=False, query=name)
        return tuple(_at_definition(h, boosts.get(h.chunk_id)) for h in hits)

    def close(self) -> None:
        """Stop the query-embedding threads (idempotent).

        The app makes a new service for every settings change; without this each old one
        kept its two threads until the process ended. A search that still runs after
        ``close`` embeds its query in its own thread instead.
        """
        with self._cache_lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, call: Callable[..., _T], *args: object) -> Future[_T]:
        """``call(*args)`` in the query pool, or here once the service is closed."""
        with self._cache_lock:
            if self._pool is None and not self._closed:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="codefind-query")
            pool = self._pool
        if pool is not None:
            try:
                return pool.submit(call, *args)
            except RuntimeError:  # closed between the lock and the submit
                pass
        done: Future[_T] = Future()
        try:
            done.set_result(call(*args))
        except BaseException as exc:
            done.set_exception(exc)
        return done

    # --- stages ----------------------------------------------------------------------------

    def _translate(self, query: str) -> Translation:
        if not self.translate:
            return Translation(query, query, None)
        return translate_query(query, self._vocabulary)

    def _vocabulary(self, terms: Sequence[str]) -> Mapping[str, int]:
        """The index's document frequencies: they choose a translated word's sense."""
        with self._lock:
            return self.store.state.document_frequencies(terms)

    def _allowed_ids(self, filters: SearchFilters | None) -> list[int] | None:
        if filters is None or not filters.active:
            return None
        paths: list[str] | None = None
        if filters.paths or filters.globs:
            keep = PathFilter(filters.paths, filters.globs)
            paths = [p for p in self.store.state.indexed_paths() if keep.matches(p)]
        languages = list(filters.languages) or None
        categories = list(filters.categories) or None
        return self.store.state.chunk_ids_where(paths, languages, categories)

    def _lexical(
        self,
        query: str,
        translation: Translation,
        allowed: list[int] | None,
        depth: int,
        timings: dict[str, float],
    ) -> list[tuple[int, float]]:
        started = time.perf_counter()
        found = self.store.state.lexical_search(_lexical_words(query, translation), depth, allowed)
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
        depth: int,
        timings: dict[str, float],
    ) -> list[tuple[int, float]]:
        started = time.perf_counter()
        if allowed is None:
            keys, sims = index.search(qvec, depth)
            found = [(int(k), float(s)) for k, s in zip(keys, sims, strict=True)]
        else:
            found = _exact_top(index.vectors(allowed), qvec, depth)
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
        boosts: Mapping[int, DefinitionBoost],
    ) -> list[Candidate]:
        """Every chunk either retriever found, and the definitions found by name."""
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
        for cid in boosts:
            by_id[cid] = replace(by_id.get(cid, Candidate(cid)), named=True)
        return list(by_id.values())

    def _definition_boosts(
        self, intent: QueryIntent, allowed: list[int] | None
    ) -> dict[int, DefinitionBoost]:
        """The chunks that define the names the query asks for, with their boosts."""
        if not intent.names:
            return {}
        found = {name: self._symbol_matches(name) for name in intent.names}
        boosts = definition_boosts(intent, found, self.priors)
        if allowed is not None:
            keep = set(allowed)
            boosts = {cid: b for cid, b in boosts.items() if cid in keep}
        return boosts

    def _symbol_matches(self, name: NameQuery) -> list[SymbolMatch]:
        """Symbol-table rows for one name: exact, else by prefix; and the named type's members.

        ``Client.send`` finds ``send`` in ``Client`` and, ranked lower, other ``send``s.
        """
        state = self.store.state
        if name.container is not None:
            return [_match(r) for r in state.definitions(name.key)]
        rows = state.definitions(name.key)
        matches = [_match(r) for r in rows]
        if len(name.key) >= 4 and all(r.kind == "impl" for r in rows):
            matches += [_match(r, prefix=True) for r in state.definitions(name.key, prefix=True)]
        matches += [_match(r, member=True) for r in state.members(name.key)]
        return matches

    def _rank(
        self,
        fused: Sequence[tuple[Candidate, float]],
        intent: QueryIntent,
        boosts: Mapping[int, DefinitionBoost],
        limit: int,
        *,
        rerank: bool,
        query: str,
        coverage: float,
    ) -> list[Hit]:
        """Apply the ranking priors, then turn the best ids into hits (one per place), the
        ones with evidence first (``ranking.is_strong``)."""
        places = self.store.state.places(c.chunk_id for c, _ in fused)
        facts = {cid: ChunkFacts(p.path, p.category) for cid, p in places.items()}
        ranked = apply_priors(
            ((c.chunk_id, score) for c, score in fused), facts, intent, boosts, self.priors
        )
        by_id = {c.chunk_id: c for c, _ in fused}
        hits = self._hydrate(
            [(by_id[cid], score) for cid, score in ranked],
            places,
            limit,
            rerank=rerank,
            query=query,
            strong=lambda c: is_strong(c.named, c.cosine, c.lexical_rank, coverage),
        )
        return [_at_definition(hit, boosts.get(hit.chunk_id)) for hit in hits]

    def _hydrate(
        self,
        ranked: Sequence[tuple[Candidate, float]],
        places: Mapping[int, ChunkPlace],
        limit: int,
        *,
        rerank: bool,
        query: str,
        strong: Callable[[Candidate], bool] | None = None,
    ) -> list[Hit]:
        """Turn ranked ids into hits: drop ids gone from the state and overlapping ranges.

        ``places`` say where the candidates are; only the chosen ones are read whole. With
        ``strong``, a short list is the top of the default one (``STRONG_HORIZON`` hits),
        strong hits first, then cut: a strong hit ranked just past a small ``limit`` behind
        weak ones was cut before ``mark_weak`` could put it first (cachetools: "least recently
        used eviction" said "no good match" at ``-n 3``, and found ``LRUCache`` at ``-n 5``).
        """
        pool = limit if not rerank else max(limit, RERANK_DEPTH)
        horizon = pool if strong is None else max(pool, STRONG_HORIZON)
        chosen: list[tuple[Candidate, float]] = []
        taken: dict[str, list[tuple[int, int]]] = {}
        windows: set[tuple[str, str]] = set()
        for candidate, score in ranked:
            place = places.get(candidate.chunk_id)
            if place is None or _overlaps(taken, place, windows):
                continue
            chosen.append((candidate, score))
            if len(chosen) >= horizon:
                break
        if strong is not None:
            chosen = sorted(chosen, key=lambda item: not strong(item[0]))[:pool]  # stable
        stored = self.store.state.chunks(c.chunk_id for c, _ in chosen)
        hits = [_hit(stored[c.chunk_id], c, s) for c, s in chosen if c.chunk_id in stored]
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


def _exact_top(
    found: tuple[np.ndarray, np.ndarray], qvec: Vectors, k: int
) -> list[tuple[int, float]]:
    keys, matrix = found
    if len(keys) == 0:
        return []
    sims = matrix @ qvec
    top = np.argsort(-sims)[:k]
    return [(int(keys[i]), float(sims[i])) for i in top]


def _fill_cosines(candidates: list[Candidate], index: VectorIndex, qvec: Vectors) -> None:
    """Candidates the ANN did not return get their cosine too, so fusion compares like with like.

    Uses the same vector-index snapshot as the ANN search of this query.
    """
    missing = [i for i, c in enumerate(candidates) if c.cosine is None]
    if not missing:
        return
    keys, matrix = index.vectors([candidates[i].chunk_id for i in missing])
    sims = dict(zip(keys.tolist(), (matrix @ qvec).tolist(), strict=True)) if len(keys) else {}
    for i in missing:
        c = candidates[i]
        sim = sims.get(c.chunk_id)
        if sim is not None and math.isfinite(sim):  # a bad vector ranks nothing
            candidates[i] = Candidate(
                c.chunk_id, sim, c.semantic_rank, c.bm25, c.lexical_rank, c.named
            )


def _lexical_words(query: str, translation: Translation) -> list[str]:
    """The query's tokens for BM25: the English (if translated, with the runner-up senses),
    then the words as typed."""
    words = query_tokens(" ".join((translation.text, *translation.alternatives)))
    if translation.changed:
        words += [t for t in query_tokens(query) if t not in words]
    return words


def _at_definition(hit: Hit, boost: DefinitionBoost | None) -> Hit:
    """A hit found by a name opens at that name's line (a constant inside module code)."""
    if boost is None or boost.line == hit.line or not hit.start_line <= boost.line <= hit.end_line:
        return hit
    return replace(hit, line=boost.line)


def _match(row: SymbolRow, *, prefix: bool = False, member: bool = False) -> SymbolMatch:
    return SymbolMatch(
        chunk_id=row.chunk_id,
        kind=row.kind,
        key=identifier_key(row.name),
        container_key=identifier_key(row.container),
        line=row.line,
        name=row.name,
        prefix=prefix,
        member_of_name=member,
    )


def _overlaps(
    taken: dict[str, list[tuple[int, int]]],
    chunk: ChunkPlace,
    windows: set[tuple[str, str]],
) -> bool:
    """Whether a better hit already covers this chunk's lines or its definition.

    A long definition is cut into several ``block`` windows that all carry its name; one hit
    per definition is what a reader wants, so further windows of an already listed definition
    are dropped. Distinct definitions that share a name (a struct and its ``impl`` blocks, a
    property's getter and setter) are all kept.
    """
    ranges = taken.setdefault(chunk.path, [])
    if any(chunk.start_line <= end and start <= chunk.end_line for start, end in ranges):
        return True
    window = (chunk.path, chunk.symbol)
    if chunk.kind == "block" and chunk.symbol and window in windows:
        return True
    ranges.append((chunk.start_line, chunk.end_line))
    if chunk.kind == "block" and chunk.symbol:
        windows.add(window)
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
        line=c.line,
        category=c.category,
        cosine=candidate.cosine,
        named=candidate.named,
    )


def _with_score(hit: Hit, score: float) -> Hit:
    return replace(hit, score=score)
