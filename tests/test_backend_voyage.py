"""The voyage backend against a real local HTTP server that speaks Voyage AI's wire format,
through the real ``voyageai`` client (``base_url`` = ``CODEFIND_VOYAGE_URL``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import voyageai.client

from codefind.config import Settings, VoyageSettings, load_settings
from codefind.embeddings import create_embedder, create_reranker, model_dimensions
from codefind.embeddings._remote import RetryPolicy, estimate_tokens
from codefind.embeddings.base import truncate
from codefind.embeddings.voyage import (
    PRICES,
    VoyageEmbedder,
    VoyageReranker,
    estimate_cost,
    price_per_million,
)
from codefind.errors import BackendError, ConfigError
from tests.fakeservers import VoyageServer, dead_url, fake_embedding, fake_tokens

KEY = "pa-test-secret-key-0123456789"
FAST = RetryPolicy(attempts=4, connect_attempts=2, base_delay=0.01, max_delay=0.02)


class Sleeps(list[float]):
    """Records the waits between attempts instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[VoyageServer]:
    with VoyageServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def embedder(url: str, sleeps: Sleeps | None = None, **options: Any) -> VoyageEmbedder:
    settings = VoyageSettings(
        url=url,
        api_key=options.pop("api_key", KEY),
        model=options.pop("model", "voyage-code-3"),
        price_per_million_tokens=options.pop("prices", {}),
    )
    return VoyageEmbedder(
        settings,
        retry=options.pop("retry", FAST),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **options,
    )


def bodies(srv: VoyageServer) -> list[dict[str, Any]]:
    return [r.body for r in srv.posts("/v1/embeddings")]


# --- what is sent --------------------------------------------------------------------------


def test_code3_is_asked_for_2048_dimensions_with_the_input_type(server: VoyageServer) -> None:
    emb = embedder(server.url)
    docs = ["def save_index(path): ...", "class Parser: ..."]
    vectors = emb.embed_documents(docs)
    query = emb.embed_query("how is the index saved")

    doc_body, query_body = bodies(server)
    assert doc_body["input"] == docs and doc_body["input_type"] == "document"
    assert query_body["input"] == ["how is the index saved"] and query_body["input_type"] == "query"
    for body in (doc_body, query_body):
        assert body["model"] == "voyage-code-3"
        assert body["output_dimension"] == 2048
        assert body["truncation"] is True
        assert body["encoding_format"] == "base64"
    assert server.posts()[0].headers["authorization"] == f"Bearer {KEY}"
    assert vectors.shape == (2, 2048) and query.shape == (2048,)
    np.testing.assert_allclose(vectors[0], fake_embedding(docs[0], 2048), atol=1e-6)


def test_code2_sends_no_output_dimension(server: VoyageServer) -> None:
    emb = embedder(server.url, model="voyage-code-2")
    vector = emb.embed_query("parse arguments")
    (body,) = bodies(server)
    assert body["model"] == "voyage-code-2"
    assert body.get("output_dimension") is None
    assert vector.shape == (1536,)


def test_truncation_is_cut_then_renormalise_as_the_stand_in_serves_it(
    server: VoyageServer,
) -> None:
    """codefind's ``truncate`` against the stand-in's ``output_dimension`` answer.

    The stand-in uses the same formula as the code, so this checks the arithmetic and the
    wire format; whether Voyage itself answers so is ``tests/test_online_contracts.py``.
    """
    text = "def save_index(path): write vectors to a temporary file and rename it"
    native = embedder(server.url).embed_documents([text])[0]
    client = voyageai.client.Client(api_key=KEY, max_retries=1, base_url=server.url)
    for dim in (1024, 512, 256):
        served = client.embed(
            [text], model="voyage-code-3", input_type="document", output_dimension=dim
        )
        server_side = np.asarray(served.embeddings[0], dtype=np.float32)
        np.testing.assert_allclose(truncate(native, dim), server_side, atol=1e-5)


def test_the_query_finds_the_matching_document(server: VoyageServer) -> None:
    emb = embedder(server.url)
    docs = [
        "def parse_arguments(argv): build the argparse parser",
        "def save_index(path): write the index file atomically",
        "def retry_with_backoff(call): sleep and try again",
    ]
    scores = emb.embed_documents(docs) @ emb.embed_query("where is the index file saved")
    assert int(np.argmax(scores)) == 1


def test_blank_texts_are_never_sent(server: VoyageServer) -> None:
    vectors = embedder(server.url).embed_documents(["alpha", " ", "", "beta"])
    assert [b["input"] for b in bodies(server)] == [["alpha", "beta"]]
    assert not vectors[1].any() and not vectors[2].any()


# --- limits --------------------------------------------------------------------------------


def test_requests_stay_within_1000_texts(server: VoyageServer) -> None:
    texts = [f"snippet {i % 50}" for i in range(2500)]
    vectors = embedder(server.url).embed_documents(texts)
    sizes = sorted(len(b["input"]) for b in bodies(server))
    assert sizes == [500, 1000, 1000]
    np.testing.assert_allclose(vectors[1234], fake_embedding("snippet 34", 2048), atol=1e-6)


def test_requests_stay_within_the_token_limit(server: VoyageServer) -> None:
    texts = [f"chunk {i} " + "identifier " * 3000 for i in range(30)]  # ~11K tokens each
    embedder(server.url).embed_documents(texts)
    sent = bodies(server)
    assert len(sent) > 1
    for body in sent:
        assert sum(estimate_tokens(t) for t in body["input"]) <= 96_000
        assert sum(fake_tokens(t) for t in body["input"]) <= 120_000
    assert sorted(t for b in sent for t in b["input"]) == sorted(texts)


def test_texts_longer_than_the_context_are_cut_on_the_client(server: VoyageServer) -> None:
    long_text = "token " * 60_000
    embedder(server.url).embed_documents([long_text])
    (body,) = bodies(server)
    sent = body["input"][0]
    assert long_text.startswith(sent) and len(sent) < len(long_text)
    assert estimate_tokens(sent) <= 32_000


# --- dimensions and models -----------------------------------------------------------------


def test_dimensions_of_each_model() -> None:
    code3 = model_dimensions("voyage", "voyage-code-3")
    code2 = model_dimensions("voyage", "voyage-code-2")
    assert code3 is not None and code2 is not None
    assert code3.native == 2048
    assert [d for d in (256, 512, 768, 1024, 2048) if code3.is_valid(d)] == [256, 512, 1024, 2048]
    assert code2.native == 1536 and code2.options() == (1536,)


def test_code2_refuses_other_dimensions_with_a_clear_message() -> None:
    settings = Settings(backend="voyage", dim=1024).with_model("voyage-code-2")
    with pytest.raises(ConfigError, match="1536 only"):
        create_embedder(settings)


def test_unknown_models_are_refused() -> None:
    with pytest.raises(ConfigError, match="voyage-code-3 or voyage-code-2"):
        model_dimensions("voyage", "voyage-law-2")


def test_the_embedder_is_remote_and_names_its_vectors() -> None:
    emb = create_embedder(Settings(backend="voyage", dim=512))
    assert emb.remote and emb.model_id == "voyage:voyage-code-3"


def test_the_url_and_key_come_from_the_environment(server: VoyageServer) -> None:
    settings = load_settings(
        env={"CODEFIND_VOYAGE_URL": server.url, "VOYAGE_API_KEY": KEY, "CODEFIND_BACKEND": "voyage"}
    )
    emb = create_embedder(settings)
    assert emb.embed_query("hello").any()
    assert server.posts()[0].headers["authorization"] == f"Bearer {KEY}"


# --- cost ----------------------------------------------------------------------------------


def test_cost_comes_from_the_dated_price_table_or_the_settings() -> None:
    assert estimate_cost("voyage-code-3", 2_000_000) == pytest.approx(2 * PRICES["voyage-code-3"])
    assert estimate_cost("voyage-code-2", 1_000_000) == pytest.approx(0.12)
    assert price_per_million("voyage-code-3", {"voyage-code-3": 0.5}) == 0.5
    emb = embedder("http://127.0.0.1:9/v1", prices={"voyage-code-3": 1.0})
    assert emb.estimate_cost(3_000_000) == pytest.approx(3.0)
    with pytest.raises(ConfigError, match="price_per_million_tokens"):
        price_per_million("voyage-4")


def test_the_token_estimate_ignores_blanks_and_counts_chinese_per_character() -> None:
    emb = embedder("http://127.0.0.1:9/v1")
    assert emb.estimate_tokens(["", "  "]) == 0
    assert emb.estimate_tokens(["中文注释" * 100]) >= 400  # chars/3 would say 134
    ascii_text = "def parse_arguments(argv):\n    return parser.parse_args(argv)\n"
    assert emb.estimate_tokens([ascii_text]) == estimate_tokens(ascii_text)


# --- keys and failures ---------------------------------------------------------------------


def test_a_missing_key_is_one_clear_message_and_nothing_is_sent(server: VoyageServer) -> None:
    with pytest.raises(ConfigError) as caught:
        embedder(server.url, api_key=None).embed_query("x")
    assert "VOYAGE_API_KEY" in caught.value.message
    assert "codefind config set voyage.api_key" in caught.value.message
    assert server.requests == []


def test_a_refused_key_is_one_clear_message_without_the_key(
    server: VoyageServer, sleeps: Sleeps
) -> None:
    wrong = "pa-wrong-key-abcdefghijkl"
    with pytest.raises(BackendError) as caught:
        embedder(server.url, sleeps, api_key=wrong).embed_documents(["x"])
    assert "Voyage AI refused the API key" in caught.value.message
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert len(server.posts()) == 1 and sleeps == []


def test_a_server_echoing_the_key_never_gets_it_into_the_message(server: VoyageServer) -> None:
    server.fail_next(400, body={"detail": f"Bad request from key {KEY}"})
    with pytest.raises(BackendError) as caught:
        embedder(server.url).embed_documents(["x"])
    assert KEY not in str(caught.value)
    assert "***" in caught.value.message


def test_429_is_retried_after_the_servers_retry_after(server: VoyageServer, sleeps: Sleeps) -> None:
    server.fail_next(429, headers={"Retry-After": "5"})
    assert embedder(server.url, sleeps).embed_query("x").any()
    assert len(server.posts()) == 2 and sleeps == [5.0]


def test_persistent_rate_limiting_gives_up_after_the_attempts(
    server: VoyageServer, sleeps: Sleeps
) -> None:
    server.fail_next(429, times=10)
    with pytest.raises(BackendError) as caught:
        embedder(server.url, sleeps).embed_query("x")
    assert "rate-limiting" in caught.value.message and "4 attempts" in caught.value.message
    assert len(server.posts()) == FAST.attempts


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_burst_of_server_errors_is_retried(
    server: VoyageServer, sleeps: Sleeps, status: int
) -> None:
    server.fail_next(status, times=2)
    assert embedder(server.url, sleeps).embed_documents(["a", "b"]).shape == (2, 2048)
    assert len(server.posts()) == 3 and len(sleeps) == 2


def test_persistent_server_errors_name_the_backend(server: VoyageServer) -> None:
    server.fail_next(503, times=10)
    with pytest.raises(BackendError) as caught:
        embedder(server.url).embed_documents(["a"])
    assert "Voyage AI" in caught.value.message and "503" in caught.value.message


def test_a_slow_server_times_out(server: VoyageServer) -> None:
    server.delay_next(5, times=2)
    emb = embedder(server.url, retry=RetryPolicy(attempts=2, base_delay=0.01), timeout=0.3)
    with pytest.raises(BackendError) as caught:
        emb.embed_documents(["x"])
    assert "did not answer" in caught.value.message and server.url in caught.value.message
    assert len(server.posts()) == 1, "a timeout is not retried"


def test_connection_refused_names_the_url(sleeps: Sleeps) -> None:
    url = dead_url()
    with pytest.raises(BackendError) as caught:
        embedder(url, sleeps).embed_query("x")
    assert f"Cannot reach Voyage AI at {url}" in caught.value.message
    assert "CODEFIND_VOYAGE_URL" in caught.value.message
    assert len(sleeps) == FAST.connect_attempts - 1


def test_malformed_json_is_retried_then_reported(server: VoyageServer) -> None:
    server.malformed_next()
    assert embedder(server.url).embed_query("x").any()
    server.malformed_next(times=10)
    with pytest.raises(BackendError, match="not a valid response"):
        embedder(server.url).embed_query("x")


def test_a_bad_request_is_reported_with_voyages_reason(server: VoyageServer) -> None:
    server.fail_next(400, body={"detail": "Value 300 for output_dimension is not supported."})
    with pytest.raises(BackendError) as caught:
        embedder(server.url).embed_query("x")
    assert "output_dimension is not supported" in caught.value.message
    assert len(server.posts()) == 1


def test_wrong_dimensions_are_an_error(server: VoyageServer) -> None:
    server.wrong_dim_next(1024)
    with pytest.raises(BackendError) as caught:
        embedder(server.url).embed_query("x")
    assert "1024-dimensional" in caught.value.message and "2048" in caught.value.message


# --- reranker ------------------------------------------------------------------------------


def test_the_reranker_returns_scores_in_document_order(server: VoyageServer) -> None:
    settings = Settings(backend="voyage", voyage=VoyageSettings(url=server.url, api_key=KEY))
    reranker = create_reranker(settings)
    assert isinstance(reranker, VoyageReranker)
    docs = ["parse the command line", "save the index file", "retry a request"]
    scores = reranker.rerank("where is the index file saved", docs)

    (request,) = server.posts("/v1/rerank")
    assert request.body["model"] == "rerank-2.5"
    assert request.body["documents"] == docs and request.body["top_k"] is None
    query = fake_embedding("where is the index file saved", 1024)
    expected = [(float(np.dot(query, fake_embedding(d, 1024))) + 1) / 2 for d in docs]
    assert scores == pytest.approx(expected, abs=1e-6)
    assert reranker.rerank("q", []) == []


def test_the_reranker_retries_and_reports_like_the_embedder(server: VoyageServer) -> None:
    reranker = VoyageReranker(
        VoyageSettings(url=server.url, api_key=KEY), retry=FAST, sleep=Sleeps()
    )
    server.fail_next(503, path="/v1/rerank")
    assert len(reranker.rerank("q", ["a", "b"])) == 2
    bad = VoyageReranker(VoyageSettings(url=server.url, api_key="pa-nope-000"), retry=FAST)
    with pytest.raises(BackendError, match="refused the API key"):
        bad.rerank("q", ["a"])
