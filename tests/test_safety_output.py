"""What codefind prints: no secrets, no raw control characters (issue 15, items 5 and 6)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from codefind.cli.render import visible
from codefind.config import load_settings
from codefind.errors import redact
from codefind.tui.app import CodefindApp
from tests.cliutil import codefind
from tests.fakeservers import Scripted, SGLangServer, dead_url
from tests.gitutil import make_repo
from tests.tui.conftest import pilot_wait

MODEL = "Qwen/Qwen3-Embedding-0.6B"
SGLANG_KEY = "sglang-SECRET-key-9876543210"
VOYAGE_KEY = "pa-test-SECRET-voyage-key-0123456789"
CONFIG_KEY = "config-file-SECRET-0123456789"
PASSWORD = "hunter2-SECRET-password"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "def parse_item():\n    return 1\n"})


@pytest.fixture
def quick_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[sglang]\nattempts = 1\n[voyage]\nattempts = 1\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def sglang() -> Iterator[SGLangServer]:
    with SGLangServer(model=MODEL, dim=1024, api_key=SGLANG_KEY) as srv:
        yield srv


def sglang_env(url: str, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CODEFIND_CONFIG": str(config),
        "CODEFIND_BACKEND": "sglang",
        "CODEFIND_SGLANG_MODEL": MODEL,
        "CODEFIND_SGLANG_URL": url,
        "CODEFIND_SGLANG_API_KEY": SGLANG_KEY,
    }


def echo(key: str, status: int = 400) -> Scripted:
    """An error answer that quotes the key back, as a careless proxy or server might."""
    text = f"invalid request from key {key} (Authorization: Bearer {key})"
    return Scripted(status=status, body={"object": "error", "message": text, "code": status})


# --- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_a_key_echoed_by_the_server_is_never_printed(
    repo: Path, sglang: SGLangServer, quick_config: Path, debug: bool
) -> None:
    sglang.script(*[echo(SGLANG_KEY)] * 4)
    args = ("index", "--debug") if debug else ("index",)
    result = codefind(*args, cwd=repo, env=sglang_env(sglang.url, quick_config))
    assert result.returncode == 2
    assert ("Traceback" in result.stderr) is debug
    assert SGLANG_KEY not in result.stdout + result.stderr
    assert "invalid request from key ***" in result.stderr


def test_a_key_from_the_config_file_is_never_printed(repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "keyed.toml"
    config.write_text(f'[sglang]\napi_key = "{CONFIG_KEY}"\nattempts = 1\n')
    config.chmod(0o600)
    with SGLangServer(model=MODEL, dim=1024, api_key=CONFIG_KEY) as srv:
        srv.script(*[echo(CONFIG_KEY)] * 4)
        env = {**sglang_env(srv.url, config), "CODEFIND_SGLANG_API_KEY": ""}
        result = codefind("index", "--debug", cwd=repo, env=env)
    assert result.returncode == 2 and "Traceback" in result.stderr
    assert CONFIG_KEY not in result.stdout + result.stderr


def test_a_password_in_a_server_url_is_never_printed(repo: Path, quick_config: Path) -> None:
    url = dead_url().replace("http://", f"http://user:{PASSWORD}@")
    for args in (("index",), ("index", "--debug"), ("server", "status")):
        result = codefind(*args, cwd=repo, env=sglang_env(url, quick_config))
        assert result.returncode == 2
        assert "127.0.0.1" in result.stderr + result.stdout, "the server is still named"
        assert PASSWORD not in result.stdout + result.stderr, args
    shown = codefind("config", "show", cwd=repo, env=sglang_env(url, quick_config))
    assert PASSWORD not in shown.stdout and "127.0.0.1" in shown.stdout


def test_redact_removes_known_keys_and_key_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOYAGE_API_KEY", "a-plain-voyage-key-value")
    text = redact(
        "a-plain-voyage-key-value; https://u:p@h/v1; Bearer abcdefgh12; sk-abcdefghijklmnop; "
        '{"api_key": "xyz12345", "password": null}; pa-abcdefghijklmnopq; spa-weekend; '
        "max_tokens=512",
        secrets=["extra-secret"],
    )
    assert text == (
        "***; https://***@h/v1; Bearer ***; sk-***; "
        '{"api_key": "***", "password": null}; pa-***; spa-weekend; max_tokens=512'
    )


async def test_app_notifications_are_redacted(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEFIND_SGLANG_API_KEY", SGLANG_KEY)
    app = CodefindApp(repo, load_settings(), auto_index=False)
    async with app.run_test(size=(100, 30)) as pilot:
        app.notify(f"server said: bad key {SGLANG_KEY}", title=f"http://u:{PASSWORD}@h")
        await pilot.pause()
        shown = [(n.message, n.title) for n in app._notifications]
    assert shown == [("server said: bad key ***", "http://***@h")]


# --- control characters ------------------------------------------------------------------------

NEWLINE_NAME = "evil\nfake.py:99:injected.py"
ESCAPE_NAME = "title\x1b]0;pwned\x07.py"
CODE = "def marker_function():\n    return '\x1b[2J\x1b]0;retitled\x07 \u202e \x9b2J \x7f'\n"


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "hostile", {NEWLINE_NAME: CODE, ESCAPE_NAME: CODE})


@pytest.mark.parametrize("fmt", ["grep", "vimgrep", "text"])
def test_names_and_code_never_reach_the_terminal_raw(hostile_repo: Path, fmt: str) -> None:
    result = codefind(
        "search", "marker_function", "--format", fmt, "--mode", "lexical", cwd=hostile_repo
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert not any(c in out for c in ("\x1b", "\x07", "\u202e")), repr(out)
    if fmt != "text":
        lines = out.splitlines()
        assert len(lines) == 2, "one line per hit: a newline in a name makes no fake entry"
        assert sorted(line.split(":")[0] for line in lines) == sorted(
            [visible(ESCAPE_NAME), "evil\\nfake.py"]
        )
    else:
        assert "evil\\nfake.py:99:injected.py" in out and "\\x1b[2J" in out


def test_json_output_escapes_and_round_trips(hostile_repo: Path) -> None:
    result = codefind("search", "marker_function", "--json", "--mode", "lexical", cwd=hostile_repo)
    assert result.returncode == 0
    assert not any(c in result.stdout for c in ("\x1b", "\x07", "\x9b", "\u202e", "\x7f"))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["path"] for r in rows) == sorted([NEWLINE_NAME, ESCAPE_NAME])
    assert all(r["text"] == CODE.rstrip("\n") for r in rows), "escaped, not altered"


def test_summaries_notes_and_errors_escape_names(hostile_repo: Path, tmp_path: Path) -> None:
    nested = make_repo(hostile_repo / "nested\x1b[2J", {"x.py": "x = 1\n"})
    assert nested.is_dir()
    summary = codefind("index", cwd=hostile_repo)
    assert summary.returncode == 0 and "\x1b" not in summary.stdout + summary.stderr
    assert "nested" in summary.stdout
    missing = codefind("index", "no\x1b]0;such\x07folder", cwd=hostile_repo)
    assert missing.returncode == 2 and "\x1b" not in missing.stderr
    assert "\\x1b" in missing.stderr


async def test_a_backend_failure_in_the_app_does_not_show_the_password(
    repo: Path, quick_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = dead_url().replace("http://", f"http://user:{PASSWORD}@")
    for name, value in sglang_env(url, quick_config).items():
        monkeypatch.setenv(name, value)
    app = CodefindApp(repo, load_settings(), auto_index=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot_wait(pilot, lambda: app.search_screen.semantic_error is not None)
        shown = [app.search_screen.semantic_error, *(n.message for n in app._notifications)]
    assert all("127.0.0.1" in str(t) and PASSWORD not in str(t) for t in shown), shown
