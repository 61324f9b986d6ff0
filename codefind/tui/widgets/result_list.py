"""The results list: one row per hit (``path:line  symbol  kind  score``), drawn line by line.

Why not ``OptionList``: it renders each option through Textual's content pipeline (wrap,
measure, style) and re-lays the screen out when its options change; measured on this app,
replacing 50 options took 70-100 ms, while a keystroke has 50 ms in all. This widget uses
the Line API on a plain ``Widget`` (not a ``ScrollView``: a change of its virtual size is a
layout of the whole screen, the most expensive thing a keystroke could trigger). A row is a
handful of pre-styled segments built once per result list and width, moving the cursor
repaints two rows, and nothing here ever changes the layout.

The widget never takes focus (the query box keeps it); the screen's bindings move the
cursor. Hits of the file above are drawn with a faded path, so runs of one file read as a
group without reordering the ranking. Weak hits (too little evidence that they match, see
``codefind.ranking.mark_weak``) come last, under a divider row the cursor skips.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from codefind.models import Hit

KIND_WIDTH = 8
SCORE_WIDTH = 6


class ResultList(Widget, can_focus=False):
    """Hits in rank order with a cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "result-list--dir",
        "result-list--name",
        "result-list--line",
        "result-list--symbol",
        "result-list--kind",
        "result-list--score",
        "result-list--same-file",
        "result-list--cursor",
        "result-list--empty",
        "result-list--divider",
    }

    DEFAULT_CSS = """
    ResultList {
        height: 1fr;
        min-width: 20;
        background: $surface;
        & > .result-list--dir { color: $text-muted; }
        & > .result-list--name { color: $text; text-style: bold; }
        & > .result-list--line { color: $text-accent; }
        & > .result-list--symbol { color: $text-primary; }
        & > .result-list--kind { color: $text-muted; text-style: italic; }
        & > .result-list--score { color: $text-muted; }
        & > .result-list--same-file { color: $text-disabled; }
        & > .result-list--cursor { background: $block-cursor-blurred-background; }
        & > .result-list--empty { color: $text-muted; text-style: italic; }
        & > .result-list--divider { color: $text-muted; }
    }
    """

    @dataclass
    class Highlighted(Message):
        """The cursor is on another hit (``None``: the list is empty)."""

        result_list: ResultList
        hit: Hit | None

    @dataclass
    class Selected(Message):
        """A hit was clicked twice (the screen opens it, as with Enter)."""

        result_list: ResultList
        hit: Hit

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.hits: tuple[Hit, ...] = ()
        self.cursor = -1
        """Index of the highlighted hit; -1 when there is none."""
        self.moved = False
        """Whether the user moved the cursor since the hits were last replaced by a new query."""
        self.empty_text = ""
        self.top = 0
        """The first visible row."""
        self.divider: int | None = None
        """The index of the first weak hit: a divider row is drawn above it."""
        self._rows: dict[tuple[int, bool, int], Strip] = {}
        self._loc_width = 0
        self._symbol_width = 0
        self._base: Style | None = None
        self._style_cache: dict[bool, dict[str, Style]] = {}

    # --- state ------------------------------------------------------------------------

    @property
    def highlighted(self) -> Hit | None:
        """The hit under the cursor."""
        return self.hits[self.cursor] if 0 <= self.cursor < len(self.hits) else None

    def set_hits(self, hits: Sequence[Hit], *, keep: int | None = None) -> None:
        """Show ``hits``; the cursor goes to the hit with chunk id ``keep`` if it is there.

        Keeping a hit also keeps it on the same screen row where the list allows, so hits
        merging in around it do not move it under the user's eyes.
        """
        old_row = self.cursor - self.top
        previous = self.highlighted
        self.hits = tuple(hits)
        self.divider = next((i for i, h in enumerate(self.hits) if h.weak), None)
        self._rows.clear()
        self._loc_width = max((len(h.path) + len(str(h.line)) + 1 for h in self.hits), default=0)
        self._symbol_width = min(32, max((len(h.symbol) for h in self.hits), default=0))
        index = next((i for i, h in enumerate(self.hits) if h.chunk_id == keep), None)
        if index is None:
            self.moved = False
            self.cursor = 0 if self.hits else -1
            self.top = 0
        else:
            self.cursor = index
            self.top = max(0, index - old_row)
            self._keep_cursor_visible()
        self.refresh()
        if self.highlighted != previous:
            self.post_message(self.Highlighted(self, self.highlighted))

    def show_empty(self, text: str) -> None:
        """Clear the list and show ``text`` in its place (a hint or an explanation)."""
        self.empty_text = text
        self.set_hits(())

    def move(self, delta: int) -> None:
        """Move the cursor by ``delta`` rows (clamped to the list)."""
        if not self.hits:
            return
        self.move_to(self.cursor + delta)

    def move_to(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped)."""
        if not self.hits:
            return
        index = max(0, min(len(self.hits) - 1, index))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        self.moved = True
        if self._keep_cursor_visible():
            self.refresh()
        else:
            self._refresh_row(old)
            self._refresh_row(index)
        self.post_message(self.Highlighted(self, self.highlighted))

    def page(self, direction: int) -> None:
        """Move the cursor by one screenful up (-1) or down (+1)."""
        self.move(direction * max(1, self.content_size.height - 1))

    def scroll_to_cursor(self) -> None:
        """Scroll so that the cursor row is visible (after a resize)."""
        if self._keep_cursor_visible():
            self.refresh()

    def _keep_cursor_visible(self) -> bool:
        """Adjust ``top`` so the cursor is on screen; whether it changed."""
        height = self.content_size.height
        top = self.top
        if self.cursor >= 0 and height > 0:
            row = self._row(self.cursor)
            if row < top:  # scrolling up onto the first weak hit shows its divider too
                top = row - 1 if self.divider is not None and row == self.divider + 1 else row
            elif row >= top + height:
                top = row - height + 1
        top = max(0, min(top, max(0, self._row_count() - height))) if height > 0 else 0
        changed, self.top = top != self.top, top
        return changed

    def _refresh_row(self, index: int) -> None:
        y = self._row(index) - self.top
        if 0 <= y < self.content_size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _row(self, index: int) -> int:
        """The row hit ``index`` is drawn on (hits after the divider move down one)."""
        return index + (1 if self.divider is not None and index >= self.divider else 0)

    def _hit_index(self, row: int) -> int | None:
        """The hit drawn on ``row`` (``None``: the divider, or past the end)."""
        if self.divider is not None and row >= self.divider:
            row = row - 1 if row > self.divider else -1
        return row if 0 <= row < len(self.hits) else None

    def _row_count(self) -> int:
        return len(self.hits) + (1 if self.divider is not None else 0)

    # --- events ----------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """Rows are laid out for a width: lay them out again."""
        self._rows.clear()
        self._keep_cursor_visible()

    def notify_style_update(self) -> None:
        """The theme or CSS changed: rebuild rows with the new styles."""
        super().notify_style_update()
        self._rows.clear()
        self._base = None
        self._style_cache.clear()

    def on_click(self, event: events.Click) -> None:
        """A click selects a row; a double click opens it."""
        index = self._hit_index(event.y + self.top)
        if index is not None:
            self.move_to(index)
            if event.chain >= 2:
                self.post_message(self.Selected(self, self.hits[index]))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """The wheel moves the cursor, as in fzf."""
        event.stop()
        self.move(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """The wheel moves the cursor, as in fzf."""
        event.stop()
        self.move(-1)

    # --- rendering ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the visible area."""
        width = self.content_size.width
        if self._base is None:  # computing it walks the ancestors: once, not per line
            self._base = self.rich_style
        base = self._base
        index = self._hit_index(y + self.top)
        if not self.hits:
            lines = textwrap.wrap(self.empty_text, max(8, width - 2)) if self.empty_text else []
            if y < len(lines):
                style = base + self.get_component_rich_style("result-list--empty", partial=True)
                return _fit([Segment(" " + lines[y], style)], width, base)
            return Strip.blank(width, base)
        if index is None:
            if self.divider is not None and y + self.top == self.divider:
                return self._divider_row(width, base)
            return Strip.blank(width, base)
        current = index == self.cursor
        key = (index, current, width)
        strip = self._rows.get(key)
        if strip is None:
            strip = self._render_row(index, current, width, base)
            self._rows[key] = strip
        return strip

    def _divider_row(self, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("result-list--divider", partial=True)
        label = " weaker matches "
        rule = "─" * max(0, (width - len(label)) // 2)
        return _fit([Segment(rule + label + rule, style)], width, base)

    def _styles(self, base: Style, current: bool) -> dict[str, Style]:
        """The row styles, combined once (Style addition is not free at 50 rows a key)."""
        styles = self._style_cache.get(current)
        if styles is None:
            if current:
                base = base + self.get_component_rich_style("result-list--cursor", partial=True)
            styles = {"": base}
            for name in ("dir", "name", "line", "symbol", "kind", "score", "same-file"):
                part = self.get_component_rich_style(f"result-list--{name}", partial=True)
                styles[name] = base + part
            self._style_cache[current] = styles
        return styles

    def _render_row(self, index: int, current: bool, width: int, base: Style) -> Strip:
        hit = self.hits[index]
        styles = self._styles(base, current)
        base = styles[""]
        style = styles.__getitem__

        same_file = index > 0 and self.hits[index - 1].path == hit.path
        show_meta = width >= 48
        meta = KIND_WIDTH + SCORE_WIDTH + 2 if show_meta else 0
        room = max(4, width - 1 - meta)
        # One location column for the whole list, so symbols line up; when space is short,
        # symbols give way first, then paths (cut from the left), which keep 55% of the row.
        loc_width = min(self._loc_width, max(room * 55 // 100, room - self._symbol_width - 2))
        line_text = f":{hit.line}"
        path = _shorten_path(hit.path, max(1, loc_width - len(line_text)))
        folder, _, name = path.rpartition("/")
        segments: list[Segment] = [Segment(" ", base)]
        if same_file:
            segments.append(Segment(path, style("same-file")))
        else:
            if folder:
                segments.append(Segment(folder + "/", style("dir")))
            segments.append(Segment(name, style("name")))
        segments.append(Segment(line_text, style("line")))
        used = 1 + len(path) + len(line_text)
        if loc_width > used - 1:
            segments.append(Segment(" " * (loc_width - used + 1), base))
            used = loc_width + 1
        symbol_room = width - meta - used - 2
        if hit.symbol and symbol_room > 1:
            segments.append(Segment("  ", base))
            segments.append(Segment(_shorten_end(hit.symbol, symbol_room), style("symbol")))
        if show_meta:
            strip = _fit(segments, width - meta, base)
            # Implementation code shows what the chunk is; anything else shows what the file
            # is for (test, docs, example...), which is what decides whether to open it.
            label = (
                hit.kind
                if hit.category == "code"
                else _CATEGORY_LABELS.get(hit.category, hit.category)
            )
            kind = Segment(f" {label:<{KIND_WIDTH}}", style("kind"))
            score = Segment(f"{_score(hit.score):>{SCORE_WIDTH}} ", style("score"))
            return Strip([*strip, kind, score], width)
        return _fit(segments, width, base)


_CATEGORY_LABELS = {"changelog": "changes", "generated": "built"}
"""Category names longer than the kind column."""


def _fit(segments: list[Segment], width: int, style: Style) -> Strip:
    return Strip(segments).adjust_cell_length(max(0, width), style)


def _score(score: float) -> str:
    return f"{score:.3f}" if abs(score) < 10 else f"{score:.1f}"


def _shorten_path(path: str, width: int) -> str:
    """``path`` cut from the left to ``width`` cells, keeping the file name where possible."""
    if len(path) <= width:
        return path
    if width <= 1:
        return "…"
    return "…" + path[-(width - 1) :]


def _shorten_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
