"""Voyage AI's code embedding models (voyage-code-3, voyage-code-2) through ``voyageai``.

``voyageai`` is an optional dependency (``pip install 'codefind[voyage]'``): it pulls in
langchain-core, aiohttp and more, which nobody who does not use Voyage should have to install.

Why it is built this way (what Voyage does: ``docs/API_NOTES.md``, "Voyage AI"):

- voyage-code-3 is always asked for its full 2048 dimensions; 1024/512/256 are Matryoshka
  prefixes that codefind cuts from the cached vector (``base.truncate``), the same arithmetic
  Voyage applies for ``output_dimension``. voyage-code-2 is fixed at 1536 and gets no
  ``output_dimension``.
- ``input_type`` is ``"query"`` or ``"document"``: Voyage prepends its retrieval prompt.
- Requests stay within the API's 1,000 texts and the model's tokens per request, counted
  with a local estimate that leaves a margin (Voyage's tokenizer is downloaded from the
  Hugging Face Hub, which codefind must not need). Texts are cut to the model's context on
  the client; ``truncation=True`` (the API default) stays on as a second guard.
- The client's own retries are off (``max_retries=1`` is one attempt in voyageai 0.5.0):
  it ignores ``Retry-After`` and waits at least a second, so codefind retries itself.
- Embeddings are requested through ``voyageai.Embedding.create``, not ``Client.embed``:
  the client's answer object drops each vector's ``index``, and a proxy may reorder the
  answer, so vectors are matched to inputs by index (``_remote.in_input_order``). Each
  request has its own timeout: ``timeout`` for indexing batches, a short ``query_timeout``
  for a search query (search then falls back to lexical hits); a timeout is not retried.
- The API key comes from the settings (``VOYAGE_API_KEY`` or the config file) and is never
  put in a message: every text shown to the user passes through ``scrub``.
- Prices are a dated table (``PRICES``), overridable in the settings, for the question codefind
  asks before the first upload.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from codefind.config import DEFAULT_VOYAGE_URL
from codefind.consent import server_address
from codefind.embeddings._remote import (
    Failure,
    RequestSlots,
    RetryableBackendError,
    RetryPolicy,
    call_with_retries,
    cut_to_tokens,
    estimate_tokens,
    in_input_order,
    parse_retry_after,
    plan_batches,
    retry_policy,
    scrub,
    shorten,
)
from codefind.embeddings.base import (
    Backend,
    Dimensions,
    Embedder,
    Reranker,
    Vectors,
    vector_problem,
)
from codefind.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from codefind.config import Settings, VoyageSettings

BACKEND = "voyage"
KNOWN_MODELS: tuple[str, ...] = ("voyage-code-3", "voyage-code-2")
MAX_TEXTS_PER_REQUEST = 1000
"""The API's limit on ``input`` list length."""
TOKEN_MARGIN = 0.8
"""Share of a token limit filled by estimated tokens: the estimate is not Voyage's tokenizer."""


@dataclass(frozen=True)
class VoyageModel:
    """What codefind needs to know about one Voyage embedding model.

    Attributes:
        dimensions: Native and valid dimensions.
        request_dimension: ``output_dimension`` to send (``None``: send none).
        context_tokens: Longest input the model reads.
        request_tokens: Most tokens one request may carry.
    """

    dimensions: Dimensions
    request_dimension: int | None
    context_tokens: int
    request_tokens: int


MODELS: dict[str, VoyageModel] = {
    "voyage-code-3": VoyageModel(
        Dimensions(native=2048, choices=(256, 512, 1024, 2048)), 2048, 32_000, 120_000
    ),
    # Not in Voyage's current limits table; the older SDK docs give 120K tokens per request.
    "voyage-code-2": VoyageModel(Dimensions(native=1536), None, 16_000, 120_000),
}

PRICE_DATE = "2026-11-29"
"""When ``PRICES`` was checked."""
PRICE_SOURCE = "docs.voyageai.com/docs/pricing"
PRICES: dict[str, float] = {
    "voyage-code-3": 0.18,
    "voyage-code-2": 0.12,
    "rerank-2.5": 0.05,
    "rerank-2.5-lite": 0.02,
}
"""US dollars per million tokens, list prices. Voyage gives every account free tokens per model
(200M for voyage-code-3, 50M for voyage-code-2 at the date above); codefind cannot know how
many an account has left, so estimates assume none."""


def dimensions_for(model: str) -> Dimensions:
    """The dimensions a Voyage code model offers.

    Raises:
        ConfigError: ``model`` is not one codefind supports.
    """
    return _spec(model).dimensions


def price_per_million(model: str, overrides: Mapping[str, float] | None = None) -> float:
    """USD per million tokens for ``model``: the settings' override, else ``PRICES``.

    Raises:
        ConfigError: No price is known for ``model``.
    """
    if overrides and model in overrides:
        return float(overrides[model])
    try:
        return PRICES[model]
    except KeyError:
        raise ConfigError(
            f"No price is known for {model}: set voyage.price_per_million_tokens in the config."
        ) from None


def estimate_cost(model: str, tokens: int, overrides: Mapping[str, float] | None = None) -> float:
    """Estimated USD for embedding ``tokens`` tokens with ``model`` (no free tier deducted)."""
    return tokens * price_per_million(model, overrides) / 1_000_000


class VoyageBackend(Backend):
    """Voyage AI's cloud: code always leaves the machine, so the user is always asked first."""

    name = BACKEND
    label = "Voyage AI (cloud: code leaves this machine)"
    remote = True
    consent = "always"
    multilingual = True
    known_models = KNOWN_MODELS
    has_reranker = True
    requires = ("voyageai",)
    extra = "voyage"
    url_setting = "url"

    def create(self, settings: Settings) -> VoyageEmbedder:
        """The embedder for ``settings.voyage`` (nothing is contacted, no key needed yet)."""
        return VoyageEmbedder(settings.voyage, retry=retry_policy(settings.voyage))

    def dimensions(self, settings: Settings, model: str) -> Dimensions:
        """voyage-code-3: 2048 and its Matryoshka prefixes; voyage-code-2: 1536 only."""
        return dimensions_for(model)

    def create_reranker(self, settings: Settings) -> VoyageReranker:
        """Voyage's reranker (``settings.voyage.rerank_model``, rerank-2.5 by default)."""
        return VoyageReranker(settings.voyage, retry=retry_policy(settings.voyage))


def _spec(model: str) -> VoyageModel:
    try:
        return MODELS[model]
    except KeyError:
        raise ConfigError(
            f"codefind does not support the Voyage model {model!r}: use "
            f"{' or '.join(KNOWN_MODELS)} (CODEFIND_VOYAGE_MODEL)."
        ) from None


class _VoyageClient:
    """The ``voyageai`` client with codefind's retries and messages (the key never shown)."""

    def __init__(
        self,
        settings: VoyageSettings,
        *,
        timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self.url = settings.url.rstrip("/")
        self.api_key = settings.api_key
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The ``voyageai.Client``, built on first use.

        Raises:
            ConfigError: No API key is configured.
        """
        if not self.api_key:
            raise ConfigError(
                "Voyage AI needs an API key: set VOYAGE_API_KEY, or run "
                "`codefind config set voyage.api_key KEY`."
            )
        with self._lock:
            if self._client is None:
                from voyageai.client import Client

                self._client = Client(
                    api_key=self.api_key, max_retries=1, timeout=self.timeout, base_url=self.url
                )
            return self._client

    def call(self, request: Callable[[Any], Any], what: str, timeout: float | None = None) -> Any:
        """Run ``request(client)`` with retries; failures become one ``BackendError``.

        ``timeout`` is the wait ``request`` uses (for the message; default: the client's).
        """
        client = self.client()
        return call_with_retries(
            lambda: request(client),
            lambda exc: self.classify(exc, what, timeout),
            self.retry,
            self.sleep,
        )

    def embed(self, inputs: list[str], timeout: float, **params: Any) -> Any:
        """One raw ``POST /embeddings`` (the answer keeps each vector's ``index``)."""
        from voyageai.api_resources.embedding import Embedding

        return Embedding.create(  # type: ignore[no-untyped-call]
            input=inputs,
            api_key=self.api_key,
            base_url=self.url,
            request_timeout=timeout,
            output_dtype=None,
            **params,
        )

    def classify(self, exc: Exception, what: str, timeout: float | None = None) -> Failure:
        """How one failed attempt reads: the message, and whether to try again."""
        from voyageai import error as verr

        if isinstance(exc, BackendError):
            return Failure(self._clean(exc), retryable=isinstance(exc, RetryableBackendError))
        if isinstance(exc, verr.AuthenticationError):
            return Failure(
                BackendError(
                    "Voyage AI refused the API key (401). Check VOYAGE_API_KEY (or "
                    "`codefind config set voyage.api_key KEY`)."
                )
            )
        if isinstance(exc, verr.RateLimitError):
            return Failure(
                self._error(f"Voyage AI is rate-limiting {what} (429). Try again later."),
                retryable=True,
                retry_after=parse_retry_after(_headers(exc)),
            )
        if isinstance(exc, verr.ServerError | verr.ServiceUnavailableError):
            return Failure(
                self._error(f"Voyage AI failed on {what} (HTTP {exc.http_status})."),
                retryable=True,
                retry_after=parse_retry_after(_headers(exc)),
            )
        if isinstance(exc, verr.Timeout):
            wait = self.timeout if timeout is None else timeout
            return Failure(
                self._error(
                    f"Voyage AI at {self.url} did not answer {what} within {wait:g} s (a slow "
                    "connection: raise voyage.timeout, or voyage.query_timeout for searches)."
                )
            )
        if isinstance(exc, verr.APIConnectionError):
            return Failure(
                self._error(
                    f"Cannot reach Voyage AI at {self.url}. Check the network connection (and "
                    "CODEFIND_VOYAGE_URL if you use a proxy)."
                ),
                retryable=True,
                unreachable=True,
            )
        if isinstance(exc, verr.InvalidRequestError | verr.MalformedRequestError):
            detail = shorten(getattr(exc, "user_message", None) or str(exc))
            return Failure(self._error(f"Voyage AI rejected {what}: {detail}"))
        if isinstance(exc, verr.VoyageError):
            if exc.http_status == 200:
                return Failure(self.malformed(what), retryable=True)
            return Failure(self._error(f"Voyage AI failed on {what} (HTTP {exc.http_status})."))
        if isinstance(exc, ValueError | TypeError | LookupError | AttributeError):
            return Failure(self.malformed(what), retryable=True)
        return Failure(self._error(f"Voyage AI failed on {what}: {shorten(str(exc))}"))

    def malformed(self, what: str) -> RetryableBackendError:
        """The error for an answer that is not what Voyage sends."""
        return RetryableBackendError(
            f"Voyage AI at {self.url} answered {what} with something that is not a valid "
            "response. If CODEFIND_VOYAGE_URL points at a proxy, check the proxy."
        )

    def _error(self, message: str) -> BackendError:
        return BackendError(scrub(message, self.api_key))

    def _clean(self, error: BackendError) -> BackendError:
        clean = scrub(error.message, self.api_key)
        if clean == error.message:
            return error
        return type(error)(clean)

    def close(self) -> None:
        """Forget the client (voyageai keeps per-thread sessions of its own)."""
        with self._lock:
            self._client = None


def _headers(exc: Any) -> dict[str, str]:
    headers = getattr(exc, "headers", None) or {}
    return {str(k): str(v) for k, v in dict(headers).items()}


class VoyageEmbedder(Embedder):
    """voyage-code-3 or voyage-code-2 on Voyage AI's cloud API.

    Args:
        settings: Model, URL, API key, price overrides and timeouts.
        timeout: Seconds to wait for the answer to one indexing batch (default: the
            settings' ``timeout``).
        query_timeout: Seconds to wait for a search query's vector (default: the settings'
            ``query_timeout``); search falls back to lexical hits after it.
        retry: Attempts and backoff for transient failures.
        batch_size: Texts the indexer hands over per call (requests may split it further).
        max_concurrency: Requests in flight at once, across all callers.
        sleep: How to wait between attempts (tests pass a recorder).
    """

    backend = BACKEND
    remote = True
    multilingual = True  # voyage-code models read queries in many languages
    provider = "Voyage AI"

    def __init__(
        self,
        settings: VoyageSettings,
        *,
        timeout: float | None = None,
        query_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        batch_size: int = 128,
        max_concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.spec = _spec(settings.model)
        self.model = settings.model
        self.model_id = f"{BACKEND}:{settings.model}"
        self.dimensions = self.spec.dimensions
        self.max_tokens = self.spec.context_tokens
        self.batch_size = min(batch_size, MAX_TEXTS_PER_REQUEST)
        self.max_concurrency = max_concurrency
        self.max_request_tokens = int(self.spec.request_tokens * TOKEN_MARGIN)
        self.price_date = PRICE_DATE
        self.price_per_million_tokens = price_per_million(
            settings.model, settings.price_per_million_tokens
        )
        self.tokens_used = 0
        """Tokens Voyage billed for this embedder's requests so far (from ``usage``)."""
        self.timeout = settings.timeout if timeout is None else timeout
        self.query_timeout = settings.query_timeout if query_timeout is None else query_timeout
        self._http = _VoyageClient(
            settings, timeout=self.timeout, retry=retry or RetryPolicy(), sleep=sleep
        )
        self.endpoint = self._http.url
        self.provider = voyage_place(self.endpoint)
        self.consent_key = (
            self.model_id
            if self.provider == VoyageEmbedder.provider
            else f"{self.model_id}@{server_address(self.endpoint)}"
        )
        """What a yes is recorded under: the model, and the host when a proxy is in between
        (the code then goes to that host as well, so a yes for Voyage does not cover it)."""
        self._slots = RequestSlots(max_concurrency)
        self._usage_lock = threading.Lock()

    # -- public --

    def prepare(self, text: str) -> str:
        """The exact text sent for ``text``: cut to the model's context (estimated)."""
        return cut_to_tokens(text, int(self.spec.context_tokens * TOKEN_MARGIN))

    def estimate_tokens(self, texts: Sequence[str]) -> int:
        """A local estimate of the tokens ``texts`` cost (blank texts are never sent)."""
        return sum(estimate_tokens(self.prepare(t)) for t in texts if t.strip())

    def estimate_cost(self, tokens: int) -> float:
        """Estimated USD for ``tokens`` tokens at this model's (configured) price."""
        return tokens * self.price_per_million_tokens / 1_000_000

    def close(self) -> None:
        """Stop worker threads."""
        self._slots.close()
        self._http.close()

    # -- Embedder --

    def _embed(self, texts: list[str], *, query: bool) -> Vectors:
        inputs = [self.prepare(t) for t in texts]
        costs = [estimate_tokens(t) for t in inputs]
        batches = plan_batches(costs, MAX_TEXTS_PER_REQUEST, self.max_request_tokens)
        input_type = "query" if query else "document"
        timeout = self.query_timeout if query else self.timeout
        calls = [
            functools.partial(self._request, inputs[b.start : b.stop], input_type, timeout)
            for b in batches
        ]
        return np.vstack(self._slots.run_all(calls))

    # -- internals --

    def _request(self, inputs: list[str], input_type: str, timeout: float) -> Vectors:
        def send(client: Any) -> Vectors:
            response = self._http.embed(
                inputs,
                timeout,
                model=self.model,
                input_type=input_type,
                truncation=True,
                output_dimension=self.spec.request_dimension,
            )
            vectors = self._check(response.data, len(inputs))
            usage = getattr(response, "usage", None)
            with self._usage_lock:
                self.tokens_used += int(getattr(usage, "total_tokens", 0) or 0)
            return vectors

        vectors: Vectors = self._http.call(send, "the embedding request", timeout)
        return vectors

    def _check(self, data: Any, count: int) -> Vectors:
        """The answer's vectors in input order (by ``index``), or an error saying what is wrong."""
        if not isinstance(data, list):
            raise self._http.malformed(f"a batch of {count} texts")
        embeddings = in_input_order([(d["index"], d["embedding"]) for d in data], count)
        if embeddings is None:
            raise self._http.malformed(f"a batch of {count} texts ({len(data)} vectors came back)")
        sizes = {len(e) for e in embeddings}
        native = self.dimensions.native
        if sizes != {native}:
            got = "/".join(str(s) for s in sorted(sizes))
            raise BackendError(
                f"Voyage AI at {self._http.url} returned {got}-dimensional vectors for "
                f"{self.model}, which makes {native}. If CODEFIND_VOYAGE_URL points at a proxy, "
                "check that it passes output_dimension through."
            )
        vectors = np.asarray(embeddings, dtype=np.float32)
        problem = vector_problem(vectors, native)
        if problem is not None:
            raise self._http.malformed(f"the embedding request ({problem})")
        return vectors


class VoyageReranker(Reranker):
    """Voyage's rerank models (rerank-2.5 by default): scores in document order."""

    def __init__(
        self,
        settings: VoyageSettings,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = settings.rerank_model
        self.destination = voyage_place(settings.url)
        self._http = _VoyageClient(
            settings, timeout=timeout, retry=retry or RetryPolicy(), sleep=sleep
        )

    def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """Relevance scores (0..1), one per document, in the order given."""
        if not documents:
            return []
        docs = list(documents)

        def send(client: Any) -> list[float]:
            result = client.rerank(query, docs, model=self.model, top_k=None, truncation=True)
            scores: list[float | None] = [None] * len(docs)
            for item in result.results:
                score = float(item.relevance_score)
                if not math.isfinite(score):
                    raise self._http.malformed("the rerank request (a score is not a number)")
                scores[int(item.index)] = score
            if any(s is None for s in scores):
                raise self._http.malformed("the rerank request (scores missing)")
            return [float(s) for s in scores if s is not None]

        scores: list[float] = self._http.call(send, "the rerank request")
        return scores

    def close(self) -> None:
        """Nothing to release beyond the client."""
        self._http.close()


def voyage_place(url: str) -> str:
    """Who receives the code, in words: Voyage AI, or Voyage AI through a proxy's host."""
    if url.rstrip("/") == DEFAULT_VOYAGE_URL.rstrip("/"):
        return "Voyage AI"
    return f"Voyage AI through {server_address(url)}"
