"""The interfaces every embedding backend implements, and the vector arithmetic they share.

Two classes make a backend:

- ``Backend`` says what it is (name, label, remote or not, consent, languages, models and
  their dimensions, reranker or not) and makes its embedder. It is registered by name in
  ``codefind.plugins`` (codefind's own) or as a ``codefind.backends`` entry point (another
  package's), and every list of backends is built from these classes.
- ``Embedder`` turns texts into L2-normalised float32 vectors at the model's *native*
  dimension. Nothing outside ``codefind/embeddings/`` knows which backend is in use: the
  indexer and the search service see only ``Embedder`` (and ``Reranker``).

Why always native: the embedding cache stores one full vector per text, and an index at a
smaller dimension is derived from it by ``truncate`` (Matryoshka: keep the first ``dim``
components, re-normalise), the same arithmetic SGLang and Voyage apply on their side. So a
dimension switch never sends anything to a model again.

Why vectors are checked at this boundary (``vector_problem``): whatever a backend returns is
cached for good, keyed by the text. A vector that is not finite, is all zeros, or has the
wrong dimension would then rank (or break) that chunk on every later run, so such an answer
is an error here, never a cache entry.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from codefind.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from codefind.config import Settings

Vectors = npt.NDArray[np.float32]
Consent = Literal["never", "off-machine", "always"]
"""When code may only be sent after the user said yes: never (it stays in this process),
when the server is not on this machine, or always (a cloud service)."""


@dataclass(frozen=True)
class Dimensions:
    """The output dimensions a model offers.

    ``native`` is what the model produces. A Matryoshka-trained model also offers every value
    in ``choices`` (or, when ``choices`` is empty and ``minimum`` is set, any value from
    ``minimum`` to ``native``); other models offer ``native`` only.
    """

    native: int
    choices: tuple[int, ...] = ()
    minimum: int | None = None
    presets: tuple[int, ...] = ()
    """Suggested values for a settings screen (a subset of what is valid)."""

    def is_valid(self, dim: int) -> bool:
        """Whether ``dim`` can be served from this model's vectors."""
        if dim == self.native:
            return True
        if self.choices:
            return dim in self.choices
        return self.minimum is not None and self.minimum <= dim <= self.native

    def describe(self) -> str:
        """The valid values in words, for error messages."""
        if self.choices:
            return ", ".join(str(d) for d in sorted({*self.choices, self.native}))
        if self.minimum is not None:
            return f"any value from {self.minimum} to {self.native}"
        return f"{self.native} only (this model is not Matryoshka-trained)"

    def options(self) -> tuple[int, ...]:
        """Values to offer in a picker, largest first."""
        values = set(self.choices or self.presets) | {self.native}
        return tuple(sorted((d for d in values if self.is_valid(d)), reverse=True))

    def check(self, dim: int | None, model: str) -> int:
        """``dim`` (native when ``None``) if valid for ``model``, else a ``ConfigError``."""
        if dim is None:
            return self.native
        if not self.is_valid(dim):
            raise ConfigError(
                f"{model} cannot produce {dim}-dimensional vectors: use {self.describe()}."
            )
        return dim


class Backend(ABC):
    """One embedding backend: what it is, and how to make its embedder.

    A new backend is a subclass in a module of its own that sets the class attributes and
    implements ``create`` and ``dimensions``; then one line registers it (``BUILTIN`` in
    ``codefind.plugins``, or an entry point in the ``codefind.backends`` group). Instances
    hold no state: ``codefind.embeddings.backend(name)`` hands out one per name.

    Attributes:
        name: What ``--backend`` and the config file call it.
        label: One line for the settings screen, saying where the code goes.
        remote: Whether it embeds on a server over the network (the settings screen then
            offers its endpoint URL).
        consent: When a yes is needed before code is sent (see ``Consent``). The embedders it
            makes set ``Embedder.remote`` accordingly; the indexer asks before an upload.
        multilingual: Whether its models read queries in other languages than English (the
            built-in model does not, so its queries are translated).
        known_models: Models to offer in a picker (others may be valid too).
        has_reranker: Whether ``create_reranker`` can give a reranker.
        requires: Modules it imports (optional dependencies); ``check_installed`` says which
            pip extra provides them when one is missing.
        extra: The pip extra that installs ``requires`` (``pip install 'codefind[EXTRA]'``).
        url_setting: The field of its config section that holds the server's URL.
        instruction_setting: The field that holds the text put before queries, if any.
        settings_type: For a plug-in, a dataclass of its ``[name]`` config table; ``options``
            parses the table into it (codefind's own sections are typed in ``config``).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    remote: ClassVar[bool] = False
    consent: ClassVar[Consent] = "never"
    multilingual: ClassVar[bool] = False
    known_models: ClassVar[tuple[str, ...]] = ()
    has_reranker: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    url_setting: ClassVar[str | None] = None
    instruction_setting: ClassVar[str | None] = None
    settings_type: ClassVar[type[Any] | None] = None

    @abstractmethod
    def create(self, settings: Settings) -> Embedder:
        """The embedder for ``settings`` (nothing loaded or contacted yet).

        Raises:
            ConfigError: The model is unknown or a needed setting is missing.
        """

    @abstractmethod
    def dimensions(self, settings: Settings, model: str) -> Dimensions | None:
        """The dimensions ``model`` offers, without loading or contacting it.

        ``None`` when they are learnt from the model's first answer and not known yet.

        Raises:
            ConfigError: ``model`` is not a model of this backend.
        """

    def create_reranker(self, settings: Settings) -> Reranker:
        """The reranker that goes with this backend.

        Raises:
            ConfigError: It has none, or it is not configured.
        """
        raise ConfigError(f"The {self.name} backend has no reranker.")

    def options(self, settings: Settings) -> Any:
        """A plug-in's config table parsed into ``settings_type`` (defaults where unset).

        Raises:
            ConfigError: An unknown key or a value of the wrong type in the table.
        """
        from codefind.config import plugin_section

        if self.settings_type is None:
            raise ConfigError(f"The {self.name} backend declares no settings.")
        return plugin_section(settings, self.name, self.settings_type)

    def check_installed(self) -> None:
        """Refuse early, with the pip command, when a module this backend needs is missing.

        Raises:
            ConfigError: Names the missing package and the extra that installs it.
        """
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                extra = f"codefind[{self.extra}]" if self.extra else module
                raise ConfigError(
                    f"The {self.name} backend needs the {module} package, which is not "
                    f"installed. Install it with: pip install '{extra}'"
                )


class Embedder(ABC):
    """An embedding model behind one backend.

    Subclasses set the attributes in ``__init__`` and implement ``_embed``; the public
    methods here handle blank texts and validation, so every backend behaves the same.

    Attributes:
        backend: The name of the backend that made it (``local``, ``sglang``, ...).
        model: The model's name as the user gives it (``all-MiniLM-L6-v2``).
        model_id: Stable identity of the vectors this embedder produces; part of every cache
            key and index manifest, so vectors of two models never mix.
        dimensions: Native and valid output dimensions.
        max_tokens: The model's input limit; longer inputs are cut by the backend.
        batch_size: How many texts the indexer hands over per ``embed_documents`` call.
        max_concurrency: How many such calls the indexer may run at once (remote servers).
        remote: Whether texts leave this machine (then the indexer asks before the first
            upload; see ``Backend.consent``).
        endpoint: Where texts are sent (a URL), for the consent question; ``None`` in process.
        multilingual: Whether the model understands queries in languages other than English;
            the built-in model does not, so its queries are translated to English keywords.
    """

    backend: str
    model: str
    model_id: str
    dimensions: Dimensions
    max_tokens: int
    batch_size: int = 32
    max_concurrency: int = 1
    remote: bool = False
    endpoint: str | None = None
    multilingual: bool = False

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed code chunks; returns ``(len(texts), native)`` unit vectors.

        Blank texts are never sent to a model: their rows are zero vectors (which score 0
        against everything). The chunker does not produce blank chunks, so this is a guard.
        """
        return self._embed_nonblank(texts, query=False)

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query; returns a ``(native,)`` unit vector (zeros if blank)."""
        row: Vectors = self._embed_nonblank([text], query=True)[0]
        return row

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed many queries at once (used by ``codefind eval``)."""
        return self._embed_nonblank(texts, query=True)

    def estimate_tokens(self, texts: Sequence[str]) -> int:
        """A local estimate of the tokens ``texts`` cost (for Voyage's cost question).

        The default is a character-based estimate (about 3.2 characters per token for code);
        backends with a local tokenizer override it.
        """
        return sum(max(1, round(len(t) / 3.2)) for t in texts)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections or sessions."""

    @abstractmethod
    def _embed(self, texts: list[str], *, query: bool) -> Vectors:
        """Embed non-blank ``texts``; return ``(len(texts), native)`` float32 vectors.

        Implementations may return vectors that are not normalised; the caller normalises.
        """

    def _embed_nonblank(self, texts: Sequence[str], *, query: bool) -> Vectors:
        out = np.zeros((len(texts), self.dimensions.native), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if keep:
            vectors = self._embed([texts[i] for i in keep], query=query)
            if vectors.shape != (len(keep), self.dimensions.native):
                raise BackendError(
                    f"{self.backend} returned vectors of shape {vectors.shape}, expected "
                    f"({len(keep)}, {self.dimensions.native}) for {self.model}."
                )
            problem = vector_problem(vectors, self.dimensions.native)
            if problem is not None:
                raise BackendError(f"{self.backend} returned {problem} for {self.model}.")
            out[keep] = normalize(vectors)
        return out


class Reranker(ABC):
    """A second-stage model that scores (query, document) pairs directly."""

    model: str
    destination: str | None = "a remote reranker"
    """Who receives the query and the hits' code, in words; ``None`` when it stays on this
    machine. A reranker that says nothing is taken to send it elsewhere, so the user is
    asked (``Workspace.search_service``)."""

    @abstractmethod
    def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """Relevance scores, one per document, higher is better."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def vector_problem(vectors: npt.NDArray[Any], native: int) -> str | None:
    """What makes a model's answer unusable, in words, or ``None`` when it is fine.

    Checked: the dimension, values that are not finite (NaN, infinity), and rows of zero
    length (no direction: they would score 0 against everything, for good).
    """
    matrix = np.asarray(vectors)
    if matrix.ndim != 2 or matrix.shape[1] != native:
        got = matrix.shape[1] if matrix.ndim == 2 else "x".join(map(str, matrix.shape))
        return f"{got}-dimensional vectors (expected {native})"
    if not np.isfinite(matrix).all():
        return "vectors with NaN or infinite values"
    if len(matrix) and not (np.linalg.norm(matrix.astype(np.float64), axis=1) > 1e-12).all():
        return "all-zero vectors"
    return None


def normalize(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (matrix / norms).astype(np.float32, copy=False)
    return unit


def truncate(vectors: npt.NDArray[np.floating], dim: int) -> Vectors:
    """Matryoshka truncation: the first ``dim`` components, re-normalised."""
    return normalize(np.asarray(vectors)[..., :dim])
