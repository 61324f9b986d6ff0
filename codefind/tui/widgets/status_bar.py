"""The status line: what is searched with what, how big the index is, how the last query went.

Left: backend, model, dimension and mode, so a user always knows which index answers.
Middle: the index (files and chunks, or indexing progress, or why there is none). Right:
hits and time of the last query. Each part is set by the screen and repainted alone: the
widget has a fixed size, so an update never re-lays the screen out.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget


class StatusBar(Widget, can_focus=False):
    """One line of status."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--backend",
        "status-bar--muted",
        "status-bar--index",
        "status-bar--warning",
    }

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
        padding: 0 1;
        & > .status-bar--backend { color: $text-primary; text-style: bold; }
        & > .status-bar--muted { color: $text-muted; }
        & > .status-bar--index { color: $text; }
        & > .status-bar--warning { color: $text-warning; text-style: bold; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._backend = ""
        self._details: tuple[str, ...] = ()
        self._index_text = ""
        self._index_warning = False
        self._query_text = ""

    def set_backend(self, backend: str, model: str, dim: int | None, mode: str) -> None:
        """Which backend, model, dimension and mode answer queries."""
        self._backend = backend
        self._details = (model, f"{dim}d" if dim else "", mode)
        self.refresh()

    def set_index(self, text: str, *, warning: bool = False) -> None:
        """The index state in words (``312 files · 2,104 chunks``, ``indexing 42%``)."""
        self._index_text, self._index_warning = text, warning
        self.refresh()

    def set_query(self, text: str) -> None:
        """What the last query gave (``24 hits · 11 ms``)."""
        self._query_text = text
        self.refresh()

    def render(self) -> Text:
        """Left, middle and right parts, the middle one cut first when space runs out."""

        def style(name: str) -> Style:
            return self.get_component_rich_style(f"status-bar--{name}", partial=True)

        sep = (" · ", style("muted"))
        left = Text.assemble((self._backend, style("backend")))
        for part in self._details:
            if part:
                left.append_text(Text.assemble(sep, (part, style("muted"))))
        index = Text(self._index_text, style=style("warning" if self._index_warning else "index"))
        right = Text(self._query_text, style=style("muted"))
        width = self.content_region.width or self.size.width
        gap = width - left.cell_len - right.cell_len
        line = left.copy()
        if self._index_text and gap > 6:
            line.append("   ")
            index.truncate(max(0, gap - 6), overflow="ellipsis")
            line.append_text(index)
        pad = width - line.cell_len - right.cell_len
        if pad > 0:
            line.append(" " * pad)
            line.append_text(right)
        line.truncate(width, overflow="ellipsis")
        return line
