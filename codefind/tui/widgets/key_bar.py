"""The keys line at the bottom: what the main keys do, in one widget.

Why not Textual's ``Footer``: it mounts one widget per binding and re-composes when focus
moves; on this app that was a measurable share of the first frame (every widget is styled
and laid out before anything is drawn). The finder's keys do not change while it runs, so
one line of text, built once from the screen's bindings, is all that is needed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    """``key description`` pairs for the bindings marked ``show``."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
        & > .key-bar--key { color: $footer-key-foreground; text-style: bold; }
        & > .key-bar--description { color: $footer-description-foreground; }
    }
    """

    def __init__(self, bindings: Iterable[Binding], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.bindings = [b for b in bindings if b.show]

    def render(self) -> Text:
        """One line: each shown binding's first key and its description."""
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        text_style = self.get_component_rich_style("key-bar--description", partial=True)
        line = Text(no_wrap=True, overflow="ellipsis")
        for binding in self.bindings:
            line.append(f" {self.app.get_key_display(_first_key(binding))} ", key_style)
            line.append(f"{binding.description} ", text_style)
        return line


def _first_key(binding: Binding) -> Binding:
    key = binding.key.split(",")[0].strip()
    return Binding(key, binding.action, binding.description, key_display=binding.key_display)
