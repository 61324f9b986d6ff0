"""Reading files safely: symlinked folders are never followed, and lines are numbered the same
everywhere (issue 15, items 2 and 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codefind.chunking import chunk_file
from codefind.models import FileSkipped
from codefind.repo import Repository, decode_text
from codefind.tui.files import FileLines, PreviewUnavailable
from tests.cliutil import codefind
from tests.gitutil import make_repo

SECRET = "def outside_secret_function():\n    return 'must never be indexed'\n"


def swap_folder_for_link(repo: Path, folder: str, target: Path) -> None:
    """Replace the tracked ``folder`` by a symlink to ``target`` (outside the repository)."""
    for path in sorted((repo / folder).rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (repo / folder).rmdir()
    os.symlink(target, repo / folder)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    (folder / "deeper").mkdir(parents=True)
    (folder / "a.py").write_text(SECRET)
    (folder / "deeper" / "b.py").write_text(SECRET)
    return folder


def test_a_tracked_folder_swapped_for_a_symlink_is_not_followed(
    tmp_path: Path, outside: Path
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {"pkg/a.py": "x = 1\n", "pkg/deeper/b.py": "y = 2\n", "main.py": "def main():\n    pass\n"},
    )
    swap_folder_for_link(repo, "pkg", outside)

    result = codefind("index", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # The link itself (an untracked symlink) and the two tracked files behind it.
    assert report["files"] == 1 and report["skipped"] == {"symlink": 3}
    summary = codefind("index", cwd=repo).stdout
    assert "note: folders that are symlinks are not followed: pkg" in summary
    found = codefind("search", "outside_secret_function", "--json", "--mode", "lexical", cwd=repo)
    assert found.returncode == 1 and "outside_secret" not in found.stdout


def test_a_folder_swapped_after_the_walk_is_not_read_or_previewed(
    tmp_path: Path, outside: Path
) -> None:
    repo_dir = make_repo(tmp_path / "repo", {"pkg/a.py": "x = 1\n"})
    repo = Repository.discover(repo_dir)
    (walked,) = repo.walk().files
    swap_folder_for_link(repo_dir, "pkg", outside)

    with pytest.raises(FileSkipped) as caught:
        repo.read(walked)
    assert caught.value.reason == "symlink"
    with pytest.raises(PreviewUnavailable, match="symlink"):
        FileLines(repo.root).lines("pkg/a.py")


def test_the_preview_refuses_paths_that_leave_the_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.py").write_text(SECRET)
    with pytest.raises(PreviewUnavailable):
        FileLines(tmp_path / "root").lines("../secret.py")


# --- line numbers -----------------------------------------------------------------------------


def test_old_mac_line_endings_are_lines(tmp_path: Path) -> None:
    source = b"# header\rimport os\r\rdef classic_mac_function():\r    return 1\r"
    assert decode_text(source).split("\n")[3] == "def classic_mac_function():"
    repo = make_repo(tmp_path / "repo", {"mac.py": source})
    result = codefind(
        "search", "classic_mac_function", "--json", "--mode", "lexical", "-n", "1", cwd=repo
    )
    assert result.returncode == 0, result.stderr
    hit = json.loads(result.stdout.splitlines()[0])
    assert hit["start_line"] <= 4 <= hit["end_line"] and hit["end_line"] <= 5
    lines = FileLines(repo).lines("mac.py")
    assert lines[3] == "def classic_mac_function():", "the preview counts the same lines"


@pytest.mark.parametrize("separator", ["\f", "\u2028", "\x1c", "\x85", "\v"])
def test_the_preview_numbers_lines_by_newlines_only(tmp_path: Path, separator: str) -> None:
    text = f"a = 1{separator}b = 2\nc = 3\r\ndef target():\n    pass\n"
    (tmp_path / "f.py").write_text(text, encoding="utf-8", newline="")
    chunks = chunk_file("f.py", decode_text(text.encode("utf-8")))
    target = next(c for c in chunks if c.symbol == "target")
    lines = FileLines(tmp_path).lines("f.py")
    assert len(lines) == 4 and lines[1] == "c = 3"
    assert lines[target.start_line - 1] == "def target():", "preview and index agree"
