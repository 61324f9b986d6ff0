"""Chunking: cutting files into the pieces that are embedded, indexed and shown as hits.

A chunk is one function, method or class header where tree-sitter knows the language, and a
window of lines elsewhere; see ``codefind.chunking.chunker`` for the rules. This package is
the only place that parses code: ``codefind.mining`` reads doc comments through
``codefind.chunking.syntax``.
"""

from __future__ import annotations

from codefind.chunking.chunker import MAX_CHUNK_CHARS, OVERLAP_LINES, chunk_file, embedding_text
from codefind.chunking.languages import SYNTAX_LANGUAGES, detect_language

__all__ = [
    "MAX_CHUNK_CHARS",
    "OVERLAP_LINES",
    "SYNTAX_LANGUAGES",
    "chunk_file",
    "detect_language",
    "embedding_text",
]
