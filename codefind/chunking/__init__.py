"""Chunking: cutting files into the pieces that are embedded, indexed and shown as hits.

A chunk is one function, method or class header where tree-sitter knows the language, and a
window of lines elsewhere; see ``codefind.chunking.chunker`` for the rules. This package is
the only place that parses code: ``codefind.mining`` reads doc comments through
``codefind.chunking.syntax``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codefind.chunking.languages import SYNTAX_LANGUAGES, detect_language

if TYPE_CHECKING:
    from codefind.chunking.chunker import (
        MAX_CHUNK_CHARS,
        OVERLAP_LINES,
        chunk_file,
        embedding_text,
    )

CHUNKER_VERSION = "5"
"""Bumped whenever chunk boundaries, names, kinds or categories change for the same file.

The index records the version that cut its chunks; a writer that finds another one
re-chunks every file once (the vectors of unchanged texts are reused), so an upgrade
reaches the whole index instead of only the files edited since. 2: chained assignments
(``a.b = a.c = function () {...}``) define their first name. 3: a short comment alone
between definitions heads the piece below when it fits, and module lines that are only
comments are ``docs``. 4: message catalogs (``locales/*.json``, ``*.po``) are ``docs``.
5: the members a type declares (fields, properties, enum variants) are in the symbol table."""

_FROM_CHUNKER = frozenset({"MAX_CHUNK_CHARS", "OVERLAP_LINES", "chunk_file", "embedding_text"})


def __getattr__(name: str) -> Any:
    """The chunker's names, imported on first use: it loads tree-sitter and its grammars,
    which ``codefind search --lang`` (it only needs ``languages``) must not pay for."""
    if name in _FROM_CHUNKER:
        from codefind.chunking import chunker

        return getattr(chunker, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CHUNKER_VERSION",
    "MAX_CHUNK_CHARS",
    "OVERLAP_LINES",
    "SYNTAX_LANGUAGES",
    "chunk_file",
    "detect_language",
    "embedding_text",
]
