"""F1: the keys, generated from the bindings so the help can never drift from them."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from codefind.tui.screens.search import SearchScreen

INTRO = (
    "Type to search: words find names and text at once, meaning follows a moment later.\n"
    "A hit in the same file as the one above it shows its path faded."
)


def binding_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding that has an id."""
    rows: list[tuple[str, str]] = []
    for item in bindings:
        if not isinstance(item, Binding) or not item.id:
            continue
        keys = ", ".join(_key_name(k) for k in item.key.split(","))
        rows.append((keys, item.tooltip or item.description))
    return rows


def _key_name(key: str) -> str:
    key = key.strip()
    names = {"pageup": "PgUp", "pagedown": "PgDn", "escape": "Esc", "enter": "Enter",
             "tab": "Tab", "up": "Up", "down": "Down"}  # fmt: skip
    if key in names:
        return names[key]
    if key.startswith("ctrl+"):
        return "Ctrl-" + key.removeprefix("ctrl+").upper()
    return key.upper() if len(key) <= 3 else key.capitalize()


class HelpScreen(ModalScreen[None]):
    """The keys and what they do."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > #help-dialog {
            width: 76;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 0 2 1 2;
            border: round $primary;
            background: $surface;
        }
        & #help-title { text-style: bold; color: $text-primary; padding: 1 0 0 0; }
        & #help-intro { color: $text-muted; margin: 1 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help-close", tooltip="Close the help."),
    ]

    def compose(self) -> ComposeResult:
        """A table of keys."""
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, text in binding_rows([*SearchScreen.BINDINGS, *self.app.BINDINGS]):
            table.add_row(keys, text)
        table.add_row("F10", "Command palette.")
        with VerticalScroll(id="help-dialog"):
            yield Static("Keys", id="help-title")
            yield Static(INTRO, id="help-intro", markup=False)
            yield Static(table, id="help-keys")
