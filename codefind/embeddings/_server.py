"""What every backend on an OpenAI-compatible embedding server shares (``ServerEmbedder``).

The ``openai`` backend (any such server) and the ``sglang`` backend (Qwen3 on SGLang) are
thin classes on top. Where the servers differ, and what is done about it here (each
difference is a stand-in server variant in ``tests/fakeservers.py``):

- ``encoding_format``: the client asks for base64 (its default); a server that ignores the
  field answers with float lists, which the client reads as well.
- ``dimensions`` is never sent. OpenAI's text-embedding-3 and vLLM or SGLang with a
  Matryoshka model honour it, TEI ignores it, vLLM refuses it for other models. codefind asks
  for the native vector, caches it, and cuts it itself (``base.truncate``).
- Limits are read from the refusal, not guessed: TEI answers 413 "batch size 64 > maximum
  allowed batch size 32" (``--max-client-batch-size``) and "must have less than 512 tokens";
  vLLM and OpenAI 400 "maximum context length is 512 tokens"; llama.cpp 500 "input (600
  tokens) is too large to process ... (current batch size: 512)"; SGLang 400 "... longer than
  the model's context length (512 tokens)"; Infinity 422 "List should have at most 2048
  items". The batch is split to the stated size, or each input is cut to the stated length
  (in UTF-8 bytes, which no tokenizer turns into more tokens), and the lower limit is kept
  for the rest of the run. A refusal without a number halves the batch, then the input.
  Ollama cuts long inputs itself.
- Error bodies: ``{"error": {"message": ...}}`` (OpenAI, Ollama, llama.cpp, newer vLLM),
  ``{"message": ...}`` (TEI, SGLang, older vLLM), ``{"error": "..."}``, FastAPI's
  ``{"detail": ...}``: the server's own words are quoted, whatever the shape, and every
  failure becomes one message naming the server, the URL and the setting that fixes it.

Several servers of one model (data-parallel GPUs, or machines) are driven as one: ``urls``
adds servers to ``url``, and each request goes to the server with the fewest requests in
flight, so a slower server gets fewer batches; ``max_concurrency`` is the number of batches in
flight over all of them (the indexer keeps that many batches going). A router in front of
the servers (``sglang-router``, or SGLang's own ``--dp-size``) needs only ``url`` and a
``max_concurrency`` of a few per GPU. ``benchmarks/bench_servers.py`` measured the curve.

Retries and timeouts (``_remote.call_with_retries``: the ``openai`` client's own retries are
off), the check of every vector (``base.vector_problem``) and matching answers to inputs by
``index`` (``_remote.in_input_order``) are the same code as every remote backend's. The
``openai`` package is imported on the first request.
"""

from __future__ import annotations

import functools
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
    scrub,
    shorten,
)
from codefind.embeddings.base import Embedder, Vectors, vector_problem
from codefind.errors import BackendError

if TYPE_CHECKING:
    import openai

MIN_CONTEXT_TOKENS = 64
"""A server stating a shorter input limit is misconfigured (a chunk is ~100-500 tokens)."""
SPECIAL_TOKEN_ROOM = 16
"""Tokens kept free below a stated limit for special tokens and estimate slack."""
MIN_CUT_BYTES = 16
"""An input refused at this length (with no limit stated) is not cut further."""

_BATCH_LIMIT = re.compile(r"maximum allowed batch size (\d+)|at most (\d+) items", re.I)
_TOKEN_LIMITS = (
    re.compile(r"less than (\d+) tokens", re.I),  # TEI
    re.compile(r"maximum context length is (\d+) tokens", re.I),  # vLLM, OpenAI
    re.compile(r"context length \((\d+) tokens\)", re.I),  # SGLang
    re.compile(r"current batch size: (\d+)\)", re.I),  # llama.cpp (the physical batch)
)
_SIZE_WORDS = re.compile(
    r"too (large|long|many)|exceed|maximum|context length|batch size|tokens per request"
    r"|less than \d+ tokens|at most \d+ items",
    re.I,
)


@dataclass(frozen=True)
class ServerProfile:
    """How messages name a kind of server, and the settings that fix what goes wrong.

    Attributes:
        name: ``SGLang server``, ``embedding server``.
        section: The config table (``sglang``): ``sglang.timeout`` is named in messages.
        url_variable: The environment variable of the URL.
        key_variable: ... of the API key.
        model_variable: ... of the model.
        start: What to do when nothing answers at the URL.
        url_example: A URL of the right shape, for a 404.
        context_setting: The server's setting for its input length, for inputs refused even
            after the hard cut.
    """

    name: str
    section: str
    url_variable: str
    key_variable: str
    model_variable: str
    start: str
    url_example: str
    context_setting: str


class SizeRefusal(BackendError):
    """A server refused a request as too big: too many inputs, or an input too long.

    Attributes:
        batch_limit: The most inputs per request it says it takes, if it said.
        token_limit: The most tokens per input it says it takes, if it said.
    """

    def __init__(
        self, message: str, batch_limit: int | None = None, token_limit: int | None = None
    ) -> None:
        super().__init__(message)
        self.batch_limit = batch_limit
        self.token_limit = token_limit


def size_refusal(status: int, message: str, where: str) -> SizeRefusal | None:
    """The refusal in an error answer, if it is one about size (with any limit it states)."""
    if status != 413 and not (status in (400, 422, 500) and _SIZE_WORDS.search(message)):
        return None
    batch = _BATCH_LIMIT.search(message)
    tokens = next((m for p in _TOKEN_LIMITS if (m := p.search(message))), None)
    return SizeRefusal(
        f"{where} refused a request as too large (HTTP {status}): {shorten(message)}",
        batch_limit=int(next(g for g in batch.groups() if g)) if batch else None,
        token_limit=int(tokens.group(1)) if tokens else None,
    )


def server_message(body: object) -> str:
    """The message in an error body, whatever shape the server gives it."""
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
            if isinstance(value, list):  # FastAPI's validation errors
                return "; ".join(str(v.get("msg", v)) for v in value if isinstance(v, dict))
        return ""
    return str(body) if body is not None else ""


class ServerClient:
    """The ``openai`` client for one server, with codefind's retries and messages."""

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        profile: ServerProfile,
        timeout: float,
        connect_timeout: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.profile = profile
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retry = retry
        self.sleep = sleep
        self.where = f"The {profile.name} at {self.url}"
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

        if isinstance(exc, BackendError):
            return Failure(exc, retryable=isinstance(exc, RetryableBackendError))
        if isinstance(exc, openai.APITimeoutError):
            wait = self.timeout if timeout is None else timeout
            section = self.profile.section
            return Failure(
                BackendError(
                    f"{self.where} did not answer {what} within {wait:g} s. It may be "
                    "overloaded or still loading the model; check its log (a slow server: "
                    f"raise {section}.timeout, or {section}.query_timeout for searches)."
                )
            )
        if isinstance(exc, openai.APIConnectionError):
            return Failure(
                BackendError(
                    f"Cannot reach the {self.profile.name} at {self.url}. {self.profile.start}"
                ),
                retryable=True,
                unreachable=True,
            )
        if isinstance(exc, openai.APIStatusError):
            return self._status_failure(exc, what)
        if isinstance(exc, ValueError | TypeError | LookupError | AttributeError):
            return Failure(self.malformed(what), retryable=True)
        return Failure(BackendError(f"{self.where} failed on {what}: {shorten(str(exc))}"))

    def malformed(self, what: str) -> RetryableBackendError:
        """The error for an answer that is not what such a server sends."""
        return RetryableBackendError(
            f"{self.where} answered {what} with something that is not a valid response. Does "
            f"{self.profile.url_variable} point at the server's API ({self.profile.url_example})?"
        )

    def _status_failure(self, exc: openai.APIStatusError, what: str) -> Failure:
        status = exc.status_code
        message = scrub(server_message(exc.body), self.api_key)
        refusal = size_refusal(status, message, self.where)
        if refusal is not None:
            return Failure(refusal)
        detail = f": {shorten(message)}" if message else ""
        if status in (401, 403):
            key = self.profile.key_variable
            fix = f"check {key}" if self.api_key else f"set {key} to the server's API key"
            return Failure(BackendError(f"{self.where} refused the request ({status}): {fix}."))
        if status == 404 and "model" in message.lower():
            return Failure(
                BackendError(
                    f"{self.where} does not serve that model (404){detail}. Set "
                    f"{self.profile.model_variable} to a model it serves."
                )
            )
        if status == 404:
            return Failure(
                BackendError(
                    f"{self.where} has no endpoint for {what} (404). The URL must be "
                    f"{self.profile.url_example}."
                )
            )
        if status == 400 and (
            "--is-embedding" in message or "not appear to be an embedding" in message
        ):
            return Failure(
                BackendError(
                    f"{self.where} is not an embedding server: launch it with --is-embedding "
                    "(`codefind server start` does)."
                )
            )
        if status == 501:
            return Failure(BackendError(f"{self.where} does not serve embeddings (501){detail}."))
        if status in (408, 409, 424, 429) or status >= 500:
            busy = "is busy" if status == 429 else "failed"
            return Failure(
                BackendError(
                    f"{self.where} {busy} (HTTP {status}){detail}. Check the server's log."
                ),
                retryable=True,
                retry_after=parse_retry_after(dict(exc.response.headers)),
            )
        if status in (400, 422):
            return Failure(BackendError(f"{self.where} rejected {what} ({status}){detail}"))
        return Failure(BackendError(f"{self.where} answered HTTP {status}{detail}"))

    def close(self) -> None:
        """Close the HTTP connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class ServerEmbedder(Embedder):
    """What every backend on an OpenAI-compatible server shares.

    Requests stay within the size and token limits (lowered as the server states its own),
    run at most ``max_concurrency`` at once, and are retried within ``retry``; each answer
    is matched to its inputs by index and checked. Subclasses set ``dimensions`` and
    ``model_id``, and may change ``prepare`` (the text sent) and ``_ready`` (what to learn
    from the server before the first request).

    Args:
        url: The API's base URL.
        api_key: Sent as ``Authorization: Bearer``; ``None`` sends a placeholder.
        model: The model name sent with every request.
        profile: How messages name the server and its settings.
        timeout: Seconds to wait for the answer to one indexing batch.
        query_timeout: Seconds to wait for a search query's vector (search then falls back to
            lexical hits).
        connect_timeout: Seconds to wait for a connection.
        retry: Attempts and backoff for transient failures.
        batch_size: Texts per request (the indexer also hands over this many per call).
        max_batch_tokens: Estimated tokens per request; keeps requests short enough to be
            answered well within ``timeout``.
        max_tokens: The input limit inputs are cut to (by an estimate) before sending.
        max_concurrency: Requests in flight at once, across all callers and servers.
        urls: More servers of the same model; requests go to the least busy one.
        sleep: How to wait between attempts (tests pass a recorder).
    """

    multilingual = True

    def __init__(
        self,
        *,
        url: str,
        api_key: str | None,
        model: str,
        profile: ServerProfile,
        timeout: float,
        query_timeout: float,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 32768,
        max_tokens: int = 8192,
        max_concurrency: int = 4,
        urls: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.urls = server_urls(self.url, urls) or (self.url,)
        # Code sent to any server elsewhere needs consent, for every one of them.
        self.endpoint = ", ".join(self.urls)
        self.remote = not all(is_this_machine(u) for u in self.urls)
        self.model = model
        self.profile = profile
        self.timeout = timeout
        self.query_timeout = query_timeout
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_tokens = max_tokens
        self.max_concurrency = max_concurrency
        self._servers = [
            ServerClient(
                server,
                api_key,
                profile=profile,
                timeout=timeout,
                connect_timeout=connect_timeout,
                retry=retry or RetryPolicy(),
                sleep=sleep,
            )
            for server in self.urls
        ]
        self._http = self._servers[0]  # the one asked about the model and its limits
        self._in_flight = [0] * len(self._servers)
        self._turn = 0
        self._pick = threading.Lock()
        self._slots = RequestSlots(max_concurrency)
        self._limits = threading.Lock()

    # -- for subclasses --

    def prepare(self, text: str, *, query: bool) -> str:
        """The exact text sent for ``text``: cut to the input limit (by an estimate)."""
        return cut_to_tokens(text, self._input_limit())

    def _ready(self, timeout: float) -> None:
        """Learn what the first request needs from the server (nothing, by default)."""

    def _expected_native(self) -> int | None:
        """The dimension answers must have (``None``: whatever the first answer has)."""
        return self.dimensions.native

    def _wrong_dimension(self, sizes: list[int]) -> BackendError:
        got = "/".join(str(s) for s in sizes)
        return BackendError(
            f"{self._http.where} returned {got}-dimensional vectors, but {self.model} makes "
            f"{self.dimensions.native}. Set {self.profile.model_variable} to the model it serves."
        )

    def _bad_vectors(self, problem: str) -> BackendError:
        return BackendError(
            f"{self._http.where} returned {problem} for {self.model}. Check the server's log."
        )

    # -- Embedder --

    def close(self) -> None:
        """Close connections and worker threads."""
        self._slots.close()
        for server in self._servers:
            server.close()

    def _embed(self, texts: list[str], *, query: bool) -> Vectors:
        timeout = self.query_timeout if query else self.timeout
        self._ready(timeout)
        inputs = [self.prepare(t, query=query) for t in texts]
        costs = [estimate_tokens(t) for t in inputs]
        batches = plan_batches(costs, self.batch_size, self.max_batch_tokens)
        calls = [functools.partial(self._send, inputs[b.start : b.stop], timeout) for b in batches]
        return np.vstack(self._slots.run_all(calls))

    # -- requests within the server's limits --

    def _send(self, inputs: list[str], timeout: float) -> Vectors:
        try:
            return self._request(inputs, timeout)
        except SizeRefusal as refusal:
            return self._resend(inputs, timeout, refusal)

    def _resend(self, inputs: list[str], timeout: float, refusal: SizeRefusal) -> Vectors:
        """``inputs`` again after a refusal: split to the stated batch size, or each input
        alone and cut to the stated length, or (no number stated) halved."""
        if refusal.batch_limit is not None and len(inputs) > refusal.batch_limit:
            size = self._lower_batch(refusal.batch_limit)
            parts = [inputs[i : i + size] for i in range(0, len(inputs), size)]
        elif refusal.token_limit is not None:
            self._lower_tokens(refusal.token_limit)
            return np.vstack([self._send_alone(t, timeout) for t in inputs])
        elif len(inputs) > 1:
            half = (len(inputs) + 1) // 2
            parts = [inputs[:half], inputs[half:]]
        else:
            return self._send_alone(inputs[0], timeout)
        return np.vstack([self._send(part, timeout) for part in parts])

    def _send_alone(self, text: str, timeout: float) -> Vectors:
        """One input alone, cut so the server takes it.

        With a stated limit the cut is to that many UTF-8 bytes: a byte-level BPE token
        covers at least one byte, so the cut cannot be more tokens, and texts that short are
        not changed at all. Without one, the input is halved until it is taken.
        """
        cut = cut_to_bytes(text, self._input_limit())
        while True:
            try:
                return self._request([cut], timeout)
            except SizeRefusal as refusal:
                if refusal.token_limit is not None and refusal.token_limit < self.max_tokens:
                    self._lower_tokens(refusal.token_limit)
                    cut = cut_to_bytes(cut, self._input_limit())
                    continue
                size = len(cut.encode("utf-8", "surrogatepass"))
                if refusal.token_limit is not None or size <= MIN_CUT_BYTES:
                    raise BackendError(
                        f"{refusal.message} codefind cut the input to the server's limit and "
                        f"it was still refused; check {self.profile.context_setting}."
                    ) from refusal
                cut = cut_to_bytes(cut, size // 2)

    def _request(self, inputs: list[str], timeout: float) -> Vectors:
        def send(client: openai.OpenAI) -> Vectors:
            response = client.embeddings.create(model=self.model, input=inputs)
            return self._check(response, len(inputs))

        chosen = self._take_server()
        try:
            vectors: Vectors = self._servers[chosen].call(send, "the embedding request", timeout)
        finally:
            with self._pick:
                self._in_flight[chosen] -= 1
        return vectors

    def _take_server(self) -> int:
        """The server with the fewest requests in flight (taking turns among equals)."""
        with self._pick:
            count = len(self._servers)
            order = [(self._turn + i) % count for i in range(count)]
            chosen = min(order, key=self._in_flight.__getitem__)
            self._in_flight[chosen] += 1
            self._turn = (chosen + 1) % count
            return chosen

    def _check(self, response: Any, count: int) -> Vectors:
        """The response's vectors in input order, or an error saying what is wrong."""
        data = in_input_order([(d.index, d.embedding) for d in response.data], count)
        if data is None:
            got = len(response.data)
            raise self._http.malformed(f"a batch of {count} texts ({got} vectors came back)")
        sizes = sorted({len(e) for e in data})
        native = self._expected_native()
        if len(sizes) != 1 or (native is not None and sizes != [native]):
            raise self._wrong_dimension(sizes)
        vectors = np.asarray(data, dtype=np.float32)
        problem = vector_problem(vectors, sizes[0])
        if problem is not None:
            raise self._bad_vectors(problem)
        return vectors

    def _input_limit(self) -> int:
        return max(1, self.max_tokens - SPECIAL_TOKEN_ROOM)

    def _lower_batch(self, limit: int) -> int:
        with self._limits:
            self.batch_size = max(1, min(self.batch_size, limit))
            return self.batch_size

    def _lower_tokens(self, limit: int) -> None:
        self._check_context(limit)
        with self._limits:
            self.max_tokens = min(self.max_tokens, limit)

    def _check_context(self, tokens: int) -> None:
        """Refuse a context too short to embed code: every chunk would be cut to nothing."""
        if tokens < MIN_CONTEXT_TOKENS:
            raise BackendError(
                f"{self._http.where} reports a context length of {tokens} tokens; codefind "
                f"needs at least {MIN_CONTEXT_TOKENS} to embed code. Check "
                f"{self.profile.context_setting}."
            )


def server_urls(url: str, more: Sequence[str] | str) -> tuple[str, ...]:
    """``url`` and the further servers (a sequence, or one string separated by commas or
    spaces), each once, without trailing slashes, ``url`` first."""
    if isinstance(more, str):
        more = more.replace(",", " ").split()
    found = [u.strip().rstrip("/") for u in (url, *more)]
    return tuple(dict.fromkeys(u for u in found if u))
