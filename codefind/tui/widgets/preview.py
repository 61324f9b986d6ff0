"""The preview pane: the highlighted hit's file as it is on disk, its lines marked.

A title row (path, line range, symbol) over a code view. The code view is a Line API widget
that shows strips prepared by ``codefind.tui.highlight`` from a ~60-line window of the file,
so the cost of a repaint does not depend on the file's length; it is a plain ``Widget``
with its own scroll offset (not a ``ScrollView``), so a new preview never re-lays the
screen out. Files are read through ``FileLines`` (an LRU checked against mtime and size), so a file
edited in the editor shows its new text, and a deleted one says so instead of crashing.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from codefind.models import Hit
from codefind.tui.files import FileLines, PreviewUnavailable
from codefind.tui.highlight import (
    DARK_THEME,
    LIGHT_THEME,
    PreviewStyles,
    highlight_window,
    plain_lines,
)

DRAWN_WINDOWS = 12
"""Highlighted windows kept for moving back and forth."""


class CodeView(Widget, can_focus=False):
    """Pre-rendered lines, cropped to the width (long lines are cut, never wrapped).

    The mouse wheel scrolls it; a new preview starts at the top of its window.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "code-view--gutter",
        "code-view--gutter-hit",
        "code-view--hit",
        "code-view--marker",
        "code-view--message",
    }

    DEFAULT_CSS = """
    CodeView {
        height: 1fr;
        background: $surface;
        & > .code-view--gutter { color: $text-disabled; }
        & > .code-view--gutter-hit { color: $text-accent; }
        & > .code-view--hit { background: $accent 12%; }
        & > .code-view--marker { color: $accent; }
        & > .code-view--message { color: $text-muted; text-style: italic; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.strips: list[Strip] = []
        self.top = 0
        self._base: Style | None = None

    def show(self, strips: list[Strip], *, top: int = 0) -> None:
        """Show ``strips``, scrolled so that row ``top`` is the first visible one."""
        self.strips = strips
        self.top = top
        self.refresh()

    def scroll_lines(self, delta: int) -> None:
        """Scroll by ``delta`` lines (within the window)."""
        limit = max(0, len(self.strips) - self.content_size.height)
        top = max(0, min(limit, self.top + delta))
        if top != self.top:
            self.top = top
            self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Scroll down three lines."""
        event.stop()
        self.scroll_lines(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Scroll up three lines."""
        event.stop()
        self.scroll_lines(-3)

    def notify_style_update(self) -> None:
        """The theme or CSS changed: forget the cached base style."""
        super().notify_style_update()
        self._base = None

    def styles_for_code(self) -> PreviewStyles:
        """The colours of the current theme, as Rich styles."""
        if self._base is None:
            self._base = self.rich_style
        base = self._base

        def part(name: str) -> Style:
            return self.get_component_rich_style(f"code-view--{name}", partial=True)

        dark = self.app.current_theme.dark if self.is_attached else True
        return PreviewStyles(
            base=base,
            gutter=part("gutter"),
            gutter_hit=part("gutter-hit"),
            hit=part("hit"),
            marker=part("marker"),
            theme=DARK_THEME if dark else LIGHT_THEME,
        )

    def message_style(self) -> Style:
        """The style of a message shown instead of code."""
        base = self.rich_style
        return base + self.get_component_rich_style("code-view--message", partial=True)

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the visible area."""
        width = self.content_size.width
        if self._base is None:  # computing it walks the ancestors: once, not per line
            self._base = self.rich_style
        index = y + self.top
        if index >= len(self.strips):
            return Strip.blank(width, self._base)
        return self.strips[index].crop_extend(0, width, self._base)


class Preview(Vertical):
    """The hit's file around the hit, with a title row.

    Highlighted windows are kept in a small LRU (keyed by file, window, hit lines, file
    stamp and theme), and the hits next to the cursor are highlighted ahead in a thread
    (``prefetch``), so moving down the list mostly shows a window that is already drawn.
    """

    @dataclass
    class Shown(Message):
        """``hit``'s file is now on screen (for tests and benchmarks)."""

        hit: Hit

    DEFAULT_CSS = """
    Preview {
        height: 1fr;
        & > #preview-title {
            height: 1;
            width: 1fr;
            padding: 0 1;
            background: $panel;
            color: $text;
            text-style: bold;
        }
    }
    """

    def __init__(self, files: FileLines | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.files = files
        self.hit: Hit | None = None
        """The hit on screen (set once its file has been read and drawn)."""
        self._wanted: Hit | None = None
        self._shown: tuple[str, int, int] | None = None
        self._drawn: OrderedDict[tuple[object, ...], list[Strip]] = OrderedDict()
        self._recent: OrderedDict[tuple[object, ...], list[Strip]] = OrderedDict()
        """The last strips drawn for each hit's place, whatever the file's stamp was then:
        what ``show`` can put on screen without reading the file."""
        self._drawn_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        """A title row over the code."""
        yield Static("", id="preview-title", markup=False)
        yield CodeView(id="preview-code")

    def on_mount(self) -> None:
        """Colours come from the theme: redraw when it changes."""
        self.watch(self.app, "theme", lambda _theme: self.refresh_hit(), init=False)

    @property
    def code(self) -> CodeView:
        """The code view."""
        return self.query_one(CodeView)

    @property
    def title(self) -> Static:
        """The title row."""
        return self.query_one("#preview-title", Static)

    def show(self, hit: Hit | None, *, force: bool = False) -> None:
        """Show ``hit`` (``None``: clear). The same hit again is a no-op unless ``force``.

        The file is read and highlighted in a thread: a slow disk or a huge line must not
        freeze typing. A window drawn before (the hits next to the cursor are drawn ahead)
        is shown at once, without touching the disk, and the thread then checks that the
        file has not changed since. Otherwise the old preview stays until the new one is
        ready; a hit the cursor has already left is never shown.
        """
        key = (hit.path, hit.start_line, hit.end_line) if hit else None
        if key == self._shown and not force:
            return
        self._shown, self._wanted = key, hit
        if hit is None:
            self.hit = None
            self.title.update("", layout=False)
            self.code.show([])
            return
        if self.files is None:
            self._put(hit, None, "The index is opening…")
            return
        files, styles = self.files, self.code.styles_for_code()
        with self._drawn_lock:
            ready = self._recent.get(_place(hit, styles))
        if ready is not None:
            self._put(hit, ready, "")
        self.run_worker(
            partial(self._load, files, hit, styles),
            thread=True,
            exclusive=True,
            group="preview",
            exit_on_error=False,
        )

    def _load(self, files: FileLines, hit: Hit, styles: PreviewStyles) -> None:
        """Read and draw ``hit`` (in a worker thread), then show it on the app's thread."""
        strips: list[Strip] | None = None
        message = ""
        try:
            strips = self._draw(files, hit, styles)
        except PreviewUnavailable as exc:
            message = f"{exc}\n\nThe index will catch up on its next update."
        except Exception as exc:  # say what went wrong; a silent blank pane helps nobody
            message = f"Cannot show this file: {type(exc).__name__}: {exc}"
        with contextlib.suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._put, hit, strips, message)

    def _put(self, hit: Hit, strips: list[Strip] | None, message: str) -> None:
        if hit is not self._wanted:
            return  # the cursor moved on while this one was read
        if hit is self.hit and strips is not None and strips is self.code.strips:
            return  # the thread found the window shown from memory unchanged
        self.hit = hit
        span = (
            f"{hit.start_line}"
            if hit.end_line == hit.start_line
            else (f"{hit.start_line}-{hit.end_line}")
        )
        label = f"{hit.path}:{span}" + (f"  {hit.symbol}" if hit.symbol else "")
        self.title.update(label, layout=False)
        if strips is None:
            self.show_message(message.split("\n"))
        else:
            self.code.show(strips)
        self.post_message(self.Shown(hit))

    def _draw(self, files: FileLines, hit: Hit, styles: PreviewStyles) -> list[Strip]:
        """The strips of ``hit``'s window, from the LRU or highlighted now (any thread).

        Raises:
            PreviewUnavailable: The file cannot be read, or is shorter than the hit now.
        """
        window = files.window(hit.path, hit.start_line, hit.end_line)
        if hit.start_line > window.total_lines:
            raise PreviewUnavailable(
                f"{hit.path} is shorter now ({window.total_lines} lines) than when indexed."
            )
        key = (hit.path, window.first, hit.start_line, hit.end_line, window.stamp, styles)
        with self._drawn_lock:
            strips = self._drawn.get(key)
            if strips is not None:
                self._drawn.move_to_end(key)
                self._recent[_place(hit, styles)] = strips
                return strips
        strips = highlight_window(window, hit.language, (hit.start_line, hit.end_line), styles)
        with self._drawn_lock:
            self._drawn[key] = strips
            while len(self._drawn) > DRAWN_WINDOWS:
                self._drawn.popitem(last=False)
            self._recent[_place(hit, styles)] = strips
            while len(self._recent) > DRAWN_WINDOWS:
                self._recent.popitem(last=False)
        return strips

    def prefetch(self, hits: list[Hit]) -> None:
        """Highlight ``hits`` ahead, in a thread, so that moving to them is instant."""
        if self.files is None or not hits:
            return
        files, styles = self.files, self.code.styles_for_code()

        def work() -> None:
            for hit in hits:
                with contextlib.suppress(PreviewUnavailable):
                    self._draw(files, hit, styles)

        self.run_worker(work, thread=True, exclusive=True, group="prefetch", exit_on_error=False)

    def show_message(self, lines: list[str]) -> None:
        """Show a few lines of text instead of code."""
        self.code.show(plain_lines(["", *lines], self.code.message_style()))

    def refresh_hit(self) -> None:
        """Re-read the file and redraw (after the editor may have changed it)."""
        self.show(self.hit, force=True)


def _place(hit: Hit, styles: PreviewStyles) -> tuple[object, ...]:
    """A hit's window without the file's stamp (knowing the stamp needs the disk)."""
    return (hit.path, hit.start_line, hit.end_line, styles)
