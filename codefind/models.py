"""Value types shared by every layer: what a file, a chunk and a hit are.

All are frozen dataclasses so they can be cached, hashed and passed between threads freely.
Paths are always relative to the repository (or corpus) root and use ``/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

ChunkKind = Literal["function", "method", "class", "module", "block", "text"]
SearchMode = Literal["hybrid", "semantic", "lexical"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "semantic", "lexical")

FileCategory = Literal[
    "code", "test", "docs", "changelog", "example", "config", "data", "generated"
]
"""What a file is for; implementation ``code`` is ranked before the rest unless asked for."""
FILE_CATEGORIES: tuple[FileCategory, ...] = (
    "code", "test", "docs", "changelog", "example", "config", "data", "generated"
)  # fmt: skip

MAX_LIMIT = 1000
"""The most hits one search returns (the CLI says so when ``-n`` asks for more). Here rather
than in ``codefind.search`` so that a search answered by the service never imports numpy."""

Scope = Literal["auto", "code", "tests", "docs", "examples", "all"]
"""Which files a search looks at: ``auto`` ranks implementation code first unless the query
asks for tests or docs; ``code``, ``tests``, ``docs`` and ``examples`` look only there; ``all``
looks everywhere with no preference."""
SCOPES: tuple[Scope, ...] = ("auto", "code", "tests", "docs", "examples", "all")
SCOPE_CATEGORIES: dict[Scope, tuple[FileCategory, ...]] = {
    "auto": (),
    "code": ("code",),
    "tests": ("test",),
    "docs": ("docs", "changelog"),
    "examples": ("example",),
    "all": (),
}

SkipReason = Literal[
    "binary",
    "too_large",
    "minified",
    "generated",
    "vendored",
    "lock_file",
    "symlink",
    "submodule",
    "ignored",
    "unreadable",
    "data",
]


@dataclass(frozen=True)
class SourceFile:
    """One file the walk decided to index.

    Attributes:
        path: Relative to the root, ``/``-separated.
        content_id: Changes exactly when the content changes: the git blob id for clean
            tracked files, the same blob hash computed by codefind for dirty or untracked ones.
        size: Size in bytes when walked.
        mtime_ns: Modification time when walked (0 when unknown); lets the next walk skip
            re-hashing dirty or untracked files whose size and mtime have not changed.
    """

    path: str
    content_id: str
    size: int
    mtime_ns: int = 0


class FileSkipped(Exception):
    """Raised by ``FileSource.read`` when a file turns out not to be indexable.

    The walk can only skip on what it sees cheaply (name, size, git mode); reasons that need
    the content (NUL bytes, minified or generated code) are found when the file is read.
    """

    def __init__(self, reason: SkipReason, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason: SkipReason = reason
        self.detail = detail


class FileSource(Protocol):
    """Where indexed files come from: a git repository, or an evaluation corpus.

    The indexer works on this protocol alone, so ``codefind eval`` indexes a corpus through
    exactly the same code as a repository.
    """

    @property
    def root(self) -> Path:
        """The folder paths are relative to."""
        ...

    def walk(self, known: Mapping[str, SourceFile] | None = None) -> WalkResult:
        """List the files to index.

        Args:
            known: The files recorded by the previous run, by path; a source may reuse their
                ``content_id`` when size and mtime are unchanged instead of hashing again.
        """
        ...

    def read(self, file: SourceFile) -> str:
        """The file's text (invalid bytes decoded with replacement characters).

        Raises:
            FileSkipped: The content is not indexable (binary, minified, generated) or the
                file vanished or became unreadable since the walk (reason ``unreadable``).
        """
        ...


@dataclass(frozen=True)
class WalkResult:
    """What a walk found: the files to index and what it skipped, by reason."""

    files: tuple[SourceFile, ...]
    skipped: Mapping[SkipReason, int] = field(default_factory=dict)
    files_seen: int = 0
    notes: tuple[str, ...] = ()
    """Things worth telling the user once, e.g. that submodules were not entered."""


DefinitionKind = Literal[
    "class",
    "struct",
    "enum",
    "union",
    "trait",
    "interface",
    "type",
    "impl",
    "module",
    "function",
    "method",
    "macro",
    "variable",
    "field",
]
"""What a definition is, finer than ``ChunkKind``: a name query ranks a ``struct`` before the
``impl`` blocks of that struct, and both before the places that merely use the name."""
DEFINITION_KINDS: tuple[DefinitionKind, ...] = (
    "class", "struct", "enum", "union", "trait", "interface", "type", "impl", "module",
    "function", "method", "macro", "variable", "field",
)  # fmt: skip
TYPE_KINDS: frozenset[DefinitionKind] = frozenset(
    {"class", "struct", "enum", "union", "trait", "interface", "type", "module"}
)


@dataclass(frozen=True)
class SymbolDef:
    """The definition a chunk holds: one row of the symbol table.

    Attributes:
        name: The defined name as written (``send``; for an ``impl`` block, the type's name).
        kind: What it defines.
        line: The line holding the name (``def send``, ``pub struct Client``).
        container: The enclosing type or scope (``Client`` for ``Client.send``; for ``impl
            Display for Client``, the trait ``Display``); empty at top level.
    """

    name: str
    kind: DefinitionKind
    line: int
    container: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of one file that is embedded and searched as a unit.

    Attributes:
        path: File path, relative to the root.
        language: Lower-case language name (``python``, ``go``, ``text``, ...).
        start_line: First line, 1-based.
        end_line: Last line, 1-based, inclusive.
        symbol: Qualified name such as ``Store.save``; empty for module code and text windows.
        kind: What the chunk is (see ``ChunkKind``).
        text: The source lines of the chunk, exactly as in the file.
        line: The line to open: a definition's own line (``def``, ``fn``, ``struct``), not
            the doc comment or attributes above it that the chunk also covers; 0 means
            ``start_line``.
        defines: The definitions this chunk holds, for the symbol table: its own definition
            first (the one ``line`` points at), then names bound in module code it covers
            (``DEFAULT_TIMEOUT = 5``, ``export const schema = ...``).
        category: What the code is for: its file's category (``codefind.categories``), or
            ``test`` for test code inside an implementation file (Rust's ``mod tests``).
    """

    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str
    kind: ChunkKind
    text: str
    line: int = 0
    defines: tuple[SymbolDef, ...] = ()
    category: FileCategory = "code"

    def __post_init__(self) -> None:
        if self.line == 0:
            object.__setattr__(self, "line", self.start_line)


@dataclass(frozen=True)
class Hit:
    """One search result, ready to render.

    ``score`` is higher-is-better and comparable only within one result list. The two ranks
    say where the chunk stood in each retriever (``None`` when it was not retrieved there),
    which the app can show to explain a hit.
    """

    chunk_id: int
    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str
    kind: ChunkKind
    text: str
    score: float
    semantic_rank: int | None = None
    lexical_rank: int | None = None
    line: int = 0
    """The line to open (see ``Chunk.line``); 0 means ``start_line``."""
    category: FileCategory = "code"
    """What the hit's file is for (code, test, docs, ...)."""
    cosine: float | None = None
    """The query-chunk cosine (``None`` without vectors): evidence for "no good match"."""
    named: bool = False
    """Whether the chunk defines a name the query asks for (found in the symbol table)."""
    weak: bool = False
    """Too little evidence that this is a match (see ``codefind.ranking.mark_weak``): the CLI
    leaves it out unless asked, the app lists it under a divider."""

    def __post_init__(self) -> None:
        if self.line == 0:
            object.__setattr__(self, "line", self.start_line)


@dataclass(frozen=True)
class IndexReport:
    """What one indexing run did; the fields of ``codefind index --json``."""

    files: int
    files_seen: int
    skipped: Mapping[str, int]
    chunks: int
    embedded: int
    reused: int
    removed: int
    seconds: float
    backend: str
    model: str
    dim: int
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The object printed by ``codefind index --json`` (its keys are part of the CLI contract)."""
        return {
            "files": self.files,
            "files_seen": self.files_seen,
            "skipped": dict(self.skipped),
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "removed": self.removed,
            "seconds": round(self.seconds, 3),
            "backend": self.backend,
            "model": self.model,
            "dim": self.dim,
            "notes": list(self.notes),
        }
