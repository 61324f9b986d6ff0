"""The app's handle on the service layer: one workspace, its searches, its indexing run.

Why a class between the app and ``Workspace``: the app calls the service layer from worker
threads, and a few rules about *how* it calls it belong together and are easier to test
without Textual:

- One ``SearchService``, called from worker threads: it embeds a query outside its lock,
  so a slow query embedding (a model loading, a remote server answering) never holds up
  the instant lexical results of the next keystroke.
- One indexing run at a time, with a cancel event that quitting sets (the indexer stops at
  the next batch, saves what it has and raises ``Interrupted``).
- The work tree is watched (``codefind.watch``) once the app asks: each coalesced batch of
  changes becomes one more incremental indexing run, the same run as at start.
- A slow embedder (a server across a network) gets a short pause before the semantic stage,
  which the next keystroke cancels, so typing does not fire one request per letter; a fast
  one (the built-in model) is asked at once. "Slow" is measured, not guessed from the backend.

Nothing here imports Textual; the heavy service modules are imported by ``open`` only, so
that the app can paint its first frame before numpy and the index libraries load.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from codefind.errors import IndexLockedError, IndexReadOnlyError, Interrupted

if TYPE_CHECKING:  # imported lazily by ``open``: they load numpy, SQLite and USearch
    from codefind.config import Settings
    from codefind.indexer import IndexProgress
    from codefind.models import IndexReport, Scope, SearchMode
    from codefind.search import SearchResult, SearchService
    from codefind.watch import WorktreeWatcher
    from codefind.workspace import IndexStatus, Workspace

SLOW_EMBED_MS = 25.0
"""A query embedding slower than this (median of recent ones) gets a pause before it."""
MAX_SEMANTIC_DELAY = 0.15
"""The longest pause before the semantic stage (typing cancels the wait)."""
WARM_UP_QUERY = "find the function that parses the configuration file"
LOCK_POLL_SECONDS = 0.5
"""How often a wait for another indexer looks at the cancel event (quitting ends the wait)."""
LOCK_WAIT_SECONDS = 3600.0
"""How long the app waits for another process that is indexing the same checkout."""


class Session:
    """A ``Workspace`` as the app uses it (thread-safe where the docstrings say so)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._search: SearchService | None = None
        self._services_lock = threading.Lock()
        self._cancel = threading.Event()
        self._indexing = threading.Lock()
        self._closed = False
        self._embed_ms: deque[float] = deque(maxlen=5)
        self._watcher: WorktreeWatcher | None = None
        self._agreed = False
        self._turns = {True: threading.Lock(), False: threading.Lock()}
        """One turn for lexical searches and one for the others (keyed by "is lexical")."""

    @classmethod
    def open(cls, path: Path, settings: Settings) -> Session:
        """Open the repository containing ``path`` (imports the service layer).

        Raises:
            NotARepositoryError: ``path`` is not inside a git work tree.
            RepoError: git is missing or refuses the repository.
            ConfigError: The settings name an unknown model or an invalid dimension.
        """
        from codefind.workspace import Workspace

        session = cls(Workspace.for_repository(path, settings))
        session.dim  # noqa: B018 - checks the model and dimension now, not on the first search
        return session

    # --- what the status line shows -------------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings this session was opened with."""
        return self.workspace.settings

    @property
    def root(self) -> Path:
        """The repository's top folder (hit paths are relative to it)."""
        return self.workspace.root

    @property
    def dim(self) -> int:
        """The index dimension."""
        return self.workspace.dim

    @property
    def semantic_delay(self) -> float:
        """Seconds to wait before embedding a query: 0 while embedding is fast."""
        recent = sorted(self._embed_ms)
        if not recent:
            return 0.0
        median = recent[len(recent) // 2]
        return 0.0 if median < SLOW_EMBED_MS else min(MAX_SEMANTIC_DELAY, median / 1000)

    def status(self) -> IndexStatus:
        """Files, chunks and vectors in the index now (cheap; thread-safe)."""
        return self.workspace.status()

    # --- searching ------------------------------------------------------------------------

    def consent_pending(self) -> bool:
        """Whether the remote backend still needs the user's yes (thread-safe).

        While it does, searches are lexical and nothing is sent (see
        ``Workspace.consent_pending``); a yes, once recorded, is remembered.
        """
        if not self._agreed:
            self._agreed = not self.workspace.consent_pending()
        return not self._agreed

    def search(
        self, query: str, *, mode: SearchMode, limit: int, scope: Scope = "auto"
    ) -> SearchResult:
        """Search the index as it is now (thread-safe; runs in a worker thread).

        ``mode="lexical"`` never touches the embedder and never waits for a semantic search
        that is running for an older query. Before the user has agreed to send code to a
        remote backend, every search is lexical.

        Raises:
            BackendError: The backend failed to embed the query.
        """
        if mode != "lexical" and self.consent_pending():
            mode = "lexical"
        result = self._service().search(query, limit=limit, mode=mode, scope=scope)
        if "embed" in result.timings_ms:
            self._embed_ms.append(result.timings_ms["embed"])
        return result

    def search_if_current(
        self,
        query: str,
        current: Callable[[], bool],
        *,
        mode: SearchMode,
        limit: int,
        scope: Scope = "auto",
    ) -> SearchResult | None:
        """``search``, unless ``current()`` is false by the time it is this search's turn.

        Searches of one kind (lexical, or semantic and hybrid) take turns: while one runs,
        the keystrokes typed meanwhile wait here, and all but the newest are dropped
        (``None``) instead of each queueing for the service's lock and running in turn.
        """
        with self._turns[mode == "lexical"]:
            if not current():
                return None
            return self.search(query, mode=mode, limit=limit, scope=scope)

    def warm_up(self) -> None:
        """Load the model (or reach the server) before the user needs it.

        Nothing is sent to a remote backend the user has not agreed to yet.

        Raises:
            BackendError: The backend cannot be reached or refused the request.
            ModelFilesError: The built-in model's files are missing or damaged.
        """
        if not self.consent_pending():
            self.workspace.embedder.embed_query(WARM_UP_QUERY)

    def _service(self) -> SearchService:
        with self._services_lock:
            if self._search is None:
                self._search = self.workspace.search_service()
            return self._search

    # --- indexing -------------------------------------------------------------------------

    def index(
        self,
        on_progress: Callable[[IndexProgress], None],
        ask: Callable[[str], bool] | None,
        on_lock_wait: Callable[[int | None], None] | None = None,
        *,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> IndexReport:
        """Bring the index up to date (runs in a worker thread).

        Another process indexing the same checkout is waited for (up to ``lock_wait``
        seconds, an hour unless said), as the command line does; quitting ends the wait.

        Args:
            on_progress: Called from this thread with each ``IndexProgress``.
            ask: Shows the consent question for a remote backend and returns the answer
                (``None``: nobody can be asked).
            on_lock_wait: Called once, with the other process's pid, when the wait starts.
            lock_wait: Seconds to wait for another process that is indexing this checkout.

        Raises:
            IndexLockedError: Another process kept indexing for ``lock_wait`` seconds.
            IndexReadOnlyError: The index folder cannot be written.
            BackendError: The backend failed (what was embedded is kept).
            ConsentError: The user declined sending code to a remote backend.
            Interrupted: ``cancel_indexing`` was called (what was done is kept).
        """
        told: list[int | None] = []

        def waiting(pid: int | None) -> None:
            if not told and on_lock_wait is not None:
                on_lock_wait(pid)
            told.append(pid)

        with self._indexing:
            deadline = time.monotonic() + lock_wait
            while True:
                if self._closed:
                    raise Interrupted("The app is closing; indexing did not start.")
                try:
                    return self.workspace.update_index(
                        on_progress=on_progress,
                        ask=ask,
                        cancel=self._cancel,
                        lock_wait=min(LOCK_POLL_SECONDS, lock_wait),
                        on_lock_wait=waiting,
                    )
                except IndexReadOnlyError:
                    raise
                except IndexLockedError:
                    if time.monotonic() >= deadline:
                        raise

    def watch(
        self, on_change: Callable[[frozenset[str]], None], on_error: Callable[[str], None]
    ) -> bool:
        """Watch the work tree; ``on_change`` gets each batch of changed paths (from a thread).

        Returns whether watching started (a corpus, or a closed session, is not watched).
        """
        from codefind.repo import Repository
        from codefind.watch import WorktreeWatcher

        source = self.workspace.source
        if self._closed or not isinstance(source, Repository):
            return False
        if self._watcher is None:
            self._watcher = WorktreeWatcher(source, on_change, on_error=on_error)
            self._watcher.start()
        return True

    @property
    def watching(self) -> bool:
        """Whether the work tree is being watched."""
        return self._watcher is not None and self._watcher.running

    def cancel_indexing(self) -> None:
        """Stop a running ``index`` at its next batch, and refuse to start another."""
        self._closed = True
        self._cancel.set()

    def wait_for_indexing(self, timeout: float) -> bool:
        """Wait until no ``index`` call runs; ``False`` if one still does after ``timeout``."""
        if not self._indexing.acquire(timeout=timeout):
            return False
        self._indexing.release()
        return True

    def close(self) -> None:
        """Stop watching and indexing, and release the search threads, the store and the
        embedder."""
        if self._watcher is not None:
            self._watcher.stop()
        self.cancel_indexing()
        self.wait_for_indexing(timeout=10.0)
        with self._services_lock:
            service, self._search = self._search, None
        if service is not None:
            service.close()
        self.workspace.close()
