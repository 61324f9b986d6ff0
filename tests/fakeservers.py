"""Real HTTP servers on 127.0.0.1 that speak SGLang's and Voyage AI's wire formats, for tests.

Why real servers rather than mocks: the backends are driven through the real ``openai`` and
``voyageai`` clients, so what is tested is the bytes on the wire (request JSON, status codes,
error bodies, base64 vectors, ``Retry-After``), exactly what a real server sees and sends.

The formats follow ``docs/API_NOTES.md``, written from SGLang 0.5.23's sources
(``serving_embedding.py``, ``protocol.py``, ``http_server.py``), voyageai 0.5.0's request code
and the Voyage API reference; the other OpenAI-compatible servers are in
``tests/compatservers.py``. Both servers embed with a deterministic fake "model"
(``fake_embedding``): a sum of one pseudo-random Gaussian vector per word, so texts that share
words get similar vectors (tests can assert rankings), and every prefix of a vector is itself
such a sum (Matryoshka-consistent: server-side truncation equals codefind's ``truncate``).

Usage::

    with SGLangServer(model="Qwen/Qwen3-Embedding-4B", dim=2560) as srv:
        srv.url                        # "http://127.0.0.1:PORT/v1", for base_url
        srv.fail_next(status=503, times=2)   # the next two POSTs answer 503
        ...                            # use the backend
        srv.posts("/v1/embeddings")    # recorded requests: .body (parsed JSON), .headers

    with VoyageServer(api_key="test-key") as srv: ...

Failure injection is a queue of ``Scripted`` answers consumed by POST requests (optionally only
those to one path): any status with the real error body for that server, extra headers such as
``Retry-After``, a delay (for client timeouts), a malformed body, or vectors of a wrong
dimension, or the answer's items in reverse order (as a reordering proxy might send them).
``dead_url()`` gives an address where nothing listens (connection refused); ``SilentServer``
accepts connections and never answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

# --- the fake model ------------------------------------------------------------------------

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[^\x00-\x7f]")
_TOKEN = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")
QWEN_QUERY = re.compile(r"\AInstruct: (?P<instruction>.*?)\nQuery:(?P<query>.*)\Z", re.S)


@lru_cache(maxsize=8192)
def _word_vector(word: str, dim: int) -> npt.NDArray[np.float64]:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    vector.setflags(write=False)
    return vector


def fake_words(text: str) -> list[str]:
    """The 'words' the fake model sees: identifier parts, numbers, single CJK characters."""
    return [w.lower() for w in _WORD.findall(text)]


def fake_embedding(text: str, dim: int) -> npt.NDArray[np.float32]:
    """The fake model's unit vector for ``text`` at its native ``dim``.

    A Qwen3 query (``Instruct: ...\\nQuery:...``) is embedded from its query part only, so
    rankings in tests do not depend on the instruction's words.
    """
    match = QWEN_QUERY.match(text)
    if match:
        text = match.group("query")
    vector = np.zeros(dim)
    for word in fake_words(text) or [text]:
        vector += _word_vector(word, dim)
    return (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)


def matryoshka(vector: npt.NDArray[np.float32], dim: int) -> npt.NDArray[np.float32]:
    """Server-side Matryoshka as SGLang's pooler and Voyage do it: cut, then L2-normalise."""
    head = vector[:dim].astype(np.float64)
    return (head / (np.linalg.norm(head) or 1.0)).astype(np.float32)


def fake_tokens(text: str) -> int:
    """The fake tokenizer: an ASCII word run is one token per 4 characters, every other
    non-space character one token. It deliberately differs from codefind's estimate."""
    count = 0
    for piece in _TOKEN.findall(text):
        count += math.ceil(len(piece) / 4) if piece[0].isascii() else 1
    return count


def encode_base64(vector: npt.NDArray[np.float32]) -> str:
    """A vector the way both servers send ``encoding_format=base64``: float32, little-endian."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def dead_url(path: str = "/v1") -> str:
    """A 127.0.0.1 URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# --- scripted answers and recording --------------------------------------------------------


@dataclass(frozen=True)
class Scripted:
    """One scripted answer to a POST request.

    Attributes:
        status: HTTP status; the body defaults to the server's real error body for it.
        body: Overrides the body (a dict/list is sent as JSON, str/bytes as is).
        headers: Extra response headers, e.g. ``{"Retry-After": "3"}``.
        delay: Seconds to wait before answering (longer than the client's timeout = timeout).
        malformed: Answer 200 with a body that is not JSON.
        wrong_dim: Answer normally but with vectors of this dimension.
        reversed: Answer normally but list the embeddings last input first (each keeps its
            ``index``).
        path: Only requests to this path consume this answer (default: any POST).
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    malformed: bool = False
    wrong_dim: int | None = None
    reversed: bool = False
    path: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: method, path, headers (lower-case names), JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1 (ephemeral port) in a background thread.

    Subclasses implement ``handle(method, path, headers, body, scripted)``.
    """

    api_prefix = "/v1"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.max_in_flight = 0
        """The most requests the server was answering at one time."""
        self._in_flight = 0
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- public API --

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL a client is given: ``http://127.0.0.1:PORT/v1``."""
        return self.base + self.api_prefix

    def script(self, *answers: Scripted) -> None:
        """Queue scripted answers, in order, for the next POSTs (or, when an answer names a
        ``path``, the next request of any method to that path)."""
        with self._lock:
            self._script.extend(answers)

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``times`` POSTs answer ``status`` (with the server's real error body)."""
        self.script(*[Scripted(status, body, dict(headers or {}), path=path)] * times)

    def delay_next(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        """The next ``times`` POSTs wait ``seconds`` before answering normally."""
        self.script(*[Scripted(delay=seconds, path=path)] * times)

    def malformed_next(self, *, times: int = 1, path: str | None = None) -> None:
        """The next ``times`` POSTs answer 200 with a body that is not JSON."""
        self.script(*[Scripted(malformed=True, path=path)] * times)

    def wrong_dim_next(self, dim: int, *, times: int = 1) -> None:
        """The next ``times`` embedding requests get vectors of dimension ``dim``."""
        self.script(*[Scripted(wrong_dim=dim)] * times)

    def reversed_next(self, *, times: int = 1) -> None:
        """The next ``times`` embedding answers list their items in reverse order."""
        self.script(*[Scripted(reversed=True)] * times)

    def posts(self, path: str | None = None) -> list[RecordedRequest]:
        """Recorded POST requests (to ``path`` only, when given)."""
        with self._lock:
            return [
                r for r in self.requests if r.method == "POST" and (path is None or r.path == path)
            ]

    def close(self) -> None:
        """Stop serving (requests still sleeping in a delay are abandoned)."""
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- for subclasses --

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        scripted: Scripted | None,
    ) -> _Answer:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> Any:
        raise NotImplementedError

    # -- internals --

    def _next_scripted(self, method: str, path: str) -> Scripted | None:
        """The first queued answer for this request: POSTs take any answer without a path,
        GETs only answers queued for their path."""
        with self._lock:
            for i, answer in enumerate(self._script):
                if answer.path == path or (answer.path is None and method == "POST"):
                    del self._script[i]
                    return answer
        return None

    def _dispatch(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Answer:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return self._answer(method, path, headers, body)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> _Answer:
        scripted = self._next_scripted(method, path)
        if scripted is not None and scripted.delay:
            self._closing.wait(scripted.delay)
        if scripted is not None and scripted.malformed:
            return _Answer(200, b'{"object": "list", "data": [{"embedding": [0.1, ')
        if scripted is not None and (scripted.status != 200 or scripted.body is not None):
            body_out = scripted.body
            if body_out is None:
                body_out = self.error_body(scripted.status, _REASONS.get(scripted.status, "Error"))
            return _Answer(scripted.status, body_out, dict(scripted.headers))
        answer = self.handle(method, path, headers, body, scripted)
        if scripted is not None:
            answer.headers.update(scripted.headers)
        return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                # A request through a proxy names the whole URL ("absolute form").
                path = urlsplit(self.path).path if "://" in self.path else self.path
                answer = server._dispatch(method, path.split("?")[0], headers, raw)
                if server._closing.is_set():
                    return
                self._send(answer)

            def _send(self, answer: _Answer) -> None:
                data, content_type = _encode(answer.body)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", "application/json"
    if isinstance(body, bytes):
        return body, "application/json"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


# --- SGLang --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuTiming:
    """How long a stand-in GPU server takes to answer an embedding request.

    ``overhead`` seconds that requests spend in parallel (HTTP, tokenizing, scheduling), then
    ``per_token`` seconds per input token on the GPU, which works on one request at a time
    (requests in flight queue for it). So one request in flight leaves the GPU idle during the
    overhead, and more requests in flight fill it up to its compute limit.
    """

    overhead: float = 0.03
    per_token: float = 0.0


class SGLangServer(FakeServer):
    """SGLang's OpenAI-compatible server (0.5.23 behaviour) for an embedding or rerank model.

    Args:
        model: The model path the server was launched with (echoed as ``model``).
        dim: The model's native dimension.
        context_length: Inputs longer than this (fake tokens, EOS included) get SGLang's 400.
        reported_context_length: What ``/v1/models`` reports as ``max_model_len`` (default:
            ``context_length``; set it higher to simulate a client that misjudges the limit).
        api_key: Like ``--api-key``: requests without ``Authorization: Bearer <key>`` get 401
            ``{"error": "Unauthorized"}`` (``/health`` stays open, as in SGLang).
        served_model_name: What ``/v1/models`` calls the model (default ``model``).
        is_embedding: ``False`` simulates a server launched without ``--is-embedding``.
        matryoshka: Whether ``dimensions`` is accepted (``--json-model-override-args
            '{"is_matryoshka": true}'``); otherwise it gets SGLang's 400.
        reranker: Serve ``/v1/rerank`` (a Qwen3-Reranker server: not an embedding server).
        health_status: What ``GET /health`` answers (503 while "starting").
        timing: Answer embedding requests as slowly as a GPU would (``GpuTiming``).
    """

    def __init__(
        self,
        model: str = "Qwen/Qwen3-Embedding-4B",
        dim: int = 2560,
        *,
        context_length: int = 32768,
        reported_context_length: int | None = None,
        api_key: str | None = None,
        served_model_name: str | None = None,
        is_embedding: bool = True,
        matryoshka: bool = False,
        reranker: bool = False,
        health_status: int = 200,
        timing: GpuTiming | None = None,
    ) -> None:
        self.timing = timing
        self._gpu = threading.Lock()
        self.model = model
        self.dim = dim
        self.context_length = context_length
        self.reported_context_length = reported_context_length or context_length
        self.api_key = api_key
        self.served_model_name = served_model_name or model
        self.is_embedding = is_embedding and not reranker
        self.matryoshka = matryoshka
        self.reranker = reranker
        self.health_status = health_status
        super().__init__()

    def error_body(self, status: int, message: str) -> Any:
        """SGLang's ``ErrorResponse`` (``serving_base.create_error_response``)."""
        kind = (
            "BadRequestError" if status == 400 else _REASONS.get(status, "Error").replace(" ", "")
        )
        return {"object": "error", "message": message, "type": kind, "param": None, "code": status}

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        scripted: Scripted | None,
    ) -> _Answer:
        if path.startswith("/health"):
            return _Answer(self.health_status, None)
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            return _Answer(401, {"error": "Unauthorized"})
        if method == "GET" and path == "/v1/models":
            return _Answer(200, self._models())
        if method == "POST" and path == "/v1/embeddings":
            return self._embeddings(body, scripted)
        if method == "POST" and path == "/v1/rerank":
            return self._rerank(body)
        return _Answer(404, {"detail": "Not Found"})

    def _models(self) -> Any:
        card = {
            "id": self.served_model_name,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "sglang",
            "root": self.model,
            "parent": None,
            "max_model_len": self.reported_context_length,
        }
        return {"object": "list", "data": [card]}

    def _bad(self, message: str) -> _Answer:
        return _Answer(400, self.error_body(400, message))

    def _embeddings(self, body: Any, scripted: Scripted | None) -> _Answer:
        if not self.is_embedding:
            return self._bad(
                "This model does not appear to be an embedding model by default. Please add "
                "`--is-embedding` when launching the server or try another model."
            )
        if not isinstance(body, dict) or "input" not in body:
            return self._bad("1 validation error: input Field required")
        texts, error = _sglang_inputs(body["input"])
        if error:
            return self._bad(error)
        for text in texts:
            tokens = fake_tokens(text) + 1  # the tokenizer appends <|endoftext|>
            if tokens > self.context_length:
                return self._bad(
                    f"The input ({tokens} tokens) is longer than the model's context length "
                    f"({self.context_length} tokens)."
                )
        dim = self.dim
        if body.get("dimensions") is not None:
            if not self.matryoshka:
                return self._bad(
                    f"Model '{self.model}' does not support matryoshka representation, "
                    "changing output dimensions will lead to poor results."
                )
            dim = int(body["dimensions"])
            if dim > self.dim:
                return self._bad(
                    f"Provided dimensions are greater than max embedding dimension: {self.dim}"
                )
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return self._bad(f"Unsupported encoding_format: {encoding}")
        if scripted is not None and scripted.wrong_dim is not None:
            dim = scripted.wrong_dim
        data = []
        for i, text in enumerate(texts):
            vector = matryoshka(fake_embedding(text, max(dim, self.dim)), dim)
            embedding: Any = encode_base64(vector) if encoding == "base64" else vector.tolist()
            data.append({"embedding": embedding, "index": i, "object": "embedding"})
        if scripted is not None and scripted.reversed:
            data.reverse()
        tokens = sum(fake_tokens(t) + 1 for t in texts)
        if self.timing is not None:
            self._closing.wait(self.timing.overhead)
            with self._gpu:
                self._closing.wait(self.timing.per_token * tokens)
        usage = {
            "prompt_tokens": tokens,
            "total_tokens": tokens,
            "completion_tokens": 0,
            "prompt_tokens_details": None,
            "reasoning_tokens": 0,
        }
        return _Answer(200, {"data": data, "model": self.model, "object": "list", "usage": usage})

    def _rerank(self, body: Any) -> _Answer:
        if not self.reranker:
            return self._bad("This server does not serve a rerank model.")
        if not isinstance(body, dict) or not isinstance(body.get("documents"), list):
            return self._bad("1 validation error: documents Field required")
        query = fake_embedding(str(body.get("query", "")), self.dim)
        results = []
        for i, doc in enumerate(body["documents"]):
            cosine = float(np.dot(query, fake_embedding(str(doc), self.dim)))
            item: dict[str, Any] = {"score": (cosine + 1) / 2, "index": i, "meta_info": {}}
            if body.get("return_documents", True):
                item["document"] = doc
            results.append(item)
        results.sort(key=lambda r: -r["score"])
        if body.get("top_n"):
            results = results[: int(body["top_n"])]
        return _Answer(200, results)


def _sglang_inputs(value: Any) -> tuple[list[str], str | None]:
    """SGLang's ``_validate_request`` for string inputs, with its exact messages."""
    if not value:
        return [], "Input cannot be empty"
    if isinstance(value, str):
        if not value.strip():
            return [], "Input cannot be empty or whitespace only"
        return [value], None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [], "This fake server only takes string inputs"
    for i, item in enumerate(value):
        if not item.strip():
            return [], f"Input at index {i} cannot be empty or whitespace only"
    return list(value), None


# --- Voyage --------------------------------------------------------------------------------

VOYAGE_MODELS: dict[str, dict[str, Any]] = {
    "voyage-code-3": {
        "dim": 2048,
        "default": 1024,
        "dims": (256, 512, 1024, 2048),
        "context": 32000,
        "batch_tokens": 120_000,
    },
    "voyage-code-2": {
        "dim": 1536,
        "default": 1536,
        "dims": (),
        "context": 16000,
        "batch_tokens": 120_000,
    },
}
VOYAGE_RERANKERS = ("rerank-2.5", "rerank-2.5-lite")


class VoyageServer(FakeServer):
    """Voyage AI's ``/v1/embeddings`` and ``/v1/rerank`` as voyageai 0.5.0 calls them.

    Args:
        api_key: The only key accepted (``Authorization: Bearer <key>``); others get 401
            ``{"detail": "Provided API key is invalid."}``.
        max_texts: Longest accepted ``input`` list (the API's 1,000).
    """

    def __init__(self, *, api_key: str = "test-voyage-key", max_texts: int = 1000) -> None:
        self.api_key = api_key
        self.max_texts = max_texts
        super().__init__()

    def error_body(self, status: int, message: str) -> Any:
        """Voyage's error body: ``{"detail": ...}``."""
        return {"detail": message}

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        scripted: Scripted | None,
    ) -> _Answer:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _Answer(401, {"detail": "Provided API key is invalid."})
        if method == "POST" and path == "/v1/embeddings":
            return self._embeddings(body, scripted)
        if method == "POST" and path == "/v1/rerank":
            return self._rerank(body)
        return _Answer(404, {"detail": "Not Found"})

    def _bad(self, message: str) -> _Answer:
        return _Answer(400, {"detail": message})

    def _embeddings(self, body: Any, scripted: Scripted | None) -> _Answer:
        if not isinstance(body, dict):
            return _Answer(422, {"detail": "Request body must be a JSON object."})
        spec = VOYAGE_MODELS.get(str(body.get("model")))
        if spec is None:
            return self._bad(f"Model {body.get('model')} is not supported.")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts:
            return self._bad("The input must be a non-empty string or list of strings.")
        if len(texts) > self.max_texts:
            return self._bad(
                f"The batch size limit is {self.max_texts}. Your batch size is {len(texts)}."
            )
        if body.get("input_type") not in (None, "query", "document"):
            return self._bad("input_type must be one of None, 'query' or 'document'.")
        dim, error = _voyage_dim(str(body["model"]), spec, body.get("output_dimension"))
        if error:
            return self._bad(error)
        counts = [fake_tokens(t) for t in texts]
        if not body.get("truncation", True) and max(counts) > spec["context"]:
            return self._bad(
                f"Request to model '{body['model']}' failed. The example at index "
                f"{counts.index(max(counts))} in your batch has {max(counts)} tokens, which is "
                f"longer than the max allowed tokens {spec['context']}."
            )
        total = sum(min(c, spec["context"]) for c in counts)
        if total > spec["batch_tokens"]:
            return self._bad(
                f"Request to model '{body['model']}' failed. The max allowed tokens per "
                f"submitted batch is {spec['batch_tokens']}. Your batch has {total} tokens after "
                "truncation. Please lower the number of tokens in the batch."
            )
        if scripted is not None and scripted.wrong_dim is not None:
            dim = scripted.wrong_dim
        data = []
        for i, text in enumerate(texts):
            vector = matryoshka(fake_embedding(text, max(dim, spec["dim"])), dim)
            embedding: Any = (
                encode_base64(vector)
                if body.get("encoding_format") == "base64"
                else vector.tolist()
            )
            data.append({"object": "embedding", "embedding": embedding, "index": i})
        if scripted is not None and scripted.reversed:
            data.reverse()
        usage = {"total_tokens": total}
        return _Answer(
            200, {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    def _rerank(self, body: Any) -> _Answer:
        if not isinstance(body, dict) or body.get("model") not in VOYAGE_RERANKERS:
            return self._bad(
                f"Model {body.get('model') if isinstance(body, dict) else None} is not supported."
            )
        documents = body.get("documents") or []
        query = fake_embedding(str(body.get("query", "")), 1024)
        data = []
        for i, doc in enumerate(documents):
            cosine = float(np.dot(query, fake_embedding(str(doc), 1024)))
            data.append({"relevance_score": (cosine + 1) / 2, "index": i})
        data.sort(key=lambda d: -d["relevance_score"])
        if body.get("top_k"):
            data = data[: int(body["top_k"])]
        tokens = sum(fake_tokens(str(d)) for d in documents) + fake_tokens(str(body.get("query")))
        usage = {"total_tokens": tokens}
        return _Answer(
            200, {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )


def _voyage_dim(model: str, spec: dict[str, Any], requested: Any) -> tuple[int, str | None]:
    if requested is None:
        return int(spec["default"]), None
    if not spec["dims"]:
        return 0, f"Model {model} does not support the output_dimension parameter."
    if requested not in spec["dims"]:
        allowed = ", ".join(str(d) for d in spec["dims"])
        return (
            0,
            f"Value {requested} for output_dimension is not supported for model {model}. "
            f"Supported values: {allowed}.",
        )
    return int(requested), None


# --- a server that never answers -----------------------------------------------------------


class SilentServer:
    """Accepts connections on 127.0.0.1 and reads what is sent, but never answers.

    ``connections`` counts the connections accepted: how many times a client tried.
    """

    def __init__(self) -> None:
        self.connections = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)  # kept open, never written to

    def close(self) -> None:
        """Stop accepting and drop the connections."""
        self._closing.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
