"""Stand-ins for the OpenAI-compatible embedding servers people run, each with its own quirks.

Real HTTP servers on 127.0.0.1 (``fakeservers.FakeServer``), embedding with the same fake model
(``fakeservers.fake_embedding``), reached by the ``openai`` backend through the real ``openai``
client. What differs between them is what differs between the real servers, from their source
(TEI ``router/src/http/server.rs`` and ``types.rs``; Ollama ``openai/openai.go`` and its
``EmbeddingsMiddleware``; llama.cpp ``format_error_response`` and ``handle_embeddings``) and
their documented behaviour (OpenAI's API reference, vLLM's OpenAI server, Infinity's FastAPI
routes):

| variant  | path         | inputs per request     | long input                  | ``dimensions`` | error body |
| ---      | ---          | ---                    | ---                         | ---            | ---        |
| openai   | /v1          | 2048                   | 400 "maximum context length is N tokens" | honoured | ``{"error": {"message", "type", "param", "code"}}`` |
| vllm     | /v1          | any                    | 400 "maximum context length is N tokens" | 400 unless Matryoshka | same, ``"type": "BadRequestError"`` |
| tei      | /v1 and /    | 413 over ``--max-client-batch-size`` (32) | 413 "must have less than N tokens" | ignored | ``{"message", "code", "type": "validation"}`` |
| ollama   | /v1          | any                    | cut by the server           | honoured       | ``{"error": {"message", "type": "invalid_request_error"}}``, 404 for a model not pulled |
| llamacpp | /v1          | any                    | 500 "input (N tokens) is too large ... (current batch size: M)" | ignored | ``{"error": {"code", "message", "type"}}``; 501 without ``--embeddings`` |
| infinity | no /v1       | 422 over 2048 (FastAPI) | cut by the server          | honoured       | FastAPI ``{"detail": [...]}`` |

Variants that took ``encoding_format=base64`` late (older Ollama, older TEI) answer floats
whatever is asked: ``base64=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from tests.fakeservers import (
    FakeServer,
    Scripted,
    _Answer,
    encode_base64,
    fake_embedding,
    fake_tokens,
    matryoshka,
)

Dims = Literal["honour", "ignore", "refuse"]


@dataclass(frozen=True)
class Variant:
    """How one kind of server behaves.

    Attributes:
        name: ``openai``, ``vllm``, ``tei``, ``ollama``, ``llamacpp``, ``infinity``.
        prefix: The API's path prefix (``/v1``, or "" for Infinity's default).
        max_batch: Most inputs per request (``None``: no limit).
        max_tokens: Most tokens per input (fake tokens); ``None``: no limit.
        truncates: Long inputs are cut by the server instead of refused.
        dimensions: What a ``dimensions`` field does.
        base64: Whether ``encoding_format=base64`` is honoured (else floats are sent).
        strict_model: A request naming another model gets the server's 404.
    """

    name: str
    prefix: str = "/v1"
    max_batch: int | None = None
    max_tokens: int | None = None
    truncates: bool = False
    dimensions: Dims = "ignore"
    base64: bool = True
    strict_model: bool = False


VARIANTS: dict[str, Variant] = {
    "openai": Variant("openai", max_batch=2048, max_tokens=8192, dimensions="honour",
                      strict_model=True),
    "vllm": Variant("vllm", max_tokens=512, dimensions="refuse", strict_model=True),
    "tei": Variant("tei", max_batch=32, max_tokens=512),
    "ollama": Variant("ollama", truncates=True, dimensions="honour", base64=False,
                      strict_model=True),
    "llamacpp": Variant("llamacpp", max_tokens=512),
    "infinity": Variant("infinity", prefix="", max_batch=2048, truncates=True,
                        dimensions="honour"),
}  # fmt: skip


class CompatServer(FakeServer):
    """One OpenAI-compatible embedding server of the given ``variant``.

    Args:
        variant: A ``VARIANTS`` key or a ``Variant``.
        model: The model it serves.
        dim: The model's native dimension.
        api_key: Requests without ``Authorization: Bearer <key>`` get the variant's 401.
        embeddings: ``False`` is llama.cpp started without ``--embeddings``.
        **changes: Override fields of the variant (``max_batch=8``).
    """

    def __init__(
        self,
        variant: str | Variant = "openai",
        *,
        model: str = "code-embedder",
        dim: int = 768,
        api_key: str | None = None,
        embeddings: bool = True,
        **changes: Any,
    ) -> None:
        base = VARIANTS[variant] if isinstance(variant, str) else variant
        self.variant = replace(base, **changes)
        self.api_prefix = self.variant.prefix
        self.model = model
        self.dim = dim
        self.api_key = api_key
        self.embeddings = embeddings
        super().__init__()

    # --- the variant's words -------------------------------------------------------------

    def error_body(self, status: int, message: str) -> Any:
        """The body this variant sends with an error."""
        name = self.variant.name
        if name == "tei":
            kind = {413: "validation", 422: "tokenizer", 429: "overloaded", 424: "backend"}
            return {"message": message, "code": status, "type": kind.get(status, "empty")}
        if name == "llamacpp":
            kind = {400: "invalid_request_error", 401: "authentication_error",
                    404: "not_found_error", 501: "not_supported_error",
                    503: "unavailable_error"}  # fmt: skip
            return {"error": {"code": status, "message": message,
                              "type": kind.get(status, "server_error")}}  # fmt: skip
        if name == "infinity" and status == 422:
            return {"detail": [{"type": "value_error", "loc": ["body"], "msg": message}]}
        if name == "ollama":
            what = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
            return {"error": {"message": message, "type": what, "param": None, "code": None}}
        what = "BadRequestError" if name == "vllm" else "invalid_request_error"
        code: Any = status if name in ("vllm", "infinity") else None
        return {"error": {"message": message, "type": what, "param": None, "code": code}}

    def _error(self, status: int, message: str) -> _Answer:
        return _Answer(status, self.error_body(status, message))

    def _unauthorized(self) -> _Answer:
        name = self.variant.name
        if name == "tei":
            return _Answer(401, None)  # axum's bare StatusCode::UNAUTHORIZED
        if name == "llamacpp":
            return self._error(401, "Invalid API Key")
        if name == "vllm":
            return _Answer(401, {"error": "Unauthorized"})
        return self._error(401, "Incorrect API key provided: " + "sk-...")

    def _unknown_model(self, model: str) -> _Answer:
        if self.variant.name == "ollama":
            return self._error(404, f'model "{model}" not found, try pulling it first')
        return self._error(404, f"The model `{model}` does not exist.")

    def _too_long(self, tokens: int, limit: int) -> _Answer:
        name = self.variant.name
        if name == "tei":
            return self._error(
                413,
                f"Input validation error: `inputs` must have less than {limit} tokens. "
                f"Given: {tokens}",
            )
        if name == "llamacpp":
            return self._error(
                500,
                f"input ({tokens} tokens) is too large to process. increase the physical "
                f"batch size (current batch size: {limit})",
            )
        if name == "vllm":
            return self._error(
                400,
                f"This model's maximum context length is {limit} tokens. However, you "
                f"requested {tokens} tokens in the input for embedding generation. Please "
                "reduce the length of the input.",
            )
        return self._error(
            400,
            f"This model's maximum context length is {limit} tokens, however you requested "
            f"{tokens} tokens ({tokens} in your prompt; 0 for the completion). Please reduce "
            "your prompt; or completion length.",
        )

    def _too_many(self, count: int, limit: int) -> _Answer:
        name = self.variant.name
        if name == "tei":
            return self._error(413, f"batch size {count} > maximum allowed batch size {limit}")
        if name == "infinity":
            return self._error(
                422, f"List should have at most {limit} items after validation, not {count}"
            )
        return self._error(
            400,
            "'$.input' is invalid. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
        )

    # --- serving ---------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any,
        scripted: Scripted | None,
    ) -> _Answer:
        prefix = self.variant.prefix
        if path in ("/health", "/ping"):
            return _Answer(200, None)
        if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
            return self._unauthorized()
        paths = {f"{prefix}/embeddings"} | (
            {"/embeddings"} if self.variant.name == "tei" else set()
        )
        if method == "GET" and path == f"{prefix}/models":
            card: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": "me"}
            if self.variant.name == "vllm":
                card["max_model_len"] = self.variant.max_tokens
            return _Answer(200, {"object": "list", "data": [card]})
        if method == "POST" and path in paths:
            return self._embeddings(body, scripted)
        if self.variant.name == "tei":
            return _Answer(404, None)
        if self.variant.name == "infinity":
            return _Answer(404, {"detail": "Not Found"})
        return self._error(404, f"Not found: {method} {path}")

    def _embeddings(self, body: Any, scripted: Scripted | None) -> _Answer:
        v = self.variant
        if not self.embeddings:
            return self._error(
                501, "This server does not support embeddings. Start it with `--embeddings`"
            )
        if not isinstance(body, dict):
            return self._error(400, "invalid request body")
        if v.strict_model and body.get("model") != self.model:
            return self._unknown_model(str(body.get("model")))
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts:
            return self._error(400, "invalid input")
        if not all(isinstance(t, str) for t in texts):
            return self._error(400, "this stand-in takes string inputs only")
        if v.max_batch is not None and len(texts) > v.max_batch:
            return self._too_many(len(texts), v.max_batch)
        dim = self.dim
        if body.get("dimensions") is not None and v.dimensions != "ignore":
            if v.dimensions == "refuse":
                return self._error(
                    400,
                    f'Model "{self.model}" does not support matryoshka representation, '
                    "changing output dimensions will lead to poor results.",
                )
            dim = int(body["dimensions"])
        counts = [fake_tokens(t) for t in texts]
        if v.max_tokens is not None and not v.truncates and max(counts) > v.max_tokens:
            return self._too_long(max(counts), v.max_tokens)
        if scripted is not None and scripted.wrong_dim is not None:
            dim = scripted.wrong_dim
        as_base64 = v.base64 and body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vector = matryoshka(fake_embedding(text, max(dim, self.dim)), dim)
            embedding: Any = encode_base64(vector) if as_base64 else vector.tolist()
            data.append({"object": "embedding", "embedding": embedding, "index": i})
        if scripted is not None and scripted.reversed:
            data.reverse()
        tokens = sum(counts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return _Answer(200, {"object": "list", "data": data, "model": self.model, "usage": usage})
