"""The sglang backend against a real local HTTP server that speaks SGLang's wire format,
through the real ``openai`` client: what is sent, what comes back, and every failure."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import openai
import pytest

from codefind.config import DEFAULT_SGLANG_INSTRUCTION, Settings, SGLangSettings
from codefind.embeddings import create_embedder, create_reranker, model_dimensions
from codefind.embeddings._remote import RetryPolicy, estimate_tokens
from codefind.embeddings.base import truncate
from codefind.embeddings.sglang import (
    DEFAULT_CONTEXT_TOKENS,
    SGLangEmbedder,
    SGLangReranker,
    dimensions_for,
    format_query,
)
from codefind.errors import BackendError, ConfigError
from tests.fakeservers import SGLangServer, dead_url, fake_embedding, fake_tokens

FAST = RetryPolicy(attempts=4, connect_attempts=2, base_delay=0.01, max_delay=0.02)


class Sleeps(list[float]):
    """Records the waits between attempts instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[SGLangServer]:
    with SGLangServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def embedder(url: str, sleeps: Sleeps | None = None, **options: Any) -> SGLangEmbedder:
    settings_options = {
        k: options.pop(k) for k in ("model", "api_key", "instruction") if k in options
    }
    return SGLangEmbedder(
        SGLangSettings(url=url, **settings_options),
        retry=options.pop("retry", FAST),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **options,
    )


def embedding_inputs(srv: SGLangServer) -> list[list[str]]:
    return [r.body["input"] for r in srv.posts("/v1/embeddings")]


# --- what is sent --------------------------------------------------------------------------


def test_queries_get_the_instruction_and_documents_are_sent_raw(server: SGLangServer) -> None:
    emb = embedder(server.url)
    docs = ["def save_index(path):\n    ...", "class Parser:\n    pass"]
    emb.embed_documents(docs)
    emb.embed_query("how is the index saved")

    doc_request, query_request = server.posts("/v1/embeddings")
    assert doc_request.body["input"] == docs
    assert query_request.body["input"] == [
        f"Instruct: {DEFAULT_SGLANG_INSTRUCTION}\nQuery:how is the index saved"
    ]
    for request in (doc_request, query_request):
        assert "dimensions" not in request.body  # always native; codefind truncates
        assert request.body["model"] == "Qwen/Qwen3-Embedding-4B"
        assert request.headers["authorization"] == "Bearer EMPTY"


def test_the_query_instruction_is_configurable(server: SGLangServer) -> None:
    emb = embedder(server.url, instruction="Find the function that implements the request")
    emb.embed_queries(["parse args", "save file"])
    (request,) = server.posts("/v1/embeddings")
    assert request.body["input"] == [
        format_query("Find the function that implements the request", "parse args"),
        format_query("Find the function that implements the request", "save file"),
    ]
    assert request.body["input"][0].endswith("\nQuery:parse args")  # no space after Query:


def test_blank_texts_are_never_sent(server: SGLangServer) -> None:
    emb = embedder(server.url)
    vectors = emb.embed_documents(["alpha beta", "", "  \n\t", "gamma"])
    assert embedding_inputs(server) == [["alpha beta", "gamma"]]
    assert not vectors[1].any() and not vectors[2].any()
    assert math.isclose(float(np.linalg.norm(vectors[0])), 1.0, rel_tol=1e-5)

    assert not emb.embed_query("   ").any()
    assert len(server.posts("/v1/embeddings")) == 1  # a blank query sent nothing


def test_vectors_are_decoded_from_base64_at_native_dimension(server: SGLangServer) -> None:
    emb = embedder(server.url)
    text = "def load_config(path): read the toml file"
    vector = emb.embed_documents([text])[0]
    (request,) = server.posts("/v1/embeddings")
    assert request.body["encoding_format"] == "base64"  # the openai client's default
    assert vector.shape == (2560,) and vector.dtype == np.float32
    np.testing.assert_allclose(vector, fake_embedding(text, 2560), atol=1e-6)


def test_truncation_is_cut_then_renormalise_as_the_stand_in_serves_it() -> None:
    """codefind's ``truncate`` against the stand-in's ``dimensions`` answer.

    The stand-in computes its answer with the same formula (cut, then L2-normalise), so this
    checks the client's arithmetic and the wire format, not what a real SGLang does: that is
    ``tests/test_online_contracts.py`` (``-m online`` against a real server).
    """
    text = "def save_index(path): write vectors to a temporary file and rename it"
    with SGLangServer(matryoshka=True) as srv:
        native = embedder(srv.url).embed_documents([text])[0]
        client = openai.OpenAI(base_url=srv.url, api_key="EMPTY", max_retries=0)
        for dim in (1024, 512, 256, 32):
            served = client.embeddings.create(model="m", input=[text], dimensions=dim)
            server_side = np.asarray(served.data[0].embedding, dtype=np.float32)
            np.testing.assert_allclose(truncate(native, dim), server_side, atol=1e-5)


def test_the_query_finds_the_matching_document(server: SGLangServer) -> None:
    emb = embedder(server.url)
    docs = [
        "def parse_arguments(argv): build the argparse parser",
        "def save_index(path): write the index file atomically",
        "def retry_with_backoff(call): sleep and try again",
    ]
    scores = emb.embed_documents(docs) @ emb.embed_query("where is the index file saved")
    assert int(np.argmax(scores)) == 1


# --- batching, limits, concurrency ---------------------------------------------------------


def test_batches_stay_within_the_size_and_token_limits(server: SGLangServer) -> None:
    emb = embedder(server.url, batch_size=8, max_batch_tokens=300)
    texts = [f"function number {i} " + "word " * (i % 7 * 20) for i in range(50)]
    vectors = emb.embed_documents(texts)

    batches = embedding_inputs(server)
    assert sorted(t for batch in batches for t in batch) == sorted(texts)  # each text once
    for batch in batches:
        assert len(batch) <= 8
        assert len(batch) == 1 or sum(estimate_tokens(t) for t in batch) <= 300
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_allclose(vector, fake_embedding(text, 2560), atol=1e-6)


def test_requests_in_flight_are_bounded(server: SGLangServer) -> None:
    emb = embedder(server.url, batch_size=2, max_concurrency=2)
    server.delay_next(0.05, times=10)
    emb.embed_documents([f"text {i}" for i in range(20)])
    assert len(server.posts("/v1/embeddings")) == 10
    assert server.max_in_flight <= 2


def test_context_length_is_read_once_and_inputs_are_cut_to_it() -> None:
    with SGLangServer(context_length=256) as srv:
        emb = embedder(srv.url)
        long_text = "word " * 2000
        emb.embed_documents([long_text])
        emb.embed_documents(["short text"])

        assert emb.max_tokens == 256
        assert len([r for r in srv.requests if r.path == "/v1/models"]) == 1
        sent = embedding_inputs(srv)[0][0]
        assert long_text.startswith(sent) and len(sent) < len(long_text)
        assert fake_tokens(sent) + 1 <= 256
        assert len(srv.posts("/v1/embeddings")) == 2  # no 400, no retry


def test_chinese_text_is_cut_by_a_conservative_estimate() -> None:
    # One token per CJK character: a chars/3 estimate would send ~3x too much and get a 400.
    with SGLangServer(context_length=512) as srv:
        emb = embedder(srv.url)
        text = "保存索引文件并且原子地替换旧文件" * 200
        emb.embed_documents([text])
        (request,) = srv.posts("/v1/embeddings")
        assert fake_tokens(request.body["input"][0]) + 1 <= 512


def test_server_without_a_model_list_falls_back_to_the_model_cards_context(
    server: SGLangServer,
) -> None:
    server.fail_next(404, body={"detail": "Not Found"}, path="/v1/models")
    emb = embedder(server.url)
    emb.embed_documents(["some code"])
    assert emb.max_tokens == DEFAULT_CONTEXT_TOKENS
    assert len(server.posts("/v1/embeddings")) == 1


def test_a_too_long_batch_is_retried_item_by_item_with_a_harder_cut(sleeps: Sleeps) -> None:
    # The server reports 4096 but refuses above 256: the client's cut is not enough.
    with SGLangServer(context_length=256, reported_context_length=4096) as srv:
        emb = embedder(srv.url, sleeps)
        texts = ["short one", "word " * 1000, "short two"]
        vectors = emb.embed_documents(texts)

        posts = srv.posts("/v1/embeddings")
        assert len(posts[0].body["input"]) == 3  # refused with 400
        assert [len(p.body["input"]) for p in posts[1:]] == [1, 1, 1]
        retried = {p.body["input"][0] for p in posts[1:]}
        assert {"short one", "short two"} <= retried  # short texts are not changed
        np.testing.assert_allclose(vectors[0], fake_embedding("short one", 2560), atol=1e-6)
        np.testing.assert_allclose(vectors[2], fake_embedding("short two", 2560), atol=1e-6)
        assert np.linalg.norm(vectors[1]) == pytest.approx(1.0, rel=1e-5)
        assert emb.max_tokens == 256  # learnt from the error message
        assert sleeps == []  # a 400 is not a transient failure


def test_an_input_refused_even_after_the_hard_cut_is_one_clear_error(server: SGLangServer) -> None:
    body = server.error_body(
        400, "The input (900 tokens) is longer than the model's context length (800 tokens)."
    )
    server.fail_next(400, body=body, times=2)
    with pytest.raises(BackendError) as caught:
        embedder(server.url).embed_documents(["x " * 10])
    assert "context-length" in caught.value.message
    assert server.url in caught.value.message
    assert len(server.posts("/v1/embeddings")) == 2  # the batch, then the item once


# --- failures ------------------------------------------------------------------------------


def test_401_without_a_key_says_which_variable_to_set() -> None:
    with SGLangServer(api_key="server-secret-123") as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url).embed_documents(["x"])
        assert "CODEFIND_SGLANG_API_KEY" in caught.value.message
        assert "401" in caught.value.message


def test_401_with_a_wrong_key_never_shows_the_key() -> None:
    with SGLangServer(api_key="server-secret-123") as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url, api_key="wrong-key-456").embed_documents(["x"])
        assert "check CODEFIND_SGLANG_API_KEY" in caught.value.message
        assert "wrong-key-456" not in str(caught.value)
        assert len(srv.posts("/v1/embeddings")) == 0  # refused at GET /v1/models already

        embedder(srv.url, api_key="server-secret-123").embed_documents(["x"])
        assert srv.posts("/v1/embeddings")[0].headers["authorization"] == "Bearer server-secret-123"


def test_429_is_retried_after_the_servers_retry_after(server: SGLangServer, sleeps: Sleeps) -> None:
    server.fail_next(429, headers={"Retry-After": "7"})
    vector = embedder(server.url, sleeps).embed_query("find the parser")
    assert vector.any()
    assert len(server.posts("/v1/embeddings")) == 2
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_limit_gives_up_and_says_when(
    server: SGLangServer, sleeps: Sleeps
) -> None:
    server.fail_next(429, headers={"Retry-After": "3600"}, times=5)
    with pytest.raises(BackendError) as caught:
        embedder(server.url, sleeps).embed_documents(["x"])
    assert "3600 s" in caught.value.message
    assert len(server.posts("/v1/embeddings")) == 1 and sleeps == []


def test_a_burst_of_503s_is_retried_with_backoff(server: SGLangServer, sleeps: Sleeps) -> None:
    server.fail_next(503, times=2)
    vectors = embedder(server.url, sleeps).embed_documents(["alpha", "beta"])
    assert vectors.shape == (2, 2560)
    assert len(server.posts("/v1/embeddings")) == 3
    assert len(sleeps) == 2 and all(0 < s <= FAST.max_delay for s in sleeps)


def test_persistent_500s_give_one_message_naming_backend_and_url(
    server: SGLangServer, sleeps: Sleeps
) -> None:
    server.fail_next(500, times=10)
    with pytest.raises(BackendError) as caught:
        embedder(server.url, sleeps).embed_documents(["x"])
    message = caught.value.message
    assert "SGLang" in message and server.url in message and "500" in message
    assert "4 attempts" in message
    assert len(server.posts("/v1/embeddings")) == FAST.attempts


def test_a_server_that_does_not_answer_in_time_times_out(server: SGLangServer) -> None:
    server.delay_next(5, times=2)
    emb = embedder(server.url, retry=RetryPolicy(attempts=2, base_delay=0.01), timeout=0.3)
    with pytest.raises(BackendError) as caught:
        emb.embed_documents(["x"])
    assert "did not answer" in caught.value.message and "0.3 s" in caught.value.message
    assert len(server.posts("/v1/embeddings")) == 1, "a timeout is not retried"


def test_connection_refused_says_how_to_start_or_point_at_a_server(sleeps: Sleeps) -> None:
    url = dead_url()
    with pytest.raises(BackendError) as caught:
        embedder(url, sleeps).embed_query("x")
    message = caught.value.message
    assert f"Cannot reach the SGLang server at {url}" in message
    assert "codefind server start" in message and "CODEFIND_SGLANG_URL" in message
    assert len(sleeps) == FAST.connect_attempts - 1


def test_malformed_json_is_retried(server: SGLangServer, sleeps: Sleeps) -> None:
    server.malformed_next()
    assert embedder(server.url, sleeps).embed_query("x").any()
    assert len(server.posts("/v1/embeddings")) == 2


def test_persistent_malformed_answers_give_a_clear_message(server: SGLangServer) -> None:
    server.malformed_next(times=10)
    with pytest.raises(BackendError) as caught:
        embedder(server.url).embed_query("x")
    assert "not a valid response" in caught.value.message and server.url in caught.value.message


def test_a_server_running_another_model_is_named_in_the_error() -> None:
    with SGLangServer(model="Qwen/Qwen3-Embedding-0.6B", dim=1024) as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url).embed_documents(["x"])  # configured for the 4B (2560)
        message = caught.value.message
        assert "1024-dimensional" in message and "2560" in message
        assert "Qwen/Qwen3-Embedding-0.6B" in message and "CODEFIND_SGLANG_MODEL" in message
        assert len(srv.posts("/v1/embeddings")) == 1  # not retried: it will not change


def test_wrong_dimensions_in_one_answer_are_an_error(server: SGLangServer) -> None:
    server.wrong_dim_next(1000)
    with pytest.raises(BackendError, match="1000-dimensional"):
        embedder(server.url).embed_documents(["x"])


def test_non_finite_values_are_an_error(server: SGLangServer) -> None:
    data = [{"embedding": [float("nan")] * 2560, "index": 0, "object": "embedding"}]
    server.fail_next(200, body={"data": data, "model": "m", "object": "list", "usage": {}})
    with pytest.raises(BackendError, match="NaN"):
        embedder(server.url).embed_documents(["x"])


def test_a_generation_server_is_told_to_use_is_embedding() -> None:
    with SGLangServer(is_embedding=False) as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url).embed_documents(["x"])
        assert "not an embedding server" in caught.value.message
        assert "--is-embedding" in caught.value.message


# --- models and dimensions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("Qwen/Qwen3-Embedding-0.6B", 1024),
        ("Qwen/Qwen3-Embedding-4B", 2560),
        ("Qwen/Qwen3-Embedding-8B", 4096),
        ("/models/qwen3-embedding-8b", 4096),
    ],
)
def test_qwen3_dimensions_run_from_32_to_native(model: str, native: int) -> None:
    dims = dimensions_for(model)
    assert dims.native == native
    assert dims.is_valid(32) and dims.is_valid(native) and dims.is_valid(333)
    assert not dims.is_valid(31) and not dims.is_valid(native + 1)
    assert dims.options()[0] == native and dims.options()[-1] == 32


def test_unknown_models_are_refused_with_the_supported_names() -> None:
    with pytest.raises(ConfigError, match="Qwen/Qwen3-Embedding-4B"):
        model_dimensions("sglang", "BAAI/bge-m3")


def test_create_embedder_checks_the_dimension() -> None:
    settings = Settings(backend="sglang", dim=768)
    emb = create_embedder(settings)
    assert emb.model_id == "sglang:Qwen/Qwen3-Embedding-4B"
    assert emb.dimensions.native == 2560 and not emb.remote
    with pytest.raises(ConfigError, match="32 to 2560"):
        create_embedder(Settings(backend="sglang", dim=3000))


# --- reranker ------------------------------------------------------------------------------


def test_the_reranker_returns_scores_in_document_order() -> None:
    with SGLangServer(model="Qwen/Qwen3-Reranker-4B", reranker=True) as srv:
        settings = Settings(backend="sglang", sglang=SGLangSettings(rerank_url=srv.base))
        reranker = create_reranker(settings)
        assert isinstance(reranker, SGLangReranker)
        docs = ["parse the command line", "save the index file", "retry a request"]
        scores = reranker.rerank("where is the index file saved", docs)

        (request,) = srv.posts("/v1/rerank")
        assert request.body["query"] == "where is the index file saved"
        assert request.body["documents"] == docs
        assert request.body["instruct"] == DEFAULT_SGLANG_INSTRUCTION
        query = fake_embedding("where is the index file saved", srv.dim)
        expected = [(float(np.dot(query, fake_embedding(d, srv.dim))) + 1) / 2 for d in docs]
        assert scores == pytest.approx(expected, abs=1e-6)
        assert int(np.argmax(scores)) == 1


def test_the_reranker_needs_a_rerank_url() -> None:
    with pytest.raises(ConfigError, match="CODEFIND_SGLANG_RERANK_URL"):
        create_reranker(Settings(backend="sglang"))


def test_a_reranker_on_an_embedding_server_is_a_clear_error(server: SGLangServer) -> None:
    reranker = SGLangReranker(SGLangSettings(rerank_url=server.url), retry=FAST, sleep=Sleeps())
    with pytest.raises(BackendError, match="rejected the rerank request"):
        reranker.rerank("q", ["a", "b"])
