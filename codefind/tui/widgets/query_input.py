"""The query box: one compact line with a prompt, fzf-style.

A thin ``Input`` subclass so its look lives with it: no border (a finder's prompt should not
take three rows of a small terminal) and no blinking cursor (a blink is a repaint, twice a
second, competing with result updates).

It also stops a costly Textual quirk: ``Input`` resets its virtual size on every edit, the
screen's layout sets it back, and ``virtual_size`` is a layout-triggering reactive, so every
keystroke re-laid the whole screen out (measured: the largest single cost of a keystroke).
The box has a fixed size, so here a virtual-size change only repaints it. Every edit posts ``Input.Changed``; the screen
starts a search for it at once (the search worker, not the box, drops stale answers).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input

PLACEHOLDER = "Search code by meaning or by name…"


class QueryInput(Input):
    """The search query."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    DEFAULT_CSS = """
    QueryInput {
        border: none;
        height: 1;
        padding: 0 1;
        width: 1fr;
        background: $boost;
        &:focus { border: none; background-tint: $foreground 3%; }
    }
    """

    def __init__(self, value: str = "", *, id: str | None = None) -> None:
        super().__init__(value, placeholder=PLACEHOLDER, id=id, select_on_focus=False)
        self.cursor_blink = False
