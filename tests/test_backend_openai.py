"""The generic ``openai`` backend against stand-ins of every OpenAI-compatible server it meets
(``tests/compatservers.py``: OpenAI, vLLM, TEI, Ollama, llama.cpp, Infinity; and SGLang's own
stand-in), through the real ``openai`` client: what is sent, what is learnt, every refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from codefind.config import OpenAISettings, Settings
from codefind.embeddings import create_embedder, model_dimensions
from codefind.embeddings._remote import RetryPolicy
from codefind.embeddings.base import truncate
from codefind.embeddings.openai_compat import PROBE, DimensionRecord, OpenAICompatEmbedder
from codefind.errors import BackendError, ConfigError
from tests.compatservers import VARIANTS, CompatServer
from tests.fakeservers import SGLangServer, fake_embedding, fake_tokens

FAST = RetryPolicy(attempts=3, connect_attempts=1, base_delay=0.01, max_delay=0.02)
DOCS = [
    "def parse_arguments(argv): build the argparse parser",
    "def save_index(path): write the index file atomically",
    "def retry_with_backoff(call): sleep and try again",
]


def embedder(url: str, tmp_path: Path, **settings: Any) -> OpenAICompatEmbedder:
    return OpenAICompatEmbedder(
        OpenAISettings(url=url, model=settings.pop("model", "code-embedder"), **settings),
        record=DimensionRecord(tmp_path / "servers.json"),
        retry=FAST,
        sleep=lambda _: None,
    )


def embedding_posts(srv: CompatServer) -> list[Any]:
    return [r for r in srv.posts() if r.path.endswith("/embeddings")]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_embeds_and_finds_the_right_document(variant: str, tmp_path: Path) -> None:
    with CompatServer(variant, dim=384) as srv:
        emb = embedder(srv.url, tmp_path)
        vectors = emb.embed_documents(DOCS)
        assert emb.dimensions.native == 384, "learnt from the server"
        assert emb.model_id == "openai:code-embedder#384"
        for text, vector in zip(DOCS, vectors, strict=True):
            np.testing.assert_allclose(vector, fake_embedding(text, 384), atol=1e-6)
        scores = vectors @ emb.embed_query("where is the index file saved")
        assert int(np.argmax(scores)) == 1

        probe, *requests = embedding_posts(srv)
        assert probe.body["input"] == [PROBE], "the first request is a word, never code"
        for request in requests:
            assert "dimensions" not in request.body, "always native; codefind cuts"
            assert request.body["model"] == "code-embedder"
        assert requests[0].body["input"] == DOCS


def test_the_sglang_server_is_one_of_them(tmp_path: Path) -> None:
    with SGLangServer(model="Qwen/Qwen3-Embedding-0.6B", dim=1024) as srv:
        emb = embedder(srv.url, tmp_path, model="Qwen/Qwen3-Embedding-0.6B")
        assert emb.embed_documents(DOCS).shape == (3, 1024)


def test_floats_are_read_when_a_server_ignores_base64(tmp_path: Path) -> None:
    with CompatServer("ollama") as srv:  # answers floats whatever is asked
        vector = embedder(srv.url, tmp_path).embed_documents([DOCS[0]])[0]
        assert embedding_posts(srv)[-1].body["encoding_format"] == "base64"
        np.testing.assert_allclose(vector, fake_embedding(DOCS[0], 768), atol=1e-6)


def test_the_query_prefix_goes_before_queries_only(tmp_path: Path) -> None:
    with CompatServer("ollama") as srv:
        emb = embedder(srv.url, tmp_path, query_prefix="search_query: ")
        emb.embed_documents(["def a(): pass"])
        emb.embed_query("find a")
        *_, docs, query = embedding_posts(srv)
        assert docs.body["input"] == ["def a(): pass"]
        assert query.body["input"] == ["search_query: find a"]


# --- the native dimension ------------------------------------------------------------------


def test_the_learnt_dimension_is_remembered_across_processes(tmp_path: Path) -> None:
    with CompatServer("tei", dim=512) as srv:
        embedder(srv.url, tmp_path).embed_documents(["x"])
        again = embedder(srv.url, tmp_path)
        assert again.dimensions.native == 512
        again.embed_documents(["y"])
        inputs = [r.body["input"] for r in embedding_posts(srv)]
        assert inputs == [[PROBE], ["x"], ["y"]], "the second embedder did not probe"

        settings = Settings(backend="openai", openai=OpenAISettings(url=srv.url, model="m"))
        assert model_dimensions("openai", "code-embedder", settings) is None, "not from here"


def test_a_model_swapped_behind_its_name_is_noticed_and_recorded(tmp_path: Path) -> None:
    with CompatServer("vllm", dim=768) as srv:
        embedder(srv.url, tmp_path).embed_documents(["x"])
    with CompatServer("vllm", dim=1024) as srv:
        record = DimensionRecord(tmp_path / "servers.json")
        record.put(srv.url, "code-embedder", 768)  # what the last server said
        emb = embedder(srv.url, tmp_path)
        with pytest.raises(BackendError) as caught:
            emb.embed_documents(["x"])
        message = caught.value.message
        assert "1024-dimensional" in message and "768" in message and "again" in message
        fresh = embedder(srv.url, tmp_path)
        assert fresh.dimensions.native == 1024
        assert fresh.model_id != emb.model_id, "the two models' vectors never mix"


def test_matryoshka_only_where_declared(tmp_path: Path) -> None:
    text = "def save_index(path): write vectors to a temporary file and rename it"
    with CompatServer("infinity", dim=1024) as srv:
        plain = embedder(srv.url, tmp_path)
        assert plain.dimensions.options() == (1024,)
        with pytest.raises(ConfigError, match="1024 only"):
            plain.dimensions.check(256, plain.model)

        declared = embedder(srv.url, tmp_path, matryoshka_min_dim=64)
        native = declared.embed_documents([text])[0]
        assert declared.dimensions.is_valid(64) and 256 in declared.dimensions.options()
        client = openai.OpenAI(base_url=srv.url, api_key="EMPTY", max_retries=0)
        for dim in (512, 256, 64):  # the server's own cut equals codefind's
            served = client.embeddings.create(model="code-embedder", input=[text], dimensions=dim)
            server_side = np.asarray(served.data[0].embedding, dtype=np.float32)
            np.testing.assert_allclose(truncate(native, dim), server_side, atol=1e-5)


def test_create_embedder_checks_the_dimension_once_it_is_known(tmp_path: Path) -> None:
    with CompatServer("vllm", dim=768) as srv:
        settings = Settings(
            backend="openai", dim=256, openai=OpenAISettings(url=srv.url, model="code-embedder")
        )
        emb = create_embedder(settings)  # not known yet: nothing contacted, nothing refused
        assert srv.requests == []
        with pytest.raises(ConfigError, match="768 only"):
            emb.dimensions.check(settings.dim, emb.model)
        with pytest.raises(ConfigError, match="768 only"):
            create_embedder(settings)  # now it is recorded


def test_url_and_model_are_required() -> None:
    with pytest.raises(ConfigError, match="CODEFIND_OPENAI_URL"):
        create_embedder(Settings(backend="openai"))
    with pytest.raises(ConfigError, match="CODEFIND_OPENAI_MODEL"):
        create_embedder(Settings(backend="openai", openai=OpenAISettings(url="http://x:1/v1")))


# --- limits the servers state ----------------------------------------------------------------


def test_teis_batch_limit_is_read_from_its_413_and_kept(tmp_path: Path) -> None:
    with CompatServer("tei", max_batch=8) as srv:
        emb = embedder(srv.url, tmp_path, batch_size=20)
        texts = [f"function number {i}" for i in range(20)]
        vectors = emb.embed_documents(texts)
        for text, vector in zip(texts, vectors, strict=True):
            np.testing.assert_allclose(vector, fake_embedding(text, 768), atol=1e-6)
        # The batches of one call are sent side by side, so they arrive in any order.
        sizes = [len(r.body["input"]) for r in embedding_posts(srv)[1:]]
        assert sizes[0] == 20 and sorted(sizes[1:]) == [4, 8, 8], "refused, then split"
        assert emb.batch_size == 8
        emb.embed_documents(texts[:10])
        assert sorted(len(r.body["input"]) for r in embedding_posts(srv)[-2:]) == [2, 8]


def test_infinitys_list_limit_comes_as_fastapis_422(tmp_path: Path) -> None:
    with CompatServer("infinity", max_batch=4) as srv:
        emb = embedder(srv.url, tmp_path, batch_size=10)
        assert emb.embed_documents([f"text {i}" for i in range(10)]).shape == (10, 768)
        assert emb.batch_size == 4


@pytest.mark.parametrize("variant", ["tei", "vllm", "llamacpp", "openai"])
def test_an_input_over_the_stated_limit_is_cut_to_it(variant: str, tmp_path: Path) -> None:
    with CompatServer(variant, max_tokens=200) as srv:
        emb = embedder(srv.url, tmp_path, max_tokens=100_000)
        long_text = "word " * 2000
        vectors = emb.embed_documents(["short one", long_text, "short two"])
        assert emb.max_tokens == 200, "the limit was read from the refusal"
        np.testing.assert_allclose(vectors[0], fake_embedding("short one", 768), atol=1e-6)
        np.testing.assert_allclose(vectors[2], fake_embedding("short two", 768), atol=1e-6)
        sent = [r.body["input"] for r in embedding_posts(srv)]
        assert len(sent[1]) == 3, "refused as a batch"
        assert [len(s) for s in sent[2:]] == [1, 1, 1], "then each alone"
        cut = sent[3][0]
        assert long_text.startswith(cut) and fake_tokens(cut) <= 200


def test_ollama_cuts_long_inputs_itself(tmp_path: Path) -> None:
    with CompatServer("ollama") as srv:
        embedder(srv.url, tmp_path).embed_documents(["word " * 5000])
        assert len(embedding_posts(srv)) == 2, "the probe and the batch: nothing refused"


def test_a_refusal_without_a_number_halves_until_taken(tmp_path: Path) -> None:
    with CompatServer("vllm") as srv:
        emb = embedder(srv.url, tmp_path)
        emb.embed_documents(["x"])  # learn the dimension first
        body = srv.error_body(400, "Input is too long for this deployment.")
        srv.fail_next(400, body=body, times=2)
        vectors = emb.embed_documents(["alpha", "beta", "gamma", "delta"])
        assert vectors.shape == (4, 768)
        sizes = [len(r.body["input"]) for r in embedding_posts(srv)[2:]]
        assert sizes == [4, 2, 1, 1, 2], "halved, then halved again where refused again"


# --- failures, in each server's words ------------------------------------------------------


@pytest.mark.parametrize("variant", ["openai", "vllm", "tei", "llamacpp"])
def test_a_missing_or_wrong_key_names_the_variable_never_the_key(
    variant: str, tmp_path: Path
) -> None:
    with CompatServer(variant, api_key="server-secret-123") as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url, tmp_path).embed_documents(["x"])
        assert "401" in caught.value.message and "CODEFIND_OPENAI_API_KEY" in caught.value.message
        with pytest.raises(BackendError) as wrong:
            embedder(srv.url, tmp_path, api_key="wrong-key-456").embed_documents(["x"])
        assert "check CODEFIND_OPENAI_API_KEY" in wrong.value.message
        assert "wrong-key-456" not in str(wrong.value)
        good = embedder(srv.url, tmp_path, api_key="server-secret-123")
        assert good.embed_documents(["x"]).shape == (1, 768)


def test_a_model_ollama_has_not_pulled_is_named(tmp_path: Path) -> None:
    with CompatServer("ollama", model="nomic-embed-text") as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url, tmp_path, model="nomic-embed-txt").embed_documents(["x"])
        message = caught.value.message
        assert "does not serve that model" in message and "try pulling it first" in message
        assert "CODEFIND_OPENAI_MODEL" in message
        assert len(srv.posts()) == 1, "a 404 is not retried"


def test_llamacpp_without_embeddings_says_so(tmp_path: Path) -> None:
    with CompatServer("llamacpp", embeddings=False) as srv:
        with pytest.raises(BackendError) as caught:
            embedder(srv.url, tmp_path).embed_documents(["x"])
        assert "501" in caught.value.message and "--embeddings" in caught.value.message


def test_a_url_with_the_wrong_path_says_what_it_should_look_like(tmp_path: Path) -> None:
    with CompatServer("infinity") as srv:  # serves /embeddings, not /v1/embeddings
        with pytest.raises(BackendError) as caught:
            embedder(srv.url + "/v1", tmp_path).embed_documents(["x"])
        assert "404" in caught.value.message and "base URL" in caught.value.message
        assert embedder(srv.url, tmp_path).embed_documents(["x"]).shape == (1, 768)


def test_vllm_error_bodies_are_quoted(tmp_path: Path) -> None:
    with CompatServer("vllm") as srv:
        srv.fail_next(400, body=srv.error_body(400, "The model does not support Embeddings API"))
        with pytest.raises(BackendError) as caught:
            embedder(srv.url, tmp_path).embed_documents(["x"])
        assert "does not support Embeddings API" in caught.value.message
        assert srv.url in caught.value.message


def test_teis_busy_answer_is_retried(tmp_path: Path) -> None:
    with CompatServer("tei") as srv:
        srv.fail_next(429, body=srv.error_body(429, "Model is overloaded"))
        assert embedder(srv.url, tmp_path).embed_documents(["x"]).shape == (1, 768)
        assert len(embedding_posts(srv)) == 3  # the refused probe, the probe, the batch


def test_answers_are_matched_by_index_and_checked(tmp_path: Path) -> None:
    with CompatServer("openai") as srv:
        emb = embedder(srv.url, tmp_path)
        emb.embed_documents(["warm"])
        srv.reversed_next()
        vectors = emb.embed_documents(DOCS)
        for text, vector in zip(DOCS, vectors, strict=True):
            np.testing.assert_allclose(vector, fake_embedding(text, 768), atol=1e-6)
        data = [{"object": "embedding", "embedding": [float("nan")] * 768, "index": 0}]
        srv.fail_next(200, body={"object": "list", "data": data, "model": "m", "usage": {}})
        with pytest.raises(BackendError, match="NaN"):
            emb.embed_documents(["x"])


def test_a_local_server_needs_no_consent_and_a_remote_one_does(tmp_path: Path) -> None:
    local = embedder("http://127.0.0.1:1/v1", tmp_path)
    assert not local.remote and local.endpoint == "http://127.0.0.1:1/v1"
    assert embedder("https://api.openai.com/v1", tmp_path).remote


def test_code_goes_to_a_server_elsewhere_only_after_a_yes(tmp_path: Path) -> None:
    """The server is reached as http://embed-box.invalid:PORT through an HTTP proxy (the stand-in
    answers as the proxy), so the URL names a host that is not this machine."""
    import json
    import os

    from tests.cliutil import codefind
    from tests.gitutil import make_repo

    with CompatServer("vllm", dim=384) as srv:
        port = srv.url.rsplit(":", 1)[1].split("/")[0]
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
        env |= {
            "HTTP_PROXY": f"http://127.0.0.1:{port}",
            "http_proxy": f"http://127.0.0.1:{port}",
            "CODEFIND_BACKEND": "openai",
            "CODEFIND_OPENAI_URL": f"http://embed-box.invalid:{port}/v1",
            "CODEFIND_OPENAI_MODEL": "code-embedder",
        }
        repo = make_repo(tmp_path / "repo", {"a.py": "def a():\n    return 1\n"})
        refused = codefind("index", cwd=repo, env=env)
        assert refused.returncode == 2, refused.stderr
        assert f"embed-box.invalid:{port}" in refused.stderr and "--yes" in refused.stderr
        inputs = [r.body["input"] for r in embedding_posts(srv)]
        assert inputs == [[PROBE]], "only the one-word probe left the machine"

        agreed = codefind("index", "--json", "--yes", cwd=repo, env=env)
        assert agreed.returncode == 0, agreed.stderr
        assert json.loads(agreed.stdout)["dim"] == 384
        assert any("def a" in "".join(r.body["input"]) for r in embedding_posts(srv))


def test_with_the_server_down_the_index_is_still_found_and_searched_by_words(
    tmp_path: Path,
) -> None:
    import os

    from tests.cliutil import codefind
    from tests.gitutil import make_repo

    repo = make_repo(
        tmp_path / "repo",
        {
            "net.py": "def fetch_page(url):\n    return http_get(url)\n",
            "store.py": "def save_index(path):\n    write_file(path)\n",
        },
    )
    with CompatServer("tei", dim=384) as srv:
        env = {
            **os.environ,
            "CODEFIND_BACKEND": "openai",
            "CODEFIND_OPENAI_URL": srv.url,
            "CODEFIND_OPENAI_MODEL": "code-embedder",
        }
        indexed = codefind("index", "--json", cwd=repo, env=env)
        assert indexed.returncode == 0, indexed.stderr
    found = codefind("search", "save index", "--format", "grep", "--all", cwd=repo, env=env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("store.py:1:"), found.stdout
    assert "Cannot reach the embedding server" in found.stderr
