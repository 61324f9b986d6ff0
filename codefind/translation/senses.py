"""Turn a dictionary definition into the few English keywords a code search can use.

Dictionary senses are written for people ("(of a computer etc) to read (data)", "CL:個|个",
"variant of 乾[qian2]", "surname Zhong"); a query embedder wants "read". These rules are the
whole of the cleaning, shared by CC-CEDICT and JMdict, and kept free of I/O so that the tests
can pin each rule down.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from codefind.translation.chars import has_han, has_kana

MAX_WORDS = 4
"""A cleaned sense longer than this is a description, not a translation, and is skipped."""
MAX_SENSES = 6
"""Candidates kept per headword: later senses are rare readings that never win a ranking."""
SEPARATOR = "|"
"""Between candidates in a stored map value (a cleaned sense never contains it)."""
COMPUTING_MARK = "!"
"""Prefix of a stored candidate the dictionary labels as computing ("(computing) proxy")."""
_COMPUTING_LABEL = re.compile(
    r"\([^()]*\b(?:computing|computer|programming|software)\b[^()]*\)", re.I
)


@dataclass(frozen=True)
class Candidate:
    """One English sense of a headword, as the ranking sees it.

    Attributes:
        text: The cleaned sense ("proxy").
        computing: The dictionary labels it as the computing sense ("(computing) proxy").
        order: Its position among the headword's candidates (0 = the dictionary's first).
    """

    text: str
    computing: bool = False
    order: int = 0


_UNUSABLE_PREFIXES: tuple[str, ...] = (
    "variant of",
    "old variant of",
    "archaic variant of",
    "ancient variant of",
    "erhua variant of",
    "unofficial variant of",
    "japanese variant of",
    "also written",
    "also pr.",
    "also called",
    "also known as",
    "see ",
    "see also",
    "used in",
    "used for",
    "abbr. for",
    "abbr. of",
    "abbr. to",
    "surname ",
    "cl:",
    "classifier for",
    "taiwan pr.",
    "pr. ",
    "(old) ",
    "(archaic) ",
    "(literary) ",
    "(bound form) used in",
)
_PARENTHETICAL = re.compile(r"\([^()]*\)|（[^（）]*）|\{[^{}]*\}")
_PINYIN_REFERENCE = re.compile(r"\S*\[[^\]]*\]")
_FILLER_WORDS = frozenset({"sth", "sb", "sth's", "sb's", "one's", "oneself", "etc", "etc."})
_LEADING_WORDS: tuple[str, ...] = ("to ", "a ", "an ", "the ")
_TRAILING_PUNCTUATION = " .,:;!?-'\""
_LETTER = re.compile(r"[^\W\d_]")


def clean_sense(sense: str) -> str | None:
    """One sense as lower-case English keywords, or ``None`` when it is not usable.

    Applies, in order: skip cross-references ("variant of", "see", "used in", "abbr. for",
    "surname", "CL:", pronunciation notes); drop parentheticals and pinyin references; cut
    at the first ";"; drop a leading "to"/"a"/"an"/"the" and filler words ("sth", "sb");
    reject what still holds Chinese or Japanese characters, has no letters, or is longer
    than :data:`MAX_WORDS` words.

    Args:
        sense: One definition as the dictionary writes it.

    Returns:
        The keywords, e.g. ``"read"`` for ``"(of a computer etc) to read (data)"``.
    """
    text = " ".join(sense.split())
    if _is_cross_reference(text):
        return None
    text = _drop_parentheticals(text)
    text = text.split(";", 1)[0]
    text = _PINYIN_REFERENCE.sub(" ", text)
    text = " ".join(text.lower().split()).strip(_TRAILING_PUNCTUATION)
    text = _drop_leading_words(text)
    words = [word for word in text.split() if word not in _FILLER_WORDS]
    text = " ".join(words).strip(_TRAILING_PUNCTUATION)
    if not _is_usable(text):
        return None
    return text


def first_usable_sense(senses: Iterable[str]) -> str | None:
    """The first sense that :func:`clean_sense` keeps, already cleaned (``None`` if none)."""
    for sense in senses:
        cleaned = clean_sense(sense)
        if cleaned is not None:
            return cleaned
    return None


def usable_senses(senses: Iterable[str], limit: int = MAX_SENSES) -> list[Candidate]:
    """Every sense :func:`clean_sense` keeps, in dictionary order, without repeats.

    A sense may be a ";"-separated list ("option; alternative; choice"): each part counts.
    Senses the dictionary labels "(computing)" are marked, since a code query nearly always
    means that one.
    """
    found: dict[str, bool] = {}
    for sense in senses:
        for part in sense.split(";"):
            cleaned = clean_sense(part)
            if cleaned is None or SEPARATOR in cleaned:
                continue
            computing = _COMPUTING_LABEL.search(part) is not None
            found[cleaned] = found.get(cleaned, False) or computing
            if len(found) >= limit:
                break
        if len(found) >= limit:
            break
    return [Candidate(text, mark, i) for i, (text, mark) in enumerate(found.items())]


def encode_candidates(candidates: Iterable[Candidate]) -> str:
    """Candidates as one stored string: ``"surrogate|!proxy"``."""
    return SEPARATOR.join((COMPUTING_MARK if c.computing else "") + c.text for c in candidates)


def decode_candidates(value: str) -> list[Candidate]:
    """The inverse of :func:`encode_candidates` (a plain glossary value is one candidate)."""
    out = []
    for i, part in enumerate(p for p in value.split(SEPARATOR) if p):
        computing = part.startswith(COMPUTING_MARK)
        out.append(Candidate(part.removeprefix(COMPUTING_MARK), computing, i))
    return out


def _is_cross_reference(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(_UNUSABLE_PREFIXES) or " variant of " in f" {lowered}"


def _drop_parentheticals(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, _PARENTHETICAL.sub(" ", text)
    return text


def _drop_leading_words(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _LEADING_WORDS:
            if text.startswith(prefix):
                text = text[len(prefix) :].lstrip()
                changed = True
    return text


def _is_usable(text: str) -> bool:
    if _LETTER.search(text) is None:
        return False
    if has_han(text) or has_kana(text):
        return False
    return len(text.split()) <= MAX_WORDS
