"""A repository opened with some settings: the one object the CLI, the app and eval start from.

It knows where the index lives, builds the embedder lazily (loading a model or connecting
to a server only when something needs it), brings the index up to date (``update_index``:
the lock, the consent question and the progress reports, put together here once for every
front end), and hands out a search service. Front ends hold a ``Workspace`` and never put
repository, store and embedder together themselves, so they cannot drift apart.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from codefind.config import Settings
from codefind.consent import (
    PricedEmbedder,
    UploadEstimate,
    estimate_server_upload,
    estimate_upload,
    has_consent,
    record_consent,
    require_consent,
    require_rerank_consent,
    rerank_consent_key,
    server_consent_key,
)
from codefind.embeddings import create_embedder, create_reranker
from codefind.embeddings.base import Embedder, Reranker
from codefind.errors import ConfigError
from codefind.models import FileSource, IndexReport
from codefind.repo import Repository
from codefind.search import RERANK_DEPTH, SearchService
from codefind.store import IndexLocation, Store, lock_holder, open_vector_index

if TYPE_CHECKING:  # the indexer loads the chunker and tree-sitter, which a search never needs
    from codefind.indexer import Indexer, ProgressCallback, UploadPlan

LOCK_WAIT_SECONDS = 3600.0
"""How long ``update_index(wait=True)`` waits for another process's run to finish."""


@dataclass(frozen=True)
class IndexStatus:
    """What is indexed now, for status lines and ``codefind index`` summaries."""

    files: int
    chunks: int
    vectors: int
    in_sync: bool
    """Whether the vector index covers exactly the indexed chunks."""
    indexing_pid: int | None
    """The pid of a process writing the index now, if any."""


class Workspace:
    """One file source (usually a git repository) with its index, under one ``Settings``."""

    def __init__(self, source: FileSource, location: IndexLocation, settings: Settings) -> None:
        self.source = source
        self.location = location
        self.settings = settings
        self._embedder: Embedder | None = None
        self._store: Store | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_repository(cls, path: Path, settings: Settings) -> Workspace:
        """The workspace of the repository containing ``path``.

        Raises:
            NotARepositoryError: ``path`` is not inside a git work tree.
            ConfigError: ``CODEFIND_INDEX_DIR`` is inside the work tree, not a folder, or
                cannot be created or written.
        """
        repo = Repository.discover(
            path, max_file_bytes=settings.max_file_bytes, include_data=settings.include_data
        )
        if settings.index_dir is not None:
            _check_index_dir(settings.index_dir, repo)
        location = IndexLocation(
            repo.index_dir(settings.index_dir), repo.cache_dir(settings.index_dir)
        )
        return cls(repo, location, settings)

    @property
    def root(self) -> Path:
        """The folder that hit paths are relative to."""
        return self.source.root

    @property
    def embedder(self) -> Embedder:
        """The configured embedder (created on first use; loading is the backend's business)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = create_embedder(self.settings)
            return self._embedder

    @property
    def dim(self) -> int:
        """The index dimension: the configured one, or the model's native dimension."""
        return self.embedder.dimensions.check(self.settings.dim, self.embedder.model)

    def store(self) -> Store:
        """The store, opened once for reading and searching."""
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.location)
            return self._store

    def indexer(
        self,
        *,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        before_upload: Callable[[UploadPlan], None] | None = None,
        lock_wait_seconds: float = 0.0,
        on_lock_wait: Callable[[int | None], None] | None = None,
    ) -> Indexer:
        """An indexer for this workspace's source, embedder and dimension."""
        from codefind.indexer import Indexer

        return Indexer(
            self.source,
            self.location,
            self.embedder,
            self.dim,
            on_progress=on_progress,
            cancel=cancel,
            before_upload=before_upload,
            lock_wait_seconds=lock_wait_seconds,
            on_lock_wait=on_lock_wait,
            checkouts=self._checkouts(),
        )

    def _checkouts(self) -> Callable[[], list[Path]] | None:
        """Lists the index folders that share this cache (a repository's worktrees); none for
        other sources, whose caches are shared with what this workspace cannot see (eval)."""
        source, override = self.source, self.settings.index_dir
        if not isinstance(source, Repository):
            return None
        return lambda: source.checkout_index_dirs(override)

    def update_index(
        self,
        *,
        on_progress: ProgressCallback | None = None,
        ask: Callable[[str], bool] | None = None,
        cancel: threading.Event | None = None,
        wait: bool = False,
        lock_wait: float | None = None,
        on_lock_wait: Callable[[int | None], None] | None = None,
    ) -> IndexReport:
        """Bring the index up to date: the one way every front end indexes.

        The rules, the same for all: code goes to a remote backend only after a yes
        (``upload_guard``); a run that finds another process indexing this checkout either
        waits for it (``wait``: ``codefind index`` and ``codefind eval``, which exist to
        produce an index) or gives up at once with ``IndexLockedError`` (``codefind search``
        and the app, which search the index as it is meanwhile).

        Args:
            on_progress: Called with each ``IndexProgress`` (from this thread).
            ask: Shows the consent question and returns the answer; ``None`` when nobody
                can be asked (then only ``--yes`` lets code leave the machine).
            cancel: Set it to stop at the next batch; what was done is kept.
            wait: Wait up to ``LOCK_WAIT_SECONDS`` for another indexing process.
            lock_wait: Wait this many seconds instead (the app's live updates wait a little
                for a run they started elsewhere to end).
            on_lock_wait: Called once with the other process's pid when waiting starts.

        Raises:
            IndexLockedError: Another process is indexing this checkout (and ``wait`` is
                false, or it did not finish in time).
            BackendError: The backend failed (what was embedded is kept).
            ConsentError: Code would leave the machine without a yes.
            Interrupted: ``cancel`` was set (what was done is kept).
        """
        return self.indexer(
            on_progress=on_progress,
            cancel=cancel,
            before_upload=self.upload_guard(ask),
            lock_wait_seconds=(
                lock_wait if lock_wait is not None else LOCK_WAIT_SECONDS if wait else 0.0
            ),
            on_lock_wait=on_lock_wait,
        ).run()

    def upload_guard(self, ask: Callable[[str], bool] | None) -> Callable[[UploadPlan], None]:
        """The ``before_upload`` hook: ask once per repository and remote model (and host).

        The indexer calls it only for an embedder whose texts leave this machine
        (``Embedder.remote``: Voyage AI always, a server when it is not on this machine;
        see ``Backend.consent``).

        Args:
            ask: Shows the question and returns the answer; ``None`` when nobody can be asked
                (no TTY), in which case only ``--yes`` lets code leave the machine.
        """

        def guard(plan: UploadPlan) -> None:
            key = self._consent_key()
            folder = self.location.index_dir
            if key is None or has_consent(folder, key):
                return
            estimate = self._estimate(plan)
            require_consent(estimate, yes=self.settings.yes, ask=ask)
            record_consent(folder, key, estimate)

        return guard

    def consent_pending(self) -> bool:
        """Whether this backend needs a yes that has not been given (``upload_guard`` asks).

        Until then nothing may be sent to it, not even a query or a warm-up probe: the
        decline message says "Nothing was sent", and it must be true.
        """
        if self.settings.yes:
            return False
        key = self._consent_key()
        return key is not None and not has_consent(self.location.index_dir, key)

    def _consent_key(self) -> str | None:
        """What a yes is recorded under, or ``None`` when the code stays on this machine.

        A priced service (Voyage) is asked about once per model; a server once per model
        and host, since the same model on another host is another place for the code.
        """
        embedder = self.embedder
        if not embedder.remote:
            return None
        if isinstance(embedder, PricedEmbedder):
            return embedder.consent_key
        return server_consent_key(embedder.model_id, embedder.endpoint or embedder.backend)

    def _estimate(self, plan: UploadPlan) -> UploadEstimate:
        embedder = self.embedder
        if isinstance(embedder, PricedEmbedder):
            return estimate_upload(embedder, files=plan.files, texts=plan.texts)
        return estimate_server_upload(
            embedder.endpoint or embedder.backend,
            embedder.model,
            files=plan.files,
            texts=plan.texts,
        )

    def search_service(
        self,
        *,
        rerank: bool = False,
        strict: bool = False,
        ask: Callable[[str], bool] | None = None,
    ) -> SearchService:
        """A search service over this workspace's index (see ``SearchService`` for ``strict``).

        With ``rerank``, a reranker that sends code elsewhere needs a yes first, as an
        embedder does (``ask`` shows the question; ``None``: only ``--yes`` agrees).

        Raises:
            ConsentError: The reranker sends code elsewhere and there is no yes for it.
        """
        reranker: Reranker | None = create_reranker(self.settings) if rerank else None
        if reranker is not None:
            try:
                self._rerank_guard(reranker, ask)
            except BaseException:
                reranker.close()
                raise
        return SearchService(
            self.store(),
            self.embedder,
            self.dim,
            reranker=reranker,
            strict=strict,
            translate=self.settings.translate,
        )

    def _rerank_guard(self, reranker: Reranker, ask: Callable[[str], bool] | None) -> None:
        """Ask once per repository, rerank model and place before code goes to a reranker.

        Reranking with Voyage on a repository whose code already goes to Voyage (embedded
        there with a yes) asks nothing more: the code goes nowhere new.
        """
        place = reranker.destination
        if place is None or self.settings.yes:
            return
        embedder = self.embedder
        if (
            isinstance(embedder, PricedEmbedder)
            and embedder.provider == place
            and not self.consent_pending()
        ):
            return
        folder = self.location.index_dir
        key = rerank_consent_key(reranker.model, place)
        if has_consent(folder, key):
            return
        require_rerank_consent(place, reranker.model, RERANK_DEPTH, yes=False, ask=ask)
        record_consent(
            folder, key, UploadEstimate(0, 0, None, None, reranker.model, provider=place)
        )

    def status(self) -> IndexStatus:
        """Counts of what is indexed now (cheap: no model is loaded)."""
        store = self.store()
        files, chunks = store.state.counts()
        try:
            index = open_vector_index(self.location.index_dir, self.embedder.model_id, self.dim)
            vectors = index.count
            in_sync = index.generation == store.state.generation and vectors == chunks
        except Exception:  # a damaged vector index reads as "not in sync"; indexing rebuilds it
            vectors, in_sync = 0, False
        return IndexStatus(files, chunks, vectors, in_sync, lock_holder(self.location.index_dir))

    def close(self) -> None:
        """Release the store and the embedder."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None


def _check_index_dir(folder: Path, repo: Repository) -> None:
    """Refuse an index folder that cannot work, before anything is written to it.

    Inside the work tree (outside the git directory) codefind would index its own index;
    a file, or a folder that cannot be created or written, would fail later with an error
    that does not say which setting is wrong.

    Raises:
        ConfigError: Says what is wrong with ``CODEFIND_INDEX_DIR`` and how to fix it.
    """
    name = f"CODEFIND_INDEX_DIR ({folder})"
    resolved = folder.resolve()
    in_git = resolved.is_relative_to(repo.common_dir) or resolved.is_relative_to(repo.git_dir)
    if resolved.is_relative_to(repo.root) and not in_git:
        raise ConfigError(
            f"{name} is inside the repository {repo.root}, so codefind would index its own "
            "index. Choose a folder outside the repository."
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{name} is a file, not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{name} cannot be created: {exc.strerror or exc}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{name} is not writable.")
