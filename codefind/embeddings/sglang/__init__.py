"""Qwen3-Embedding served by SGLang: the OpenAI-compatible backend with Qwen3's specifics.

The requests, limits, retries and checks are ``_server.ServerEmbedder``'s, shared with the
generic ``openai`` backend. What this module adds (what SGLang and Qwen3-Embedding do:
``docs/API_NOTES.md``):

- Model names are matched to the three Qwen3-Embedding sizes (the name may be a Hugging Face
  id, a local path or a served name that contains one), so the native dimension (1024, 2560,
  4096) and the Matryoshka range (32 up to native) are known before anything is contacted.
  An unknown model is a ``ConfigError`` rather than a probe of the server: its dimension is
  part of every cache key and index manifest.
- Queries get Qwen3's instruction format ``Instruct: {task}\\nQuery:{query}`` (no space after
  ``Query:``); documents are sent raw, as the model card says.
- Inputs are cut on the client to the server's context length (read once from
  ``GET /v1/models``; a length under ``MIN_CONTEXT_TOKENS`` is refused as a misconfigured
  server, since cutting every chunk to a few tokens would cache useless vectors for good).
  SGLang's ``--allow-auto-truncate`` is no substitute: it cuts the token list after the
  tokenizer appended ``<|endoftext|>``, and Qwen3-Embedding pools the *last* token, so a
  server-side cut yields a vector of a random mid-sentence token.
- ``dimensions`` is never sent, so the server needs no Matryoshka flag: codefind cuts the
  cached native vector (``base.truncate``), the same arithmetic SGLang's pooler applies.
- A server launched without ``--is-embedding``, or serving another model, is named as such.
- Reranking goes to a second server that serves a Qwen3-Reranker (``SGLangReranker``); the
  launcher for the embedding server is ``codefind.embeddings.sglang.launcher``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codefind.consent import is_this_machine, server_address
from codefind.embeddings._remote import RetryPolicy, cut_to_tokens, retry_policy
from codefind.embeddings._server import (
    MIN_CONTEXT_TOKENS,
    ServerClient,
    ServerEmbedder,
    ServerProfile,
    server_urls,
)
from codefind.embeddings.base import Backend, Dimensions, Reranker
from codefind.errors import BackendError, ConfigError

if TYPE_CHECKING:
    import openai

    from codefind.config import Settings, SGLangSettings

__all__ = [
    "DEFAULT_CONTEXT_TOKENS",
    "KNOWN_MODELS",
    "MIN_CONTEXT_TOKENS",
    "SGLangBackend",
    "SGLangEmbedder",
    "SGLangReranker",
    "ServedModel",
    "dimensions_for",
    "format_query",
]

BACKEND = "sglang"
KNOWN_MODELS: tuple[str, ...] = (
    "Qwen/Qwen3-Embedding-4B",
    "Qwen/Qwen3-Embedding-0.6B",
    "Qwen/Qwen3-Embedding-8B",
)
MIN_DIMENSION = 32
"""Qwen3-Embedding is Matryoshka-trained for any size from 32 up to its native one."""
PRESET_DIMENSIONS: tuple[int, ...] = (
    4096,
    3072,
    2560,
    2048,
    1536,
    1024,
    768,
    512,
    256,
    128,
    64,
    32,
)
DEFAULT_CONTEXT_TOKENS = 32768
"""Used when ``/v1/models`` does not say: the model card's 32K (configs claim 40960)."""
_NATIVE_BY_SIZE = {"0.6b": 1024, "4b": 2560, "8b": 4096}
_SIZE = re.compile(r"qwen3-embedding-(0\.6b|4b|8b)", re.IGNORECASE)

PROFILE = ServerProfile(
    name="SGLang server",
    section="sglang",
    url_variable="CODEFIND_SGLANG_URL",
    key_variable="CODEFIND_SGLANG_API_KEY",
    model_variable="CODEFIND_SGLANG_MODEL",
    start="Is the server running? Start one with `codefind server start`, or set "
    "CODEFIND_SGLANG_URL to a running server.",
    url_example="the server's address ending in /v1, e.g. http://127.0.0.1:30000/v1",
    context_setting="the server's --context-length",
)


def dimensions_for(model: str) -> Dimensions:
    """The dimensions a Qwen3-Embedding model offers (32..native, Matryoshka).

    Raises:
        ConfigError: ``model`` is not recognisably Qwen3-Embedding-0.6B, -4B or -8B.
    """
    match = _SIZE.search(model)
    if match is None:
        raise ConfigError(
            f"codefind does not know the model {model!r} on the sglang backend. It supports "
            f"Qwen3-Embedding models: {', '.join(KNOWN_MODELS)} (a local path or served name "
            "that contains one of these names works too). Set CODEFIND_SGLANG_MODEL; for "
            "another model on SGLang, use --backend openai."
        )
    native = _NATIVE_BY_SIZE[match.group(1).lower()]
    presets = tuple(d for d in PRESET_DIMENSIONS if d <= native)
    return Dimensions(native=native, minimum=MIN_DIMENSION, presets=presets)


def format_query(instruction: str, query: str) -> str:
    """A query in Qwen3-Embedding's instruction format (no space after ``Query:``)."""
    return f"Instruct: {instruction}\nQuery:{query}"


class SGLangBackend(Backend):
    """Qwen3-Embedding on an SGLang server; consent is asked when it is not this machine."""

    name = BACKEND
    label = "SGLang server (Qwen3-Embedding)"
    remote = True
    consent = "off-machine"
    multilingual = True
    known_models = KNOWN_MODELS
    has_reranker = True
    requires = ("openai",)
    extra = "openai"
    url_setting = "url"
    instruction_setting = "instruction"

    def create(self, settings: Settings) -> SGLangEmbedder:
        """The embedder for ``settings.sglang`` (nothing is contacted yet)."""
        return SGLangEmbedder(settings.sglang, retry=retry_policy(settings.sglang))

    def dimensions(self, settings: Settings, model: str) -> Dimensions:
        """Qwen3-Embedding's native size by model name, and every size down to 32."""
        return dimensions_for(model)

    def create_reranker(self, settings: Settings) -> SGLangReranker:
        """A Qwen3-Reranker served by a second SGLang server (``CODEFIND_SGLANG_RERANK_URL``).

        Raises:
            ConfigError: No rerank server is configured.
        """
        if not settings.sglang.rerank_url:
            raise ConfigError(
                "Reranking with the sglang backend needs a second SGLang server that serves a "
                "Qwen3-Reranker (one server serves one model). Start one without "
                "--is-embedding and with --chat-template "
                "examples/chat_template/qwen3_reranker.jinja, then set "
                "CODEFIND_SGLANG_RERANK_URL (or `codefind config set sglang.rerank_url URL`)."
            )
        return SGLangReranker(settings.sglang, retry=retry_policy(settings.sglang))


@dataclass(frozen=True)
class ServedModel:
    """What ``GET /v1/models`` says about the server's model."""

    name: str
    context_tokens: int
    reported: bool
    """Whether the server reported its context length (else the default was assumed)."""


class SGLangEmbedder(ServerEmbedder):
    """Qwen3-Embedding on an SGLang server.

    Args:
        settings: URL, model, API key, query instruction and timeouts.
        timeout: Overrides ``settings.timeout`` (seconds per indexing batch).
        query_timeout: Overrides ``settings.query_timeout`` (seconds per search query).
        Others: see ``ServerEmbedder``.
    """

    backend = BACKEND
    multilingual = True  # Qwen3-Embedding: queries go as typed, never translated

    def __init__(
        self,
        settings: SGLangSettings,
        *,
        timeout: float | None = None,
        query_timeout: float | None = None,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 32768,
        max_concurrency: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            url=settings.url,
            urls=server_urls(settings.url, settings.urls),
            api_key=settings.api_key,
            model=settings.model,
            profile=PROFILE,
            timeout=settings.timeout if timeout is None else timeout,
            query_timeout=settings.query_timeout if query_timeout is None else query_timeout,
            connect_timeout=connect_timeout,
            retry=retry,
            batch_size=batch_size,
            max_batch_tokens=max_batch_tokens,
            max_tokens=DEFAULT_CONTEXT_TOKENS,
            max_concurrency=settings.max_concurrency
            if max_concurrency is None
            else max_concurrency,
            sleep=sleep,
        )
        self.settings = settings
        self.model_id = f"{BACKEND}:{settings.model}"
        self.dimensions = dimensions_for(settings.model)
        self._served: ServedModel | None = None
        self._served_lock = threading.Lock()

    def served_model(self, timeout: float | None = None) -> ServedModel:
        """What the server serves and its context length (asked once, then remembered).

        Raises:
            BackendError: No answer, or a context length too short to embed code with.
        """
        with self._served_lock:
            if self._served is None:
                served = self._ask_served_model(timeout)
                self._check_context(served.context_tokens)
                self._served = served
                self.max_tokens = served.context_tokens
            return self._served

    def prepare(self, text: str, *, query: bool) -> str:
        """The exact text sent for ``text``: instruction added to queries, cut to fit."""
        if query:
            text = format_query(self.settings.instruction, text)
        return cut_to_tokens(text, self._input_limit())

    def _ready(self, timeout: float) -> None:
        self.served_model(timeout)

    def _wrong_dimension(self, sizes: list[int]) -> BackendError:
        served = self._served.name if self._served else "another model"
        got = "/".join(str(s) for s in sizes)
        return BackendError(
            f"The SGLang server at {self.url} returned {got}-dimensional vectors, but "
            f"{self.model} makes {self.dimensions.native}. The server runs {served}: set "
            "CODEFIND_SGLANG_MODEL to the model it serves, or point CODEFIND_SGLANG_URL at a "
            f"server that runs {self.model}."
        )

    def _bad_vectors(self, problem: str) -> BackendError:
        return BackendError(
            f"The SGLang server at {self.url} returned {problem} for {self.model}. "
            "Relaunch it with --dtype bfloat16 (or float32), and check its log."
        )

    def _ask_served_model(self, timeout: float | None) -> ServedModel:
        import openai

        def ask(client: openai.OpenAI) -> Any:
            try:
                return client.models.list().data
            except (openai.NotFoundError, ValueError, TypeError, AttributeError):
                return []  # a proxy without a model list: assume the model card's context

        cards = self._http.call(ask, "the model list (GET /v1/models)", timeout)
        return _served_from_cards(cards, self.model)


def _served_from_cards(cards: Sequence[Any], model: str) -> ServedModel:
    """The card for ``model`` (by id or root), else the first one."""
    if not cards:
        return ServedModel(model, DEFAULT_CONTEXT_TOKENS, reported=False)
    chosen = next(
        (c for c in cards if model in (getattr(c, "id", None), getattr(c, "root", None))),
        cards[0],
    )
    name = str(getattr(chosen, "root", None) or getattr(chosen, "id", model))
    length = getattr(chosen, "max_model_len", None)
    if isinstance(length, int) and length > 0:
        return ServedModel(name, length, reported=True)
    return ServedModel(name, DEFAULT_CONTEXT_TOKENS, reported=False)


class SGLangReranker(Reranker):
    """A Qwen3-Reranker on an SGLang server, through ``POST /v1/rerank``.

    The server's chat template (``qwen3_reranker.jinja``) builds Qwen3-Reranker's prompt from
    ``query``, ``documents`` and ``instruct`` and scores P(yes); codefind sends the query raw
    and the same task instruction that queries get for embedding.
    """

    def __init__(
        self,
        settings: SGLangSettings,
        *,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = (settings.rerank_url or "").rstrip("/")
        self.url = url if url.endswith("/v1") else url + "/v1"
        self.model = settings.rerank_model
        self.destination = (
            None
            if is_this_machine(self.url)
            else f"the rerank server at {server_address(self.url)} (not this machine)"
        )
        self.instruction = settings.instruction
        self._http = ServerClient(
            self.url,
            settings.api_key,
            profile=PROFILE,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retry=retry or RetryPolicy(),
            sleep=sleep,
        )

    def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """Relevance scores in document order (P(yes) from the reranker, 0..1)."""
        if not documents:
            return []
        body = {
            "query": query,
            "documents": list(documents),
            "instruct": self.instruction,
            "return_documents": False,
        }

        def send(client: openai.OpenAI) -> list[float]:
            answer = client.post("/rerank", body=body, cast_to=object)
            return _scores_in_order(answer, len(documents), self._http)

        scores: list[float] = self._http.call(send, "the rerank request")
        return scores

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()


def _scores_in_order(answer: object, count: int, http: ServerClient) -> list[float]:
    """SGLang's rerank answer (sorted by score, with ``index``) as scores in document order."""
    if not isinstance(answer, list):
        raise http.malformed("the rerank request")
    scores: list[float | None] = [None] * count
    for item in answer:
        if not isinstance(item, dict):
            raise http.malformed("the rerank request")
        index, score = item.get("index"), item.get("score")
        if not isinstance(index, int) or not 0 <= index < count:
            raise http.malformed("the rerank request")
        if not isinstance(score, int | float) or not math.isfinite(score):
            raise http.malformed("the rerank request")
        scores[index] = float(score)
    if any(s is None for s in scores):
        raise http.malformed("the rerank request (scores missing)")
    return [float(s) for s in scores if s is not None]
