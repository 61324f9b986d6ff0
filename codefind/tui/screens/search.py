"""The main screen: query box, results, preview, progress and status; live search as you type.

How a keystroke becomes results (the part users judge the app by):

1. ``Input.Changed`` bumps ``generation`` and starts ``_search`` (an exclusive worker: a
   newer keystroke cancels the older worker at its next ``await``).
2. The lexical stage runs in a thread (no model involved) and its hits are shown at once.
3. The semantic stage (hybrid or semantic mode) embeds the query and fuses; its hits replace
   the list, keeping the highlighted hit (by chunk id) on its row if the user had moved to it.
4. Every stage checks ``generation`` before showing anything, so an answer never overwrites
   a newer query's, however late it arrives.

The preview follows the cursor, but is drawn *after* the list's repaint (``call_after_refresh``)
so the list is never held up by syntax highlighting.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from codefind.errors import CodefindError
from codefind.models import SEARCH_MODES
from codefind.tui import bindings
from codefind.tui.editor import EditorError, editor_command, editor_value, run_editor
from codefind.tui.files import FileLines
from codefind.tui.messages import IndexUpdateWanted
from codefind.tui.widgets.index_progress import IndexProgressRow, ProgressView
from codefind.tui.widgets.key_bar import KeyBar
from codefind.tui.widgets.preview import Preview
from codefind.tui.widgets.query_input import QueryInput
from codefind.tui.widgets.result_list import ResultList
from codefind.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:  # the service layer is imported lazily, after the first frame
    from codefind.config import Settings
    from codefind.models import Scope, SearchMode
    from codefind.search import SearchResult
    from codefind.tui.session import Session

NARROW = 90
"""Below this width the preview is hidden and the list takes the whole width."""
SHORT = 16
"""Below this height the keys line is hidden."""
RESULT_LIMIT = 50
"""Rows in the list (the keystroke budget is measured for at most 50)."""
MODES: tuple[SearchMode, ...] = SEARCH_MODES
SCOPE_CYCLE: tuple[Scope, ...] = ("auto", "code", "tests", "docs", "all")
"""What Ctrl-T steps through: implementation first (auto), then only code, tests, docs, and
everything with no preference."""


class SearchScreen(Screen[None]):
    """Type, see hits, preview them, open one."""

    BINDINGS: ClassVar[list[BindingType]] = list(bindings.SEARCH)

    @dataclass
    class ResultsShown(Message):
        """The list now shows ``stage`` results for ``query`` (for tests and benchmarks)."""

        query: str
        generation: int
        stage: str
        count: int

    def __init__(self, settings: Settings, *, show_timings: bool = True) -> None:
        super().__init__()
        self.settings = settings
        self.show_timings = show_timings
        self.mode: SearchMode = settings.mode
        self.scope: Scope = "auto"
        self.session: Session | None = None
        self.generation = 0
        """Bumped by every search; results of an older generation are dropped."""
        self.settled = 0
        """The generation whose final results are on screen (== ``generation`` when idle)."""
        self.semantic_error: str | None = None
        self.last_activity = time.monotonic()
        """When the user last typed or moved (the app collects garbage in the pauses)."""
        self._shown_query = ""
        self._warned: set[str] = set()
        self.index_files: int | None = None
        self.index_chunks = 0
        self.indexing = False
        self.live_text = ""
        """The live index's state for the status line ("updating…", "up to date 12:03:04")."""

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Query bar, results and preview side by side, progress, status, keys."""
        with Horizontal(id="query-bar"):
            yield Static("❯", id="prompt")
            yield QueryInput(id="query")
            yield Static(self.mode, id="mode-badge")
        with Horizontal(id="main"):
            yield ResultList(id="results")
            yield Preview(id="preview")
        yield IndexProgressRow(id="index-progress")
        yield StatusBar(id="status")
        yield KeyBar(self._footer_bindings(), id="footer")

    def _footer_bindings(self) -> list[Binding]:
        return bindings.footer(self.settings.keys)

    def on_resize(self, event: events.Resize) -> None:
        """Small terminals drop the preview (narrow) and the keys line (short).

        Done here rather than with screen-wide breakpoint classes: a class on the screen
        re-styles every widget, which cost a good part of the first frame.
        """
        main = self.query_one("#main")
        narrow = event.size.width < NARROW
        if main.has_class("-narrow") != narrow:
            main.set_class(narrow, "-narrow")
        self.query_one(KeyBar).display = event.size.height >= SHORT
        self.results.scroll_to_cursor()

    def on_mount(self) -> None:
        """Show what is known before the index opens."""
        self.results.show_empty("Opening the index…")
        self._show_backend(dim=None)
        self.query_input.focus()

    @property
    def query_input(self) -> QueryInput:
        """The query box."""
        return self.query_one("#query", QueryInput)

    @property
    def results(self) -> ResultList:
        """The results list."""
        return self.query_one("#results", ResultList)

    @property
    def preview(self) -> Preview:
        """The preview pane."""
        return self.query_one("#preview", Preview)

    @property
    def status(self) -> StatusBar:
        """The status line."""
        return self.query_one("#status", StatusBar)

    @property
    def progress(self) -> IndexProgressRow:
        """The indexing progress row."""
        return self.query_one("#index-progress", IndexProgressRow)

    # --- news from the app ------------------------------------------------------------

    def attach_session(self, session: Session, dim: int) -> None:
        """Search ``session`` from now on (on start, and after settings were applied)."""
        self.session = session
        self.settings = session.settings
        self.semantic_error = None
        self.preview.files = FileLines(session.root)
        self._show_backend(dim=dim)
        self.refresh_index_state()
        self.search_now()

    def backend_failed(self, message: str, title: str = "Backend unavailable") -> None:
        """Semantic search is off until the settings change: say why, keep lexical working."""
        self.semantic_error = message
        self._show_backend(dim=self.session.dim if self.session else None)
        self.notify(message, title=f"{title}: searching by words only",
                    severity="error", timeout=8)  # fmt: skip

    def index_counts(self, files: int, chunks: int) -> None:
        """The index now holds ``files`` files and ``chunks`` chunks."""
        self.index_files, self.index_chunks = files, chunks
        self.refresh_index_state()

    def index_progress(self, view: ProgressView | None) -> None:
        """An indexing run reports ``view`` (``None``: the run ended)."""
        self.indexing = view is not None
        if view is None:
            self.progress.hide()
        elif view.label != "Scanning files":
            self.progress.show(view)
        self.refresh_index_state(view)

    def index_live(self, text: str) -> None:
        """The live index's state: an update is running, or the index is current."""
        self.live_text = text
        self.refresh_index_state()

    def refresh_index_state(self, view: ProgressView | None = None) -> None:
        """The index part of the status line, and the empty-list text."""
        files, chunks = self.index_files, self.index_chunks
        counts = f"{files:,} files · {chunks:,} chunks" if files is not None else ""
        if counts and self.live_text and view is None:
            counts += f" · {self.live_text}"
        if view is not None:
            text = f"indexing: {view.short}" + (f" · {counts}" if counts else "")
            self.status.set_index(text)
        elif files is None:
            self.status.set_index("opening index…")
        else:
            self.status.set_index(counts)
        if not self.query_input.value.strip():
            self.results.show_empty(self._empty_text())

    def _empty_text(self) -> str:
        if self.session is None:
            return "Opening the index…"
        if self.index_files == 0 and self.indexing:
            return "Indexing… results appear as files are indexed."
        if self.index_files == 0:
            return ("No indexable files here: codefind indexes tracked and untracked (not "
                    "ignored) text files, and skips binary, huge, minified, generated and "
                    "vendored ones.")  # fmt: skip
        if self.index_files is None:
            return "Type to search."
        return f"Type to search {self.index_chunks:,} chunks in {self.index_files:,} files."

    def _show_backend(self, dim: int | None) -> None:
        mode: str = self.mode
        if self.semantic_error and self.mode != "lexical":
            mode += " (words only: backend unavailable)"
        self.status.set_backend(self.settings.backend, self.settings.model, dim, mode)
        badge = self.mode if self.scope == "auto" else f"{self.mode} · {self.scope}"
        self.query_one("#mode-badge", Static).update(badge)

    # --- searching --------------------------------------------------------------------

    @on(Input.Changed, "#query")
    def _query_changed(self, event: Input.Changed) -> None:
        self.last_activity = time.monotonic()
        self.search_now()

    def search_now(self) -> None:
        """Search for the query box's text (the newest search wins)."""
        self.generation += 1
        query = self.query_input.value
        if not query.strip() or self.session is None:
            self.workers.cancel_group(self, "search")
            self.results.show_empty(self._empty_text())
            self.status.set_query("")
            self.settled = self.generation
            self.post_message(self.ResultsShown(query, self.generation, "empty", 0))
            return
        self._search(self.session, self.generation, query, self.mode, self.scope)

    @work(exclusive=True, group="search", exit_on_error=False)
    async def _search(
        self, session: Session, generation: int, query: str, mode: SearchMode, scope: Scope
    ) -> None:
        semantic = mode != "lexical" and self.semantic_error is None
        if mode != "semantic" or not semantic:
            result = await self._run_stage(session, generation, query, "lexical", scope)
            if result is None or generation != self.generation:
                return
            self._show(result, generation, "lexical", pending=semantic and mode == "hybrid")
        if not semantic:
            return
        if session.semantic_delay:
            await asyncio.sleep(session.semantic_delay)  # a newer keystroke cancels us here
        result = await self._run_stage(session, generation, query, mode, scope)
        if result is None or generation != self.generation:
            return
        self._show(result, generation, mode, pending=False)

    async def _run_stage(
        self, session: Session, generation: int, query: str, mode: SearchMode, scope: Scope
    ) -> SearchResult | None:
        def current() -> bool:
            return generation == self.generation

        try:
            return await asyncio.to_thread(
                session.search_if_current,
                query,
                current,
                mode=mode,
                limit=RESULT_LIMIT,
                scope=scope,
            )
        except CodefindError as exc:
            message, title = exc.message, exc.title
        except Exception as exc:  # a bug in a search must not take the app down
            message, title = f"{type(exc).__name__}: {exc}", "Search failed"
        if mode == "lexical":
            self.notify(message, title=title, severity="error")
        elif session is self.session and self.semantic_error is None:
            self.backend_failed(message, title)
            self.search_now()  # show the lexical answer for this query
        return None

    def _show(self, result: SearchResult, generation: int, stage: str, *, pending: bool) -> None:
        results = self.results
        previous = results.highlighted
        # The same query again (semantic hits merging in, or a search after indexing) keeps
        # the hit the user moved to; a new query starts at the top, as in fzf.
        same_query = result.query == self._shown_query
        keep = previous.chunk_id if previous is not None and results.moved and same_query else None
        self._shown_query = result.query
        if not result.hits:
            results.empty_text = "No hits. Try other words, or Tab to change the mode."
        results.set_hits(result.hits, keep=keep)
        count = len(result.strong)
        weak = len(result.hits) - count
        parts = [f"{count} hit" if count == 1 else f"{count} hits"]
        if weak:
            parts.append("no good match" if not count else f"{weak} weak")
        if self.show_timings:
            parts.append(f"{result.elapsed_ms:.0f} ms")
        if result.translation.changed:
            parts.insert(0, f"≈ {result.translation.text}")
        if pending:
            parts.append("semantic…")
        self.status.set_query(" · ".join(parts))
        if not pending:
            self.settled = generation
        for warning in result.warnings:  # once each: typing repeats them on every key
            if warning not in self._warned:
                self._warned.add(warning)
                self.notify(warning, title="Search", severity="warning", timeout=8)
        self.post_message(self.ResultsShown(result.query, generation, stage, len(result.hits)))

    # --- the cursor and the preview ------------------------------------------------------

    @on(ResultList.Highlighted)
    def _highlighted(self, event: ResultList.Highlighted) -> None:
        # A new list: the preview waits for the list's repaint, so it never delays results.
        # (A cursor move has already updated the preview, in the same frame as the list.)
        self.call_after_refresh(self._update_preview)

    def _update_preview(self) -> None:
        results = self.results
        self.preview.show(results.highlighted)
        if results.cursor >= 0:  # the likely next moves: draw them while the user reads
            ahead = results.hits[results.cursor + 1 : results.cursor + 4]
            behind = results.hits[max(0, results.cursor - 1) : results.cursor]
            self.preview.prefetch([*ahead, *behind])

    @on(ResultList.Selected)
    def _selected(self, event: ResultList.Selected) -> None:
        self.action_open_editor()

    def action_move(self, delta: int) -> None:
        """Move the highlight; the preview follows in the same frame."""
        self.last_activity = time.monotonic()
        self.results.move(delta)
        self._update_preview()

    def action_page(self, direction: int) -> None:
        """Move the highlight by a screenful."""
        self.last_activity = time.monotonic()
        self.results.page(direction)
        self._update_preview()

    # --- actions --------------------------------------------------------------------------

    def action_cycle_mode(self) -> None:
        """hybrid -> semantic -> lexical -> hybrid; the query is searched again."""
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self._show_backend(dim=self.session.dim if self.session else None)
        self.search_now()

    def action_cycle_scope(self) -> None:
        """auto -> code -> tests -> docs -> all -> auto; the query is searched again."""
        self.scope = SCOPE_CYCLE[(SCOPE_CYCLE.index(self.scope) + 1) % len(SCOPE_CYCLE)]
        self._show_backend(dim=self.session.dim if self.session else None)
        self.search_now()

    def set_mode(self, mode: SearchMode) -> None:
        """Switch to ``mode`` (from the settings screen)."""
        if mode != self.mode:
            self.mode = mode
            self._show_backend(dim=self.session.dim if self.session else None)
            self.search_now()

    def action_copy_location(self) -> None:
        """Copy ``path:line`` of the highlighted hit."""
        hit = self.results.highlighted
        if hit is None:
            return
        location = f"{hit.path}:{hit.line}"
        self.app.copy_to_clipboard(location)
        self.notify(f"Copied {location}", timeout=2)

    def action_open_editor(self) -> None:
        """Open the highlighted hit in the editor; the app comes back as it was."""
        hit = self.results.highlighted
        if hit is None or self.session is None:
            return
        from textual.app import SuspendNotSupported

        from codefind.relocate import locate

        where = locate(self.session.root, hit)
        if not where.found:
            self.notify(
                f"{hit.path} changed since it was indexed and this hit is no longer in it; "
                "the index is being updated.",
                title="Hit out of date",
                severity="warning",
            )
            self._update_index()
            return
        if where.moved:
            self.notify(
                f"{hit.path} changed since it was indexed; opening line {where.line} "
                f"(was {hit.line}).",
                timeout=4,
            )
        root = str(self.session.root)
        try:
            argv = editor_command(editor_value(), hit.path, where.line)
            if self.app.is_headless:
                run_editor(argv, cwd=root)  # tests: no terminal to hand over
            else:
                with self.app.suspend():
                    run_editor(argv, cwd=root)
        except EditorError as exc:
            self.notify(exc.message, title=exc.title, severity="error")
        except SuspendNotSupported:
            self.notify("This terminal cannot hand over to an editor.", severity="error")
        self.preview.refresh_hit()
        self.refresh()
        self._update_index()  # the edited file first; the query runs again when it is done

    def _update_index(self) -> None:
        self.post_message(IndexUpdateWanted())
