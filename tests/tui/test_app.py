"""The real app on a real repository: typing, moving, opening the editor, errors.

Every test drives ``CodefindApp`` headless through Textual's Pilot, with the built-in model
and the real index; nothing in the app is replaced.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.pilot import Pilot

from codefind.config import load_settings
from codefind.tui.app import CodefindApp
from codefind.tui.screens.search import SearchScreen
from codefind.tui.widgets.result_list import ResultList
from tests.tui.conftest import build_index, pilot_wait


class Recorder:
    """Collects the screen's ``ResultsShown`` messages (each delivery once)."""

    def __init__(self) -> None:
        self.shown: list[SearchScreen.ResultsShown] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, SearchScreen.ResultsShown) and message not in self.shown:
            self.shown.append(message)

    def final(self, query: str, stage: str = "hybrid") -> bool:
        """Whether ``stage`` results for ``query`` were shown."""
        return any(m.query == query and m.stage == stage for m in self.shown)


def index_idle(app: CodefindApp) -> bool:
    """The session is open and no indexing run is going on."""
    return app.session is not None and not any(
        w.group == "index" and w.is_running for w in app.workers
    )


async def type_query(pilot: Pilot[Any], app: CodefindApp, rec: Recorder, query: str) -> None:
    """Type ``query`` and wait for its final (hybrid) results."""
    await pilot_wait(pilot, lambda: index_idle(app), what="the index to be ready")
    await pilot.press(*query)
    await pilot_wait(pilot, lambda: rec.final(query), what=f"hybrid results for {query!r}")


def first_paths(app: CodefindApp, n: int = 3) -> list[str]:
    return [h.path for h in app.search_screen.results.hits[:n]]


async def test_typing_a_query_puts_the_right_file_first(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "download a page again when it fails")
        assert first_paths(app)[0] == "net/http_client.py"
        await pilot.press(*["backspace"] * 40)
        await type_query(pilot, app, rec, "add sales tax to the sum")
        assert first_paths(app)[0] == "billing/invoice.py"
        # The preview follows the highlighted hit and marks its lines.
        await pilot_wait(pilot, lambda: app.search_screen.preview.hit is not None)
        preview = app.search_screen.preview
        assert preview.hit is not None and preview.hit.path == "billing/invoice.py"
        code = "".join(seg.text for strip in preview.code.strips for seg in strip)
        assert "def total_with_tax" in code


async def test_lexical_hits_show_before_semantic_ones(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "slugify")
        stages = [m.stage for m in rec.shown if m.query == "slugify"]
        assert stages[0] == "lexical" and stages[-1] == "hybrid"
        assert first_paths(app, 1) == ["text/slug.py"]


async def test_keys_move_the_selection_and_tab_cycles_the_mode(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "cache")
        results = app.search_screen.results
        assert results.cursor == 0 and len(results.hits) >= 3
        await pilot.press("down", "ctrl+n", "ctrl+j")
        assert results.cursor == 3 or results.cursor == len(results.hits) - 1
        await pilot.press("ctrl+k", "up", "ctrl+p")
        assert results.cursor == 0
        await pilot.press("pagedown")
        assert results.cursor == len(results.hits) - 1 or results.cursor > 3
        await pilot.press("pageup")
        assert results.cursor == 0
        assert app.search_screen.query_input.value == "cache"
        modes = []
        for _ in range(3):
            await pilot.press("tab")
            modes.append(app.search_screen.mode)
            await pilot_wait(pilot, lambda: rec.shown[-1].stage == modes[-1])
        assert modes == ["semantic", "lexical", "hybrid"]
        await pilot.press("tab", "tab")
        await pilot_wait(pilot, lambda: rec.shown[-1].stage == "lexical")
        assert "lexical" in app.search_screen.status._details


async def test_semantic_merge_keeps_the_hit_the_user_moved_to(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "def")
        results = app.search_screen.results
        await pilot.press("down", "down")
        chosen = results.highlighted
        assert chosen is not None
        # The same query searched again (as after indexing): the user's hit stays selected.
        app.search_screen.search_now()
        generation = app.search_screen.generation
        await pilot_wait(
            pilot,
            lambda: any(m.generation == generation and m.stage == "hybrid" for m in rec.shown),
        )
        assert results.highlighted is not None
        assert results.highlighted.chunk_id == chosen.chunk_id


async def test_enter_opens_the_editor_at_the_line_and_comes_back(
    indexed_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "argv.json"
    editor = tmp_path / "fake-editor"
    editor.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'cwd': os.getcwd()}}, open({str(record)!r}, 'w'))\n"
    )
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "lru cache evicting the oldest")
        await pilot.press("down")
        hit = app.search_screen.results.highlighted
        assert hit is not None
        hits_before = app.search_screen.results.hits
        await pilot.press("enter")
        await pilot_wait(pilot, record.exists, what="the editor to run")
        seen = json.loads(record.read_text())
        assert seen["argv"] == [f"+{hit.start_line}", f"./{hit.path}"]
        assert Path(seen["cwd"]).resolve() == indexed_repo.resolve()
        screen = app.search_screen
        assert app.screen is screen
        assert screen.query_input.value == "lru cache evicting the oldest"
        assert screen.results.hits == hits_before
        assert screen.results.highlighted == hit


async def test_an_editor_that_does_not_exist_is_reported(
    indexed_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISUAL", "/nonexistent/editor --wait")
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "slug")
        await pilot.press("enter")
        await pilot.pause()
        assert any("was not found" in n.message for n in app._notifications)
        assert app.screen is app.search_screen


async def test_ctrl_y_copies_path_and_line(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "slugify")
        await pilot.press("ctrl+y")
        hit = app.search_screen.results.highlighted
        assert hit is not None
        assert app.clipboard == f"{hit.path}:{hit.start_line}"


async def test_app_indexes_a_fresh_repository_and_searches_it(small_repo: Path) -> None:
    app = CodefindApp(small_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "url slug from a title")
        assert first_paths(app, 1) == ["text/slug.py"]
        assert app.search_screen.index_files == 5
        assert "5 files" in app.search_screen.status._index_text


async def test_a_deleted_file_says_so_in_the_preview(indexed_repo: Path) -> None:
    (indexed_repo / "text" / "slug.py").unlink()
    app = CodefindApp(indexed_repo, load_settings(), auto_index=False)
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await pilot_wait(pilot, lambda: app.session is not None)
        await pilot.press(*"slugify")
        await pilot_wait(pilot, lambda: rec.final("slugify"))
        await pilot_wait(pilot, lambda: app.search_screen.preview.hit is not None)
        text = "".join(seg.text for strip in app.search_screen.preview.code.strips for seg in strip)
        assert "no longer exists" in text


async def test_a_repository_without_indexable_files_explains_itself(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo({"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)})
    app = CodefindApp(repo, load_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app) and app.search_screen.index_files == 0)
        await pilot.pause()
        assert "No indexable files" in app.search_screen.results.empty_text


async def test_not_a_repository_exits_with_status_2(tmp_path: Path) -> None:
    app = CodefindApp(tmp_path, load_settings())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot_wait(pilot, lambda: app.return_code is not None, what="the app to exit")
    assert app.return_code == 2


async def test_a_tiny_terminal_does_not_crash(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(40, 10), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "invoice total")
        assert app.search_screen.query_one("#preview").display is False
        results = app.search_screen.query_one(ResultList)
        assert results.size.width == 40 and results.size.height > 0
        await pilot.press("down", "ctrl+s")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.press("f1")
        await pilot.pause()
        await pilot.press("escape")
        assert app.screen is app.search_screen


async def test_mode_comes_from_the_settings(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, replace(load_settings(), mode="lexical"))
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app))
        await pilot.press(*"Invoice")
        await pilot_wait(pilot, lambda: rec.final("Invoice", "lexical"))
        assert not rec.final("Invoice", "hybrid")
        assert first_paths(app, 1) == ["billing/invoice.py"]


async def test_quitting_while_indexing_keeps_what_was_done(small_repo: Path) -> None:
    from codefind.tui.messages import IndexProgressed
    from codefind.workspace import Workspace
    from tests.test_crash import many_functions

    build_index(small_repo)
    new = many_functions(100)  # 400 functions: many batches, seconds of embedding
    for rel, text in new.items():
        (small_repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (small_repo / rel).write_text(str(text))
    embedded: list[int] = []

    def hook(message: Message) -> None:
        if isinstance(message, IndexProgressed) and message.progress.phase == "embed":
            embedded.append(message.progress.done)

    app = CodefindApp(small_repo, load_settings())
    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await pilot_wait(pilot, lambda: any(embedded), what="a first embedded batch")
        assert not index_idle(app), "indexing is running when the user quits"
        await pilot.press("ctrl+c")
        await pilot_wait(pilot, lambda: app.return_code is not None, what="the app to exit")
    assert app.return_code == 0
    # What was done is kept and the index is usable: the next run embeds only the rest.
    workspace = Workspace.for_repository(small_repo, load_settings())
    try:
        report = workspace.indexer().run()
        assert report.files == 5 + len(new)
        assert 0 < report.embedded < 400, "the quit stopped the run, and its batches were kept"
        assert report.embedded <= 400 - max(embedded)
        assert workspace.status().in_sync
    finally:
        workspace.close()
