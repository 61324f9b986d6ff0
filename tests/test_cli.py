"""The installed ``codefind`` command on a real repository: the README's command-line contract."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.cliutil import codefind
from tests.gitutil import make_repo

# Real code to search: a few hundred kilobytes of the standard library, with their docstrings.
STDLIB_PACKAGES = (
    "json",
    "csv.py",
    "http/client.py",
    "urllib",
    "gzip.py",
    "shutil.py",
    "textwrap.py",
    "heapq.py",
)


@pytest.fixture(scope="module")
def stdlib_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of real code, indexed once for the module's tests."""
    root = tmp_path_factory.mktemp("stdlib") / "repo"
    source = Path(sysconfig.get_paths()["stdlib"])
    files: dict[str, str | bytes] = {}
    for name in STDLIB_PACKAGES:
        path = source / name
        paths = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for p in paths:
            files[f"lib/{p.relative_to(source).as_posix()}"] = p.read_bytes()
    files["README.md"] = "# Vendored bits of the standard library, for tests\n"
    return make_repo(root, files)


@pytest.fixture(scope="module")
def indexed(stdlib_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    result = codefind("index", "--json", cwd=stdlib_repo, env=env, check=True)
    report = json.loads(result.stdout)
    assert report["chunks"] > 500 and report["embedded"] == report["chunks"]
    return stdlib_repo


def hits(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(
    ("query", "path", "symbol"),
    [
        ("wrap a long paragraph so that every line fits a given width", "lib/textwrap.py", "wrap"),
        ("merge several already sorted inputs into one sorted stream", "lib/heapq.py", "merge"),
        ("duplicate a directory with all its files", "lib/shutil.py", "copytree"),
        ("figure out which delimiter a CSV sample uses", "lib/csv.py", "_guess_delimiter"),
    ],
)
def test_search_finds_the_function_for_a_reworded_docstring(
    indexed: Path, query: str, path: str, symbol: str
) -> None:
    result = codefind("search", query, "--json", "--no-update", cwd=indexed)
    assert result.returncode == 0, result.stderr
    top = [(h["path"], str(h["symbol"]).split(".")[-1]) for h in hits(result)[:5]]
    assert (path, symbol) in top, top


def test_json_lines_follow_the_contract(indexed: Path) -> None:
    result = codefind(
        "search", "parse a JSON document", "--json", "-n", "7", "--no-update", cwd=indexed
    )
    rows = hits(result)
    assert len(rows) == 7
    assert [r["rank"] for r in rows] == list(range(1, 8))
    keys = {"rank", "path", "line", "start_line", "end_line", "symbol", "kind", "language"}
    keys |= {"category", "score", "text"}
    for row in rows:
        assert set(row) == keys
        assert not str(row["path"]).startswith("/") and "\\" not in str(row["path"])
        assert 1 <= int(row["start_line"]) <= int(row["end_line"])  # type: ignore[call-overload]
        assert int(row["start_line"]) <= int(row["line"]) <= int(row["end_line"])  # type: ignore[call-overload]
        assert row["category"] in {"code", "test", "docs", "changelog", "example", "config"}
        assert row["kind"] in {"function", "method", "class", "module", "block", "text"}
        assert row["language"] == "python"
        text = (indexed / str(row["path"])).read_text().splitlines()
        assert str(row["text"]).splitlines()[0] == text[int(row["start_line"]) - 1]  # type: ignore[call-overload]
    scores = [float(r["score"]) for r in rows]  # type: ignore[arg-type]
    assert scores == sorted(scores, reverse=True)


def test_grep_and_vimgrep_formats_and_piped_default(indexed: Path) -> None:
    grep = codefind(
        "search",
        "decode a percent-encoded URL",
        "--format",
        "grep",
        "-n",
        "3",
        "--no-update",
        cwd=indexed,
    )
    vim = codefind(
        "search",
        "decode a percent-encoded URL",
        "--format",
        "vimgrep",
        "-n",
        "3",
        "--no-update",
        cwd=indexed,
    )
    piped = codefind(
        "search", "decode a percent-encoded URL", "-n", "3", "--no-update", cwd=indexed
    )
    assert piped.stdout == grep.stdout, "grep is the default when stdout is not a terminal"
    for g, v in zip(grep.stdout.splitlines(), vim.stdout.splitlines(), strict=True):
        path, line, symbol = g.split(":", 2)
        assert v == f"{path}:{line}:1:{symbol}"
        assert (indexed / path).exists() and int(line) >= 1


def test_filters_apply_before_the_top_k_cut(indexed: Path) -> None:
    unfiltered = hits(
        codefind("search", "send an HTTP request", "--json", "-n", "3", "--no-update", cwd=indexed)
    )
    assert not any(str(h["path"]).startswith("lib/json/") for h in unfiltered)
    in_json = codefind(
        "search",
        "send an HTTP request",
        "lib/json",
        "--json",
        "-n",
        "3",
        "--no-update",
        "--all",  # nothing in lib/json sends requests: its hits are weak, but they are there
        cwd=indexed,
    )
    assert in_json.returncode == 0
    assert [h for h in hits(in_json) if not str(h["path"]).startswith("lib/json/")] == []
    assert len(hits(in_json)) == 3
    globbed = hits(
        codefind(
            "search",
            "send an HTTP request",
            "--glob",
            "gzip.py",
            "--json",
            "--no-update",
            "--all",
            cwd=indexed,
        )
    )
    assert globbed and {h["path"] for h in globbed} == {"lib/gzip.py"}
    by_lang = codefind(
        "search", "vendored", "--lang", "markdown", "--json", "--no-update", cwd=indexed
    )
    assert {h["path"] for h in hits(by_lang)} == {"README.md"}


def test_no_hits_exits_1_and_modes_differ(indexed: Path) -> None:
    none = codefind("search", "zqxjkvbw", "--mode", "lexical", "--no-update", cwd=indexed)
    assert none.returncode == 1 and none.stdout == ""
    lexical = hits(
        codefind("search", "heappush", "--mode", "lexical", "--json", "--no-update", cwd=indexed)
    )
    assert lexical[0]["path"] == "lib/heapq.py"


def test_identifier_query_ranks_the_definition_first(indexed: Path) -> None:
    top = hits(codefind("search", "dedent", "--json", "-n", "3", "--no-update", cwd=indexed))
    assert (top[0]["path"], top[0]["symbol"]) == ("lib/textwrap.py", "dedent")
    top = hits(
        codefind("search", "TextWrapper._split", "--json", "-n", "3", "--no-update", cwd=indexed)
    )
    assert top[0]["symbol"] == "TextWrapper._split"


def test_search_from_a_subfolder_reports_paths_relative_to_it(indexed: Path) -> None:
    here = indexed / "lib" / "json"
    result = codefind(
        "search", "parse a JSON document", "--json", "-n", "5", "--no-update", cwd=here
    )
    paths = [str(h["path"]) for h in hits(result)]
    assert paths and all((here / p).is_file() for p in paths), paths
    assert any(not p.startswith("..") for p in paths), "files here are named from here"


def test_search_updates_the_index_first(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo({"a.py": "def greet(name):\n    return 'hello ' + name\n"})
    first = codefind("search", "say hello", "--json", cwd=repo)
    assert hits(first)[0]["path"] == "a.py"
    (repo / "b.py").write_text("def farewell(name):\n    return 'goodbye ' + name\n")
    second = hits(codefind("search", "say goodbye", "--json", cwd=repo))
    assert second[0]["path"] == "b.py", "the untracked new file was indexed before searching"
    (repo / "c.py").write_text("def shout(text):\n    return text.upper()\n")
    stale = hits(codefind("search", "make text upper case", "--json", "--no-update", cwd=repo))
    assert "c.py" not in {h["path"] for h in stale}


def test_stdout_carries_results_only(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo({"a.py": "def greet(name):\n    return 'hello ' + name\n"})
    result = codefind("index", "--json", cwd=repo)
    report = json.loads(result.stdout)
    expected = {
        "files",
        "files_seen",
        "skipped",
        "chunks",
        "embedded",
        "reused",
        "removed",
        "seconds",
        "backend",
        "model",
        "dim",
        "notes",
    }
    assert set(report) == expected and report["notes"] == []
    assert (report["backend"], report["dim"], report["files"]) == ("local", 384, 1)
    text = codefind("index", cwd=repo)
    assert text.returncode == 0 and "Indexed 1 files" in text.stdout


def test_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    result = codefind("search", "anything", cwd=tmp_path)
    assert result.returncode == 2
    assert "not inside a git repository" in result.stderr
    assert "Traceback" not in result.stderr
    bad = codefind("search", "x", "--dim", "100", cwd=tmp_path)
    assert bad.returncode == 2


def test_invalid_dimension_for_the_model_is_refused(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo({"a.py": "x = 1\n"})
    result = codefind("index", "--dim", "128", cwd=repo)
    assert result.returncode == 2
    assert "384" in result.stderr and "Traceback" not in result.stderr
    debug = codefind("index", "--dim", "128", "--debug", cwd=repo)
    assert "Traceback" in debug.stderr


def test_config_set_show_and_path(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "codefind.toml"
    env = {**os.environ, "CODEFIND_CONFIG": str(config)}
    assert codefind("config", "path", cwd=tmp_path, env=env).stdout.strip() == str(config)
    assert (
        codefind(
            "config", "set", "sglang.url", "http://gpu:30000/v1", cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    assert (
        codefind(
            "config", "set", "voyage.api_key", "secret-key-123", cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    assert (config.stat().st_mode & 0o777) == 0o600
    shown = codefind("config", "show", cwd=tmp_path, env=env).stdout
    assert json.loads(shown)["sglang"]["url"] == "http://gpu:30000/v1"
    assert "secret-key-123" not in shown
    bad = codefind("config", "set", "backend", "nonsense", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "Unknown backend" in bad.stderr
    config.chmod(0o644)
    leaky = codefind("config", "show", cwd=tmp_path, env=env)
    assert leaky.returncode == 2 and "chmod 600" in leaky.stderr


def test_version(tmp_path: Path) -> None:
    result = codefind("--version", "--verbose", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("codefind ")
    assert "CC-CEDICT" in result.stdout and "CC BY-SA" in result.stdout
