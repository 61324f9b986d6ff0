"""Editor command lines: the line-number form each editor understands, shell-split values."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codefind.tui.editor import EditorError, editor_command, editor_value, run_editor


@pytest.mark.parametrize(
    ("editor", "expected"),
    [
        ("vi", ["vi", "+12", "--", "./src/app.py"]),
        ("vim", ["vim", "+12", "--", "./src/app.py"]),
        ("/usr/bin/nvim", ["/usr/bin/nvim", "+12", "--", "./src/app.py"]),
        ("nano", ["nano", "+12", "./src/app.py"]),
        ("emacs -nw", ["emacs", "-nw", "+12", "./src/app.py"]),
        ("micro", ["micro", "+12", "./src/app.py"]),
        ("kak", ["kak", "+12", "./src/app.py"]),
        ("code --wait", ["code", "--wait", "--goto", "./src/app.py:12"]),
        ("codium", ["codium", "--goto", "./src/app.py:12"]),
        ("cursor -w", ["cursor", "-w", "--goto", "./src/app.py:12"]),
        ("subl -w", ["subl", "-w", "./src/app.py:12"]),
        ("hx", ["hx", "./src/app.py:12"]),
        ("zed --wait", ["zed", "--wait", "./src/app.py:12"]),
        ("'/opt/My Editor/ed2'", ["/opt/My Editor/ed2", "+12", "./src/app.py"]),
    ],
)
def test_each_editor_gets_its_own_line_form(editor: str, expected: list[str]) -> None:
    assert editor_command(editor, "src/app.py", 12) == expected


def test_file_names_are_never_shell_syntax() -> None:
    name = "a file; rm -rf ~ $(x).py"
    assert editor_command("vim", name, 3) == ["vim", "+3", "--", "./" + name]


def test_bad_editor_values_are_errors() -> None:
    with pytest.raises(EditorError, match="parse"):
        editor_command("vim 'unclosed", "a.py", 1)
    with pytest.raises(EditorError, match="empty"):
        editor_command("   ", "a.py", 1)


def test_visual_wins_over_editor_and_vi_is_the_default() -> None:
    assert editor_value({"VISUAL": "nvim", "EDITOR": "nano"}) == "nvim"
    assert editor_value({"VISUAL": " ", "EDITOR": "nano"}) == "nano"
    assert editor_value({}) == "vi"


def test_run_editor_runs_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    script = f"import sys; open({str(out)!r}, 'w').write(repr(sys.argv[1:]))"
    code = run_editor([sys.executable, "-c", script, "+7", "x;$(y).py"], cwd=str(tmp_path))
    assert code == 0
    assert out.read_text() == repr(["+7", "x;$(y).py"])


def test_a_missing_editor_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EditorError, match="not found"):
        run_editor([str(tmp_path / "no-such-editor"), "+1", "a.py"])
