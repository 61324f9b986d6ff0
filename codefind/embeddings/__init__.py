"""Embedding backends by name: the registry's classes, and the embedders they make.

``create_embedder(settings)`` is the only way the rest of codefind gets an ``Embedder``. A
backend's module is imported when that backend is first asked for (``codefind.plugins`` knows
where each one lives), so ``codefind search`` with the built-in model never imports ``openai``
or ``voyageai`` (and the reverse).
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from codefind import plugins
from codefind.embeddings.base import Backend
from codefind.errors import ConfigError

if TYPE_CHECKING:
    from codefind.config import Settings
    from codefind.embeddings.base import Dimensions, Embedder, Reranker

_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def backend(name: str) -> Backend:
    """The backend called ``name`` (its module imported on first use).

    Raises:
        ConfigError: No such backend, its plug-in cannot be imported, or what it registered
            is not a ``Backend`` subclass.
    """
    with _lock:
        found = _instances.get(name)
        if found is None:
            cls = plugins.load(name)
            if not (isinstance(cls, type) and issubclass(cls, Backend)):
                raise ConfigError(
                    f"The {name} backend (from {plugins.origin(name)}) is not a subclass of "
                    "codefind.embeddings.base.Backend."
                )
            found = _instances[name] = cls()
        return found


def backends() -> list[Backend]:
    """Every backend that can be loaded, in the registry's order.

    A plug-in that fails to load is left out with a warning on stderr (not stdout: it must
    not end up in piped results); asking for it by name gives the full reason.
    """
    found = []
    for name in plugins.names():
        try:
            found.append(backend(name))
        except ConfigError as exc:
            print(f"codefind: {exc.message}", file=sys.stderr)
    return found


def create_embedder(settings: Settings) -> Embedder:
    """The embedder for ``settings.backend`` and its model (not yet loaded or connected).

    Raises:
        ConfigError: Unknown backend or model, a missing optional package, or an invalid
            dimension for the model (when its dimensions are known without asking it).
    """
    chosen = backend(settings.backend)
    chosen.check_installed()
    embedder = chosen.create(settings)
    dims = chosen.dimensions(settings, embedder.model)
    if dims is not None:
        dims.check(settings.dim, embedder.model)
    return embedder


def model_dimensions(name: str, model: str, settings: Settings | None = None) -> Dimensions | None:
    """The dimensions ``model`` on backend ``name`` offers, without loading or contacting it.

    ``None`` when the backend learns them from the model's first answer and has not yet.
    """
    from codefind.config import Settings

    return backend(name).dimensions(settings or Settings(backend=name), model)


def known_models(name: str) -> tuple[str, ...]:
    """Model names to offer for backend ``name`` in a picker (others may still be valid)."""
    return backend(name).known_models


def create_reranker(settings: Settings) -> Reranker:
    """The reranker that goes with ``settings.backend`` (Voyage rerank or Qwen3-Reranker).

    Raises:
        ConfigError: The backend has no reranker (the built-in model) or it is not configured.
    """
    chosen = backend(settings.backend)
    if not chosen.has_reranker:
        others = ", ".join(f"--backend {b.name}" for b in backends() if b.has_reranker)
        raise ConfigError(
            f"The {chosen.name} backend has no reranker"
            + (f": use {others} (see the README's backend sections)." if others else ".")
        )
    chosen.check_installed()
    return chosen.create_reranker(settings)
