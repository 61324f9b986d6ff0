"""Consent means yes, and code sent to another machine is asked about (issue 15, item 3)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from codefind.config import load_settings, write_config_value
from codefind.consent import is_this_machine
from codefind.errors import ConfigError
from tests.cliutil import codefind
from tests.fakeservers import SGLangServer, VoyageServer
from tests.gitutil import make_repo

MODEL = "Qwen/Qwen3-Embedding-0.6B"
VOYAGE_KEY = "pa-test-consent-key-0123456789"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


# --- config values are what they say -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('yes = "no"\n', "yes", "true or false"),
        ('yes = "false"\n', "yes", "true or false"),
        ("yes = 1\n", "yes", "true or false"),
        ("rerank = 0\n", "rerank", "true or false"),
        ("dim = true\n", "dim", "a whole number"),
        ("dim = 1e400\n", "dim", "a whole number"),
        ("dim = 256.0\n", "dim", "a whole number"),
        ('limit = "10"\n', "limit", "a whole number"),
        ("[sglang]\nretry_delay = 1e400\n", "sglang.retry_delay", "a finite number"),
        ("[sglang]\nretry_delay = nan\n", "sglang.retry_delay", "a finite number"),
        ("[sglang]\nurl = 30000\n", "sglang.url", "a string"),
        ("[local]\nthreads = false\n", "local.threads", "a whole number"),
        ('[voyage]\nprice_per_million_tokens = { x = "free" }\n', "voyage.price", "a table"),
        ("[local]\ncolour = 1\n", "local.colour", "Unknown setting"),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, path=path)
    message = caught.value.message
    assert str(path) in message and key in message and expected in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dim = 100000000000000000000\n", "at most"),
        ("[sglang]\nattempts = 100000\n", "at most"),
        ("[local]\nthreads = 100000\n", "at most"),
        ("[sglang]\nretry_delay = -1.0\n", "negative"),
    ],
)
def test_numbers_out_of_range_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env={}, path=config(tmp_path, text))


def test_threads_above_the_cpu_count_are_lowered_to_it(tmp_path: Path) -> None:
    settings = load_settings(env={}, path=config(tmp_path, "[local]\nthreads = 1000\n"))
    assert settings.local.threads == os.cpu_count()


def test_environment_values_are_parsed_or_refused_by_name() -> None:
    assert load_settings(env={"CODEFIND_DIM": "256"}, path=Path("/nonexistent")).dim == 256
    with pytest.raises(ConfigError, match="CODEFIND_DIM must be a whole number"):
        load_settings(env={"CODEFIND_DIM": "true"}, path=Path("/nonexistent"))


def test_config_set_keeps_strings_strings_and_refuses_non_booleans(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write_config_value("sglang.model", "123", path)
    assert load_settings(env={}, path=path).sglang.model == "123"
    with pytest.raises(ConfigError, match="true or false"):
        write_config_value("yes", "no", path)
    assert load_settings(env={}, path=path).yes is False


def test_yes_as_a_string_in_the_config_file_is_not_consent(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "def a():\n    return 1\n"})
    with VoyageServer(api_key=VOYAGE_KEY) as voyage:
        env = {
            **os.environ,
            "CODEFIND_CONFIG": str(config(tmp_path, 'yes = "no"\n')),
            "CODEFIND_BACKEND": "voyage",
            "CODEFIND_VOYAGE_URL": voyage.url,
            "VOYAGE_API_KEY": VOYAGE_KEY,
        }
        result = codefind("index", cwd=repo, env=env)
        assert result.returncode == 2 and "'yes'" in result.stderr
        assert voyage.posts("/v1/embeddings") == []


# --- SGLang: this machine or elsewhere --------------------------------------------------------


def this_hosts_address() -> str | None:
    """A non-loopback address of this machine, if it has one (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))
            address: str = sock.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:30000/v1", True),
        ("http://127.8.9.10:30000/v1", True),
        ("http://localhost:30000/v1", True),
        ("http://LOCALHOST./v1", True),
        ("http://[::1]:30000/v1", True),
        ("http://0.0.0.0:30000/v1", True),
        ("http://user:pw@127.0.0.1:1/v1", True),
        ("http://192.0.2.10:30000/v1", False),
        ("http://[2001:db8::1]:30000/v1", False),
        ("http://gpu-box.invalid:30000/v1", False),
        ("http://localhost.evil.invalid/v1", False),
        ("not a url", False),
    ],
)
def test_which_servers_are_this_machine(url: str, local: bool) -> None:
    assert is_this_machine(url) is local


def test_an_address_of_this_host_is_this_machine() -> None:
    address = this_hosts_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    assert is_this_machine(f"http://{address}:30000/v1")


def through_proxy(server: SGLangServer) -> tuple[str, dict[str, str]]:
    """``server``'s port, and an environment whose HTTP requests all go through ``server``
    as their proxy: a URL can then name any host and still reach it."""
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    env |= {"HTTP_PROXY": f"http://127.0.0.1:{port}", "http_proxy": f"http://127.0.0.1:{port}"}
    return port, env


@pytest.fixture
def remote_sglang() -> Iterator[tuple[SGLangServer, dict[str, str]]]:
    """A fake SGLang server reached as http://gpu-box.invalid:PORT through an HTTP proxy (the
    server itself answers as the proxy), so the URL names a host that is not this one."""
    with SGLangServer(model=MODEL, dim=1024) as srv:
        port, env = through_proxy(srv)
        env |= {
            "CODEFIND_BACKEND": "sglang",
            "CODEFIND_SGLANG_MODEL": MODEL,
            "CODEFIND_SGLANG_URL": f"http://gpu-box.invalid:{port}/v1",
        }
        yield srv, env


def test_a_server_elsewhere_is_asked_about_once_per_repository_and_host(
    tmp_path: Path, remote_sglang: tuple[SGLangServer, dict[str, str]]
) -> None:
    srv, env = remote_sglang
    repo = make_repo(tmp_path / "repo", {"a.py": "def a():\n    return 1\n"})
    host = env["CODEFIND_SGLANG_URL"].split("/")[2]

    refused = codefind("index", cwd=repo, env=env)
    assert refused.returncode == 2, refused.stderr
    assert (
        host in refused.stderr
        and "--yes" in refused.stderr
        and "not this machine" in refused.stderr
    )
    assert srv.posts("/v1/embeddings") == [], "nothing left the machine"

    agreed = codefind("index", "--json", "--yes", cwd=repo, env=env)
    assert agreed.returncode == 0, agreed.stderr
    posts = srv.posts("/v1/embeddings")
    assert posts and all(p.headers["host"] == host for p in posts)

    (repo / "b.py").write_text("def b():\n    return 2\n")
    later = codefind("index", "--json", cwd=repo, env=env)
    assert later.returncode == 0 and json.loads(later.stdout)["embedded"] >= 1, later.stderr

    other = {**env, "CODEFIND_SGLANG_URL": env["CODEFIND_SGLANG_URL"].replace("gpu-box", "other")}
    (repo / "c.py").write_text("def c():\n    return 3\n")
    assert codefind("index", cwd=repo, env=other).returncode == 2, "another host: asked again"


# --- reranking sends code too ------------------------------------------------------------------


@pytest.fixture
def remote_reranker() -> Iterator[tuple[SGLangServer, SGLangServer, dict[str, str]]]:
    """An embedding server on this machine and a rerank server reached as
    http://rerank-box.invalid:PORT (through a proxy that is the rerank server itself)."""
    with (
        SGLangServer(model=MODEL, dim=1024) as embed,
        SGLangServer(model="Qwen/Qwen3-Reranker-4B", reranker=True) as rerank,
    ):
        port, env = through_proxy(rerank)
        env |= {
            "NO_PROXY": "localhost",
            "no_proxy": "localhost",
            "CODEFIND_BACKEND": "sglang",
            "CODEFIND_SGLANG_MODEL": MODEL,
            "CODEFIND_SGLANG_URL": embed.url.replace("127.0.0.1", "localhost"),
            "CODEFIND_SGLANG_RERANK_URL": f"http://rerank-box.invalid:{port}/v1",
        }
        yield embed, rerank, env


def test_a_reranker_elsewhere_is_asked_about_before_any_code_goes_to_it(
    tmp_path: Path,
    remote_reranker: tuple[SGLangServer, SGLangServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    embed, rerank, env = remote_reranker
    repo = make_repo(tmp_path / "repo", {"a.py": "def load_config():\n    return {}\n"})
    indexed = codefind("index", cwd=repo, env=env)
    assert indexed.returncode == 0, "the embedding server is on this machine: no question"
    assert embed.posts("/v1/embeddings")

    refused = codefind("search", "load config", "--rerank", "--no-update", cwd=repo, env=env)
    assert refused.returncode == 2, refused.stderr
    assert "rerank-box.invalid" in refused.stderr and "Nothing was sent" in refused.stderr
    assert rerank.posts("/v1/rerank") == [], "no query and no code reached the reranker"

    agreed = codefind("search", "load config", "--rerank", "--yes", "--no-update", cwd=repo, env=env)  # fmt: skip
    assert agreed.returncode == 0, agreed.stderr
    posts = rerank.posts("/v1/rerank")
    assert posts and all(p.headers["host"].startswith("rerank-box.invalid") for p in posts)

    # A yes given at the question is kept: the next search asks nothing.
    from codefind.workspace import Workspace

    for name, value in env.items():
        if name.startswith(("CODEFIND_", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")):
            monkeypatch.setenv(name, value)
    asked: list[str] = []

    def answer(question: str) -> bool:
        asked.append(question)
        return True

    workspace = Workspace.for_repository(repo, load_settings({}))
    try:
        workspace.search_service(rerank=True, ask=answer).close()
        workspace.search_service(rerank=True, ask=answer).close()
    finally:
        workspace.close()
    assert len(asked) == 1 and "top 30 hits" in asked[0]


def test_a_reranker_on_this_machine_needs_no_question(
    tmp_path: Path, remote_reranker: tuple[SGLangServer, SGLangServer, dict[str, str]]
) -> None:
    _embed, rerank, env = remote_reranker
    port = rerank.url.rsplit(":", 1)[1].split("/")[0]
    env = {**env, "CODEFIND_SGLANG_RERANK_URL": f"http://localhost:{port}/v1"}
    repo = make_repo(tmp_path / "repo", {"a.py": "def load_config():\n    return {}\n"})
    assert codefind("index", cwd=repo, env=env).returncode == 0
    result = codefind("search", "load config", "--rerank", "--no-update", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    assert rerank.posts("/v1/rerank")


def test_a_yes_for_voyage_does_not_cover_a_proxy_on_another_host(tmp_path: Path) -> None:
    """CODEFIND_VOYAGE_URL may point at a proxy: the code then goes to that host too."""
    repo = make_repo(tmp_path / "repo", {"a.py": "def load_config():\n    return {}\n"})
    with VoyageServer(api_key=VOYAGE_KEY) as voyage:
        env = {
            **os.environ,
            "CODEFIND_BACKEND": "voyage",
            "CODEFIND_VOYAGE_URL": voyage.url,
            "VOYAGE_API_KEY": VOYAGE_KEY,
        }
        assert codefind("index", "--yes", cwd=repo, env=env).returncode == 0
        (repo / "b.py").write_text("def b():\n    return 2\n")
        same = codefind("index", cwd=repo, env=env)
        assert same.returncode == 0, "the same place: the yes holds"
        sent = len(voyage.posts("/v1/embeddings"))

        elsewhere = {**env, "CODEFIND_VOYAGE_URL": voyage.url.replace("127.0.0.1", "localhost")}
        (repo / "c.py").write_text("def c():\n    return 3\n")
        asked = codefind("index", cwd=repo, env=elsewhere)
        assert asked.returncode == 2, asked.stderr
        assert "Voyage AI through localhost" in asked.stderr
        assert len(voyage.posts("/v1/embeddings")) == sent, "nothing sent through the proxy"
