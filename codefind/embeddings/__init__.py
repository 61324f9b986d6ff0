"""Embedding backends: pick one by name from the settings, importing only that one.

``create_embedder(settings)`` is the only way the rest of codefind gets an ``Embedder``; each
backend lives in its own module and is imported lazily here, so ``codefind search`` with the
built-in model never imports ``openai`` or ``voyageai`` (and the reverse).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from codefind.errors import ConfigError

if TYPE_CHECKING:  # the backends import heavy libraries; only their types are needed here
    from codefind.config import Settings
    from codefind.embeddings.base import Dimensions, Embedder, Reranker

_BACKEND_MODULES = {
    "local": "codefind.embeddings.local",
    "sglang": "codefind.embeddings.sglang",
    "voyage": "codefind.embeddings.voyage",
}


def _module(backend: str):  # type: ignore[no-untyped-def]
    try:
        name = _BACKEND_MODULES[backend]
    except KeyError:
        raise ConfigError(
            f"Unknown backend {backend!r}; choose one of: {', '.join(_BACKEND_MODULES)}."
        ) from None
    return importlib.import_module(name)


def create_embedder(settings: Settings) -> Embedder:
    """The embedder for ``settings.backend`` and its model (not yet loaded or connected).

    Raises:
        ConfigError: Unknown backend or model, or an invalid dimension for the model.
    """
    embedder: Embedder = _module(settings.backend).create(settings)
    embedder.dimensions.check(settings.dim, embedder.model)
    return embedder


def model_dimensions(backend: str, model: str) -> Dimensions:
    """The dimensions ``model`` on ``backend`` offers, without loading or contacting it."""
    dims: Dimensions = _module(backend).dimensions_for(model)
    return dims


def known_models(backend: str) -> tuple[str, ...]:
    """Model names to offer for ``backend`` in a picker (others may still be valid)."""
    models: tuple[str, ...] = _module(backend).KNOWN_MODELS
    return models


def create_reranker(settings: Settings) -> Reranker:
    """The reranker that goes with ``settings.backend`` (Voyage rerank or Qwen3-Reranker).

    Raises:
        ConfigError: The backend has no reranker (the built-in model) or it is not configured.
    """
    module = _module(settings.backend)
    if not hasattr(module, "create_reranker"):
        raise ConfigError(
            f"The {settings.backend} backend has no reranker: use --backend voyage "
            "(rerank-2.5) or sglang (a Qwen3-Reranker server, CODEFIND_SGLANG_RERANK_URL)."
        )
    reranker: Reranker = module.create_reranker(settings)
    return reranker
