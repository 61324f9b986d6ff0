"""Tokens for the lexical (BM25) index, shared by indexing and querying.

Code names things in ``camelCase``, ``snake_case`` and ``SCREAMING_CASE``; people type
"parse http response". Both sides are therefore cut at case changes, underscores, digits
and punctuation, and lower-cased, so ``parseHTTPResponse`` yields ``parse http response``.
The whole identifier is kept too (as ``parsehttpresponse``) so that typing an exact name ranks
its definition first. Chinese and Japanese text has no spaces: each run of such characters
becomes its overlapping character bigrams (plus the character itself for single ones), the
usual segmentation-free choice for BM25 over CJK.

The same function must produce the tokens on both sides; that is why it lives here, below
both the store and the search service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A "word" is a run of letters/digits/underscores, or a run of CJK characters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]+|[^\W{_CJK}]+", re.UNICODE)
_CJK_RUN = re.compile(rf"[{_CJK}]+")
# Split points inside an identifier: lower->Upper, UPPER->Upper+lower (HTTPResponse), letter<->digit.
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+", re.UNICODE)

# Words that carry no meaning in a search query. Kept short on purpose: BM25's IDF already
# discounts common words, this only stops queries like "how to ..." from matching every
# chunk that has "to" in it.
QUERY_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
    ]
)


def tokens(text: str) -> list[str]:
    """Lexical tokens of code or prose, in order (duplicates kept, BM25 counts them)."""
    out: list[str] = []
    for word in _WORD.findall(text):
        out.extend(_word_tokens(word))
    return out


def query_tokens(query: str) -> list[str]:
    """Tokens of a search query: as ``tokens`` but without stop words and duplicates."""
    seen: dict[str, None] = {}
    for token in tokens(query):
        if token not in QUERY_STOP_WORDS:
            seen.setdefault(token, None)
    return list(seen)


def split_identifier(word: str) -> list[str]:
    """``parseHTTPResponse`` -> ``['parse', 'http', 'response']``; ``snake_case`` -> ``['snake', 'case']``."""
    return [part.lower() for part in _PARTS.findall(word)]


def looks_like_identifier(query: str) -> bool:
    """Whether the query is a code name (``load_config``, ``Store.save``, ``parseURL``).

    Such queries get an exact-name boost in search: a user who types a name wants its
    definition, which embeddings alone rank poorly.
    """
    query = query.strip()
    if not query or " " in query or not re.fullmatch(r"[\w.:$#-]+", query):
        return False
    has_separator = any(sep in query for sep in ("_", ".", "::", "#"))
    has_inner_capital = bool(re.search(r"[a-z][A-Z]", query))
    return has_separator or has_inner_capital


def name_in_query(query: str) -> str | None:
    """The code name a query asks for, reduced by ``identifier_key``; ``None`` for prose.

    Identifier-looking queries (``load_config``) and single words (``dedent``) both count: a
    one-word query that is exactly a definition's name most likely wants that definition.
    """
    query = query.strip()
    if looks_like_identifier(query) or re.fullmatch(r"[A-Za-z_$][\w$]*", query):
        return identifier_key(query) or None
    return None


def identifier_key(name: str) -> str:
    """A name reduced for exact comparison: its last part, lower-case, no separators.

    ``Store.save`` -> ``save``; ``load_config`` -> ``loadconfig``; ``LoadConfig`` -> ``loadconfig``.
    """
    last = re.split(r"\.|::|#", name.strip())[-1]
    return "".join(split_identifier(last))


def _word_tokens(word: str) -> Iterator[str]:
    if _CJK_RUN.fullmatch(word):
        yield from _cjk_bigrams(word)
        return
    parts = split_identifier(word)
    yield from parts
    joined = "".join(parts)
    if len(parts) > 1 and joined:
        yield joined


def _cjk_bigrams(run: str) -> Iterator[str]:
    if len(run) == 1:
        yield run
        return
    for i in range(len(run) - 1):
        yield run[i : i + 2]
