"""The codefind app: owns the session (workspace), runs the background work, installs screens.

Kept small on purpose: searching, previewing and the editor live in ``SearchScreen``, the
settings form in ``SettingsScreen``. What lives here is what outlives a screen:

- opening the workspace *after* the first frame (importing numpy, SQLite and USearch takes
  longer than the whole first-frame budget), then warming the model up in the background;
- the indexing run (a thread worker; Ctrl-C or Esc stops it at the next batch and what was
  done is kept), and the live index: the work tree is watched, and each batch of changes
  (coalesced: a branch switch is one batch) becomes one more incremental run; the status
  line says "updating…" while one runs and "up to date" when the index matches the files;
- swapping the session when settings are applied;
- asking for consent before code goes to a remote backend (the indexer's thread waits on a
  dialog).
"""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from codefind.errors import CodefindError, Interrupted, redact
from codefind.tui import bindings
from codefind.tui.messages import (
    BackendFailed,
    IndexCounted,
    IndexFinished,
    IndexProgressed,
    IndexStopped,
    IndexUpdateWanted,
    SessionFailed,
    SessionOpened,
    WatchFailed,
    WorktreeChanged,
)
from codefind.tui.screens.search import SearchScreen
from codefind.tui.widgets.index_progress import describe_progress

if TYPE_CHECKING:  # dialogs are imported when first opened: start-up time is a feature
    from codefind.config import Settings
    from codefind.indexer import IndexProgress
    from codefind.tui.screens.settings import SettingsApplied
    from codefind.tui.session import Session

PROGRESS_INTERVAL = 0.1
"""Seconds between progress messages from the indexing thread (phase changes always go)."""
QUIT_GRACE = 5.0
"""Seconds quitting waits for an indexing run to save what it has."""
GC_CHECK_SECONDS = 0.2
GC_IDLE_SECONDS = 0.3
"""A full garbage collection runs once the user has not typed or moved for this long."""
GC_FORCE_AFTER = 50
"""...or after this many middle-generation collections, whatever the user is doing."""
LIVE_LOCK_WAIT = 30.0
"""Seconds a live update waits for another process (``codefind index``) to finish."""


class CodefindApp(App[int]):
    """Find code by meaning in one repository."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "codefind"
    COMMAND_PALETTE_BINDING = bindings.COMMAND_PALETTE_KEY

    BINDINGS: ClassVar[list[BindingType]] = list(bindings.APP)

    def __init__(
        self,
        path: Path,
        settings: Settings,
        *,
        show_timings: bool = True,
        auto_index: bool = True,
    ) -> None:
        """Create the app for the repository containing ``path``.

        Args:
            path: Any folder inside the repository.
            settings: The settings to start with; ``settings.keys`` remaps keys by binding id.
            show_timings: Show the last query's time (off for deterministic snapshots).
            auto_index: Bring the index up to date on start (off for snapshot tests that
                feed progress themselves).

        Raises:
            ConfigError: The key map names a binding that does not exist.
        """
        super().__init__()
        self.keymap = bindings.check_keymap(settings.keys)
        self.set_keymap(self.keymap)
        self.path = path
        self.settings = settings
        self.auto_index = auto_index
        self.session: Session | None = None
        self.search_screen = SearchScreen(settings, show_timings=show_timings)
        self._quitting = False
        self._last_progress = 0.0
        self._last_phase = ""
        self._embed_start: tuple[float, int] | None = None
        self._noted: set[str] = set()
        """Index notes already shown (a live update repeats the walk's notes every time)."""
        self._update_pending = False
        """A change arrived while an indexing run was going on: run once more after it."""
        self._live_run = False
        """The running indexing run is a live update (shown in the status, not as a bar)."""
        self._index_running = False
        """An indexing run was started and its end (IndexFinished/IndexStopped) not handled
        yet. Not the worker's state: the worker is still running while its last message is
        handled, and a request seen then must not be left pending for ever."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a notification, with secrets removed (a server may echo a key in an error)."""
        super().notify(
            redact(message), title=redact(title), severity=severity, timeout=timeout, markup=markup
        )

    def get_default_screen(self) -> SearchScreen:
        """The search screen is the base screen (no blank default screen to build first)."""
        return self.search_screen

    def on_mount(self) -> None:
        """Open the workspace once the first frame is on screen."""
        self.call_after_refresh(self._open_session)

    # --- opening ----------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="open")
    def _open_session(self) -> None:
        from codefind.tui.highlight import warm_up
        from codefind.tui.session import Session

        warm_up()  # the first preview should not pay for importing Pygments
        try:
            session = Session.open(self.path, self.settings)
        except CodefindError as exc:
            self.post_message(SessionFailed(exc.message, exc.exit_code))
            return
        except Exception as exc:  # a bug: exit saying so, never "Opening the index…" forever
            message = f"unexpected error while opening the index: {type(exc).__name__}: {exc}"
            self.post_message(SessionFailed(message, 2))
            return
        self.post_message(SessionOpened(session))

    @on(SessionFailed)
    def _session_failed(self, message: SessionFailed) -> None:
        self.exit(return_code=message.exit_code, message=f"codefind: {redact(message.message)}")

    @on(SessionOpened)
    def _session_opened(self, message: SessionOpened) -> None:
        self._tune_garbage_collector()
        self.use_session(message.session)

    def _tune_garbage_collector(self) -> None:
        """Keep full garbage collections out of the way of typing.

        Measured (benchmarks/bench_app.py): Textual's strips form reference cycles, so
        every repaint leaves cyclic garbage, and Python's automatic full collections ran
        every few seconds while typing, each pausing the app for 30-140 ms on two cores.
        Instead: what was loaded at start (Textual, numpy, the index) is frozen out of
        the collector's sight, automatic full collections are switched off, and one runs
        when the user has paused (or, as a safety valve, after many young collections).
        Young collections stay automatic; they take a millisecond or two.
        """
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1_000_000)
        self.set_interval(GC_CHECK_SECONDS, self._collect_when_idle)

    def _collect_when_idle(self) -> None:
        idle = time.monotonic() - self.search_screen.last_activity > GC_IDLE_SECONDS
        if gc.get_count()[2] and (idle or gc.get_count()[2] > GC_FORCE_AFTER):
            gc.collect()

    def use_session(self, session: Session) -> None:
        """Search, warm up and index ``session``; a previous session is stopped and closed."""
        old, self.session = self.session, session
        self.settings = session.settings
        if old is not None:
            old.cancel_indexing()
            self._close_later(old)
        self.search_screen.attach_session(session, session.dim)
        self._count(session)
        self._warm_up(session)
        if self.auto_index:
            self._index_running = True
            self._index(session, old)

    @work(thread=True, exit_on_error=False, group="close")
    def _close_later(self, session: Session) -> None:
        session.close()

    @work(thread=True, exit_on_error=False, group="warm-up", exclusive=True)
    def _warm_up(self, session: Session) -> None:
        try:
            session.warm_up()
        except CodefindError as exc:
            self.post_message(BackendFailed(session, exc.message))
        except Exception as exc:  # a backend bug must not take the app down
            self.post_message(BackendFailed(session, f"{type(exc).__name__}: {exc}"))

    @on(BackendFailed)
    def _backend_failed(self, message: BackendFailed) -> None:
        if message.session is self.session:
            self.search_screen.backend_failed(redact(message.message))  # also shown in the status

    @work(thread=True, exit_on_error=False, group="counts")
    def _count(self, session: Session) -> None:
        try:
            status = session.status()
        except CodefindError:  # counts are decoration; the index run reports the problem
            return
        self.post_message(IndexCounted(session, status.files, status.chunks))

    @on(IndexCounted)
    def _counted(self, message: IndexCounted) -> None:
        if message.session is self.session:
            self.search_screen.index_counts(message.files, message.chunks)

    # --- indexing ---------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="index")
    def _index(self, session: Session, previous: Session | None, live: bool = False) -> None:
        from codefind.tui.session import LOCK_WAIT_SECONDS

        if previous is not None:  # it holds the index's write lock until it has saved
            previous.wait_for_indexing(timeout=60.0)
        self._embed_start = None
        if not live:  # watch from the start: changes made during this run are caught too

            def changed(paths: frozenset[str]) -> None:
                self.post_message(WorktreeChanged(session, paths))

            def failed(message: str) -> None:
                self.post_message(WatchFailed(session, message))

            session.watch(changed, failed)
        try:
            report = session.index(
                lambda progress: self._progress_from_thread(session, progress),
                self._ask_from_thread,
                self._waiting_from_thread,
                lock_wait=LIVE_LOCK_WAIT if live else LOCK_WAIT_SECONDS,
            )
        except CodefindError as exc:
            interrupted = isinstance(exc, Interrupted)
            self.post_message(IndexStopped(session, exc.message, exc.title, interrupted))
        except Exception as exc:  # a bug must not take the app down: say what happened
            message = f"{type(exc).__name__}: {exc}"
            self.post_message(IndexStopped(session, message, "Indexing failed"))
        else:
            self.post_message(IndexFinished(session, report))

    def _waiting_from_thread(self, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        self.call_from_thread(
            self.notify, f"Waiting for {who}, which is updating this index…", title="Index"
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed with an error nobody caught: say so, never swallow it."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(f"{type(error).__name__}: {error}", title="Internal error",
                        severity="error", timeout=10)  # fmt: skip

    def _progress_from_thread(self, session: Session, progress: IndexProgress) -> None:
        now = time.monotonic()
        if progress.phase == self._last_phase and now - self._last_progress < PROGRESS_INTERVAL:
            return
        self._last_phase, self._last_progress = progress.phase, now
        self.post_message(IndexProgressed(session, progress))

    def _ask_from_thread(self, question: str) -> bool:
        """Ask ``question`` in a dialog and wait for the answer (called by the indexer)."""
        answered = threading.Event()
        answer: list[bool] = []

        def done(result: bool | None) -> None:
            answer.append(bool(result))
            answered.set()

        from codefind.tui.screens.confirm import ConfirmScreen

        self.call_from_thread(self.push_screen, ConfirmScreen(question), done)
        while not answered.wait(0.2):
            if self._quitting or not self.is_running:
                return False
        return answer[0]

    # --- the live index -------------------------------------------------------------------

    @on(WorktreeChanged)
    def _worktree_changed(self, message: WorktreeChanged) -> None:
        if message.session is self.session:
            self.request_update()

    @on(IndexUpdateWanted)
    def _update_wanted(self, _message: IndexUpdateWanted) -> None:
        self.request_update()

    @on(WatchFailed)
    def _watch_failed(self, message: WatchFailed) -> None:
        if message.session is self.session:
            self.notify(
                f"{message.message}. Changes made from now on need a restart to be found.",
                title="Live index off",
                severity="warning",
                timeout=10,
            )

    def request_update(self) -> None:
        """Index what changed now, or right after the running run (requests coalesce)."""
        session = self.session
        if session is None or self._quitting or not self.auto_index:
            return
        if self._index_running:
            self._update_pending = True
            return
        self._update_pending = False
        self._index_running = self._live_run = True
        self.search_screen.index_live("updating…")
        self._index(session, None, live=True)

    def _after_run(self, session: Session) -> None:
        """A run ended: run again for changes that came meanwhile, else say the index is current."""
        self._index_running = self._live_run = False
        if self._update_pending:
            self.request_update()
        elif session.watching:
            when = f" {time.strftime('%H:%M:%S')}" if self.search_screen.show_timings else ""
            self.search_screen.index_live(f"up to date{when}")

    @on(IndexProgressed)
    def _index_progressed(self, message: IndexProgressed) -> None:
        progress = message.progress
        if message.session is not self.session or progress.phase in ("walk", "done"):
            return
        if progress.phase == "embed" and self._embed_start is None:
            self._embed_start = (progress.elapsed, progress.done)
        view = describe_progress(progress, self._embed_start)
        if self._live_run:  # a few files: the status line says it, no bar flashes
            self.search_screen.index_live(f"updating: {view.short}")
        else:
            self.search_screen.index_progress(view)
        if progress.phase == "chunk":
            self._count(message.session)

    @on(IndexFinished)
    def _index_finished(self, message: IndexFinished) -> None:
        if self._quitting:
            self.exit(0)
            return
        if message.session is not self.session:
            return
        report = message.report
        live = self._live_run
        self.search_screen.index_progress(None)
        self.search_screen.index_counts(report.files, report.chunks)
        if report.embedded or report.removed or report.reused:
            self.search_screen.search_now()
        for note in report.notes:
            if not live or note not in self._noted:
                self._noted.add(note)
                self.notify(note, title="Index", timeout=6)
        self._after_run(message.session)

    @on(IndexStopped)
    def _index_stopped(self, message: IndexStopped) -> None:
        if self._quitting:
            self.exit(0)
            return
        if message.session is not self.session:
            return
        self.search_screen.index_progress(None)
        self._count(message.session)
        self.notify(
            message.message,
            title=message.title,
            severity="warning" if message.interrupted else "error",
            timeout=10,
        )
        self._after_run(message.session)

    # --- actions --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit; a running indexing run first saves what it has (bounded by QUIT_GRACE)."""
        indexing = any(w.group == "index" and w.is_running for w in self.workers)
        if self.session is not None and indexing and not self._quitting:
            self._quitting = True
            self.session.cancel_indexing()
            self.notify("Stopping indexing; what was done is kept…", timeout=QUIT_GRACE)
            self.set_timer(QUIT_GRACE, lambda: self.exit(0))
            return
        self.exit(0)

    def action_settings(self) -> None:
        """Open the settings dialog."""
        from codefind.tui.screens.settings import SettingsScreen

        if isinstance(self.screen, SettingsScreen):
            return
        root = self.session.root if self.session else self.path
        self.push_screen(
            SettingsScreen(self.settings, root, self.search_screen.mode), self._settings_closed
        )

    def _settings_closed(self, applied: SettingsApplied | None) -> None:
        if applied is None:
            return
        if applied.session is not None:
            self.use_session(applied.session)
        else:
            self.settings = applied.settings
        self.search_screen.set_mode(applied.settings.mode)

    def action_help(self) -> None:
        """Show the keys."""
        from codefind.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(bindings.help_rows(self.keymap)))

    def on_unmount(self) -> None:
        """Stop indexing so the process can exit (the indexer saves what it has)."""
        if self.session is not None:
            self.session.cancel_indexing()
