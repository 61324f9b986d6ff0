"""Bring a checkout's index up to date: walk, chunk what changed, embed what is new, store.

One run, in three phases (each resumable, so a killed run loses at most one batch):

1. **Files.** Walk the source, compare content ids with the state database, read and chunk
   only files that changed, and commit their chunks (and BM25 tokens) in batches. Lexical
   search sees new files as soon as a batch is committed.
2. **Embeddings.** Find the chunks the vector index of (model, dim) lacks, take their vectors
   by text from wherever one is kept (``store.reuse``: the index being replaced, the cache,
   another checkout's index) and embed the rest, committing each batch to the cache as it
   returns.
3. **Vectors.** Write the vector index (truncated to ``dim``) atomically. During a long
   embedding phase an intermediate index is written every so often, so search works on what
   is done; on an error or Ctrl-C the partial index is written before giving up. Then the
   cache forgets what the index now holds: each vector is kept once (``store.cache``).

Damage heals here: a state database found damaged during the run is rebuilt and the run
starts over, and a vector index built for another state database (its chunk ids mean other
chunks) is rebuilt, taking its vectors from it by text.

The indexer prints nothing: it reports ``IndexProgress`` to a callback and returns an
``IndexReport``. Cancelling (``cancel`` event) stops at the next batch and raises
``Interrupted`` after saving.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from codefind.chunking import CHUNKER_VERSION, chunk_file, embedding_text
from codefind.embeddings.base import Embedder, Vectors, truncate
from codefind.errors import IndexCorruptError, IndexFormatError, IndexStoreError, Interrupted
from codefind.models import FileSkipped, FileSource, IndexReport, SourceFile, WalkResult
from codefind.store import (
    STATE_FILE,
    FileUpdate,
    IndexLocation,
    StateDB,
    Store,
    StoredFile,
    VectorIndex,
    VectorWriter,
    drop_vector_index,
    open_vector_index,
    text_hash,
    write_lock,
)
from codefind.store.reuse import SLICE as REUSE_SLICE
from codefind.store.reuse import VectorSources, vectors_by_text
from codefind.store.vectors import VECTOR_FORMAT, open_older_vector_index

Phase = Literal["walk", "chunk", "embed", "save", "done"]
FILE_BATCH = 200
"""Files chunked per state transaction: small enough that lexical search fills in quickly."""
REBUILT_NOTE = (
    "Rebuilt it: each vector comes from the embedding cache or another checkout's index "
    "where one is there, and is embedded again where not."
)
CACHE_SPARE_FLOOR = 1_000
"""Unused vectors the cache may always keep (see ``Indexer._prune_cache``)."""
CHECKPOINT_SECONDS = 60.0
"""How often a long embedding phase writes an intermediate vector index."""


@dataclass(frozen=True)
class IndexProgress:
    """Where a run is, for progress bars: ``done`` of ``total`` units of ``phase``."""

    phase: Phase
    done: int
    total: int
    elapsed: float
    files: int = 0
    chunks: int = 0
    embedded: int = 0

    @property
    def fraction(self) -> float:
        """Progress of this phase in [0, 1]."""
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


@dataclass
class _Tally:
    embedded: int = 0
    reused: int = 0
    removed: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UploadPlan:
    """What a remote backend is about to receive, for the consent question."""

    files: int
    chunks: int
    texts: tuple[str, ...]
    """The distinct texts to embed (for a local token estimate)."""


ProgressCallback = Callable[[IndexProgress], None]


class Indexer:
    """Indexes one ``FileSource`` into one location with one embedder at one dimension."""

    def __init__(
        self,
        source: FileSource,
        location: IndexLocation,
        embedder: Embedder,
        dim: int,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        before_upload: Callable[[UploadPlan], None] | None = None,
        lock_wait_seconds: float = 0.0,
        on_lock_wait: Callable[[int | None], None] | None = None,
        checkouts: Callable[[], Sequence[Path]] | None = None,
    ) -> None:
        """``checkouts`` lists the index folders of every checkout that shares this cache
        (worktrees); given, the run forgets cached vectors none of them uses (``_prune_cache``).
        Without it (the eval sets' shared cache) the cache is never pruned."""
        self.source = source
        self.location = location
        self.embedder = embedder
        self.dim = embedder.dimensions.check(dim, embedder.model)
        self._on_progress = on_progress
        self._cancel = cancel or threading.Event()
        self._before_upload = before_upload
        self._lock_wait = lock_wait_seconds
        self._on_lock_wait = on_lock_wait
        self._checkouts = checkouts
        self._started = 0.0

    def run(self) -> IndexReport:
        """Update the index; see the module docstring for the phases.

        Raises:
            IndexLockedError: Another process is indexing this checkout.
            BackendError: The embedding backend failed (what was embedded is kept).
            Interrupted: ``cancel`` was set (what was done is kept).
        """
        self._started = time.monotonic()
        tally = _Tally()
        with write_lock(
            self.location.index_dir, wait_seconds=self._lock_wait, on_wait=self._on_lock_wait
        ):
            store = Store.open_for_writing(self.location, tally.notes)
            try:
                walk, skipped = self._update_healing(store, tally)
                files, chunks = store.state.counts()
            finally:
                tally.notes.extend(store.cache.notes)
                store.close()
        self._report("done", 1, 1)
        return IndexReport(
            files=files,
            files_seen=walk.files_seen,
            skipped=dict(sorted(skipped.items())),
            chunks=chunks,
            embedded=tally.embedded,
            reused=tally.reused,
            removed=tally.removed,
            seconds=time.monotonic() - self._started,
            backend=self.embedder.backend,
            model=self.embedder.model,
            dim=self.dim,
            notes=(*walk.notes, *tally.notes),
        )

    def _update_healing(self, store: Store, tally: _Tally) -> tuple[WalkResult, Counter[str]]:
        """Both phases; if the state database turns out damaged, rebuild it and run again."""
        try:
            return self._update(store, tally)
        except IndexCorruptError as damage:
            if damage.path != str(store.state.path):
                raise
            store.rebuild_state(damage, tally.notes)
            tally.reused = tally.removed = 0
            return self._update(store, tally)

    def _update(self, store: Store, tally: _Tally) -> tuple[WalkResult, Counter[str]]:
        walk = self._update_files(store, tally)
        self._update_vectors(store, tally)
        self._prune_cache(store, tally)
        skipped: Counter[str] = Counter(walk.skipped)
        skipped.update(store.state.skip_counts())
        return walk, skipped

    def _prune_cache(self, store: Store, tally: _Tally) -> None:
        """Forget the oldest cached vectors that no checkout's index uses, past a spare.

        The cache keeps every text that left an index, so without this it only grows (zod
        after a few rounds of edits: 2.3 rows a chunk). It may keep unused vectors for half
        the checkout's chunks (at least ``CACHE_SPARE_FLOOR``): a branch switch or a revert
        of that much stays free, and the cache stays within half the vector file's size.
        Once it holds a quarter more than that (on top of the live vectors, where the index
        holds only truncated ones), the oldest unused rows past the spare go. Nothing is
        pruned when another checkout's index cannot be read: its rows may be in use.
        """
        if self._checkouts is None:
            return
        model = self.embedder.model_id
        chunks = store.state.counts()[1]
        spare = max(CACHE_SPARE_FLOOR, chunks // 2)
        held = 0 if self._keeps_one_copy() else chunks
        if store.cache.count(model) <= held + spare + spare // 4:
            return  # the common case, and cheap: a live update does not read every hash
        up_to = store.cache.newest_row()  # before reading what is live: see EmbeddingCache.prune
        live = set(store.state.chunk_hashes().values())
        for folder in self._checkouts():
            if folder.resolve() == self.location.index_dir.resolve():
                continue
            if not (folder / STATE_FILE).exists():
                continue  # a worktree never indexed
            try:
                other = StateDB(folder / STATE_FILE, readonly=True)
                try:
                    live.update(other.chunk_hashes().values())
                finally:
                    other.close()
            except IndexStoreError:
                return
        try:
            removed = store.cache.prune(model, live, spare=spare, up_to=up_to)
        except IndexStoreError as exc:  # housekeeping: the index itself is saved already
            tally.notes.append(f"The embedding cache was not pruned: {exc.message}")
            return
        if removed:
            tally.notes.append(
                f"Forgot {removed:,} cached vectors of text no checkout has any more (the "
                f"oldest; the newest {spare:,} are kept for branch switches and reverts)."
            )

    # --- phase 1: files ------------------------------------------------------------------

    def _update_files(self, store: Store, tally: _Tally) -> WalkResult:
        self._report("walk", 0, 1)
        known = store.state.files()
        walk = self.source.walk({path: stored.file for path, stored in known.items()})
        rechunk = bool(known) and store.state.chunker() != CHUNKER_VERSION
        if rechunk:
            tally.notes.append(
                "Re-chunked every file: this codefind cuts code into chunks differently from "
                "the one that made the index (the vectors of unchanged code are reused)."
            )
        changed, touched = _diff(walk.files, {} if rechunk else known)
        walked = {f.path for f in walk.files}
        removed = [path for path in known if path not in walked]
        if touched:
            store.state.update_stats(touched)
        if removed:
            _, dropped = store.state.apply([], removed)
            tally.removed += dropped
        for start in range(0, len(changed), FILE_BATCH):
            self._check_cancel()
            batch = changed[start : start + FILE_BATCH]
            _, dropped = store.state.apply([self._chunk(f) for f in batch], [])
            tally.removed += dropped
            self._report("chunk", start + len(batch), len(changed), files=start + len(batch))
        if store.state.chunker() != CHUNKER_VERSION:
            store.state.set_chunker(CHUNKER_VERSION)
        if changed or removed:
            store.state.compact()
        return walk

    def _chunk(self, file: SourceFile) -> FileUpdate:
        try:
            text = self.source.read(file)
        except FileSkipped as skipped:
            return FileUpdate(file, skip=skipped.reason)
        chunks = chunk_file(file.path, text)
        return FileUpdate(file, [(c, text_hash(embedding_text(c))) for c in chunks])

    # --- phases 2 and 3: embeddings and vectors --------------------------------------------

    def _update_vectors(self, store: Store, tally: _Tally) -> None:
        replaced = self._open_vectors(store, tally)
        generation = store.state.generation
        hashes = store.state.chunk_hashes()
        same_state = (
            replaced.manifest is not None
            and replaced.manifest.state_id == store.state.state_id
            and replaced.manifest.format == VECTOR_FORMAT
        )
        if same_state and replaced.generation == generation and replaced.count == len(hashes):
            return
        base = replaced if same_state else VectorIndex(None, None)
        writer = VectorWriter(
            self.location.index_dir,
            self.embedder.model_id,
            self.dim,
            base,
            state_id=store.state.state_id,
            expected=len(hashes),
        )
        held = base.text_hashes()
        writer.remove(np.fromiter((k for k, h in held.items() if hashes.get(k) != h), np.uint64))
        ids_by_hash: dict[bytes, list[int]] = {}
        for cid, digest in hashes.items():
            if held.get(cid) != digest:
                ids_by_hash.setdefault(digest, []).append(cid)
        one_copy = self._keeps_one_copy()
        if one_copy:
            self._move_to_cache(store, replaced, set(hashes.values()))
        sources = VectorSources(
            store.cache, self.embedder.model_id, replaced, self._other_vector_files
        )
        rejected = store.cache.rejected
        found: set[bytes] = set()
        for vectors in sources.take(list(ids_by_hash)):
            tally.reused += sum(len(ids_by_hash[h]) for h in vectors)
            self._add(writer, ids_by_hash, vectors)
            found.update(vectors)
        if store.cache.rejected > rejected:
            tally.notes.append(
                f"{store.cache.rejected - rejected} cached vectors were bad (malformed, or failing "
                "their checksum); embedded those texts again."
            )
        missing = [h for h in ids_by_hash if h not in found]
        if missing and self.embedder.remote and self._before_upload is not None:
            texts = _texts_for(store, missing, ids_by_hash)
            paths = {
                stored.chunk.path
                for stored in store.state.chunks(
                    (ids_by_hash[h][0] for h in missing), text=False
                ).values()
            }
            self._before_upload(
                UploadPlan(
                    len(paths), sum(len(ids_by_hash[h]) for h in missing), tuple(texts.values())
                )
            )
        try:
            self._embed_missing(store, writer, missing, ids_by_hash, tally)
        except BaseException:
            # Keep what was embedded searchable; generation -1 makes the next run sync again.
            # If that fails too (a full disk), the first error is the one to report.
            with contextlib.suppress(IndexStoreError):
                writer.save(generation=-1)
            raise
        self._report("save", 0, 1)
        writer.save(generation=generation)
        if one_copy:
            # The cache held them for a killed run's sake; the saved file holds them now. After
            # an interrupted run (generation -1) every vector held may also be in the cache.
            held_now = ids_by_hash.keys() if replaced.generation >= 0 else hashes.values()
            self._forget_cached(store, held_now, tally)

    def _keeps_one_copy(self) -> bool:
        """Whether a vector the index holds leaves the cache (``store.reuse``): only where the
        index holds the model's whole vector, and the run knows every checkout that shares the
        cache (the eval sets' cache is shared with what this run cannot see)."""
        return self._checkouts is not None and self.dim == self.embedder.dimensions.native

    def _move_to_cache(self, store: Store, replaced: VectorIndex, live: set[bytes]) -> None:
        """Put the vectors of texts no chunk has any more into the cache (for a revert or a
        branch switch), before the file that holds them is replaced."""
        try:
            gone = [h for h in replaced.keys_by_hash() if h not in live]
        except IndexStoreError:
            return
        for start in range(0, len(gone), REUSE_SLICE):
            part = gone[start : start + REUSE_SLICE]
            store.cache.put_many(self.embedder.model_id, vectors_by_text(replaced, part))

    def _forget_cached(self, store: Store, held: Iterable[bytes], tally: _Tally) -> None:
        try:
            store.cache.forget(self.embedder.model_id, held)
        except IndexStoreError as exc:  # housekeeping: the index itself is saved already
            tally.notes.append(f"The embedding cache was not trimmed: {exc.message}")

    def _other_vector_files(self) -> Iterator[VectorIndex]:
        """The vector files of this model's native dimension in every checkout (this one's
        only when the run builds another dimension)."""
        native = self.embedder.dimensions.native
        own = self.location.index_dir.resolve()
        for folder in self._checkouts() if self._checkouts is not None else ():
            if folder.resolve() == own and self.dim == native:
                continue
            try:
                yield open_vector_index(folder, self.embedder.model_id, native)
            except IndexStoreError:
                continue

    def _open_vectors(self, store: Store, tally: _Tally) -> VectorIndex:
        """The current vector index, or an empty one when it cannot be read as it is.

        An index built for another state database (one rebuilt under it) is returned as it
        is: its keys mean other chunks, but its vectors are found by text (``store.reuse``).
        """
        folder, model_id = self.location.index_dir, self.embedder.model_id
        try:
            index = open_vector_index(folder, model_id, self.dim, verify=True)
        except IndexFormatError as exc:
            tally.notes.append(f"{exc.message} Rebuilt it, taking each text's vector from it.")
            state = store.state
            older = open_older_vector_index(
                folder,
                model_id,
                self.dim,
                lambda built_for: state.chunk_hashes() if built_for == state.state_id else None,
            )
            if older is not None:
                return older
            tally.notes[-1] = f"{exc.message} {REBUILT_NOTE}"
            drop_vector_index(folder, model_id, self.dim)
            return VectorIndex(None, None)
        except IndexCorruptError as exc:  # not a full disk, not an I/O error
            tally.notes.append(f"{exc.message} {REBUILT_NOTE}")
            drop_vector_index(folder, model_id, self.dim)
            return VectorIndex(None, None)
        if index.manifest is not None and index.manifest.state_id != store.state.state_id:
            tally.notes.append(
                f"The vector index {index.manifest.file} belongs to another state database "
                "(the index database was rebuilt or replaced). Rebuilt it, taking each "
                "text's vector from it."
            )
        return index

    def _embed_missing(
        self,
        store: Store,
        writer: VectorWriter,
        missing: Sequence[bytes],
        ids_by_hash: Mapping[bytes, list[int]],
        tally: _Tally,
    ) -> None:
        """Embed ``missing`` texts in the order a user needs them, reading each batch's texts
        only when it is sent (memory stays one batch deep, whatever the repository's size).

        Implementation code comes first (definitions before module code), then examples,
        tests, configuration and docs: semantic search covers the code a user looks for long
        before a cold run ends. The vector index is saved as soon as the code is done.
        """
        if not missing:
            return
        batches, code_batches = _embedding_batches(store, missing, ids_by_hash, self.embedder)
        last_checkpoint = time.monotonic()
        self._report("embed", 0, len(missing))

        def load(keys: Sequence[bytes]) -> list[str]:
            texts = _texts_for(store, keys, ids_by_hash)
            return [texts[k] for k in keys]

        results = _run_batches(self.embedder, load, batches, self._cancel)
        for finished, (keys, result) in enumerate(results, 1):
            # The cache's rounding of the vectors goes into the index: the same as a rebuild
            # from the cache would put there.
            fresh = store.cache.put_many(
                self.embedder.model_id, dict(zip(keys, result, strict=True))
            )
            self._add(writer, ids_by_hash, fresh)
            tally.embedded += len(keys)
            self._report("embed", tally.embedded, len(missing), embedded=tally.embedded)
            code_done = finished == code_batches and finished < len(batches)
            if code_done or time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                writer.save(generation=-1)
                last_checkpoint = time.monotonic()
        self._check_cancel()

    def _add(
        self,
        writer: VectorWriter,
        ids_by_hash: Mapping[bytes, list[int]],
        vectors: Mapping[bytes, Vectors],
    ) -> None:
        keys = [cid for digest in vectors for cid in ids_by_hash[digest]]
        if not keys:
            return
        digests = [digest for digest in vectors for _ in ids_by_hash[digest]]
        rows = np.vstack([vectors[digest] for digest in digests])
        writer.add(np.asarray(keys, dtype=np.uint64), truncate(rows, self.dim), digests)

    # --- helpers -------------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Interrupted(
                "Indexing was interrupted; what was done is kept. Run it again to finish."
            )

    def _report(self, phase: Phase, done: int, total: int, **counts: int) -> None:
        if self._on_progress is not None:
            elapsed = time.monotonic() - self._started
            self._on_progress(IndexProgress(phase, done, total, elapsed, **counts))


def _diff(
    walked: Iterable[SourceFile], known: Mapping[str, StoredFile]
) -> tuple[list[SourceFile], list[SourceFile]]:
    """Files whose content changed (or are new), and files only touched (same content)."""
    changed, touched = [], []
    for file in walked:
        old = known.get(file.path)
        if old is None or old.file.content_id != file.content_id:
            changed.append(file)
        elif (old.file.size, old.file.mtime_ns) != (file.size, file.mtime_ns):
            touched.append(file)
    return changed, touched


def _texts_for(
    store: Store, hashes: Sequence[bytes], ids_by_hash: Mapping[bytes, list[int]]
) -> dict[bytes, str]:
    """The embedding text of each hash (read from one chunk that has it)."""
    wanted = [ids_by_hash[h][0] for h in hashes]
    texts: dict[bytes, str] = {}
    for start in range(0, len(wanted), 2000):
        for stored in store.state.chunks(wanted[start : start + 2000]).values():
            texts[stored.text_hash] = embedding_text(stored.chunk)
    return texts


_EMBED_TIERS: dict[str, int] = {
    "code": 0, "example": 2, "test": 3, "config": 4, "docs": 5, "changelog": 6, "generated": 7,
}  # fmt: skip
"""Embedding order by category (code definitions get tier 0, other code tier 1)."""


def _embedding_batches(
    store: Store,
    missing: Sequence[bytes],
    ids_by_hash: Mapping[bytes, list[int]],
    embedder: Embedder,
) -> tuple[list[list[bytes]], int]:
    """The batches to embed, in tier order, and how many of them hold implementation code.

    Within a tier texts are sorted by length, so a batch holds similar lengths (little
    padding for the servers that batch).
    """
    facts = store.state.embedding_facts(ids_by_hash[h][0] for h in missing)
    keyed: dict[int, list[tuple[int, bytes]]] = {}
    for digest in missing:
        category, defines, length = facts.get(ids_by_hash[digest][0], ("code", False, 0))
        tier = _EMBED_TIERS.get(category, 8) + (1 if category == "code" and not defines else 0)
        keyed.setdefault(tier, []).append((length, digest))
    size = max(1, embedder.batch_size)
    batches: list[list[bytes]] = []
    code_batches = 0
    for tier in sorted(keyed):
        order = [digest for _, digest in sorted(keyed[tier], key=lambda item: item[0])]
        batches += [order[i : i + size] for i in range(0, len(order), size)]
        if tier <= 1:
            code_batches = len(batches)
    return batches, code_batches


def _run_batches(
    embedder: Embedder,
    load: Callable[[Sequence[bytes]], list[str]],
    batches: Sequence[Sequence[bytes]],
    cancel: threading.Event,
) -> Iterator[tuple[Sequence[bytes], Vectors]]:
    """Yield (hashes, vectors) per batch as batches finish, at most ``max_concurrency`` at once.

    ``load`` reads a batch's texts when the batch is sent, so texts are never all in memory.

    When ``cancel`` is set or a batch fails, nothing new is sent, but batches already in
    flight are still collected (so they reach the cache) before the failure is raised.
    """
    workers = max(1, embedder.max_concurrency)
    queue = deque(batches)
    running: dict[Future[Vectors], Sequence[bytes]] = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codefind-embed") as pool:
        while queue or running:
            while queue and len(running) < workers and error is None and not cancel.is_set():
                keys = queue.popleft()
                running[pool.submit(embedder.embed_documents, load(keys))] = keys
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                keys = running.pop(future)
                try:
                    result = future.result()
                except BaseException as exc:  # re-raised below, once the others are drained
                    error = error or exc
                    continue
                yield keys, result
    if error is not None:
        raise error
