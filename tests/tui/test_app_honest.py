"""The app is never silent and never busy for nothing: errors, stale keystrokes, the preview's
disk reads, a second indexer, and a remote backend before the user has agreed.

Driven headless through Textual's Pilot on real repositories with the built-in model. Where a
test needs to see what the app does inside (which thread reads a file, how many searches
reach the service), it wraps the real method with a recorder that calls it unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message

from codefind.config import Settings, VoyageSettings, load_settings
from codefind.store import write_lock
from codefind.tui.app import CodefindApp
from codefind.tui.files import FileLines
from codefind.tui.messages import IndexFinished, IndexStopped
from codefind.tui.screens.confirm import ConfirmScreen
from codefind.tui.session import Session
from tests.fakeservers import VoyageServer
from tests.tui.conftest import pilot_wait
from tests.tui.test_app import Recorder, index_idle, type_query


async def test_an_unexpected_error_while_opening_exits_with_a_message(
    indexed_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> Session:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(Session, "open", broken)
    app = CodefindApp(indexed_repo, load_settings())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot_wait(pilot, lambda: app.return_code is not None, timeout=20,
                         what="the app to exit instead of 'Opening the index…' forever")  # fmt: skip
    assert app.return_code == 2


async def test_keystrokes_typed_during_a_slow_search_run_one_search_not_one_each(
    indexed_repo: Path,
) -> None:
    app = CodefindApp(indexed_repo, replace(load_settings(), mode="lexical"))
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app), what="the index to be ready")
        session = app.session
        assert session is not None
        service = session._service()
        reached: list[str] = []
        real_search = service.search

        def counted(query: str, **kwargs: Any) -> Any:
            reached.append(query)
            return real_search(query, **kwargs)

        service.search = counted  # type: ignore[method-assign]
        with service._lock:  # the service is busy (as with a slow search) while we type
            await pilot.press("i")
            await pilot_wait(pilot, lambda: reached == ["i"], what="the first search")
            await pilot.press(*"nvoic")
        await pilot_wait(pilot, lambda: rec.final("invoic", "lexical"), what="the last query")
    assert reached == ["i", "invoic"], "the four stale keystrokes never reached the service"


async def test_the_preview_reads_files_off_the_ui_thread(
    indexed_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers: list[threading.Thread] = []
    real_window = FileLines.window

    def recorded(self: FileLines, *args: Any, **kwargs: Any) -> Any:
        readers.append(threading.current_thread())
        return real_window(self, *args, **kwargs)

    monkeypatch.setattr(FileLines, "window", recorded)
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "tax")
        await pilot.press("down")
        preview = app.search_screen.preview
        wanted = app.search_screen.results.highlighted
        await pilot_wait(pilot, lambda: preview.hit is wanted, what="the preview")
    assert readers, "the preview read the file"
    assert threading.main_thread() not in readers


async def test_the_app_waits_for_another_indexer_and_then_indexes(small_repo: Path) -> None:
    from codefind.workspace import Workspace

    workspace = Workspace.for_repository(small_repo, load_settings())
    index_dir = workspace.location.index_dir
    workspace.close()
    finished: list[Message] = []

    def hook(message: Message) -> None:
        if isinstance(message, IndexFinished | IndexStopped):
            finished.append(message)

    app = CodefindApp(small_repo, load_settings())
    held = write_lock(index_dir)
    held.__enter__()  # another indexer (here: the test) holds the index
    try:
        async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
            await pilot_wait(
                pilot,
                lambda: any("Waiting for" in n.message for n in app._notifications),
                what="the app to say it waits",
            )
            assert finished == [], "it waits instead of giving up"
            held.__exit__(None, None, None)
            await pilot_wait(pilot, lambda: bool(finished), what="indexing to finish")
            assert isinstance(finished[0], IndexFinished), finished
            assert app.search_screen.index_files == 5
    finally:
        held.__exit__(None, None, None)


async def test_nothing_reaches_voyage_before_the_user_agrees(small_repo: Path) -> None:
    with VoyageServer(api_key="pa-consent-test-key-0123456789") as server:
        settings = Settings(
            backend="voyage",
            voyage=VoyageSettings(url=server.url, api_key="pa-consent-test-key-0123456789"),
        )
        app = CodefindApp(small_repo, settings)
        stopped: list[IndexStopped] = []

        def hook(message: Message) -> None:
            if isinstance(message, IndexStopped):
                stopped.append(message)

        async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
            await pilot_wait(pilot, lambda: isinstance(app.screen, ConfirmScreen),
                             what="the consent question")  # fmt: skip
            assert server.posts() == [], "no warm-up, no probe, no query before the answer"
            await pilot.press(*"n")
            await pilot_wait(pilot, lambda: bool(stopped), what="indexing to stop")
            assert "Nothing was sent" in stopped[0].message
            await pilot.press(*"invoice")
            await pilot_wait(pilot, _settled(app), what="results for the typed query")
        assert server.posts() == [], "and nothing after a no either"


def _settled(app: CodefindApp) -> Callable[[], bool]:
    screen = app.search_screen
    return lambda: screen.settled == screen.generation and bool(screen.results.hits)
