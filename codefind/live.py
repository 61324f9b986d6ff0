"""A live index: a watched work tree whose changes are indexed in the background.

Used by the resident search service and the MCP server (the app drives the same watcher
through its own indexing worker, which shows progress and asks for consent in a dialog).

Why an update is simply an incremental indexing run: the indexer already re-chunks only the
files whose content id changed and embeds only texts the embedding cache lacks, and a run
that finds nothing costs about one ``git ls-files`` (measured on flask, 197 files: 20-25 ms
in a warm process; one file changed, its vectors reused: 75-80 ms; RESULTS.md, "Live index
and resident service"). So there is no second, per-file code path that could disagree with
``codefind index``. Lexical rows are committed before the embedding phase, so a new file is
found by its words at once and by its meaning as soon as its vectors are written.

Requests are coalesced: while a run is going on, any number of new batches make exactly
one more run afterwards. A run that fails (another process holds the write lock, the
backend is down, consent is missing) is recorded in ``LiveState.error`` and retried on the
next change or after ``RETRY_SECONDS``; searching goes on with the index as it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from codefind.errors import CodefindError, ConsentError, IndexLockedError
from codefind.watch import WorktreeWatcher

if TYPE_CHECKING:
    from codefind.models import IndexReport
    from codefind.workspace import Workspace

RETRY_SECONDS = 30.0
"""A failed update is tried again after this long even without a new change."""
LOCK_WAIT_SECONDS = 30.0
"""How long an update waits for another indexing process (``codefind index``) to finish."""


@dataclass(frozen=True)
class LiveState:
    """Where the live index stands, for status lines, the service and the MCP server."""

    updating: bool = False
    pending: bool = False
    """A change arrived that no finished run has covered yet."""
    updates: int = 0
    """Indexing runs finished since start (successful or not)."""
    current_since: float | None = None
    """``time.time()`` when the index last became current (``None``: not yet)."""
    last_report: IndexReport | None = None
    error: str | None = None
    """Why the last run failed (``None`` after a successful one)."""
    needs_consent: bool = False
    """The last run stopped because code may not go to the remote backend yet."""
    watching: bool = False
    watch_error: str | None = None

    @property
    def current(self) -> bool:
        """Whether every change seen so far is indexed."""
        return not self.updating and not self.pending and self.current_since is not None


class LiveIndex:
    """Keeps one workspace's index up to date with its work tree (thread-safe)."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        ask: Callable[[str], bool] | None = None,
        on_state: Callable[[LiveState], None] | None = None,
        watch: bool = True,
    ) -> None:
        """Create a live index (``start`` begins the first run and the watching).

        Args:
            workspace: The workspace whose index is kept current.
            ask: The consent question for remote backends (``None``: nobody can be asked, so
                only consent already recorded, or ``--yes``, lets code leave the machine).
            on_state: Called (from a background thread) whenever the state changes.
            watch: Watch the work tree; without it only ``request`` starts runs.
        """
        self.workspace = workspace
        self._ask = ask
        self._on_state = on_state
        self._watch = watch
        self._cond = threading.Condition()
        self._state = LiveState()
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: WorktreeWatcher | None = None

    # --- control --------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching and run a first update (both in background threads)."""
        from codefind.repo import Repository

        source = self.workspace.source
        if self._watch and isinstance(source, Repository):
            self._watcher = WorktreeWatcher(
                source, lambda _paths: self.request(), on_error=self._watch_failed
            )
            self._watcher.start()
            self._set(watching=True)
        self._thread = threading.Thread(target=self._loop, name="codefind-live", daemon=True)
        self._thread.start()
        self.request()

    def wait_watching(self, timeout: float) -> bool:
        """Wait until the watcher's watches are in place (for tests and start-up)."""
        return self._watcher is None or self._watcher.wait_ready(timeout)

    def request(self) -> None:
        """Ask for an update (coalesced with any other request not yet started)."""
        with self._cond:
            self._state = replace(self._state, pending=True)
            self._cond.notify_all()
        self._publish()

    def stop(self) -> None:
        """Stop watching and updating; a running update stops at its next batch."""
        self._stop.set()
        self._cancel.set()
        with self._cond:
            self._cond.notify_all()
        if self._watcher is not None:
            self._watcher.stop()
        if self._thread is not None:
            self._thread.join(timeout=30.0)

    # --- state ----------------------------------------------------------------------------

    @property
    def state(self) -> LiveState:
        """A snapshot of the state."""
        with self._cond:
            return self._state

    def wait_current(self, timeout: float) -> bool:
        """Wait until every change seen so far is indexed; ``False`` after ``timeout``.

        Returns at once with ``False`` when the last run failed and nothing is pending,
        since waiting would not help.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._state.current:
                idle = not self._state.updating and not self._state.pending
                if idle and self._state.error is not None:
                    return False
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    # --- the updater thread ---------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._state.pending and not self._stop.is_set():
                    retry = self._state.error is not None
                    if not self._cond.wait(RETRY_SECONDS if retry else None) and retry:
                        self._state = replace(self._state, pending=True)
                if self._stop.is_set():
                    return
                self._state = replace(self._state, pending=False, updating=True)
            self._publish()
            self._run_once()

    def _run_once(self) -> None:
        report: IndexReport | None = None
        error: str | None = None
        consent = False
        try:
            report = self.workspace.indexer(
                cancel=self._cancel,
                before_upload=self.workspace.upload_guard(self._ask),
                lock_wait_seconds=LOCK_WAIT_SECONDS,
            ).run()
        except ConsentError as exc:
            error, consent = consent_message(exc, self.workspace), True
        except IndexLockedError as exc:
            error = exc.message
        except CodefindError as exc:
            error = exc.message
        except Exception as exc:  # a bug must not stop the live index: say what happened
            error = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self._state = replace(
                self._state,
                updating=False,
                updates=self._state.updates + 1,
                last_report=report or self._state.last_report,
                error=error,
                needs_consent=consent,
                current_since=time.time() if error is None else self._state.current_since,
            )
            self._cond.notify_all()
        self._publish()

    def _watch_failed(self, message: str) -> None:
        self._set(watching=False, watch_error=message)

    def _set(self, **changes: object) -> None:
        with self._cond:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]
            self._cond.notify_all()
        self._publish()

    def _publish(self) -> None:
        if self._on_state is not None:
            self._on_state(self.state)


def consent_message(exc: ConsentError, workspace: Workspace) -> str:
    """A consent refusal as a background process must say it: nobody can answer a question.

    The service and the MCP server never ask; the user consents once in a terminal (the
    answer is recorded per repository and model) or starts them with ``--yes``.
    """
    settings = workspace.settings
    what = exc.message.split("\nNothing was sent")[0]
    return (
        f"{what}\nNothing was sent. To consent, run "
        f"`codefind index --backend {settings.backend} --model {settings.model}`"
        f" in a terminal in {workspace.root} and answer yes (the "
        "answer is recorded for this repository and model), or start this server with --yes."
    )
