"""Greedy longest-match segmentation of a query into words, each with its English.

Chinese and Japanese write without spaces, and no segmenter library ships in a registry
package small enough to be a default dependency; greedy longest match against the
dictionary's headwords is what was measured to work (0.2 ms a query). At each position the
longest known word wins: a stop word beats a glossary word, which beats a dictionary word of
the same length. The match runs forwards and backwards and keeps the better reading (see
:func:`segment_run`). Because headwords without a usable sense are left out of the maps, a compound the
dictionary cannot translate falls back to the shorter words inside it and finally to single
characters; characters nothing knows are dropped. Text in other scripts (ASCII identifiers,
numbers, ``pandas``) is kept exactly as typed.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from codefind.translation.chars import CJK_CLASS

MAX_WORD_LENGTH = 12
"""Longer headwords exist (idioms, set phrases) but never help a code query."""

_RUN = re.compile(f"(?P<cjk>[{CJK_CLASS}]+)|(?P<word>(?:(?![{CJK_CLASS}])[!-~\\w])+)")
"""A run of Han characters and kana, or a word: ASCII non-space characters and letters or
digits of other scripts (so "pandas", "df.read_csv()" and "Привет" stay whole)."""
_ALNUM = re.compile(r"[^\W_]")

SegmentKind = Literal["glossary", "stop", "dictionary", "verbatim", "unknown"]


@dataclass(frozen=True)
class Segment:
    """One piece of the query.

    Attributes:
        surface: The text as it appears in the (NFKC-normalised) query.
        english: What it contributes to the translation ("" when dropped).
        kind: Which rule produced it.
    """

    surface: str
    english: str
    kind: SegmentKind


@dataclass(frozen=True)
class Lexicon:
    """Everything segmentation looks words up in, for one language.

    Attributes:
        dictionary: Headword -> English (CC-CEDICT or JMdict).
        glossary: Programming terms -> English; wins over the dictionary.
        stop_words: Words to drop; win over both.
        variants: Character -> standard form (traditional -> simplified for Chinese); a
            word is looked up as written and in its standard form.
        max_length: The longest word to try.
        reach_from: Character -> the longest dictionary word starting with it, when known
            in advance (a cached map: its keys are then never all read).
        reach_to: Character -> the longest dictionary word ending with it (likewise).
    """

    dictionary: Mapping[str, str]
    glossary: Mapping[str, str] = field(default_factory=dict)
    stop_words: frozenset[str] = frozenset()
    variants: Mapping[str, str] = field(default_factory=dict)
    max_length: int = MAX_WORD_LENGTH
    reach_from: Mapping[str, int] | None = None
    reach_to: Mapping[str, int] | None = None
    _special: dict[str, Segment] = field(init=False, repr=False, compare=False)
    _longest_from: dict[str, int] = field(init=False, repr=False, compare=False)
    _longest_to: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        special = {
            word: Segment(word, english, "glossary") for word, english in self.glossary.items()
        }
        special.update((word, Segment(word, "", "stop")) for word in self.stop_words)
        longest_from = dict(self.reach_from or {})
        longest_to = dict(self.reach_to or {})
        known = (
            special if self.reach_from is not None else itertools.chain(self.dictionary, special)
        )
        for word in known:
            size = len(word)
            if size > longest_from.get(word[0], 0):
                longest_from[word[0]] = size
            if size > longest_to.get(word[-1], 0):
                longest_to[word[-1]] = size
        object.__setattr__(self, "_special", special)
        object.__setattr__(self, "_longest_from", longest_from)
        object.__setattr__(self, "_longest_to", longest_to)

    def lookup(self, word: str, standard: str) -> Segment | None:
        """The segment for ``word`` (``standard``: the same word with variants mapped)."""
        found = self._special.get(word) or self._special.get(standard)
        if found is not None:
            return found if found.surface == word else Segment(word, found.english, found.kind)
        english = self.dictionary.get(word) or self.dictionary.get(standard)
        return Segment(word, english, "dictionary") if english else None

    def longest_from(self, char: str, standard: str) -> int:
        """The longest word that could start with ``char`` (or its standard form)."""
        reach = max(self._longest_from.get(char, 1), self._longest_from.get(standard, 1))
        return min(reach, self.max_length)

    def longest_to(self, char: str, standard: str) -> int:
        """The longest word that could end with ``char`` (or its standard form)."""
        reach = max(self._longest_to.get(char, 1), self._longest_to.get(standard, 1))
        return min(reach, self.max_length)


def segment_query(query: str, lexicon: Lexicon) -> list[Segment]:
    """Split a whole query into segments: CJK runs are segmented, other words kept verbatim.

    Args:
        query: The query as typed (full-width letters are normalised with NFKC first).
        lexicon: The words of the query's language.

    Returns:
        The segments in order; punctuation and spaces are not included.
    """
    text = normalise(query)
    segments: list[Segment] = []
    for kind, run in split_runs(text):
        if kind == "cjk":
            segments += segment_run(run, lexicon)
        elif kind == "word":
            segments.append(Segment(run, run, "verbatim"))
    return segments


def normalise(query: str) -> str:
    """NFKC (full-width letters and digits become ASCII, half-width kana full-width), with
    full-width punctuation turned into spaces so that it keeps separating words."""
    separated = "".join(" " if _is_wide_punctuation(char) else char for char in query)
    return unicodedata.normalize("NFKC", separated)


def split_runs(text: str) -> Iterator[tuple[str, str]]:
    """``("cjk", run)`` for Han/kana runs, ``("word", token)`` for other text split at
    spaces and punctuation outside ASCII; tokens with no letter or digit are dropped."""
    for match in _RUN.finditer(text):
        if match.lastgroup == "cjk":
            yield "cjk", match.group()
        elif _ALNUM.search(match.group()):
            yield "word", match.group()


def segment_run(run: str, lexicon: Lexicon) -> list[Segment]:
    """Greedy longest match over one run of Han characters and kana, in both directions.

    Forward matching alone splits 并排序 ("and sort") as 并排 ("side by side") + 序; the
    backward pass gets 并 + 排序. The reading with fewer unknown characters, then fewer
    words, then fewer words from the general dictionary (rather than the glossary or the
    stop list) wins; on a tie, the forward one.

    Args:
        run: Han characters and kana only.
        lexicon: The words of the run's language.
    """
    standard = "".join(lexicon.variants.get(char, char) for char in run)
    forward = _forward(run, standard, lexicon)
    backward = _backward(run, standard, lexicon)
    return min((forward, backward), key=_cost)


def _forward(run: str, standard: str, lexicon: Lexicon) -> list[Segment]:
    segments: list[Segment] = []
    start = 0
    while start < len(run):
        longest = min(lexicon.longest_from(run[start], standard[start]), len(run) - start)
        segment = _first_known(
            run, standard, lexicon, ((start, start + n) for n in range(longest, 0, -1))
        )
        segments.append(segment)
        start += len(segment.surface)
    return segments


def _backward(run: str, standard: str, lexicon: Lexicon) -> list[Segment]:
    segments: list[Segment] = []
    end = len(run)
    while end > 0:
        longest = min(lexicon.longest_to(run[end - 1], standard[end - 1]), end)
        segment = _first_known(
            run, standard, lexicon, ((end - n, end) for n in range(longest, 0, -1))
        )
        segments.append(segment)
        end -= len(segment.surface)
    segments.reverse()
    return segments


def _first_known(
    run: str, standard: str, lexicon: Lexicon, spans: Iterator[tuple[int, int]]
) -> Segment:
    """The first span (longest first) that the lexicon knows; else the single character."""
    last = (0, 0)
    for start, end in spans:
        found = lexicon.lookup(run[start:end], standard[start:end])
        if found is not None:
            return found
        last = (start, end)
    return Segment(run[last[0] : last[1]], "", "unknown")


def _cost(segments: list[Segment]) -> tuple[int, int, int]:
    unknown = sum(segment.kind == "unknown" for segment in segments)
    general = sum(segment.kind == "dictionary" for segment in segments)
    return unknown, len(segments), general


def _is_wide_punctuation(char: str) -> bool:
    if not ("\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef"):
        return False
    folded = unicodedata.normalize("NFKC", char)
    return folded.isascii() and not folded.isalnum() and not folded.isspace()
