"""The preview's file windows and highlighting: constant-size slices, honest line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.style import Style

from codefind.tui.files import CONTEXT_ABOVE, WINDOW_LINES, FileLines, PreviewUnavailable
from codefind.tui.highlight import PreviewStyles, highlight_window

STYLES = PreviewStyles(
    base=Style(), gutter=Style(dim=True), gutter_hit=Style(bold=True),
    hit=Style(bgcolor="grey23"), marker=Style(color="yellow"),
)  # fmt: skip


def text_of(strip: object) -> str:
    return "".join(seg.text for seg in strip)  # type: ignore[attr-defined]


def test_window_puts_the_hit_below_some_context(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("".join(f"x{i} = {i}\n" for i in range(1, 100_001)))
    files = FileLines(tmp_path)
    window = files.window("big.py", 50_000, 50_003)
    assert window.first == 50_000 - CONTEXT_ABOVE
    assert len(window.lines) == WINDOW_LINES
    assert window.lines[CONTEXT_ABOVE] == "x50000 = 50000"
    assert window.total_lines == 100_000
    end = files.window("big.py", 99_999, 100_000)
    assert end.last == 100_000 and len(end.lines) == WINDOW_LINES
    start = files.window("big.py", 2, 3)
    assert start.first == 1


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("one\n")
    files = FileLines(tmp_path)
    assert files.lines("a.py") == ["one"]
    path.write_text("one\ntwo\nthree\n")
    assert files.lines("a.py") == ["one", "two", "three"]


def test_missing_and_odd_files_are_explained(tmp_path: Path) -> None:
    files = FileLines(tmp_path)
    with pytest.raises(PreviewUnavailable, match="no longer exists"):
        files.lines("gone.py")
    (tmp_path / "folder").mkdir()
    with pytest.raises(PreviewUnavailable, match="regular file"):
        files.lines("folder")
    (tmp_path / "bin.dat").write_bytes(b"ok\x00\xff\xfe\n")
    with pytest.raises(PreviewUnavailable, match="binary"):
        files.lines("bin.dat")
    (tmp_path / "latin1.py").write_bytes("x = 'caf\xe9'\r\ny = 2\r\n".encode("latin-1"))
    assert files.lines("latin1.py") == ["x = 'caf\ufffd'", "y = 2"], "decoded as indexing does"
    (tmp_path / "utf16.py").write_bytes("x = 1\n".encode("utf-16"))
    assert files.lines("utf16.py") == ["x = 1"]


def test_highlighting_keeps_line_numbers_and_marks_the_hit(tmp_path: Path) -> None:
    source = "\n\n# comment\ndef f(x):\n\treturn x\n\n\nclass C:\n    pass\n"
    (tmp_path / "m.py").write_text(source)
    window = FileLines(tmp_path).window("m.py", 4, 5)
    strips = highlight_window(window, "python", (4, 5), STYLES)
    lines = [text_of(s) for s in strips]
    assert len(lines) == window.last - window.first + 1
    assert lines[3].startswith("▌4 def f(x):")
    assert lines[4] == "▌5     return x"  # tab expanded
    assert lines[7].startswith(" 8 class C")
    hit_segments = [seg for seg in strips[3] if seg.text == "def"]
    assert hit_segments and hit_segments[0].style is not None
    assert hit_segments[0].style.bgcolor is not None
    assert all(seg.style is None or seg.style.bgcolor is None for seg in strips[7])


def test_unknown_languages_fall_back_to_plain_text(tmp_path: Path) -> None:
    (tmp_path / "notes.weird").write_text("alpha\nbeta\n")
    window = FileLines(tmp_path).window("notes.weird", 2, 2)
    lines = [text_of(s) for s in highlight_window(window, "klingon", (2, 2), STYLES)]
    assert lines == [" 1 alpha", "▌2 beta"]
