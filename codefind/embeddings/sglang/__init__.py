"""Qwen3-Embedding served by SGLang, over its OpenAI-compatible ``/v1/embeddings``.

Why it is built this way (what SGLang and Qwen3-Embedding do: ``docs/API_NOTES.md``):

- The ``openai`` client speaks the wire format; its retries are off so that codefind's own
  bounded retries (``_remote.call_with_retries``) give every failure one message that names
  the backend, the URL and the fix.
- Vectors are always requested at the model's native size: the ``dimensions`` field is never
  sent. The cache keeps one full vector per text and codefind truncates (``base.truncate``),
  so a dimension switch never re-embeds and the server needs no Matryoshka flag.
- Queries get Qwen3's instruction format ``Instruct: {task}\\nQuery:{query}`` (no space after
  ``Query:``); documents are sent raw, as the model card says.
- Inputs are cut on the client to the server's context length (read once from
  ``GET /v1/models``; a length under ``MIN_CONTEXT_TOKENS`` is refused as a misconfigured
  server, since cutting every chunk to a few tokens would cache useless vectors for good). SGLang's ``--allow-auto-truncate`` is no substitute: it cuts the token
  list after the tokenizer appended ``<|endoftext|>``, and Qwen3-Embedding pools the *last*
  token, so a server-side cut yields a vector of a random mid-sentence token.
- Waits are bounded: one timeout for an indexing batch (``timeout``) and a short one for a
  search query (``query_timeout``, then search falls back to lexical hits). A timeout is
  not retried (see ``_remote.RetryPolicy``).
- Vectors are matched to inputs by the answer's ``index`` field and checked at this
  boundary (``base.vector_problem``): nothing unusable reaches the cache.
- Model names are matched to the three Qwen3-Embedding sizes (the name may be a Hugging Face
  id, a local path or a served name that contains one). An unknown model is a ``ConfigError``
  rather than a probe of the server: its dimension is part of every cache key and index
  manifest and must be known before anything is contacted.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from codefind.consent import is_this_machine
from codefind.embeddings._remote import (
    Failure,
    RequestSlots,
    RetryableBackendError,
    RetryPolicy,
    call_with_retries,
    cut_to_bytes,
    cut_to_tokens,
    estimate_tokens,
    in_input_order,
    parse_retry_after,
    plan_batches,
    retry_policy,
    scrub,
    shorten,
)
from codefind.embeddings.base import Dimensions, Embedder, Reranker, Vectors, vector_problem
from codefind.errors import BackendError, ConfigError

if TYPE_CHECKING:
    import openai

    from codefind.config import Settings, SGLangSettings

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
MIN_CONTEXT_TOKENS = 64
"""A server reporting a shorter context is misconfigured (a chunk is ~100-500 tokens)."""
_NATIVE_BY_SIZE = {"0.6b": 1024, "4b": 2560, "8b": 4096}
_SIZE = re.compile(r"qwen3-embedding-(0\.6b|4b|8b)", re.IGNORECASE)
_TOO_LONG = re.compile(
    r"input \((?P<n>\d+) tokens\) is longer than the model's context length \((?P<m>\d+) tokens\)"
)
_SPECIAL_TOKEN_ROOM = 16
"""Tokens kept free below the context length for ``<|endoftext|>`` and estimate slack."""


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
            "that contains one of these names works too). Set CODEFIND_SGLANG_MODEL."
        )
    native = _NATIVE_BY_SIZE[match.group(1).lower()]
    presets = tuple(d for d in PRESET_DIMENSIONS if d <= native)
    return Dimensions(native=native, minimum=MIN_DIMENSION, presets=presets)


def format_query(instruction: str, query: str) -> str:
    """A query in Qwen3-Embedding's instruction format (no space after ``Query:``)."""
    return f"Instruct: {instruction}\nQuery:{query}"


def create(settings: Settings) -> SGLangEmbedder:
    """The embedder for ``settings.sglang`` (nothing is contacted yet)."""
    return SGLangEmbedder(settings.sglang, retry=retry_policy(settings.sglang))


def create_reranker(settings: Settings) -> SGLangReranker:
    """A Qwen3-Reranker served by a second SGLang server (``CODEFIND_SGLANG_RERANK_URL``).

    Raises:
        ConfigError: No rerank server is configured.
    """
    if not settings.sglang.rerank_url:
        raise ConfigError(
            "Reranking with the sglang backend needs a second SGLang server that serves a "
            "Qwen3-Reranker (one server serves one model). Start one without --is-embedding "
            "and with --chat-template examples/chat_template/qwen3_reranker.jinja, then set "
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


class _InputTooLong(BackendError):
    """SGLang's 400 "The input (N tokens) is longer than the model's context length (M)"."""

    def __init__(self, message: str, tokens: int | None, limit: int | None) -> None:
        super().__init__(message)
        self.tokens = tokens
        self.limit = limit


class _SGLangClient:
    """The ``openai`` client for one SGLang server, with codefind's retries and messages."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
        key_variable: str,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry
        self.sleep = sleep
        self.key_variable = key_variable
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    def client(self) -> openai.OpenAI:
        """The client, built on first use (importing ``openai`` costs ~1 s)."""
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.url,
                    api_key=self.api_key or "EMPTY",
                    timeout=openai.Timeout(self.timeout, connect=self.connect_timeout),
                    max_retries=0,
                )
            return self._client

    def call(
        self, request: Callable[[openai.OpenAI], Any], what: str, timeout: float | None = None
    ) -> Any:
        """Run ``request`` with retries; failures become one ``BackendError``.

        ``timeout`` (default: the client's) is the wait for this request's answer; the
        client is set up with it, so ``request`` needs nothing more.
        """
        import openai

        wait = self.timeout if timeout is None else timeout
        client = self.client().with_options(
            timeout=openai.Timeout(wait, connect=min(wait, self.connect_timeout))
        )
        return call_with_retries(
            lambda: request(client),
            lambda exc: self.classify(exc, what, wait),
            self.retry,
            self.sleep,
        )

    def classify(self, exc: Exception, what: str, timeout: float | None = None) -> Failure:
        """How one failed attempt reads: the message, and whether to try again."""
        import openai

        where = f"The SGLang server at {self.url}"
        if isinstance(exc, BackendError):
            return Failure(exc, retryable=isinstance(exc, RetryableBackendError))
        if isinstance(exc, openai.APITimeoutError):
            wait = self.timeout if timeout is None else timeout
            return Failure(
                BackendError(
                    f"{where} did not answer {what} within {wait:g} s. It may be overloaded "
                    "or still loading the model; check its log (a slow server: raise "
                    "sglang.timeout, or sglang.query_timeout for searches)."
                )
            )
        if isinstance(exc, openai.APIConnectionError):
            return Failure(
                BackendError(
                    f"Cannot reach the SGLang server at {self.url}. Is the server running? "
                    "Start one with `codefind server start`, or set CODEFIND_SGLANG_URL to a "
                    "running server."
                ),
                retryable=True,
                unreachable=True,
            )
        if isinstance(exc, openai.APIStatusError):
            return self._status_failure(exc, what)
        if isinstance(exc, ValueError | TypeError | LookupError | AttributeError):
            return Failure(self.malformed(what), retryable=True)
        return Failure(BackendError(f"{where} failed on {what}: {shorten(str(exc))}"))

    def malformed(self, what: str) -> RetryableBackendError:
        """The error for an answer that is not what SGLang sends."""
        return RetryableBackendError(
            f"The SGLang server at {self.url} answered {what} with something that is not a "
            "valid response. Does CODEFIND_SGLANG_URL point at an SGLang server (ending in /v1)?"
        )

    def _status_failure(self, exc: openai.APIStatusError, what: str) -> Failure:
        where = f"The SGLang server at {self.url}"
        status = exc.status_code
        message = scrub(_server_message(exc.body), self.api_key)
        if status in (401, 403):
            fix = (
                f"check {self.key_variable}"
                if self.api_key
                else f"set {self.key_variable} to the server's --api-key"
            )
            return Failure(BackendError(f"{where} refused the request ({status}): {fix}."))
        if status == 404:
            return Failure(
                BackendError(
                    f"{where} has no endpoint for {what} (404). The URL must end in /v1, "
                    "e.g. http://127.0.0.1:30000/v1."
                )
            )
        if status == 400:
            return Failure(self._bad_request(message, what))
        if status in (408, 409, 429) or status >= 500:
            retry_after = parse_retry_after(dict(exc.response.headers))
            detail = f": {shorten(message)}" if message else ""
            busy = "is busy" if status == 429 else "failed"
            return Failure(
                BackendError(f"{where} {busy} (HTTP {status}){detail}. Check the server's log."),
                retryable=True,
                retry_after=retry_after,
            )
        return Failure(BackendError(f"{where} answered HTTP {status}: {shorten(message)}"))

    def _bad_request(self, message: str, what: str) -> BackendError:
        where = f"The SGLang server at {self.url}"
        too_long = _TOO_LONG.search(message)
        if too_long:
            return _InputTooLong(
                f"{where} refused an input as too long: {message}",
                int(too_long.group("n")),
                int(too_long.group("m")),
            )
        if "--is-embedding" in message or "not appear to be an embedding model" in message:
            return BackendError(
                f"{where} is not an embedding server: launch it with --is-embedding "
                "(`codefind server start` does)."
            )
        return BackendError(f"{where} rejected {what} (400): {shorten(message)}")

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class SGLangEmbedder(Embedder):
    """Qwen3-Embedding on an SGLang server.

    Args:
        settings: URL, model, API key, query instruction and timeouts.
        timeout: Seconds to wait for the answer to one indexing batch (default: the
            settings' ``timeout``).
        query_timeout: Seconds to wait for a search query's vector (default: the settings'
            ``query_timeout``); search falls back to lexical hits after it.
        connect_timeout: Seconds to wait for a connection.
        retry: Attempts and backoff for transient failures.
        batch_size: Texts per request (the indexer also hands over this many per call).
        max_batch_tokens: Estimated tokens per request; keeps requests short enough to answer
            well within ``timeout``.
        max_concurrency: Requests in flight at once, across all callers.
        sleep: How to wait between attempts (tests pass a recorder).
    """

    backend = BACKEND
    remote = False
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
        max_concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.model_id = f"{BACKEND}:{settings.model}"
        self.dimensions = dimensions_for(settings.model)
        self.max_tokens = DEFAULT_CONTEXT_TOKENS
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_concurrency = max_concurrency
        self.url = settings.url.rstrip("/")
        self.remote = not is_this_machine(self.url)  # code sent elsewhere needs consent
        self.timeout = settings.timeout if timeout is None else timeout
        self.query_timeout = settings.query_timeout if query_timeout is None else query_timeout
        self._http = _SGLangClient(
            self.url,
            settings.api_key,
            timeout=self.timeout,
            connect_timeout=connect_timeout,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            key_variable="CODEFIND_SGLANG_API_KEY",
        )
        self._slots = RequestSlots(max_concurrency)
        self._served: ServedModel | None = None
        self._served_lock = threading.Lock()

    # -- public --

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

    def close(self) -> None:
        """Close connections and worker threads."""
        self._slots.close()
        self._http.close()

    # -- Embedder --

    def _embed(self, texts: list[str], *, query: bool) -> Vectors:
        timeout = self.query_timeout if query else self.timeout
        self.served_model(timeout)
        inputs = [self.prepare(t, query=query) for t in texts]
        costs = [estimate_tokens(t) for t in inputs]
        batches = plan_batches(costs, self.batch_size, self.max_batch_tokens)
        results = self._slots.run_all([self._batch_call(inputs, b, timeout) for b in batches])
        out = np.empty((len(inputs), self.dimensions.native), dtype=np.float32)
        retry: list[int] = []
        for batch, result in zip(batches, results, strict=True):
            if isinstance(result, _InputTooLong):
                self._lower_limit(result)
                retry.extend(batch)
            else:
                out[batch.start : batch.stop] = result
        if retry:
            out[retry] = self._embed_cut_hard([inputs[i] for i in retry])
        return out

    # -- internals --

    def _batch_call(
        self, inputs: list[str], batch: range, timeout: float
    ) -> Callable[[], Vectors | _InputTooLong]:
        chunk = inputs[batch.start : batch.stop]

        def call() -> Vectors | _InputTooLong:
            try:
                return self._request(chunk, timeout)
            except _InputTooLong as exc:
                return exc

        return call

    def _embed_cut_hard(self, inputs: list[str]) -> Vectors:
        """After a "too long" 400: every item alone, cut to a bound that is sure to fit.

        A byte-level BPE token covers at least one byte, so ``limit - room`` UTF-8 bytes can
        never exceed the context; texts that short are not changed at all.
        """
        limit = self._input_limit()
        cut = [cut_to_bytes(t, limit) for t in inputs]
        calls = [functools.partial(self._request, [t], self.timeout) for t in cut]
        try:
            return np.vstack(self._slots.run_all(calls))
        except _InputTooLong as exc:
            raise BackendError(
                f"{exc.message} codefind cut the input to the server's limit and it was still "
                "refused; check the server's --context-length."
            ) from exc

    def _request(self, inputs: list[str], timeout: float) -> Vectors:
        def send(client: openai.OpenAI) -> Vectors:
            response = client.embeddings.create(model=self.model, input=inputs)
            return self._check(response, len(inputs))

        vectors: Vectors = self._http.call(send, "the embedding request", timeout)
        return vectors

    def _check(self, response: Any, count: int) -> Vectors:
        """The response's vectors in input order, or an error saying what is wrong."""
        data = in_input_order([(d.index, d.embedding) for d in response.data], count)
        if data is None:
            got = len(response.data)
            raise self._http.malformed(f"a batch of {count} texts ({got} vectors came back)")
        sizes = {len(e) for e in data}
        if sizes != {self.dimensions.native}:
            raise BackendError(self._wrong_dimension_message(sorted(sizes)))
        vectors = np.asarray(data, dtype=np.float32)
        problem = vector_problem(vectors, self.dimensions.native)
        if problem is not None:
            raise BackendError(
                f"The SGLang server at {self.url} returned {problem} for {self.model}. "
                "Relaunch it with --dtype bfloat16 (or float32), and check its log."
            )
        return vectors

    def _wrong_dimension_message(self, sizes: list[int]) -> str:
        served = self._served.name if self._served else "another model"
        got = "/".join(str(s) for s in sizes)
        return (
            f"The SGLang server at {self.url} returned {got}-dimensional vectors, but "
            f"{self.model} makes {self.dimensions.native}. The server runs {served}: set "
            "CODEFIND_SGLANG_MODEL to the model it serves, or point CODEFIND_SGLANG_URL at a "
            f"server that runs {self.model}."
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

    def _check_context(self, tokens: int) -> None:
        """Refuse a context too short to embed code: every chunk would be cut to nothing."""
        if tokens < MIN_CONTEXT_TOKENS:
            raise BackendError(
                f"The SGLang server at {self.url} reports a context length of {tokens} "
                f"tokens; codefind needs at least {MIN_CONTEXT_TOKENS} to embed code. Check "
                "the server's --context-length."
            )

    def _input_limit(self) -> int:
        return max(1, self.max_tokens - _SPECIAL_TOKEN_ROOM)

    def _lower_limit(self, error: _InputTooLong) -> None:
        if error.limit is not None and error.limit < self.max_tokens:
            self._check_context(error.limit)
            self.max_tokens = error.limit


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


def _server_message(body: object) -> str:
    """The message in an SGLang (or any OpenAI-style) error body."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
        return ""
    return str(body) if body is not None else ""


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
        self.instruction = settings.instruction
        self._http = _SGLangClient(
            self.url,
            settings.api_key,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            key_variable="CODEFIND_SGLANG_API_KEY",
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


def _scores_in_order(answer: object, count: int, http: _SGLangClient) -> list[float]:
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
