"""Hostile file names never become editor options or commands (issue 15, item 1).

The fake editors are real processes that parse their arguments the way the real editors do
(simplified, but with the behaviour that matters here): vim runs ``+cmd`` arguments before
``--`` as Ex commands (``+!cmd`` runs a shell command), Emacs reads ``--eval=...`` and ``+N``
as options, nano reads ``+N`` anywhere, VS Code reads options and ``--goto FILE:LINE``, Helix
reads ``FILE:LINE``. Each records which files it was asked to open and which options and
commands it saw.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from codefind.config import load_settings
from codefind.tui.app import CodefindApp
from codefind.tui.editor import editor_command, run_editor
from tests.tui.conftest import build_index, pilot_wait
from tests.tui.test_app import Recorder, type_query

FAKE_EDITOR = r"""
import json, os, subprocess, sys

name = os.path.basename(sys.argv[0])
files, options, commands = [], [], []
args = iter(sys.argv[1:])
only_files = False
for arg in args:
    if only_files and not (name in ("nano", "emacs") and arg.startswith("+")):
        files.append(arg)
    elif arg == "--":
        only_files = True
    elif name == "code" and arg == "--goto":
        files.append(next(args).rsplit(":", 1)[0])
    elif arg.startswith("+") and name in ("vim", "nano", "emacs"):
        commands.append(arg[1:])
    elif arg.startswith("-"):
        options.append(arg)
    else:
        files.append(arg.rsplit(":", 1)[0] if name == "hx" else arg)
for command in commands:
    if name == "vim" and command.startswith("!"):
        subprocess.run(command[1:], shell=True)  # what vim's :! does
json.dump({"files": files, "options": options, "commands": commands}, open(RECORD, "w"))
"""

HOSTILE_NAMES = ["+!touch PWNED", '--eval=(shell-command "touch PWNED")', "-rf", "+5"]
EDITORS = ["vim", "emacs", "nano", "code", "hx"]


def fake_editor(folder: Path, name: str, record: Path) -> Path:
    """A fake editor called ``name`` that records what it parsed into ``record``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!{sys.executable}\nRECORD = {str(record)!r}\n{FAKE_EDITOR}")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("editor", EDITORS)
@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_a_hostile_name_is_only_ever_a_file(tmp_path: Path, editor: str, hostile: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / hostile).write_text("x = 1\n")
    record = tmp_path / "record.json"
    program = fake_editor(tmp_path / "bin", editor, record)

    assert run_editor(editor_command(str(program), hostile, 3), cwd=str(repo)) == 0

    seen = json.loads(record.read_text())
    assert len(seen["files"]) == 1 and (repo / seen["files"][0]).resolve() == repo / hostile
    assert hostile not in seen["options"] and all("PWNED" not in o for o in seen["options"])
    assert seen["commands"] in ([], ["3"])
    assert not (repo / "PWNED").exists()


async def test_opening_a_hit_named_like_a_vim_command_runs_nothing(
    git_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "+!touch PWNED"
    repo = git_repo({hostile: "def hostile_marker_function():\n    return 'opened'\n"})
    build_index(repo)
    record = tmp_path / "record.json"
    monkeypatch.setenv("VISUAL", str(fake_editor(tmp_path / "bin", "vim", record)))
    app = CodefindApp(repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 35), message_hook=rec) as pilot:
        await type_query(pilot, app, rec, "hostile_marker_function")
        assert app.search_screen.results.highlighted is not None
        assert app.search_screen.results.highlighted.path == hostile
        await pilot.press("enter")
        await pilot_wait(pilot, record.exists, what="the editor to run")
    seen = json.loads(record.read_text())
    assert seen["commands"] == ["1"] and seen["files"] == [f"./{hostile}"]
    assert not (repo / "PWNED").exists(), "the file name ran as a shell command"
