"""Remote backends through the real ``codefind`` command: failures, consent and secrets."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cliutil import codefind
from tests.fakeservers import Scripted, SGLangServer, VoyageServer, dead_url
from tests.test_crash import cached_count, many_functions

MODEL = "Qwen/Qwen3-Embedding-0.6B"
VOYAGE_KEY = "pa-test-SECRET-voyage-key-0123456789"
SGLANG_KEY = "sglang-SECRET-key-9876543210"


@pytest.fixture
def sglang() -> Iterator[SGLangServer]:
    with SGLangServer(model=MODEL, dim=1024, api_key=SGLANG_KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def quick_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries as configured by a user who wants failures reported fast (2 tries, short waits)."""
    config = tmp_path / "quick-retries.toml"
    config.write_text(
        "[sglang]\nattempts = 2\nretry_delay = 0.05\n\n[voyage]\nattempts = 2\nretry_delay = 0.05\n"
    )
    monkeypatch.setenv("CODEFIND_CONFIG", str(config))


def sglang_env(url: str, key: str | None = SGLANG_KEY) -> dict[str, str]:
    env = {
        **os.environ,
        "CODEFIND_BACKEND": "sglang",
        "CODEFIND_SGLANG_MODEL": MODEL,
        "CODEFIND_SGLANG_URL": url,
    }
    if key:
        env["CODEFIND_SGLANG_API_KEY"] = key
    return env


def test_unreachable_server_is_one_clear_message(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(2))
    url = dead_url()
    result = codefind("index", cwd=repo, env=sglang_env(url))
    assert result.returncode == 2
    assert url.split("/v1")[0] in result.stderr and "sglang" in result.stderr.lower()
    assert "Traceback" not in result.stderr and result.stderr.count("\n") <= 3
    debug = codefind("index", "--debug", cwd=repo, env=sglang_env(url))
    assert "Traceback" in debug.stderr


def test_wrong_key_is_refused_and_never_printed(git_repo, sglang: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(2))
    result = codefind("index", cwd=repo, env=sglang_env(sglang.url, key="wrong-SECRET-key"))
    assert result.returncode == 2 and "key" in result.stderr.lower()
    assert "wrong-SECRET-key" not in result.stderr + result.stdout


def test_server_failing_mid_run_keeps_work_and_rerun_resumes(
    git_repo: Callable[..., Path], sglang: SGLangServer
) -> None:
    repo = git_repo(many_functions(40))  # 160 texts: 5 batches of 32
    env = sglang_env(sglang.url)
    # The first two embedding requests succeed, then the server fails for good.
    sglang.script(Scripted(path="/v1/embeddings"), Scripted(path="/v1/embeddings"))
    sglang.fail_next(503, times=500, path="/v1/embeddings")
    failed = codefind("index", cwd=repo, env=env)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert sglang.url.split("/v1")[0] in failed.stderr
    kept = cached_count(repo)
    assert kept >= 32, "finished batches are kept"
    partial = codefind("search", "parse item", "--json", "--no-update", cwd=repo, env=env)
    assert partial.returncode == 0 and "Showing lexical hits only" in partial.stderr

    sglang.script()  # nothing left queued after the failures are used up? make sure:
    with sglang._lock:
        sglang._script.clear()
    before = len(sglang.posts("/v1/embeddings"))
    rerun = json.loads(codefind("index", "--json", cwd=repo, env=env, check=True).stdout)
    assert rerun["embedded"] == 160 - kept
    sent = sum(len(r.body["input"]) for r in sglang.posts("/v1/embeddings")[before:])
    assert sent == 160 - kept


def test_switching_dimension_embeds_nothing(git_repo, sglang: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(5))
    env = sglang_env(sglang.url)
    first = json.loads(codefind("index", "--json", cwd=repo, env=env, check=True).stdout)
    assert (first["dim"], first["embedded"]) == (1024, 20)
    requests = len(sglang.posts("/v1/embeddings"))
    for dim in ("256", "64", "1024"):
        report = json.loads(
            codefind("index", "--json", "--dim", dim, cwd=repo, env=env, check=True).stdout
        )
        assert report["dim"] == int(dim) and report["embedded"] == 0
    assert len(sglang.posts("/v1/embeddings")) == requests, "no document was sent again"
    hits = codefind(
        "search", "parse item", "--json", "--dim", "64", "--no-update", cwd=repo, env=env
    )
    assert hits.returncode == 0
    local = json.loads(
        codefind("index", "--json", "--backend", "local", cwd=repo, check=True).stdout
    )
    assert local["model"] == "all-MiniLM-L6-v2" and local["embedded"] == 20, (
        "another model, its own vectors"
    )
    back = json.loads(codefind("index", "--json", cwd=repo, env=env, check=True).stdout)
    assert back["embedded"] == 0


@pytest.fixture
def voyage() -> Iterator[VoyageServer]:
    with VoyageServer(api_key=VOYAGE_KEY) as srv:
        yield srv


def voyage_env(srv: VoyageServer) -> dict[str, str]:
    return {
        **os.environ,
        "CODEFIND_BACKEND": "voyage",
        "CODEFIND_VOYAGE_URL": srv.url,
        "VOYAGE_API_KEY": VOYAGE_KEY,
    }


def test_voyage_asks_first_and_refuses_without_a_terminal(git_repo, voyage: VoyageServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(3))
    refused = codefind("index", cwd=repo, env=voyage_env(voyage))
    assert refused.returncode == 2
    assert (
        "12 chunks" in refused.stderr and "estimate" in refused.stderr and "--yes" in refused.stderr
    )
    assert voyage.posts("/v1/embeddings") == [], "nothing left the machine"

    agreed = codefind("index", "--json", "--yes", cwd=repo, env=voyage_env(voyage))
    assert agreed.returncode == 0, agreed.stderr
    assert json.loads(agreed.stdout)["embedded"] == 12
    body = voyage.posts("/v1/embeddings")[0].body
    assert body["input_type"] == "document" and body["output_dimension"] == 2048
    (repo / "pkg" / "extra.py").write_text("def extra_function():\n    return 1\n")
    later = codefind("index", "--json", cwd=repo, env=voyage_env(voyage))
    assert later.returncode == 0, "consent is remembered for this repository and model"


def test_keys_never_reach_the_index_or_the_output(
    git_repo: Callable[..., Path], voyage: VoyageServer, sglang: SGLangServer
) -> None:
    repo = git_repo(many_functions(3))
    outputs = []
    for args, env in (
        (("index", "--yes"), voyage_env(voyage)),
        (("search", "parse item", "--json", "--debug"), voyage_env(voyage)),
        (("index",), sglang_env(sglang.url)),
        (("search", "parse item", "--debug"), sglang_env(sglang.url)),
    ):
        result = codefind(*args, cwd=repo, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    voyage.fail_next(401, times=5)
    outputs.append(codefind("search", "x", "--debug", cwd=repo, env=voyage_env(voyage)).stderr)
    for secret in (VOYAGE_KEY, SGLANG_KEY):
        assert not any(secret in text for text in outputs)
        for path in (repo / ".git" / "codefind").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_rerank_reorders_the_top_hits_by_the_rerankers_scores(
    git_repo: Callable[..., Path], voyage: VoyageServer
) -> None:
    from tests.fakeservers import fake_embedding

    repo = git_repo(many_functions(6))
    env = voyage_env(voyage)
    codefind("index", "--yes", cwd=repo, env=env, check=True)
    plain = codefind("search", "merge item", "--json", "-n", "8", "--no-update", cwd=repo, env=env)
    reranked = codefind(
        "search", "merge item", "--json", "-n", "8", "--rerank", "--no-update", cwd=repo, env=env
    )
    assert reranked.returncode == 0, reranked.stderr
    calls = voyage.posts("/v1/rerank")
    assert (
        len(calls) == 1
        and calls[0].body["model"] == "rerank-2.5"
        and calls[0].body["query"] == "merge item"
    )
    assert len(calls[0].body["documents"]) >= 8, (
        "the reranker sees more than one page of fused hits"
    )
    rows = [json.loads(line) for line in reranked.stdout.splitlines()]
    query = fake_embedding("merge item", 1024)
    expected = [(float(query @ fake_embedding(r["text"], 1024)) + 1) / 2 for r in rows]
    assert [r["score"] for r in rows] == pytest.approx(expected, abs=1e-5), (
        "scores are the reranker's"
    )
    assert expected == sorted(expected, reverse=True)
    assert plain.stdout != reranked.stdout
