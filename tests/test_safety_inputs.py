"""Odd inputs get a clear message and exit status 2, never a hang or a crash (issue 15, item 7).

Each command runs with a generous subprocess timeout: it is a guard against a hang taking
the test run down with it, not a measurement.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cliutil import codefind
from tests.gitutil import make_repo

GUARD_SECONDS = 120


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "def zebra():\n    return 1\n"})


def with_config(path: Path | str) -> dict[str, str]:
    return {**os.environ, "CODEFIND_CONFIG": str(path)}


def assert_clear_error(result: object, *needles: str) -> None:
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "unexpected error" not in stderr and "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr, stderr


def test_a_config_path_that_is_a_fifo_does_not_hang(repo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    result = codefind("config", "show", cwd=repo, env=with_config(fifo), timeout=GUARD_SECONDS)
    assert_clear_error(result, str(fifo), "not a regular file")


def test_a_config_path_at_dev_zero_is_not_read(repo: Path) -> None:
    result = codefind(
        "config", "show", cwd=repo, env=with_config("/dev/zero"), timeout=GUARD_SECONDS
    )
    assert_clear_error(result, "/dev/zero", "not a regular file")


def test_a_huge_config_file_is_refused_unread(repo: Path, tmp_path: Path) -> None:
    big = tmp_path / "config.toml"
    with big.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024 * 1024)  # sparse: 2 GB that would all be read
    result = codefind("config", "show", cwd=repo, env=with_config(big), timeout=GUARD_SECONDS)
    assert_clear_error(result, str(big), "bytes")


def test_absurd_thread_counts_are_refused(repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[local]\nthreads = 100000\n")
    result = codefind("index", cwd=repo, env=with_config(config), timeout=GUARD_SECONDS)
    assert_clear_error(result, "local.threads", "at most")


def test_a_query_that_is_not_utf8_is_a_clear_error(repo: Path) -> None:
    query = os.fsdecode(b"zebra \xff\xfe")  # undecodable bytes from argv become surrogates
    result = codefind("search", query, cwd=repo, timeout=GUARD_SECONDS)
    assert_clear_error(result, "not valid UTF-8")
    glob = codefind("search", "zebra", "--glob", os.fsdecode(b"*.\xff"), cwd=repo)
    assert_clear_error(glob, "--glob", "not valid UTF-8")


@pytest.mark.parametrize("glob", ["[z-a]", "!src/[9-0]*.py"])
def test_a_bad_glob_range_is_a_clear_error(repo: Path, glob: str) -> None:
    result = codefind("search", "zebra", "--glob", glob, cwd=repo, timeout=GUARD_SECONDS)
    assert_clear_error(result, "glob", "not valid")


def test_a_search_path_that_is_not_utf8_is_named_without_crashing(repo: Path) -> None:
    path = os.fsdecode(b"\xff-folder")
    result = codefind("search", "zebra", path, cwd=repo, timeout=GUARD_SECONDS)
    assert result.returncode == 2 and "unexpected error" not in result.stderr, result.stderr
    assert "\\xff-folder: no such file or folder" in result.stderr
    os.mkdir(os.path.join(os.fsencode(repo), b"\xff-folder"))
    found = codefind("search", "zebra", path, cwd=repo, timeout=GUARD_SECONDS)
    assert found.returncode == 1 and "no match" in found.stderr, found.stderr
