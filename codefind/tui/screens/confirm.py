"""A yes/no dialog: the consent question before code is sent to a remote backend.

The indexer asks from its worker thread and waits; the app shows this dialog and hands the
answer back. "No" is the default: Esc, ``n`` and the No button all decline.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Show a question; dismiss with the answer."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
        & > #confirm-dialog {
            width: 80;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 1 2;
            border: thick $warning;
            background: $surface;
        }
        & #confirm-question { height: auto; }
        & #confirm-buttons { height: auto; margin: 1 0 0 0; align-horizontal: right; }
        & #confirm-buttons Button { margin: 0 0 0 2; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes", tooltip="Agree."),
        Binding("n,escape", "answer(False)", "No", id="confirm-no", tooltip="Decline."),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical(id="confirm-dialog"):
            yield Static(self.question, id="confirm-question", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes, send it", variant="warning", id="yes")
                yield Button("No", variant="primary", id="no")

    def on_mount(self) -> None:
        """Focus "No": Enter must not agree by accident."""
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        """Close with ``answer``."""
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
