"""What a remote backend answers is checked before anything is cached, and no wait is endless.

Real HTTP servers on 127.0.0.1 speaking SGLang's and Voyage's wire formats (``fakeservers``),
through the real ``openai`` and ``voyageai`` clients; ``SilentServer`` accepts connections and
never answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codefind.config import SGLangSettings, VoyageSettings
from codefind.embeddings._remote import RetryPolicy
from codefind.embeddings.sglang import SGLangEmbedder
from codefind.embeddings.voyage import VoyageEmbedder
from codefind.errors import BackendError
from tests.cliutil import codefind
from tests.fakeservers import SGLangServer, SilentServer, VoyageServer, fake_embedding

KEY = "pa-test-secret-key-0123456789"
FAST = RetryPolicy(attempts=4, connect_attempts=2, base_delay=0.01, max_delay=0.02)
DOCS = ["def save_index(path): ...", "class Parser: ...", "def retry(request): ...", "x = 1"]


def sglang(url: str, **options: Any) -> SGLangEmbedder:
    return SGLangEmbedder(SGLangSettings(url=url), retry=FAST, sleep=lambda _: None, **options)


def voyage(url: str, **options: Any) -> VoyageEmbedder:
    settings = VoyageSettings(url=url, api_key=KEY)
    return VoyageEmbedder(settings, retry=FAST, sleep=lambda _: None, **options)


def answer(vectors: list[list[float]]) -> dict[str, Any]:
    data = [{"embedding": v, "index": i, "object": "embedding"} for i, v in enumerate(vectors)]
    return {"data": data, "model": "m", "object": "list", "usage": {"total_tokens": 1}}


# --- item 4: unusable vectors are an error, never a cache entry ----------------------------


# (NaN and infinite values were refused already: tests/test_backend_sglang.py.)


def test_sglang_zero_vectors_are_refused() -> None:
    with SGLangServer() as server:
        server.fail_next(200, body=answer([[1.0] * 2560, [0.0] * 2560]))
        with pytest.raises(BackendError, match="all-zero vectors"):
            sglang(server.url).embed_documents(DOCS[:2])


def test_voyage_zero_vectors_are_refused() -> None:
    with VoyageServer(api_key=KEY) as server:
        server.fail_next(200, body=answer([[0.0] * 2048]), times=FAST.attempts)
        with pytest.raises(BackendError, match="all-zero vectors"):
            voyage(server.url).embed_documents(DOCS[:1])


def test_a_tiny_reported_context_length_is_an_error_not_a_cut() -> None:
    with SGLangServer(reported_context_length=8) as server:
        with pytest.raises(BackendError) as caught:
            sglang(server.url).embed_documents(DOCS)
        assert "context length of 8 tokens" in caught.value.message
        assert server.posts("/v1/embeddings") == [], "nothing was embedded cut to 8 tokens"


def test_a_tiny_context_length_in_a_too_long_answer_is_an_error() -> None:
    with (
        SGLangServer(context_length=20, reported_context_length=32768) as server,
        pytest.raises(BackendError, match="context length of 20 tokens"),
    ):
        sglang(server.url).embed_documents(["word " * 100])


# --- item 5: vectors are matched to texts by index, not by position ------------------------


def test_a_voyage_answer_out_of_order_is_matched_by_index() -> None:
    with VoyageServer(api_key=KEY) as server:
        server.reversed_next()
        vectors = voyage(server.url).embed_documents(DOCS)
        assert len(server.posts("/v1/embeddings")) == 1
    for text, row in zip(DOCS, vectors, strict=True):
        assert float(row @ fake_embedding(text, 2048)) > 0.999, text


def test_a_voyage_answer_with_a_missing_index_is_malformed() -> None:
    with VoyageServer(api_key=KEY) as server:
        body = answer([[1.0] * 2048, [1.0] * 2048])
        body["data"][1]["index"] = 0
        server.fail_next(200, body=body, times=FAST.attempts)
        with pytest.raises(BackendError, match="not a valid response"):
            voyage(server.url).embed_documents(DOCS[:2])


# --- item 9: a server that never answers costs one timeout ---------------------------------


@pytest.mark.parametrize("make", [sglang, voyage])
def test_a_server_that_never_answers_costs_one_timeout(make: Any) -> None:
    with SilentServer() as silent:
        embedder = make(silent.url, timeout=0.5, query_timeout=0.2)
        with pytest.raises(BackendError) as caught:
            embedder.embed_documents(DOCS)
        assert "did not answer" in caught.value.message and "0.5 s" in caught.value.message
        assert silent.connections == 1, "not retried: it had its chance"
        with pytest.raises(BackendError) as caught:
            embedder.embed_query("where is the index saved")
        assert "did not answer" in caught.value.message and "0.2 s" in caught.value.message
        assert silent.connections == 2


def test_search_falls_back_to_lexical_after_one_short_wait(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo({"net.py": 'def fetch_page(url):\n    """Download a web page."""\n'})
    config = tmp_path / "config.toml"
    config.write_text("[sglang]\nquery_timeout = 0.3\n")
    env = {
        **os.environ,
        "CODEFIND_CONFIG": str(config),
        "CODEFIND_BACKEND": "sglang",
        "CODEFIND_SGLANG_MODEL": "Qwen/Qwen3-Embedding-0.6B",
    }
    with SGLangServer(model="Qwen/Qwen3-Embedding-0.6B", dim=1024) as server:
        codefind("index", cwd=repo, env={**env, "CODEFIND_SGLANG_URL": server.url}, check=True)
    with SilentServer() as silent:
        env["CODEFIND_SGLANG_URL"] = silent.url
        result = codefind("search", "fetch page", "--json", "--no-update", cwd=repo, env=env)
        assert result.returncode == 0, result.stderr
        assert "did not answer" in result.stderr and "0.3 s" in result.stderr
        assert "lexical hits only" in result.stderr
        assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == ["net.py"]
        assert silent.connections == 1


def test_timeouts_are_settings(tmp_path: Path) -> None:
    from codefind.config import load_settings

    config = tmp_path / "config.toml"
    config.write_text("[sglang]\ntimeout = 12\n[voyage]\nquery_timeout = 2.5\n")
    settings = load_settings(env={"CODEFIND_CONFIG": str(config)})
    assert (settings.sglang.timeout, settings.sglang.query_timeout) == (12.0, 5.0)
    assert (settings.voyage.timeout, settings.voyage.query_timeout) == (30.0, 2.5)
    assert np.isclose(SGLangEmbedder(settings.sglang).timeout, 12.0)
