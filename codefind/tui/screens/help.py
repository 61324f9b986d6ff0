"""F1: the keys, as ``codefind.tui.bindings`` and the user's key map make them.

The app passes the rows in (``bindings.help_rows``), so this screen knows no other screen and
the help cannot drift from the keys, whatever the config file remaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from codefind.tui import bindings

INTRO = (
    "Type to search: words find names and text at once, meaning follows a moment later.\n"
    "A hit in the same file as the one above it shows its path faded."
)


class HelpScreen(ModalScreen[None]):
    """The keys and what they do.

    Args:
        rows: (keys, what they do), in the order to show them.
    """

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

    BINDINGS: ClassVar[list[BindingType]] = list(bindings.HELP)

    def __init__(self, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = list(rows)

    def compose(self) -> ComposeResult:
        """A table of keys."""
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, text in self.rows:
            table.add_row(keys, text)
        with VerticalScroll(id="help-dialog"):
            yield Static("Keys", id="help-title")
            yield Static(INTRO, id="help-intro", markup=False)
            yield Static(table, id="help-keys")
