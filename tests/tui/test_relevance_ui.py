"""The app's side of relevance: weak hits under a divider, the scope key, the line to open."""

from __future__ import annotations

from pathlib import Path

from codefind.config import load_settings
from codefind.tui.app import CodefindApp
from tests.tui.test_app import Recorder, type_query


def row_text(app: CodefindApp, y: int) -> str:
    strip = app.search_screen.results.render_line(y)
    return "".join(segment.text for segment in strip)


async def test_a_query_with_no_good_match_lists_its_hits_under_a_divider(
    indexed_repo: Path,
) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "zzqxjvk qwpoeiruty")
        results = app.search_screen.results
        assert results.hits and all(h.weak for h in results.hits)
        assert "weaker matches" in row_text(app, 0)
        assert results.cursor == 0  # the cursor is on the first hit, below the divider
        assert "no good match" in app.search_screen.status._query_text


async def test_good_hits_come_before_the_divider(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "add sales tax to the sum")
        results = app.search_screen.results
        assert not results.hits[0].weak
        if results.divider is not None:
            assert "weaker matches" in row_text(app, results.divider)
            assert all(h.weak for h in results.hits[results.divider :])
            assert not any(h.weak for h in results.hits[: results.divider])


async def test_ctrl_t_cycles_the_scope_and_searches_again(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "cache")
        screen = app.search_screen
        scopes = []
        for _ in range(5):
            before = len(rec.shown)
            await pilot.press("ctrl+t")
            scopes.append(screen.scope)
            while len(rec.shown) == before or rec.shown[-1].stage == "lexical":
                await pilot.pause(0.05)
        assert scopes == ["code", "tests", "docs", "all", "auto"]
