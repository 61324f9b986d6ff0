"""The command line is never silent and never wrong: bad paths, names, backends and settings.

Each test runs the installed ``codefind`` on a real repository and checks what a user sees:
the exit status, the message on stderr, and paths on stdout that work from where they ran.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cliutil import codefind
from tests.fakeservers import SGLangServer

FILES = {
    "pkg/net/retry.py": (
        "def retry_with_backoff(call, attempts):\n"
        '    """Call again after a failure, waiting twice as long each time."""\n'
        "    return call()\n"
    ),
    "pkg/config.py": (
        "def parse_config_file(path):\n"
        '    """Read the settings file and return its values."""\n'
        "    return open(path).read()\n"
    ),
    "scripts/deploy.sh": "#!/bin/sh\n# retry the upload with backoff\nretry_upload() { :; }\n",
    "README.md": "# demo\n\nRetries use exponential backoff.\n",
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small repository indexed once with the built-in model."""
    from tests.gitutil import make_repo

    root = make_repo(tmp_path_factory.mktemp("cli-errors") / "repo", dict(FILES))
    home = tmp_path_factory.mktemp("cli-errors-home")
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    codefind("index", cwd=root, env=env, check=True)
    yield root


def test_a_path_that_does_not_exist_is_an_error_not_an_empty_result(repo: Path) -> None:
    for args in (("search", "retry", "src/"), ("index", "src/"), ("src/",)):
        result = codefind(*args, cwd=repo)
        assert result.returncode == 2, (args, result.stderr)
        assert "src/: no such file or folder" in result.stderr
        assert result.stdout == ""


def test_an_unknown_language_lists_the_names_and_aliases_work(repo: Path) -> None:
    bad = codefind("search", "retry", "--lang", "pyhton", "--no-update", cwd=repo)
    assert bad.returncode == 2
    assert "Unknown language 'pyhton'" in bad.stderr
    assert "python" in bad.stderr and "rust" in bad.stderr and "golang" in bad.stderr
    for alias, path in (("py", "pkg/net/retry.py"), ("sh", "scripts/deploy.sh")):
        found = codefind(
            "search", "retry with backoff", "--lang", alias, "--json", "--no-update", cwd=repo
        )
        assert found.returncode == 0, found.stderr
        paths = {json.loads(line)["path"] for line in found.stdout.splitlines()}
        assert path in paths and all(p.endswith(path[-3:]) for p in paths), paths


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("grep", "net/retry.py:1:retry_with_backoff"),
        ("vimgrep", "net/retry.py:1:1:retry_with_backoff"),
        ("text", "net/retry.py"),
    ],
)
def test_paths_are_relative_to_the_current_folder_in_every_format(
    repo: Path, fmt: str, expected: str
) -> None:
    here = repo / "pkg"
    result = codefind("search", "retry with backoff", "--format", fmt, "--no-update", cwd=here)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == expected
    if fmt != "text":
        # What `vim -q` does with each line: open the file, relative to where it runs.
        for line in result.stdout.splitlines():
            assert (here / line.split(":", 1)[0]).is_file(), line


def test_json_paths_are_relative_too_and_an_absolute_path_gives_absolute_paths(
    repo: Path,
) -> None:
    here = repo / "pkg" / "net"
    result = codefind("search", "read the settings file", "--json", "--no-update", cwd=here)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["path"] == "../config.py"
    absolute = codefind(
        "search", "read the settings file", str(repo), "--json", "--no-update", cwd=repo.parent
    )
    rows = [json.loads(line) for line in absolute.stdout.splitlines()]
    assert rows[0]["path"] == str(repo / "pkg" / "config.py")


def test_a_backend_without_vectors_is_reported_and_exits_2_when_named(repo: Path) -> None:
    named = codefind("search", "retry", "--backend", "voyage", "--no-update", cwd=repo)
    assert named.returncode == 2 and named.stdout == ""
    assert "no vectors of voyage" in named.stderr
    assert "codefind index --backend voyage" in named.stderr
    configured = codefind(
        "search", "retry", "--no-update", cwd=repo, env={**os.environ, "CODEFIND_BACKEND": "voyage"}
    )
    assert configured.returncode == 0, "lexical hits are still useful"
    assert "no vectors of voyage" in configured.stderr and "lexical hits only" in configured.stderr
    lexical = codefind(
        "search", "retry", "--backend", "voyage", "--mode", "lexical", "--no-update", cwd=repo
    )
    assert lexical.returncode == 0 and lexical.stderr == "", "lexical search needs no backend"


def test_a_named_backend_that_cannot_embed_the_query_exits_2(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(dict(FILES), name="sglang-repo")
    with SGLangServer(model="Qwen/Qwen3-Embedding-0.6B", dim=1024) as server:
        env = {
            **os.environ,
            "CODEFIND_SGLANG_MODEL": "Qwen/Qwen3-Embedding-0.6B",
            "CODEFIND_SGLANG_URL": server.url,
        }
        codefind("index", "--backend", "sglang", cwd=repo, env=env, check=True)
    # The server is gone now: the query cannot be embedded.
    named = codefind("search", "retry", "--backend", "sglang", "--no-update", cwd=repo, env=env)
    assert named.returncode == 2 and named.stdout == ""
    assert server.url.split("/v1")[0] in named.stderr
    configured = codefind(
        "search", "retry", "--no-update", cwd=repo, env={**env, "CODEFIND_BACKEND": "sglang"}
    )
    assert configured.returncode == 0 and "lexical hits only" in configured.stderr


def test_config_set_validates_keys_and_values(tmp_path: Path) -> None:
    env = {**os.environ, "CODEFIND_CONFIG": str(tmp_path / "config.toml")}
    unknown = codefind("config", "set", "foo", "bar", cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "Unknown setting 'foo'" in unknown.stderr
    assert "sglang.instruction" in unknown.stderr, "the message lists the names"
    assert "Traceback" not in unknown.stderr
    zero = codefind("config", "set", "dim", "0", cwd=tmp_path, env=env)
    assert zero.returncode == 2 and "positive" in zero.stderr
    assert not (tmp_path / "config.toml").exists(), "nothing was written"


def test_config_set_writes_any_string_as_toml_that_later_commands_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    env = {**os.environ, "CODEFIND_CONFIG": str(path)}
    odd = 'a\rb "quoted" \\ \x7f\ttab\nline'
    codefind("config", "set", "sglang.instruction", odd, cwd=tmp_path, env=env, check=True)
    assert tomllib.loads(path.read_text())["sglang"]["instruction"] == odd
    shown = codefind("config", "show", cwd=tmp_path, env=env, check=True)
    assert json.loads(shown.stdout)["sglang"]["instruction"] == odd


def test_config_set_keeps_the_comments_of_a_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '# my settings\nbackend = "local"  # for now\n\n[sglang]\n# the GPU box\n'
        'url = "http://gpu:30000/v1"\n'
    )
    env = {**os.environ, "CODEFIND_CONFIG": str(path)}
    codefind("config", "set", "sglang.model", "Qwen/Qwen3-Embedding-8B", cwd=tmp_path, env=env,
             check=True)  # fmt: skip
    codefind("config", "set", "dim", "1024", cwd=tmp_path, env=env, check=True)
    text = path.read_text()
    for comment in ("# my settings", "# for now", "# the GPU box"):
        assert comment in text
    data = tomllib.loads(text)
    assert data["sglang"] == {"url": "http://gpu:30000/v1", "model": "Qwen/Qwen3-Embedding-8B"}
    assert data["dim"] == 1024
    codefind("config", "set", "dim", "native", cwd=tmp_path, env=env, check=True)
    assert "dim" not in tomllib.loads(path.read_text())


def test_eval_refuses_an_out_folder_and_a_negative_limit_before_working(
    repo: Path, tmp_path: Path
) -> None:
    folder = codefind("eval", "--repo", ".", "--out", str(tmp_path), cwd=repo)
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    negative = codefind("eval", "--repo", ".", "--limit", "-1", cwd=repo)
    assert negative.returncode == 2 and "--limit must be at least 1" in negative.stderr
    missing = codefind("eval", "--repo", ".", "--out", str(tmp_path / "no" / "x.jsonl"), cwd=repo)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    for result in (folder, negative, missing):
        assert "unexpected" not in result.stderr and "Traceback" not in result.stderr
