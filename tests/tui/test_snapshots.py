"""SVG snapshots of the app's four faces: results, settings, empty repository, indexing.

Deterministic by construction: a fixed terminal size, timings hidden (``show_timings=False``),
paths relative to the repository, and the results snapshot in lexical mode (BM25 scores
depend only on the text, not on the built-in model's weights, which may be re-exported).
Refresh with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after a deliberate
change of the look, and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from codefind.config import load_settings
from codefind.indexer import IndexProgress
from codefind.tui.app import CodefindApp
from codefind.tui.messages import IndexCounted, IndexProgressed
from codefind.tui.screens.settings import SettingsScreen
from tests.tui.conftest import pilot_wait
from tests.tui.test_app import index_idle

SIZE = (110, 30)
Snap = Callable[..., bool]


def test_results_and_preview(snap_compare: Snap, indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, replace(load_settings(), mode="lexical"), show_timings=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot_wait(pilot, lambda: index_idle(app))
        await pilot.press(*"cache key")
        await pilot_wait(pilot, lambda: settled(app))
        await pilot.press("down")
        await pilot_wait(pilot, lambda: app.search_screen.preview.hit is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_settings_dialog(snap_compare: Snap, indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings(), show_timings=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot_wait(pilot, lambda: index_idle(app))
        await pilot.press("ctrl+s")
        await pilot_wait(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 40), run_before=run_before)


def test_empty_repository(snap_compare: Snap, git_repo: Callable[..., Path]) -> None:
    repo = git_repo({"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)})
    app = CodefindApp(repo, load_settings(), show_timings=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot_wait(pilot, lambda: index_idle(app) and app.search_screen.index_files == 0)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_indexing_in_progress(snap_compare: Snap, indexed_repo: Path) -> None:
    settings = replace(load_settings(), mode="lexical")
    app = CodefindApp(indexed_repo, settings, show_timings=False, auto_index=False)

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot_wait(pilot, lambda: app.session is not None)
        session = app.session
        assert session is not None
        app.post_message(IndexCounted(session, 1_204, 8_311))
        app.post_message(IndexProgressed(session, IndexProgress("embed", 0, 8_311, 12.0)))
        await pilot.pause()
        progress = IndexProgress("embed", 3_150, 8_311, 42.0, embedded=3_150)
        app.post_message(IndexProgressed(session, progress))
        await pilot.pause()
        await pilot.press(*"retry")
        await pilot_wait(pilot, lambda: settled(app))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def settled(app: CodefindApp) -> bool:
    """The final results of the last keystroke are on screen."""
    screen = app.search_screen
    return screen.settled == screen.generation and bool(screen.results.hits)
