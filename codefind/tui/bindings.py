"""Every key of the app, in one place: the bindings, the key map, the keys line and the help.

Screens take their ``BINDINGS`` from here, and the app hands each screen what it shows (the
keys line, the help rows) with the user's key map applied, so no screen imports the app and
the help can never drift from the keys. Every binding has an id: the config file's ``[keys]``
table remaps by id (``open = "ctrl+o"``), through Textual's ``App.set_keymap``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from textual.binding import Binding

from codefind.errors import ConfigError
from codefind.models import SEARCH_MODES

COMMAND_PALETTE_KEY: Final = "f10"
"""fzf habits want Ctrl-P for "up", so the command palette moves to F10."""

APP: Final[list[Binding]] = [
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit",
            tooltip="Quit codefind (an indexing run keeps what it has done)."),
    Binding("ctrl+s,f2", "settings", "Settings", id="settings",
            tooltip="Settings: backend, model, endpoint, dimension, mode."),
    Binding("f1", "help", "Help", id="help", tooltip="This help."),
    Binding(COMMAND_PALETTE_KEY, "command_palette", "Palette", show=False, priority=True,
            id="command-palette", tooltip="The command palette (every action by name)."),
]  # fmt: skip
"""The app's own keys: they work on every screen."""

SEARCH: Final[list[Binding]] = [
    Binding("down,ctrl+n,ctrl+j", "move(1)", "Down", show=False, priority=True, id="cursor-down",
            tooltip="Highlight the next hit."),
    Binding("up,ctrl+p,ctrl+k", "move(-1)", "Up", show=False, priority=True, id="cursor-up",
            tooltip="Highlight the previous hit."),
    Binding("pagedown", "page(1)", "Page down", show=False, priority=True, id="page-down",
            tooltip="Move one screenful down the results."),
    Binding("pageup", "page(-1)", "Page up", show=False, priority=True, id="page-up",
            tooltip="Move one screenful up the results."),
    Binding("enter", "open_editor", "Open", priority=True, id="open",
            tooltip="Open the hit in $VISUAL / $EDITOR at its line."),
    Binding("tab", "cycle_mode", "Mode", priority=True, id="cycle-mode",
            tooltip=f"Cycle the search mode: {', '.join(SEARCH_MODES)}."),
    Binding("ctrl+t", "cycle_scope", "Scope", priority=True, id="cycle-scope",
            tooltip="Cycle which files: implementation first (auto), only code, only "
            "tests, only docs, all alike."),
    Binding("ctrl+y", "copy_location", "Copy", priority=True, id="copy",
            tooltip="Copy path:line of the hit to the clipboard."),
    Binding("escape", "app.quit", "Quit", id="quit-escape", tooltip="Quit codefind."),
]  # fmt: skip
"""The search screen's keys."""

HELP: Final[list[Binding]] = [
    Binding("escape,f1,q", "dismiss", "Close", id="help-close", tooltip="Close the help."),
]
SETTINGS: Final[list[Binding]] = [
    Binding("escape", "cancel", "Cancel", id="settings-cancel",
            tooltip="Close the settings without changing anything."),
]  # fmt: skip

ALL: Final[tuple[Binding, ...]] = (*SEARCH, *APP, *HELP, *SETTINGS)
"""Every binding, in the order the help lists them."""

_NAMES = {"pageup": "PgUp", "pagedown": "PgDn", "escape": "Esc", "enter": "Enter",
          "tab": "Tab", "up": "Up", "down": "Down"}  # fmt: skip


def check_keymap(keymap: Mapping[str, str]) -> dict[str, str]:
    """The config file's ``[keys]`` table, checked: known binding ids, non-empty keys.

    Raises:
        ConfigError: An id no binding has (the message lists them), or an empty key.
    """
    ids = [b.id for b in ALL if b.id]
    for binding_id, keys in keymap.items():
        if binding_id not in ids:
            raise ConfigError(
                f"Unknown key binding {binding_id!r} in the config file's [keys] table. "
                f"Binding ids: {', '.join(ids)}."
            )
        parts = [k.strip() for k in str(keys).split(",")]
        if not all(parts) or any(" " in k for k in parts):
            raise ConfigError(
                f"[keys] {binding_id} = {keys!r} is not a list of keys: use names such as "
                '"ctrl+o", "f3" or "enter", separated by commas.'
            )
    return {k: ",".join(p.strip() for p in str(v).split(",")) for k, v in keymap.items()}


def effective(bindings: Iterable[Binding], keymap: Mapping[str, str]) -> list[Binding]:
    """``bindings`` with the key map's keys in place of their own."""
    return [_remapped(b, keymap) for b in bindings]


def _remapped(binding: Binding, keymap: Mapping[str, str]) -> Binding:
    keys = keymap.get(binding.id or "")
    return binding if keys is None else binding.with_key(keys, key_display=None)


def footer(keymap: Mapping[str, str]) -> list[Binding]:
    """The keys line: the search keys that are shown, the app's, then Esc to quit."""
    search = effective(SEARCH, keymap)
    last = [b for b in search if b.id == "quit-escape"]
    return [b for b in search if b.id != "quit-escape"] + effective(APP, keymap) + last


def help_rows(keymap: Mapping[str, str]) -> list[tuple[str, str]]:
    """(keys, what they do) for every binding, as the key map leaves them."""
    return [
        (", ".join(key_name(k) for k in b.key.split(",")), b.tooltip or b.description)
        for b in effective(ALL, keymap)
        if b.id
    ]


def key_name(key: str) -> str:
    """A key as people write it: ``Ctrl-S``, ``PgDn``, ``F1``."""
    key = key.strip()
    if key in _NAMES:
        return _NAMES[key]
    if key.startswith("ctrl+"):
        return "Ctrl-" + key.removeprefix("ctrl+").upper()
    return key.upper() if len(key) <= 3 else key.capitalize()
