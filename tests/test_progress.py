"""Indexing progress on stderr: a bar on a terminal, plain periodic lines elsewhere, none with
``--quiet``; the rate and ETA follow the recent pace, not the average since the start."""

from __future__ import annotations

import io
import os
from pathlib import Path

from codefind.cli.render import ProgressLine, RecentRate
from codefind.config import Settings
from codefind.indexer import IndexProgress
from codefind.workspace import Workspace
from tests.cliutil import codefind
from tests.gitutil import helper_modules

FILES = helper_modules(8, 6)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def embed(done: int, total: int, elapsed: float) -> IndexProgress:
    return IndexProgress("embed", done, total, elapsed, embedded=done)


def test_the_eta_comes_from_the_recent_pace_not_the_average() -> None:
    # 100 chunks in the first 100 s (a slow start), then 100 chunks/s: the average since the
    # start would say 1.98 chunks/s and an ETA of over an hour.
    rate = RecentRate(window=30)
    rate.add(0, 0)
    rate.add(100, 100)
    for second in range(101, 141):
        rate.add(second, 100 + 100 * (second - 100))
    assert rate.per_second() == 100
    assert rate.eta(6000) == 60


def test_without_a_terminal_a_plain_line_every_interval(tmp_path: Path) -> None:
    out = io.StringIO()
    progress = ProgressLine(out, interval=10)
    progress(IndexProgress("chunk", 226, 226, 2.0, files=226))
    for second in range(3, 64):  # one call a second, 20 chunks each
        progress(embed(20 * (second - 3), 8400, float(second)))
    progress(IndexProgress("done", 1, 1, 64.0))
    lines = out.getvalue().splitlines()
    assert len(lines) == 6, lines  # at 10, 20, ... 60 s; nothing before 10 s, no bar
    assert all(line.startswith("codefind: embedding: ") for line in lines)
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert lines[-1] == (
        "codefind: embedding: 1,140/8,400 chunks (14%) from 226 files read, "
        "20.0 chunks/s, ETA 6 min 03 s, 1 min 00 s so far"
    )


def test_a_short_run_without_a_terminal_prints_nothing() -> None:
    out = io.StringIO()
    progress = ProgressLine(out)
    for done in range(0, 50, 10):
        progress(embed(done, 50, done / 10))
    progress(IndexProgress("done", 1, 1, 5.0))
    assert out.getvalue() == ""


def test_a_terminal_gets_the_bar_redrawn_in_place() -> None:
    out = Terminal()
    progress = ProgressLine(out)
    progress(embed(0, 100, 1.0))
    progress(embed(100, 100, 2.0))
    text = out.getvalue()
    assert text.startswith("\r\x1b[2KEmbedding ░") and "100/100" in text
    assert "100 chunks/s" in text and "\n" not in text
    progress(IndexProgress("done", 1, 1, 2.0))
    assert out.getvalue().endswith("\r\x1b[2K")


def test_quiet_prints_nothing_anywhere() -> None:
    for out in (io.StringIO(), Terminal()):
        progress = ProgressLine(out, quiet=True, interval=0)
        progress(IndexProgress("chunk", 1, 2, 1.0, files=1))
        progress(embed(5, 10, 2.0))
        progress(embed(10, 10, 3.0))
        assert out.getvalue() == ""


def test_a_real_run_logs_files_chunks_rate_and_eta(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    out = io.StringIO()
    workspace = Workspace.for_repository(repo, Settings())
    try:
        workspace.indexer(on_progress=ProgressLine(out, interval=0)).run()
    finally:
        workspace.close()
    lines = out.getvalue().splitlines()
    assert "codefind: reading files: 8/8 files" in "\n".join(lines)
    embedding = [line for line in lines if line.startswith("codefind: embedding: ")]
    assert embedding[0].startswith("codefind: embedding: 0/48 chunks (0%) from 8 files read")
    assert embedding[-1].startswith("codefind: embedding: 48/48 chunks (100%)")
    assert "chunks/s, ETA 0 s" in embedding[-1]


def test_the_cli_takes_quiet_for_index_and_search(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    env = {**os.environ}
    index = codefind("index", "--quiet", cwd=repo, env=env, check=True)
    assert index.stderr == "" and "Indexed 8 files" in index.stdout
    search = codefind("search", "turn a value into text", "--quiet", cwd=repo, env=env)
    assert search.returncode == 0 and search.stderr == ""
