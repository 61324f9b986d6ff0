"""Cutting one file into chunks: a chunk per definition, windows for everything else.

How a file is cut:

* Code with a tree-sitter grammar: every function and method is one chunk, with its
  decorators and the comments directly above it. A class chunk is what of the class is not
  a member: header, docstring, fields, and the comments and decorators above it; each method
  is a chunk of its own. Module-level code between definitions is gathered into ``module``
  chunks (consecutive statements share a chunk up to the budget). Nested functions stay in
  their parent, unless the parent is over budget: then they become chunks of their own and
  the rest of the parent is cut into ``block`` windows that keep the parent's symbol.
* Lines with nothing but closing brackets or ``end`` are glued to the chunk just above
  (within budget) instead of becoming chunks of their own. A short comment standing alone
  between definitions (``// Host ---``) heads the chunk below it, within budget; module lines
  that are only comments are ``docs``, not ``code`` (a definition's doc comment stays code).
* Code that does not parse (errors over most of the file), minified code, and files in a
  language without a grammar are cut into line windows (``module``/``block`` for code with a
  grammar, ``text`` otherwise).

Every non-blank line ends up in at least one chunk, and no chunk is longer than the budget:
a line longer than the budget is cut into pieces by characters (the only chunks whose text is
not whole lines). Line numbers count ``\\n``; a ``\\r`` before it (CRLF files) is dropped from
chunk text, so a file checked out with CRLF embeds exactly like the same file with LF, and
printed chunks carry no stray carriage returns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import TYPE_CHECKING

from codefind.categories import file_category
from codefind.chunking.languages import SYNTAX_LANGUAGES, detect_language, grammar_name
from codefind.chunking.syntax import (
    Definition,
    comment_only,
    definitions,
    encode,
    error_lines,
    member_names,
    module_names,
    nested_definitions,
    parse,
    test_module_lines,
)
from codefind.chunking.windows import is_blank, line_windows
from codefind.models import Chunk, ChunkKind, FileCategory, SymbolDef

if TYPE_CHECKING:
    from tree_sitter import Tree

logger = logging.getLogger(__name__)

MAX_CHUNK_CHARS = 700
"""Default budget per chunk in characters, set by the smallest model (the built-in MiniLM
reads 256 tokens). Measured on standard-library code: 0.27 tokens per character at the
median, 0.35 at the 95th percentile; windows of 700 characters exceed 256 tokens 0.9% of the
time (1000 characters: 55%). Chunks are shared by every model, so the budget is the
smallest model's; the rest of an over-long chunk is cut by the model and counted."""

OVERLAP_LINES = 3
"""Lines repeated between consecutive windows of a split definition or text."""

# A file whose parse has errors on more than this share of its non-blank lines is cut into
# windows: tree-sitter's recovery would otherwise invent definitions in the noise.
_MAX_ERROR_SHARE = 0.5
# A file with more than this share of its characters on over-budget lines is minified.
_MAX_LONG_LINE_SHARE = 0.5
# ... and more than this share of its non-blank lines are over budget.
_MIN_LONG_LINE_SHARE = 0.2
# Nested functions are pulled out of over-budget parents to at most this depth.
_MAX_SPLIT_DEPTH = 8
_WORDS = re.compile(r"[^\W_]+")
# Pieces longer than this are never glued to a neighbour.
_MAX_TRIVIAL_CHARS = 200
# A comment of at most this many lines, alone between definitions (``// Host ---``, ``# --
# helpers --``), heads the piece below it instead of being a chunk of its own: such a chunk
# has a word or two and nothing else, so BM25's length normalisation put it above the code it
# introduces (gorilla/mux: "match route by host" found the line ``// Host ---``).
_MAX_HEADING_LINES = 3
# Words allowed on a line that carries no meaning of its own (`end`, `} else {`, `public:`).
_TRIVIAL_WORDS = frozenset(
    {"end", "else", "fi", "done", "esac", "endif", "then", "do", "public", "private", "protected"}
)


def chunk_file(
    path: str,
    text: str,
    *,
    language: str | None = None,
    max_chars: int = MAX_CHUNK_CHARS,
    overlap_lines: int = OVERLAP_LINES,
) -> list[Chunk]:
    """Cut a file into chunks. Never raises.

    Args:
        path: The file's path relative to the root, ``/``-separated (stored in each chunk).
        text: The file's content.
        language: The language name; detected from ``path`` and ``text`` when ``None``.
        max_chars: The budget per chunk, in characters.
        overlap_lines: Lines repeated between windows of a split definition or text.

    Returns:
        Chunks ordered by start line; an empty list for a file with no non-blank line.
    """
    try:
        language = language or detect_language(path, text)
    except Exception:  # pragma: no cover - detection is table lookups
        logger.warning("Cannot detect the language of %s", path, exc_info=True)
        language = "text"
    try:
        return _FileChunker(path, text, language, max_chars, overlap_lines).chunks()
    except Exception:
        # A bug or a grammar crash on odd input must not stop indexing: plain windows.
        logger.warning("Chunking %s failed; using line windows", path, exc_info=True)
    try:
        return _FileChunker(path, text, language, max_chars, overlap_lines).chunks(syntax=False)
    except Exception:  # pragma: no cover - windows are plain arithmetic
        logger.error("Cannot chunk %s", path, exc_info=True)
        return []


def embedding_text(chunk: Chunk) -> str:
    """The exact string embedded for a chunk: a one-line header, then the code.

    The header names the file and the symbol. A chunk's code rarely says where it lives or
    what it is called as a whole (a method body does not repeat its class; a block of a
    long function has no signature), yet that is what queries often name: "the config
    loader" should match ``config.py: load_settings``. The header stays one short line
    because it costs tokens from the smallest model's 256. It is a pure function of the
    chunk, so the embedding cache (keyed by a hash of this string) hits across runs.
    """
    header = f"{chunk.path}: {chunk.symbol}" if chunk.symbol else chunk.path
    return f"{header}\n{chunk.text}"


@dataclass(frozen=True)
class _Piece:
    """A chunk before its text is cut out of the file."""

    start: int
    end: int
    symbol: str
    kind: ChunkKind
    columns: tuple[int, int] | None = None
    line: int = 0
    """The line to open, where it is not the first non-blank line (a definition's name)."""
    defines: tuple[SymbolDef, ...] = ()


class _FileChunker:
    """The state of chunking one file: its lines, their offsets, the lines already cut."""

    def __init__(self, path: str, text: str, language: str, max_chars: int, overlap: int) -> None:
        self.path = path
        self.text = text
        self.language = language
        self.max_chars = max(1, max_chars)
        self.overlap = max(0, overlap)
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        self.lines: list[str] = lines
        # offsets[i] = characters in lines 1..i, newlines not counted.
        self.offsets = list(accumulate(map(len, lines), initial=0))
        self.grammar: str = ""
        self.tree: Tree | None = None  # the parse, when a grammar cut the file
        self.cut_lines: set[int] = set()  # over-budget lines already cut into pieces
        self.test_lines: list[tuple[int, int]] = []  # inline test modules (Rust)
        self.category = file_category(path)

    def chunks(self, *, syntax: bool = True) -> list[Chunk]:
        """All chunks of the file, by start line."""
        if not self.text.strip():
            return []
        grammar = grammar_name(self.language, self.path) if syntax else None
        pieces: list[_Piece] | None = None
        if grammar is not None and not self._minified():
            self.grammar = grammar
            pieces = self._syntax_pieces(grammar)
        if pieces is None:
            code = self.language in SYNTAX_LANGUAGES
            pieces = self._residual(1, len(self.lines), "", "module" if code else "text")
        return [self._chunk(piece) for piece in _dedupe(self._glue(pieces))]

    # --- sizes and lines ---

    def size(self, start: int, end: int) -> int:
        """Characters of lines ``start..end`` joined by newlines."""
        return self.offsets[end] - self.offsets[start - 1] + end - start

    def _minified(self) -> bool:
        """Mostly over-budget lines, by characters and by lines: a bundle, not a data table."""
        long_lines = [len(line) for line in self.lines if len(line) > self.max_chars]
        if not long_lines:
            return False
        nonblank = sum(1 for line in self.lines if not is_blank(line))
        return (
            sum(long_lines) > _MAX_LONG_LINE_SHARE * self.size(1, len(self.lines))
            and len(long_lines) > _MIN_LONG_LINE_SHARE * nonblank
        )

    def _trivial(self, start: int, end: int) -> bool:
        if self.size(start, end) > _MAX_TRIVIAL_CHARS:
            return False  # not worth scanning: a real piece, or a wall of brackets
        return all(_trivial_line(self.lines[i - 1]) for i in range(start, end + 1))

    # --- syntax ---

    def _syntax_pieces(self, grammar: str) -> list[_Piece] | None:
        # Rows count "\n" only, and a dropped "\r" sits at a line's end, so positions in the
        # original text are positions in ``self.lines``.
        tree = parse(grammar, encode(self.text))
        self.tree = tree
        broken = error_lines(tree)
        if broken:
            nonblank = sum(1 for line in self.lines if not is_blank(line))
            if broken > _MAX_ERROR_SHARE * nonblank:
                return None
        found = definitions(tree, grammar, self.lines)
        self.test_lines = test_module_lines(tree, grammar)
        pieces: list[_Piece] = []
        self._scope(1, len(self.lines), found, "", "module", pieces, depth=0)
        pieces = _with_module_names(pieces, module_names(tree, grammar))
        return _with_members(pieces, member_names(tree, grammar))

    def _scope(
        self,
        start: int,
        end: int,
        children: Sequence[Definition],
        symbol: str,
        kind: ChunkKind,
        out: list[_Piece],
        depth: int,
    ) -> None:
        """Chunk a range: each child on its own, the lines between them as ``kind``."""
        line = start
        for child in children:
            if child.start_line > line:
                out.extend(self._residual(line, min(child.start_line - 1, end), symbol, kind))
            line = max(line, child.end_line + 1)
        if line <= end:
            out.extend(self._residual(line, end, symbol, kind))
        for child in children:
            self._definition(child, out, depth)

    def _definition(self, definition: Definition, out: list[_Piece], depth: int) -> None:
        first = len(out)
        self._definition_pieces(definition, out, depth)
        _mark_definition(out, first, definition)

    def _definition_pieces(self, definition: Definition, out: list[_Piece], depth: int) -> None:
        start, end = definition.start_line, min(definition.end_line, len(self.lines))
        if end < start:
            return
        if definition.kind == "class":
            self._scope(start, end, definition.members, definition.symbol, "class", out, depth)
        elif self.size(start, end) <= self.max_chars:
            out.append(_Piece(start, end, definition.symbol, definition.kind))
        elif start == end:  # on one over-long line, with others maybe: nothing to split by
            out.extend(self._residual(start, end, definition.symbol, "block"))
        else:
            nested: list[Definition] = []
            if depth < _MAX_SPLIT_DEPTH:
                nested = nested_definitions(definition, self.grammar, self.lines)
            self._scope(start, end, nested, definition.symbol, "block", out, depth + 1)

    def _residual(self, start: int, end: int, symbol: str, kind: ChunkKind) -> list[_Piece]:
        """Windows over lines that belong to no child definition.

        ``module`` and ``class`` code that fits one window keeps its kind; windows of a
        longer run are ``block``s. Text windows stay ``text``.
        """
        if start == end and start in self.cut_lines:
            return []  # several definitions on one minified line: cut it once
        spans = line_windows(self.lines, start, end, max_chars=self.max_chars, overlap=self.overlap)
        self.cut_lines.update(s.start for s in spans if s.columns is not None)
        if len(spans) > 1 and kind in ("module", "class"):
            kind = "block"
        return [_Piece(s.start, s.end, symbol, kind, s.columns) for s in spans]

    # --- finishing ---

    def _glue(self, pieces: list[_Piece]) -> list[_Piece]:
        """Join pieces of nothing but brackets/``end`` to the piece above (or below)."""
        ordered = sorted(pieces, key=lambda p: (p.start, p.end))
        kept: list[_Piece] = []
        pending: _Piece | None = None  # a trivial piece waiting for the next piece
        for piece in ordered:
            if pending is not None:
                if self._joinable(pending, piece) and self._fits(pending.start, piece.end):
                    piece = replace(piece, start=pending.start, line=self._opening_line(piece))
                else:
                    kept.append(pending)
                pending = None
            if pending is None and self._heading(piece):
                pending = piece
                continue
            if piece.columns is None and self._trivial(piece.start, piece.end):
                above = kept[-1] if kept else None
                if (
                    above is not None
                    and self._joinable(above, piece)
                    and self._fits(above.start, piece.end)
                ):
                    kept[-1] = replace(above, end=max(above.end, piece.end))
                    continue
                pending = piece
                continue
            kept.append(piece)
        if pending is not None:
            kept.append(pending)
        return kept

    def _heading(self, piece: _Piece) -> bool:
        """A short comment standing alone between pieces (only a grammar can tell)."""
        return (
            self.tree is not None
            and piece.columns is None
            and piece.kind in ("module", "class")
            and piece.end - piece.start < _MAX_HEADING_LINES
            and self.size(piece.start, piece.end) <= _MAX_TRIVIAL_CHARS
            and comment_only(self.tree, self.grammar, self.lines, piece.start, piece.end)
        )

    def _opening_line(self, piece: _Piece) -> int:
        """The line a piece opens at: its own, or its first non-blank line."""
        return piece.line or self._first_nonblank(piece.start, piece.end)

    def _first_nonblank(self, start: int, end: int) -> int:
        """The first non-blank line of ``start..end`` (``end`` if all are blank)."""
        while start < end and is_blank(self.lines[start - 1]):
            start += 1
        return start

    def _joinable(self, first: _Piece, second: _Piece) -> bool:
        """Whether ``second`` follows ``first`` with only blank lines between."""
        if first.columns is not None or second.columns is not None:
            return False
        if second.start <= first.end + 1:
            return second.start >= first.start
        return all(is_blank(self.lines[i - 1]) for i in range(first.end + 1, second.start))

    def _fits(self, start: int, end: int) -> bool:
        return self.size(start, end) <= self.max_chars

    def _chunk(self, piece: _Piece) -> Chunk:
        start, end = piece.start, piece.end
        if piece.columns is not None:
            text = self.lines[start - 1][piece.columns[0] : piece.columns[1]]
        else:
            start = self._first_nonblank(start, end)
            while end > start and is_blank(self.lines[end - 1]):
                end -= 1
            text = "\n".join(self.lines[start - 1 : end])
        return Chunk(
            path=self.path,
            language=self.language,
            start_line=start,
            end_line=end,
            symbol=piece.symbol,
            kind=piece.kind,
            text=text,
            line=piece.line if start <= piece.line <= end else start,
            defines=piece.defines,
            category=self._category(piece, start, end),
        )

    def _category(self, piece: _Piece, start: int, end: int) -> FileCategory:
        """The file's category, except for an inline test module (``test``) and for module
        lines that are only comments (``docs``: prose about the code, ranked after it, as a
        README is; a separator like ``// Host ---`` topped "match route by host" before). A
        definition's own doc comment, even in a window of its own, stays with its code."""
        if any(a <= start and end <= b for a, b in self.test_lines):
            return "test"
        if (
            self.category == "code"
            and self.tree is not None
            and not piece.symbol
            and piece.columns is None
            and comment_only(self.tree, self.grammar, self.lines, start, end)
        ):
            return "docs"
        return self.category


def _mark_definition(pieces: list[_Piece], first: int, definition: Definition) -> None:
    """Give the piece holding ``definition``'s name its symbol-table row and line to open.

    Only pieces from ``first`` on belong to the definition; of those, the one to mark is the
    window of the definition's own lines (its symbol) that contains the name.
    """
    line = definition.name_line or definition.code_start_line
    for i in range(first, len(pieces)):
        piece = pieces[i]
        if (
            piece.columns is None
            and piece.symbol == definition.symbol
            and piece.start <= line <= piece.end
        ):
            defines = SymbolDef(
                name=definition.name,
                kind=definition.symbol_kind,
                line=line,
                container=definition.container,
            )
            pieces[i] = replace(piece, line=line, defines=(defines,))
            return


def _with_module_names(pieces: list[_Piece], names: Sequence[tuple[str, int]]) -> list[_Piece]:
    """Give module-code pieces the names bound in them (``TIMEOUT = 5``), for the symbol table."""
    out = list(pieces)
    for name, line in names:
        i = _holder(out, line, named=False)
        if i is not None:
            out[i] = _defining(out[i], SymbolDef(name=name, kind="variable", line=line))
    return out


def _with_members(pieces: list[_Piece], names: Sequence[tuple[str, int, str]]) -> list[_Piece]:
    """Give the pieces of a type the members it declares (``NoOptDefVal string`` in ``type
    Flag struct``), for the symbol table, with the type as their container."""
    out = list(pieces)
    for name, line, owner in names:
        i = _holder(out, line, named=True)
        if i is not None:
            container = owner or out[i].symbol.rsplit(".", 1)[-1]
            row = SymbolDef(name=name, kind="field", line=line, container=container)
            out[i] = _defining(out[i], row)
    return out


def _holder(pieces: Sequence[_Piece], line: int, *, named: bool) -> int | None:
    """The piece that carries a symbol-table row for ``line``: a module-code piece, or (when
    ``named``) a definition's piece, the type's own before a method's (a one-line class is
    also inside its method's piece)."""
    found = [
        i
        for i, piece in enumerate(pieces)
        if piece.columns is None
        and bool(piece.symbol) == named
        and piece.start <= line <= piece.end
    ]
    return next((i for i in found if pieces[i].kind != "method"), found[0] if found else None)


def _defining(piece: _Piece, row: SymbolDef) -> _Piece:
    return replace(piece, defines=(*piece.defines, row))


def _trivial_line(line: str) -> bool:
    """A line with nothing to search for: blank, brackets and punctuation, ``end``, ``fi``."""
    return all(word in _TRIVIAL_WORDS for word in _WORDS.findall(line))


def _dedupe(pieces: list[_Piece]) -> list[_Piece]:
    """Drop repeats of the same lines (several definitions on one over-long line)."""
    seen: set[tuple[int, int, tuple[int, int] | None]] = set()
    unique: list[_Piece] = []
    for piece in sorted(pieces, key=lambda p: (p.start, p.end, p.columns or (0, 0))):
        key = (piece.start, piece.end, piece.columns)
        if key not in seen:
            seen.add(key)
            unique.append(piece)
    return unique


__all__ = ["MAX_CHUNK_CHARS", "OVERLAP_LINES", "chunk_file", "embedding_text"]
