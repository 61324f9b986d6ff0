"""Where embedding backends come from: codefind's own, and other packages' entry points.

A backend is one class (a subclass of ``codefind.embeddings.base.Backend``) in one module.
codefind's own are listed in ``BUILTIN`` (name -> ``"module:Class"``); another package adds
one by declaring an entry point in the ``codefind.backends`` group of its ``pyproject.toml``::

    [project.entry-points."codefind.backends"]
    toy = "codefind_toy:ToyBackend"

Every list of backend names (``--backend`` choices and help, config validation, the settings
screen) comes from ``names()`` here.

Why the built-in ones are listed here instead of being entry points too: entry points exist
only for an installed distribution, and codefind also runs from a source checkout (benchmarks
put the repository on ``sys.path``, tests run with ``PYTHONPATH``); and a built-in name needs
no scan of every installed package's metadata, so choosing one costs nothing at start-up. The
entry points are read only when a name is not a built-in one or the whole list is wanted. A
plug-in named like a built-in backend is ignored: installing a package never silently
replaces the backend a user chose.

This module imports only the standard library and ``codefind.errors``: config checks backend
names with it, and it sits below the embeddings layer that implements them. A backend's class
is imported by ``load`` only.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

from codefind.errors import ConfigError

if TYPE_CHECKING:  # importlib.metadata is imported when the entry points are first read
    from importlib.metadata import EntryPoint

GROUP = "codefind.backends"
"""The entry-point group a package declares its backends in."""

BUILTIN: dict[str, str] = {
    "local": "codefind.embeddings.local:LocalBackend",
    "sglang": "codefind.embeddings.sglang:SGLangBackend",
    "voyage": "codefind.embeddings.voyage:VoyageBackend",
    "openai": "codefind.embeddings.openai_compat:OpenAIBackend",
}
"""codefind's own backends, in the order the settings screen lists them."""


def names() -> tuple[str, ...]:
    """Every backend name: codefind's own first, then the installed plug-ins' (sorted)."""
    return (*BUILTIN, *sorted(_plugins()))


def is_known(name: str) -> bool:
    """Whether ``name`` is a backend (a built-in name is answered without reading metadata)."""
    return name in BUILTIN or name in _plugins()


def is_plugin(name: str) -> bool:
    """Whether ``name`` is a backend that an installed package (not codefind) provides."""
    return name not in BUILTIN and name in _plugins()


def check(name: str) -> str:
    """``name`` if it is a backend.

    Raises:
        ConfigError: It is not; the message lists the backends there are.
    """
    if not is_known(name):
        raise ConfigError(f"Unknown backend {name!r}; choose one of: {', '.join(names())}.")
    return name


def origin(name: str) -> str:
    """Who provides backend ``name``: ``codefind``, or the distribution of its plug-in."""
    if name in BUILTIN:
        return "codefind"
    entry = _plugins().get(name)
    dist = getattr(entry, "dist", None)
    return str(getattr(dist, "name", None) or "a plug-in")


def load(name: str) -> object:
    """The class of backend ``name``, imported now.

    Raises:
        ConfigError: Not a backend, or its module could not be imported (the message names
            the package that provides it and what went wrong).
    """
    check(name)
    target = BUILTIN.get(name) or _plugins()[name].value
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        found: object = module
        for part in filter(None, attribute.split(".")):
            found = getattr(found, part)
    except Exception as exc:  # a broken plug-in must not look like a codefind bug
        raise ConfigError(
            f"The {name} backend (from {origin(name)}) could not be loaded: "
            f"{type(exc).__name__}: {exc}. Reinstall that package, or choose another backend."
        ) from exc
    return found


def forget() -> None:
    """Read the entry points again on next use (after a package was installed in-process)."""
    _plugins.cache_clear()


@functools.cache
def _plugins() -> dict[str, EntryPoint]:
    """Installed plug-ins by name, built-in names left out (read once per process)."""
    from importlib.metadata import entry_points

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUP):
        if entry.name not in BUILTIN:
            found.setdefault(entry.name, entry)
    return found
