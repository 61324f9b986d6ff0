"""Keys come from one place (``codefind.tui.bindings``), the help is built from them, and the
config file's ``[keys]`` table remaps them by binding id."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.command import CommandPalette

from codefind.cli.main import main
from codefind.config import load_settings
from codefind.errors import ConfigError
from codefind.tui import bindings
from codefind.tui.app import CodefindApp
from codefind.tui.screens.help import HelpScreen
from codefind.tui.screens.settings import SettingsScreen
from codefind.tui.widgets.key_bar import KeyBar
from tests.tui.conftest import pilot_wait
from tests.tui.test_app import index_idle


def test_every_binding_has_an_id_and_says_what_it_does() -> None:
    ids = [b.id for b in bindings.ALL]
    assert all(ids) and len(ids) == len(set(ids))
    assert all(b.tooltip for b in bindings.ALL)


def test_the_help_rows_are_the_bindings_with_the_keymap_applied() -> None:
    rows = dict(bindings.help_rows({"open": "ctrl+o", "settings": "f3"}))
    assert rows["Ctrl-O"].startswith("Open the hit")
    assert rows["F3"].startswith("Settings")
    assert rows["F10"].startswith("The command palette"), "F10 comes from the bindings"
    assert "Enter" not in rows, "the remapped key replaced Enter"
    assert rows["Tab"] == "Cycle the search mode: hybrid, semantic, lexical."


async def test_f1_shows_the_keys_as_remapped(indexed_repo: Path) -> None:
    settings = replace(load_settings(), keys={"open": "ctrl+o"})
    app = CodefindApp(indexed_repo, settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app))
        await pilot.press("f1")
        await pilot_wait(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.rows)
        assert "Ctrl-O" in keys and "F10" in keys
        await pilot.press("escape")
        await pilot_wait(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_a_remapped_key_does_the_action_and_the_old_one_does_not(
    indexed_repo: Path,
) -> None:
    settings = replace(load_settings(), keys={"settings": "f3", "command-palette": "f9"})
    app = CodefindApp(indexed_repo, settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app))
        footer = app.search_screen.query_one(KeyBar)
        assert "f3" in [b.key for b in footer.bindings], "the keys line shows the new key"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsScreen)
        await pilot.press("f3")
        await pilot_wait(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.press("escape")
        await pilot_wait(pilot, lambda: app.screen is app.search_screen)
        await pilot.press("f9")
        await pilot_wait(pilot, lambda: isinstance(app.screen, CommandPalette))


def test_an_unknown_binding_id_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as caught:
        bindings.check_keymap({"opn": "ctrl+o"})
    assert "'opn'" in caught.value.message and "open" in caught.value.message
    with pytest.raises(ConfigError, match="not a list of keys"):
        bindings.check_keymap({"open": "ctrl o"})


def test_the_app_does_not_start_with_a_bad_keymap(
    indexed_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text('[keys]\nopn = "ctrl+o"\n')
    monkeypatch.setenv("CODEFIND_CONFIG", str(config))
    assert main([str(indexed_repo)]) == 2
    assert "Unknown key binding 'opn'" in capsys.readouterr().err


def test_the_keys_table_holds_strings_only(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[keys]\nopen = 1\n")
    with pytest.raises(ConfigError, match="table of binding ids to keys"):
        load_settings(env={}, path=config)
    config.write_text('[keys]\nopen = "ctrl+o"\n')
    assert load_settings(env={}, path=config).keys == {"open": "ctrl+o"}
