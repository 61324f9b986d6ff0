"""The live index in the real app: edits through the editor, files created outside, stale hits.

The app runs headless through Textual's Pilot on a real repository with the built-in model
and a real watcher; the "editor" is a real program that edits the file it is given.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codefind.config import load_settings
from codefind.tui.app import CodefindApp
from tests.tui.conftest import pilot_wait
from tests.tui.test_app import Recorder, first_paths, index_idle, type_query

QUERY = "add sales tax to the sum"


def fake_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, insert: int) -> Path:
    """An editor that records its argv and inserts ``insert`` comment lines at the top."""
    record = tmp_path / "argv.jsonl"
    editor = tmp_path / "fake-editor"
    editor.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "path = sys.argv[-1]\n"
        "text = open(path).read()\n"
        f"open(path, 'w').write('# edited\\n' * {insert} + text)\n"
    )
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    return record


def opened(record: Path) -> list[list[str]]:
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


async def test_an_edit_in_the_editor_is_indexed_and_enter_opens_the_moved_line(
    indexed_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = fake_editor(tmp_path, monkeypatch, insert=10)
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, QUERY)
        screen = app.search_screen
        hit = screen.results.highlighted
        assert hit is not None and (hit.path, hit.line) == ("billing/invoice.py", 10)
        await pilot.press("enter")  # the editor inserts 10 lines above the method
        assert opened(record) == [["+10", "./billing/invoice.py"]]
        # No restart: the edited file is indexed again and the query runs again by itself.
        await pilot_wait(
            pilot,
            lambda: (
                index_idle(app)
                and screen.results.highlighted is not None
                and screen.results.highlighted.line == 20
            ),
            what="the query to run again on the re-indexed file",
        )
        hit = screen.results.highlighted
        assert hit is not None and hit.path == "billing/invoice.py"
        await pilot.press("enter")
        assert opened(record)[-1] == ["+20", "./billing/invoice.py"]
        await pilot_wait(pilot, lambda: "up to date" in screen.status._index_text)


async def test_a_file_created_outside_the_app_is_found(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "send_welcome_email")
        assert "net/mail.py" not in first_paths(app, 5)
        (indexed_repo / "net" / "mail.py").write_text(
            "def send_welcome_email(user):\n"
            '    """Email a greeting to a user who just signed up."""\n'
            "    return user\n"
        )
        await pilot_wait(
            pilot,
            lambda: first_paths(app, 1) == ["net/mail.py"],
            what="the new file in the results",
        )
        await pilot_wait(pilot, lambda: index_idle(app))
        assert app.search_screen.index_files == 6
        assert "up to date" in app.search_screen.status._index_text


async def test_enter_on_a_stale_hit_opens_where_the_code_is_now(
    indexed_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No index run here (auto_index off): only re-locating can get the line right."""
    record = fake_editor(tmp_path, monkeypatch, insert=0)
    app = CodefindApp(indexed_repo, load_settings(), auto_index=False)
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, QUERY)
        invoice = indexed_repo / "billing" / "invoice.py"
        invoice.write_text("# a new header line\n" * 7 + invoice.read_text())
        await pilot.press("enter")
        assert opened(record) == [["+17", "./billing/invoice.py"]]
        assert any("opening line 17 (was 10)" in n.message for n in app._notifications)
        invoice.write_text('"""Invoices are gone."""\n')
        await pilot.press("enter")
        assert len(opened(record)) == 1  # not opened at a line that means nothing now
        assert any("no longer in it" in n.message for n in app._notifications)
