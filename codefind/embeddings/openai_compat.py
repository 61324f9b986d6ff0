"""The ``openai`` backend: any OpenAI-compatible embedding server, through the ``openai`` client.

vLLM and SGLang (Qwen3-Embedding), Hugging Face TEI, Ollama (``/v1/embeddings``), llama.cpp's
server, LM Studio, Infinity, or OpenAI itself. Requests, limits, retries and checks are
``_server.ServerEmbedder``'s; what this backend adds is what a server that codefind knows
nothing about needs:

- The URL and the model name are the user's (``openai.url``, ``openai.model``), used as
  given: most servers' base URL ends in ``/v1``, Infinity's by default does not.
- The native dimension is learnt from a first, one-word request (a fixed word, never code)
  and remembered per server and model (``servers.json`` in codefind's cache folder), so a
  later run with the server down still opens the right index and searches it by words. It
  is part of the model id: a server that swaps the model behind a name never mixes two
  models' vectors in one cache or index.
- Smaller dimensions are offered only where the user declared the model Matryoshka-trained
  (``openai.matryoshka_min_dim``): cutting another model's vectors ruins them.
- An optional text before every query (``openai.query_prefix``): the instruction some models
  want (``search_query: `` for nomic-embed-text, ``query: `` for E5, Qwen3's ``Instruct:``).
- A key (``openai.api_key``) is sent only to the URL it is configured with; consent is asked
  before code goes to a server that is not on this machine, as for Voyage.

``openai`` is an optional dependency: ``pip install 'codefind[openai]'``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from codefind.atomic import atomic_write_bytes
from codefind.consent import server_address
from codefind.embeddings._remote import RetryPolicy, retry_policy
from codefind.embeddings._server import ServerEmbedder, ServerProfile
from codefind.embeddings.base import Backend, Dimensions
from codefind.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from codefind.config import OpenAISettings, Settings

PROBE = "codefind"
"""What the first request embeds to learn the native dimension: a word, never code."""
MATRYOSHKA_PRESETS = (4096, 3072, 2048, 1536, 1024, 768, 512, 384, 256, 128, 64, 32)

OPENAI_PROFILE = ServerProfile(
    name="embedding server",
    section="openai",
    url_variable="CODEFIND_OPENAI_URL",
    key_variable="CODEFIND_OPENAI_API_KEY",
    model_variable="CODEFIND_OPENAI_MODEL",
    start="Is the server running? Start it, or set CODEFIND_OPENAI_URL to a running one.",
    url_example="the API's base URL, usually ending in /v1 (Ollama: http://127.0.0.1:11434/v1)",
    context_setting="its input length (vLLM --max-model-len, TEI --max-input-length, "
    "llama.cpp --ubatch-size)",
)


class DimensionRecord:
    """Native dimensions learnt from servers, per server and model, in a small JSON file.

    Why on disk: the dimension picks the index to open, and a run with the server down must
    still find it to search by words. A file that cannot be read counts as empty; one that
    cannot be written leaves the dimension to be learnt again next time.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> DimensionRecord:
        """The record in codefind's cache folder (``$XDG_CACHE_HOME/codefind/servers.json``)."""
        from codefind.config import cache_home

        return cls(cache_home() / "servers.json")

    def get(self, url: str, model: str) -> int | None:
        """The native dimension recorded for ``model`` on the server at ``url``."""
        with self._lock:
            value = {**self._read(), **self._memory}.get(_record_key(url, model))
        return value if isinstance(value, int) and value > 0 else None

    def put(self, url: str, model: str, native: int) -> None:
        """Record ``native`` for ``model`` on the server at ``url`` (atomically)."""
        key = _record_key(url, model)
        with self._lock:
            self._memory[key] = native
            if self.path is None:
                return
            records = {**self._read(), key: native}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                data = json.dumps(records, indent=1, sort_keys=True).encode("utf-8")
                atomic_write_bytes(self.path, data)
            except OSError:
                pass  # a read-only cache folder: learnt again next run, nothing is lost

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            records = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return records if isinstance(records, dict) else {}


def _record_key(url: str, model: str) -> str:
    """``host:port/path model``: no user name or password from the URL is written down."""
    path = urlsplit(url).path.rstrip("/")
    return f"{server_address(url)}{path} {model}"


def dimensions_from(native: int, matryoshka_min_dim: int) -> Dimensions:
    """The dimensions of a model with ``native`` dimensions, Matryoshka down to the given
    minimum when one is declared (0: native only)."""
    if not 0 < matryoshka_min_dim < native:
        return Dimensions(native=native)
    presets = tuple(d for d in MATRYOSHKA_PRESETS if matryoshka_min_dim <= d <= native)
    return Dimensions(native=native, minimum=matryoshka_min_dim, presets=presets)


class OpenAICompatEmbedder(ServerEmbedder):
    """A model on any OpenAI-compatible server; its native dimension is learnt from it.

    Args:
        settings: URL, model, key, query prefix, Matryoshka minimum, limits and timeouts.
        record: Where learnt dimensions are remembered (``None``: this process only).
        timeout: Overrides ``settings.timeout``.
        query_timeout: Overrides ``settings.query_timeout``.
        Others: see ``ServerEmbedder``.

    Raises:
        ConfigError: No URL or no model is configured.
    """

    backend = "openai"

    def __init__(
        self,
        settings: OpenAISettings,
        *,
        record: DimensionRecord | None = None,
        timeout: float | None = None,
        query_timeout: float | None = None,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.url.startswith(("http://", "https://")):
            raise ConfigError(
                "The openai backend needs the server's base URL (http:// or https://): set "
                "CODEFIND_OPENAI_URL or `codefind config set openai.url URL`, e.g. "
                "http://127.0.0.1:11434/v1 for Ollama or http://127.0.0.1:8000/v1 for vLLM."
            )
        if not settings.model:
            raise ConfigError(
                "The openai backend needs the model's name as the server knows it: set "
                "CODEFIND_OPENAI_MODEL or `codefind config set openai.model NAME`."
            )
        super().__init__(
            url=settings.url,
            api_key=settings.api_key,
            model=settings.model,
            profile=OPENAI_PROFILE,
            timeout=settings.timeout if timeout is None else timeout,
            query_timeout=settings.query_timeout if query_timeout is None else query_timeout,
            connect_timeout=connect_timeout,
            retry=retry,
            batch_size=settings.batch_size,
            max_tokens=settings.max_tokens,
            max_concurrency=max_concurrency,
            sleep=sleep,
        )
        self.settings = settings
        self.multilingual = settings.multilingual
        self._record = record or DimensionRecord(None)
        self._dims_lock = threading.Lock()
        known = self._record.get(self.url, self.model)
        self._dims = None if known is None else self._dimensions_for(known)

    @property
    def dimensions(self) -> Dimensions:
        """The model's dimensions; the first use asks the server unless they are recorded.

        Raises:
            BackendError: The server cannot be reached or answers with unusable vectors.
        """
        return self._discover(self.timeout)

    @dimensions.setter
    def dimensions(self, value: Dimensions) -> None:
        self._dims = value

    @property
    def model_id(self) -> str:
        """``openai:{model}#{native}``: two models served under one name never mix."""
        return f"openai:{self.model}#{self.dimensions.native}"

    @model_id.setter
    def model_id(self, value: str) -> None:
        raise AttributeError("the model id follows the model and its dimension")

    def prepare(self, text: str, *, query: bool) -> str:
        """The exact text sent: the query prefix before queries, cut to the input limit."""
        if query and self.settings.query_prefix:
            text = self.settings.query_prefix + text
        return super().prepare(text, query=query)

    def _ready(self, timeout: float) -> None:
        self._discover(timeout)

    def _expected_native(self) -> int | None:
        return self._dims.native if self._dims is not None else None

    def _discover(self, timeout: float) -> Dimensions:
        with self._dims_lock:
            if self._dims is None:
                native = int(self._request([PROBE], timeout).shape[1])
                self._record.put(self.url, self.model, native)
                self._dims = self._dimensions_for(native)
            return self._dims

    def _dimensions_for(self, native: int) -> Dimensions:
        return dimensions_from(native, self.settings.matryoshka_min_dim)

    def _wrong_dimension(self, sizes: list[int]) -> BackendError:
        got = "/".join(str(s) for s in sizes)
        if len(sizes) == 1 and self._dims is not None:
            # The model behind the name changed: remember the new size, so the next run opens
            # (or builds) the index of the new model instead of failing again.
            self._record.put(self.url, self.model, sizes[0])
            return BackendError(
                f"{self._http.where} now returns {got}-dimensional vectors for {self.model}; it "
                f"returned {self._dims.native} before, so the model behind that name has "
                "changed. codefind has noted the new size: run the command again (the new "
                "model's vectors get an index of their own)."
            )
        return BackendError(
            f"{self._http.where} returned vectors of different sizes ({got}) in one answer."
        )


class OpenAIBackend(Backend):
    """Any OpenAI-compatible embedding server; consent is asked when it is not this machine."""

    name = "openai"
    label = "OpenAI-compatible server (vLLM, TEI, Ollama, llama.cpp, OpenAI...)"
    remote = True
    consent = "off-machine"
    multilingual = True
    requires = ("openai",)
    extra = "openai"
    url_setting = "url"
    instruction_setting = "query_prefix"

    def create(self, settings: Settings) -> OpenAICompatEmbedder:
        """The embedder for ``settings.openai`` (nothing is contacted yet).

        Raises:
            ConfigError: No URL or no model is configured.
        """
        return OpenAICompatEmbedder(
            settings.openai, record=DimensionRecord.default(), retry=retry_policy(settings.openai)
        )

    def dimensions(self, settings: Settings, model: str) -> Dimensions | None:
        """What was learnt from the server before, or ``None`` (learnt on first use)."""
        section = settings.openai
        if not section.url or not model:
            return None
        native = DimensionRecord.default().get(section.url, model)
        return None if native is None else dimensions_from(native, section.matryoshka_min_dim)
