"""The settings dialog: backend, model, endpoint, dimension, mode and query instruction.

Choices offered are the valid ones only: the registered backends (``codefind.plugins``),
models known for the backend (plus the configured one; a backend without a list, such as
``openai``, takes a typed name), dimensions the model can serve (``Dimensions.options()``:
Qwen3-Embedding presets from 32 to native, voyage-code-3's 256-2048, a single fixed value
for models that are not Matryoshka-trained). Which fields a backend uses (endpoint, query
instruction) is what its ``Backend`` class says. Applying:

1. builds the new ``Settings``;
2. if anything but the mode changed, opens a new session for the same repository and asks the
   backend for one query vector, in a worker; a backend that cannot be reached shows its
   reason here and the app keeps the session it has;
3. writes the changed values to the config file and hands the new session to the app, which
   re-indexes (from cached vectors where it can).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from codefind.config import config_path, write_config_value
from codefind.embeddings import backend as backend_named
from codefind.embeddings import backends
from codefind.errors import CodefindError, redact
from codefind.models import SEARCH_MODES
from codefind.tui import bindings
from codefind.tui.settings_form import (
    NATIVE,
    FormValues,
    backend_choices,
    changed_keys,
    dimension_choices,
    model_choices,
)

if TYPE_CHECKING:
    from codefind.config import Settings
    from codefind.models import SearchMode
    from codefind.tui.session import Session


def _note() -> str:
    users = " and ".join(b.name for b in backends() if b.instruction_setting)
    return (
        "Saved to the config file. Switching re-opens the index of that backend, model and "
        "dimension, built from cached vectors where possible. The query instruction is put "
        f"before queries by the {users} backends."
    )


@dataclass(frozen=True)
class SettingsApplied:
    """What the dialog returns when settings were applied."""

    settings: Settings
    session: Session | None
    """A new, checked session; ``None`` when only the mode changed."""


class SettingsScreen(ModalScreen[SettingsApplied | None]):
    """Edit and apply settings."""

    DEFAULT_CSS = """
    SettingsScreen {
        align: center middle;
        & > #settings-dialog {
            width: 84;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 0 2 1 2;
            border: round $primary;
            background: $surface;
            overflow-y: auto;
        }
        & #settings-title { text-style: bold; color: $text-primary; padding: 1 0; }
        & .field { height: 1; margin: 0 0 1 0; }
        & .field-label { width: 20; color: $text-muted; }
        & .field Select, & .field Input { width: 1fr; }
        & #settings-note { color: $text-muted; height: auto; }
        & #settings-error { margin: 1 0 0 0; color: $text-warning; height: auto; }
        & #settings-buttons { height: auto; margin: 1 0 0 0; align-horizontal: right; }
        & #settings-buttons Button { margin: 0 0 0 2; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = list(bindings.SETTINGS)

    def __init__(self, settings: Settings, root: Path, mode: SearchMode) -> None:
        super().__init__()
        self.settings = replace(settings, mode=mode)
        self.root = root
        self._checking = False

    def compose(self) -> ComposeResult:
        """One labelled row per setting, compact enough for a 24-row terminal."""
        s = self.settings
        with Vertical(id="settings-dialog"):
            yield Static("Settings", id="settings-title")
            with Horizontal(classes="field"):
                yield Label("Backend", classes="field-label")
                yield Select(
                    backend_choices(),
                    value=s.backend, allow_blank=False, compact=True, id="backend",
                )  # fmt: skip
            with Horizontal(classes="field"):
                yield Label("Model", classes="field-label")
                yield Select(
                    model_choices(s, s.backend) or [(s.model, s.model)],
                    value=s.model, allow_blank=False, compact=True, id="model",
                )  # fmt: skip
                yield Input(
                    s.model, placeholder="the model's name, as the server knows it",
                    compact=True, id="model-name",
                )  # fmt: skip
            with Horizontal(classes="field"):
                yield Label("Endpoint URL", classes="field-label")
                yield Input(id="endpoint", compact=True)
            with Horizontal(classes="field"):
                yield Label("Dimension", classes="field-label")
                yield Select(
                    [("native", NATIVE)], value=NATIVE, allow_blank=False, compact=True, id="dim"
                )
            with Horizontal(classes="field"):
                yield Label("Mode", classes="field-label")
                yield Select(
                    [(m, m) for m in SEARCH_MODES],
                    value=s.mode, allow_blank=False, compact=True, id="mode",
                )  # fmt: skip
            with Horizontal(classes="field"):
                yield Label("Query instruction", classes="field-label")
                yield Input(s.sglang.instruction, id="instruction", compact=True)
            yield Static(_note(), id="settings-note", markup=False)
            yield Static("", id="settings-error", markup=False)
            with Horizontal(id="settings-buttons"):
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        """Fill the fields that depend on the backend and model."""
        self._backend_changed(self.settings.backend, keep_model=True)

    # --- dependent fields ---------------------------------------------------------------

    @on(Select.Changed, "#backend")
    def _on_backend(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._backend_changed(event.value, keep_model=False)

    @on(Select.Changed, "#model")
    def _on_model(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self._fill_dims(self._select("backend"), event.value)

    @on(Input.Changed, "#model-name")
    def _on_model_name(self, event: Input.Changed) -> None:
        self._fill_dims(self._select("backend"), event.value.strip())

    def _backend_changed(self, name: str, *, keep_model: bool) -> None:
        chosen = backend_named(name)
        configured = self.settings.section_value(name, "model") or ""
        model_select = self.query_one("#model", Select)
        model_name = self.query_one("#model-name", Input)
        choices = model_choices(self.settings, name)
        typed = not chosen.known_models  # no list to pick from: the name is typed
        model_select.display, model_name.display = not typed, typed
        if typed:
            model_name.value = configured
            model = configured
        else:
            model = self._select("model") if keep_model else configured
            model_select.set_options(choices)
            model_select.value = model if any(v == model for _, v in choices) else choices[0][1]
            model = str(model_select.value)
        endpoint = self.query_one("#endpoint", Input)
        endpoint.disabled = chosen.url_setting is None
        endpoint.value = (
            str(self.settings.section_value(name, chosen.url_setting) or "")
            if chosen.url_setting
            else ""
        )
        endpoint.placeholder = "" if chosen.url_setting else "no endpoint: runs in this process"
        instruction = self.query_one("#instruction", Input)
        instruction.disabled = chosen.instruction_setting is None
        if chosen.instruction_setting:
            instruction.value = str(self.settings.section_value(name, chosen.instruction_setting))
        self._fill_dims(name, model)

    def _fill_dims(self, backend: str, model: str) -> None:
        dim_select = self.query_one("#dim", Select)
        current = self.settings.dim if backend == self.settings.backend else None
        choices, value, error = dimension_choices(backend, model, current, self.settings)
        dim_select.set_options(choices)
        dim_select.value = value
        dim_select.disabled = len(choices) <= 1
        self._error(error or "")

    def _select(self, name: str) -> Any:
        return self.query_one(f"#{name}", Select).value

    def _error(self, text: str) -> None:
        self.query_one("#settings-error", Static).update(redact(text))  # errors quote servers

    # --- applying -------------------------------------------------------------------------

    def form_values(self) -> FormValues:
        """What the form says now."""
        model_name = self.query_one("#model-name", Input)
        model = model_name.value.strip() if model_name.display else str(self._select("model"))
        return FormValues(
            backend=str(self._select("backend")),
            model=model,
            endpoint=self.query_one("#endpoint", Input).value.strip(),
            dim=int(self._select("dim") or 0),
            mode=str(self._select("mode")),
            instruction=self.query_one("#instruction", Input).value,
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without applying."""
        self.dismiss(None)

    @on(Button.Pressed, "#apply")
    def _apply(self) -> None:
        if self._checking:
            return
        values = self.form_values()
        try:
            new = values.settings(self.settings)
        except CodefindError as exc:
            self._error(exc.message)
            return
        keys = changed_keys(self.settings, new)
        if not keys:
            self.dismiss(None)
            return
        if set(keys) <= {"mode"}:
            self._save(keys)
            self.dismiss(SettingsApplied(new, None))
            return
        self._checking = True
        self.query_one("#apply", Button).disabled = True
        self._error(f"Checking {new.backend} ({new.model})…")
        self._check(new, keys)

    @work(thread=True, exclusive=True, group="settings-check", exit_on_error=False)
    def _check(self, new: Settings, keys: dict[str, str]) -> None:
        from codefind.tui.session import Session

        session: Session | None = None
        try:
            session = Session.open(self.root, new)
            session.warm_up()
        except CodefindError as exc:
            if session is not None:
                session.close()
            self.app.call_from_thread(self._check_failed, exc.message)
            return
        except Exception as exc:  # a backend bug must not take the app down
            if session is not None:
                session.close()
            self.app.call_from_thread(self._check_failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._check_passed, new, keys, session)

    def _check_failed(self, message: str) -> None:
        self._checking = False
        self.query_one("#apply", Button).disabled = False
        self._error(f"Not applied; still using {self.settings.backend}. {message}")

    def _check_passed(self, new: Settings, keys: dict[str, str], session: Session) -> None:
        if not self.is_attached:  # cancelled while checking
            session.close()
            return
        self._save(keys)
        self.dismiss(SettingsApplied(new, session))

    def _save(self, keys: dict[str, str]) -> None:
        try:
            for key, value in keys.items():
                write_config_value(key, value)
        except CodefindError as exc:
            self.notify(f"Applied, but not saved to {config_path()}: {exc.message}",
                        severity="warning", timeout=8)  # fmt: skip
