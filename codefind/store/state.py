"""The per-checkout state database: files, chunks and the lexical (BM25) index, in SQLite.

This database is the source of truth for what is indexed. Files and their chunks change in
one transaction, together with the BM25 index over their tokens (``lexicon.py``: postings
scored with numpy, FTS5's scores without FTS5's per-row cost), so lexical search always sees
whole files. Vector indexes are derived from it (see ``vectors.py``) and record the
``generation`` they were synced to; every transaction that changes chunks bumps it. A random
``state_id``, made when the database is created, names this database in each vector manifest:
a state rebuilt from scratch numbers its chunks from 1 again, so vectors of an earlier state
must never be taken for its own (see ``vectors.py``).

WAL mode lets the app and ``codefind search`` read while ``codefind index`` writes. Every
connection is in autocommit mode and writes in explicit ``BEGIN IMMEDIATE`` transactions;
readers open the file read-only and never write (not even to TEMP tables: a write would
leave a transaction open and freeze the reader's view of the database for good).

Files that were looked at and skipped are recorded too (with the reason), so an unchanged
binary file is not read again on the next run and the skip counts stay stable.

Chunk texts are kept per file, not per chunk: one zlib stream of the file's chunk texts
joined in chunk order (``texts``), and each chunk's place in it (``text_start`` and
``text_length``, in characters). Compressed together, a file's chunks cost about a quarter
of their text, since neighbouring chunks share indentation, names and the lines they
overlap by: on the relevance projects and the stdlib (``benchmarks/bench_index_size.py``),
366 bytes of text a chunk become 85 (99 in the database's pages), where zlib per chunk
kept 187. Reading a hit's text inflates its file's stream (tens of microseconds for a
typical file, a few milliseconds for the largest); the last few are kept, by file id
(never reused, and a file's row is never changed: a new version is a new row).
The texts are stored rather than read from the work tree or git when needed: the work tree
may have moved on since the file was indexed (a live index lags the editor), and a file
that is not committed has no blob to read.

A chunk names its file by the file's integer id: the path is kept once, in ``files``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import secrets
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

from codefind.errors import IndexCorruptError, IndexFormatError
from codefind.lexical import identifier_key, tokens
from codefind.models import (
    DEFINITION_KINDS,
    FILE_CATEGORIES,
    Chunk,
    ChunkKind,
    DefinitionKind,
    FileCategory,
    SourceFile,
    SymbolDef,
)
from codefind.store.failures import (
    give_back_pages,
    os_failure,
    sqlite_failure,
)
from codefind.store.lexicon import SCHEMA as LEXICON_SCHEMA
from codefind.store.lexicon import Lexicon

STATE_FORMAT = 4
"""3 kept each chunk's path and text in its row, and postings as uint32 and float16."""

_TO_INCREMENTAL = "PRAGMA auto_vacuum=INCREMENTAL; VACUUM;"
_META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
"""Made first, alone: the format is checked before the other tables are touched."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    content_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    skip TEXT
);
CREATE TABLE IF NOT EXISTS texts (file_id INTEGER PRIMARY KEY, texts BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL,
    language TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    kind TEXT NOT NULL,
    text_start INTEGER NOT NULL,
    text_length INTEGER NOT NULL,
    text_hash BLOB NOT NULL,
    line INTEGER NOT NULL,
    category TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks (file_id);
CREATE TABLE IF NOT EXISTS symbols (
    id INTEGER PRIMARY KEY,
    chunk_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    line INTEGER NOT NULL,
    container TEXT NOT NULL,
    container_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS symbols_by_key ON symbols (key);
CREATE INDEX IF NOT EXISTS symbols_by_chunk ON symbols (chunk_id);
CREATE INDEX IF NOT EXISTS symbols_by_container ON symbols (container_key);
"""
# The meta key ``tokens`` records a fingerprint of ``lexical.tokens``: a writer that finds
# another one rebuilds the database, since its postings were made from other tokens.
_TOKENS_PROBE = "parseHTTPResponse snake_case_name Größe 日本語 x2 __init__ a.b/c-d 'q' 3.14"
# Query tokens found in more than this share of chunks are not searched for (see
# ``StateDB.informative_terms``); measured with ``benchmarks/bench_index.py`` and ``quality.py``.
COMMON_TERM_SHARE = 0.2
COMMON_TERM_FLOOR = 200  # below this many chunks a token is cheap, whatever its share
CACHED_FILE_TEXTS = 64
"""Files whose inflated chunk texts a reader keeps (then it starts again): a search reads a
few files' chunks, and the next keystroke's search mostly the same ones."""
BUSY_TIMEOUT = 30.0
"""Seconds to wait for a lock another program holds on the database before saying so."""
WHAT = "index database"

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(
    method: Callable[Concatenate[StateDB, _P], _R],
) -> Callable[Concatenate[StateDB, _P], _R]:
    """Turn SQLite's exceptions into the store's errors (``failures.sqlite_failure``).

    So a damaged page met during a search or an indexing run is an ``IndexCorruptError``
    that names the file (and a writer rebuilds it), never a bare ``DatabaseError``.
    """

    @functools.wraps(method)
    def wrapper(self: StateDB, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, self.path, WHAT) from exc

    return wrapper


@dataclass(frozen=True)
class StoredFile:
    """A file as recorded by the last run; ``skip`` is the reason it was not indexed."""

    file: SourceFile
    skip: str | None


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with its id and the hash of the text that was embedded for it."""

    id: int
    chunk: Chunk
    text_hash: bytes


class ChunkPlace(NamedTuple):
    """Where a chunk is and what it is, without its text: what ranking needs of a candidate.

    A tuple, not a dataclass: a search looks at a few hundred candidates per keystroke.
    """

    path: str
    start_line: int
    end_line: int
    symbol: str
    kind: str
    category: FileCategory


@dataclass(frozen=True)
class SymbolRow:
    """One row of the symbol table: the chunk that defines a name, and what it defines."""

    chunk_id: int
    name: str
    kind: DefinitionKind
    line: int
    container: str


@dataclass(frozen=True)
class FileUpdate:
    """The new state of one changed file: its chunks (with text hashes), or a skip reason."""

    file: SourceFile
    chunks: Sequence[tuple[Chunk, bytes]] = ()
    skip: str | None = None


class StateDB:
    """Access to ``state.sqlite``. One instance per thread.

    ``readonly`` opens the file read-only (searching); ``immutable`` also tells SQLite that
    nobody changes it, which is the only way to read a WAL database in a folder that cannot
    be written (a read-only mount). Writers create the file and its tables.

    Raises (on open):
        IndexCorruptError: The file is damaged.
        IndexFormatError: Another codefind format.
        IndexStoreError: Locked, full, unreadable or not writable (nothing was changed).
    """

    def __init__(self, path: Path, *, readonly: bool = False, immutable: bool = False) -> None:
        self.path = path
        self._frequencies: dict[str, int] = {}
        self._statistics_generation = -1
        self._chunk_count = 0
        self._texts: dict[int, str] = {}
        self._db = self._connect(readonly=readonly or immutable, immutable=immutable)
        try:
            if not (readonly or immutable):
                if self._db.execute("PRAGMA page_count").fetchone()[0] == 0:
                    # A new file: freed pages can then go back to the file system (compact).
                    self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(_META_SCHEMA)
            self._check_format()  # before the tables: another format's tables may not take them
            if not (readonly or immutable):
                self._db.executescript(_SCHEMA + LEXICON_SCHEMA)
                self._init_meta()
                self._check_tokens()
            self.state_id = self._meta("state_id") or ""
            """Made at random with the database: which state a vector index belongs to."""
            self._lexicon = Lexicon(self._db, str(path))
        except sqlite3.Error as exc:
            self._db.close()
            raise sqlite_failure(exc, path, WHAT) from exc
        except BaseException:
            self._db.close()
            raise

    def _connect(self, *, readonly: bool, immutable: bool) -> sqlite3.Connection:
        try:
            if readonly:
                flag = "immutable=1" if immutable else "mode=ro"
                return sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?{flag}",
                    uri=True,
                    timeout=BUSY_TIMEOUT,
                    check_same_thread=False,
                    isolation_level=None,
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
            )
        except OSError as exc:
            raise os_failure(exc, self.path.parent, "creating the index folder") from exc
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, self.path, WHAT) from exc

    # --- reading -----------------------------------------------------------------------

    @property
    @_guarded
    def generation(self) -> int:
        """Bumped by every transaction that changes chunks."""
        return int(self._meta("generation") or 0)

    @_guarded
    def files(self) -> dict[str, StoredFile]:
        """Every recorded file (indexed or skipped), by path."""
        rows = self._db.execute("SELECT path, content_id, size, mtime_ns, skip FROM files")
        return {
            path: StoredFile(SourceFile(path, content_id, size, mtime_ns), skip)
            for path, content_id, size, mtime_ns, skip in rows
        }

    @_guarded
    def counts(self) -> tuple[int, int]:
        """(indexed files, chunks)."""
        files = self._db.execute("SELECT COUNT(*) FROM files WHERE skip IS NULL").fetchone()[0]
        chunks = self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(files), int(chunks)

    @_guarded
    def skip_counts(self) -> dict[str, int]:
        """Recorded skipped files by reason."""
        rows = self._db.execute(
            "SELECT skip, COUNT(*) FROM files WHERE skip IS NOT NULL GROUP BY skip"
        )
        return {reason: int(n) for reason, n in rows}

    @_guarded
    def chunk_ids(self) -> list[int]:
        """All chunk ids."""
        return [row[0] for row in self._db.execute("SELECT id FROM chunks")]

    @_guarded
    def chunk_hashes(self, ids: Iterable[int] | None = None) -> dict[int, bytes]:
        """Text hash of each chunk (all chunks, or those of ``ids``)."""
        if ids is None:
            rows = self._db.execute("SELECT id, text_hash FROM chunks")
            return {cid: bytes(h) for cid, h in rows}
        return {cid: bytes(h) for cid, h in self._select_by_ids("id, text_hash", ids)}

    @_guarded
    def chunks(self, ids: Iterable[int], *, text: bool = True) -> dict[int, StoredChunk]:
        """The chunks with these ids (missing ids are left out).

        Args:
            text: Read the chunks' text; without it (``text=""``) no file's texts are
                inflated (ranking a few hundred candidates needs only their places).
        """
        rows = self._select_by_ids(_CHUNK_COLUMNS, ids)
        return {row[0]: self._stored_chunk(row, text=text) for row in rows}

    @_guarded
    def places(self, ids: Iterable[int]) -> dict[int, ChunkPlace]:
        """Path, range, symbol, kind and category of the chunks with these ids."""
        rows = self._select_by_ids(
            "chunks.id, path, start_line, end_line, symbol, kind, category", ids
        )
        return {
            cid: ChunkPlace(path, start, end, symbol, kind, _category(category))
            for cid, path, start, end, symbol, kind, category in rows
        }

    @_guarded
    def embedding_facts(self, ids: Iterable[int]) -> dict[int, tuple[str, bool, int]]:
        """(category, defines a name, text length) of each chunk: the indexer's embedding order."""
        rows = self._select_by_ids("chunks.id, category, symbol != '', text_length", ids)
        return {int(cid): (str(cat), bool(named), int(size)) for cid, cat, named, size in rows}

    def iter_chunks(self, batch: int = 2000) -> Iterator[StoredChunk]:
        """Every chunk, in id order."""
        last = 0
        while True:
            try:
                rows = self._db.execute(
                    f"SELECT {_CHUNK_COLUMNS} FROM {_CHUNK_ROWS} WHERE chunks.id > ? "
                    "ORDER BY chunks.id LIMIT ?",
                    (last, batch),
                ).fetchall()
                stored = [self._stored_chunk(row, text=True) for row in rows]
            except sqlite3.Error as exc:
                raise sqlite_failure(exc, self.path, WHAT) from exc
            if not stored:
                return
            yield from stored
            last = stored[-1].id

    @_guarded
    def chunk_ids_where(
        self,
        paths: Sequence[str] | None,
        languages: Sequence[str] | None,
        categories: Sequence[str] | None = None,
    ) -> list[int]:
        """Ids of chunks in ``paths`` (exact file paths), of ``languages``, of ``categories``."""
        clauses: list[str] = []
        params: list[str] = []
        if paths is not None:  # a JSON array, not a TEMP table: readers never write
            clauses.append(
                "file_id IN (SELECT id FROM files WHERE path IN (SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(list(paths)))
        if languages is not None:
            clauses.append("language IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(languages)))
        if categories is not None:
            clauses.append("category IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(categories)))
        where = " AND ".join(clauses) or "1"
        return [row[0] for row in self._db.execute(f"SELECT id FROM chunks WHERE {where}", params)]

    @_guarded
    def definitions(
        self, key: str, *, container_key: str | None = None, prefix: bool = False, limit: int = 200
    ) -> list[SymbolRow]:
        """Symbol-table rows whose name reduces to ``key`` (see ``lexical.identifier_key``).

        Args:
            key: The reduced name (``loadconfig`` for ``load_config`` and ``LoadConfig``).
            container_key: Only members of this (reduced) container, for ``Client.send``.
            prefix: Names that start with ``key`` instead of equal to it.
            limit: At most this many rows (a prefix can match thousands).
        """
        clauses = ["key >= ? AND key < ?" if prefix else "key = ?"]
        params: list[object] = [key, key + "\uffff"] if prefix else [key]
        if container_key is not None:
            clauses.append("container_key = ?")
            params.append(container_key)
        params.append(limit)
        rows = self._db.execute(
            "SELECT chunk_id, name, kind, line, container FROM symbols "
            f"WHERE {' AND '.join(clauses)} ORDER BY chunk_id LIMIT ?",
            params,
        )
        return [
            SymbolRow(int(c), n, _symbol_kind(k), int(line), ctr) for c, n, k, line, ctr in rows
        ]

    @_guarded
    def members(self, container_key: str, *, limit: int = 200) -> list[SymbolRow]:
        """Symbol-table rows defined inside the (reduced) container: a type's methods."""
        rows = self._db.execute(
            "SELECT chunk_id, name, kind, line, container FROM symbols "
            "WHERE container_key = ? ORDER BY chunk_id LIMIT ?",
            (container_key, limit),
        )
        return [
            SymbolRow(int(c), n, _symbol_kind(k), int(line), ctr) for c, n, k, line, ctr in rows
        ]

    @_guarded
    def indexed_paths(self) -> list[str]:
        """Paths of files that have chunks."""
        return [row[0] for row in self._db.execute("SELECT path FROM files WHERE skip IS NULL")]

    @_guarded
    def lexical_search(
        self, query_tokens: Sequence[str], limit: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """BM25 search over chunk tokens: (chunk id, score) best first, score > 0.

        ``limit`` rows, plus any that tie with the last of them: which of them a cut would
        drop depends on chunk ids, i.e. on indexing history, and a re-built index must rank
        the same (benchmarks/stress.py compares the two).

        Any query token may match (OR); BM25 rewards chunks that match more and rarer ones.
        Tokens found in no chunk, and very common ones (see ``informative_terms``), are left
        out of the query.
        """
        terms = self.informative_terms(query_tokens)
        if not terms or limit <= 0:
            return []
        return self._lexicon.search(self._lexicon.stems(terms), limit, allowed)

    @_guarded
    def informative_terms(self, query_tokens: Sequence[str]) -> list[str]:
        """The query tokens worth scoring, in query order.

        A token in more than ``COMMON_TERM_SHARE`` of the chunks (and more than
        ``COMMON_TERM_FLOOR``) adds little to BM25 (its IDF is under 1.4, against 7 to 11 for
        the tokens that find things), so it is dropped, unless every token is that common:
        then the two rarest stay. Tokens in no chunk are dropped too. Measured on the
        evaluation sets, 20% leaves MRR@10 as it was (5% cost 0.05 on CoSQA and ODEX:
        moderately common words do help). The cut was made for FTS5, which scored every
        chunk with any query token row by row (a common word cost a scan of the index); the
        numpy postings (``lexicon.py``) would not need it, and it stays so that rankings stay
        what they were measured to be.
        """
        self._sync_statistics()
        frequencies = self._document_frequencies(query_tokens)
        found = [t for t in query_tokens if frequencies.get(t, 0) > 0]
        ceiling = max(COMMON_TERM_SHARE * self._chunk_count, COMMON_TERM_FLOOR)
        informative = [t for t in found if frequencies[t] <= ceiling]
        if informative or not found:
            return informative
        rarest = set(sorted(found, key=frequencies.__getitem__)[:2])
        return [t for t in found if t in rarest]

    @_guarded
    def known_terms(self, query_tokens: Sequence[str]) -> list[str]:
        """The query tokens found in at least one chunk (cached like ``informative_terms``)."""
        self._sync_statistics()
        frequencies = self._document_frequencies(query_tokens)
        return [t for t in query_tokens if frequencies.get(t, 0) > 0]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """Term -> chunks containing it (cached per index generation; query translation
        ranks a word's dictionary senses by them)."""
        self._sync_statistics()
        return self._document_frequencies(terms)

    def _sync_statistics(self) -> None:
        """Forget the cached chunk count and term frequencies once the index has changed."""
        generation = self.generation
        if generation != self._statistics_generation:
            self._frequencies.clear()
            self._lexicon.forget()
            self._chunk_count = self._lexicon.statistics().count
            self._statistics_generation = generation

    def _document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks containing each term (cached: typing repeats terms; see ``_sync_statistics``)."""
        new = [t for t in dict.fromkeys(terms) if t not in self._frequencies]
        for term, stems in zip(new, self._lexicon.stems(new), strict=True):
            self._frequencies[term] = self._lexicon.frequency(stems)
        return {t: self._frequencies[t] for t in terms}

    # --- writing -----------------------------------------------------------------------

    @_guarded
    def apply(self, updates: Sequence[FileUpdate], removed: Sequence[str]) -> tuple[list[int], int]:
        """Replace the chunks of changed files and forget removed ones, in one transaction.

        Returns:
            The ids of the new chunks, and the number of chunks dropped.
        """
        new_ids: list[int] = []
        dropped = 0
        with self._transaction():
            for path in [*removed, *(u.file.path for u in updates)]:
                dropped += self._delete_file(path)
            rows: list[tuple[int, str, str, str]] = []
            for update in updates:
                new_ids.extend(self._insert_file(update, rows))
            self._lexicon.add(rows)
            if dropped or new_ids:
                self._lexicon.maintain()
                self._bump_generation()
        return new_ids, dropped

    @_guarded
    def compact(self) -> bool:
        """Drop the postings of deleted chunks if they weigh too much (``Lexicon.compact``),
        and give the pages that frees back to the file system (in a database made since
        ``auto_vacuum`` was set; an older one reuses them for later rows). Returns whether
        it merged."""
        with self._transaction():
            merged = self._lexicon.compact()
        if merged:
            incremental = self._db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
            # An older file is converted once (VACUUM rewrites it), then gives pages back too.
            give_back_pages(
                self._db, "PRAGMA incremental_vacuum;" if incremental else _TO_INCREMENTAL
            )
        return merged

    @_guarded
    def update_stats(self, files: Sequence[SourceFile]) -> None:
        """Record new size/mtime for files whose content did not change (saves re-hashing)."""
        with self._transaction():
            self._db.executemany(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                ((f.size, f.mtime_ns, f.path) for f in files),
            )

    @_guarded
    def integrity_problem(self) -> str | None:
        """What SQLite's, the chunk texts' and the lexical index's checks find wrong, or
        ``None`` (reads it all)."""
        found = [str(row[0]) for row in self._db.execute("PRAGMA integrity_check")]
        if found != ["ok"]:
            return "; ".join(found)[:300]
        return self._texts_problem() or self._lexicon.integrity_problem()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
        if hasattr(self, "_lexicon"):
            self._lexicon.close()

    # --- internals ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (``IMMEDIATE``): all of it or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _delete_file(self, path: str) -> int:
        row = self._db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return 0
        file_id = row[0]
        ids = [
            r[0] for r in self._db.execute("SELECT id FROM chunks WHERE file_id = ?", (file_id,))
        ]
        if ids:
            self._lexicon.remove(ids)
            self._db.executemany("DELETE FROM symbols WHERE chunk_id = ?", ((i,) for i in ids))
            self._db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        self._db.execute("DELETE FROM texts WHERE file_id = ?", (file_id,))
        self._db.execute("DELETE FROM files WHERE id = ?", (file_id,))
        return len(ids)

    def _insert_file(
        self, update: FileUpdate, lexical: list[tuple[int, str, str, str]]
    ) -> list[int]:
        """Insert the file, its chunks and their texts; each chunk's (id, symbol, path, body)
        tokens are appended to ``lexical`` for the BM25 index."""
        f = update.file
        cursor = self._db.execute(
            "INSERT INTO files (path, content_id, size, mtime_ns, skip) VALUES (?, ?, ?, ?, ?)",
            (f.path, f.content_id, f.size, f.mtime_ns, update.skip),
        )
        file_id = int(cursor.lastrowid or 0)
        blob, spans = _pack_texts([chunk.text for chunk, _ in update.chunks])
        if spans:
            self._db.execute("INSERT INTO texts (file_id, texts) VALUES (?, ?)", (file_id, blob))
        ids = []
        path_tokens = " ".join(tokens(f.path))
        for (chunk, digest), (start, length) in zip(update.chunks, spans, strict=True):
            cursor = self._db.execute(
                "INSERT INTO chunks (file_id, language, start_line, end_line, symbol, kind, "
                "text_start, text_length, text_hash, line, category) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    file_id,
                    chunk.language,
                    chunk.start_line,
                    chunk.end_line,
                    chunk.symbol,
                    chunk.kind,
                    start,
                    length,
                    digest,
                    chunk.line,
                    chunk.category,
                ),
            )
            cid = int(cursor.lastrowid or 0)
            for defined in chunk.defines:
                self._insert_symbol(cid, defined)
            lexical.append(
                (cid, " ".join(tokens(chunk.symbol)), path_tokens, " ".join(tokens(chunk.text)))
            )
            ids.append(cid)
        return ids

    def _insert_symbol(self, chunk_id: int, defined: SymbolDef) -> None:
        self._db.execute(
            "INSERT INTO symbols (chunk_id, name, key, kind, line, container, container_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                chunk_id,
                defined.name,
                identifier_key(defined.name),
                defined.kind,
                defined.line,
                defined.container,
                identifier_key(defined.container),
            ),
        )

    def _select_by_ids(self, columns: str, ids: Iterable[int]) -> list[Any]:
        """``columns`` of the chunks with these ids, each row joined with its file's."""
        wanted = list(ids)
        rows: list[Any] = []
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows.extend(
                self._db.execute(
                    f"SELECT {columns} FROM {_CHUNK_ROWS} WHERE chunks.id IN ({marks})", part
                )
            )
        return rows

    def _stored_chunk(self, row: Sequence[Any], *, text: bool) -> StoredChunk:
        """A ``StoredChunk`` from a row of ``_CHUNK_COLUMNS`` (its text ``""`` unless ``text``)."""
        cid, path, lang, start, end, symbol, kind, file_id, at, length, digest, line, cat = row
        body = self._file_texts(file_id, path)[at : at + length] if text else ""
        chunk = Chunk(path, lang, start, end, symbol, _kind(kind), body, line, (), _category(cat))
        return StoredChunk(cid, chunk, bytes(digest))

    def _file_texts(self, file_id: int, path: str) -> str:
        """The joined chunk texts of one file (cached: a file id's texts never change).

        Raises:
            IndexCorruptError: They are missing or do not inflate.
        """
        cached = self._texts.get(file_id)
        if cached is not None:
            return cached
        row = self._db.execute("SELECT texts FROM texts WHERE file_id = ?", (file_id,)).fetchone()
        try:
            if row is None:
                raise ValueError("missing")
            texts = _unpack_texts(row[0])
        except ValueError as exc:
            raise IndexCorruptError(
                f"The {WHAT} {self.path} is damaged (the chunk texts of {path}: {exc}).",
                path=str(self.path),
            ) from exc
        if len(self._texts) >= CACHED_FILE_TEXTS:
            self._texts.clear()
        self._texts[file_id] = texts
        return texts

    def _texts_problem(self) -> str | None:
        """Files whose chunk texts are missing, do not inflate, or are not exactly their
        chunks' texts end to end; ``None`` when every file's are sound."""
        spans: dict[int, list[tuple[int, int]]] = {}
        for file_id, start, length in self._db.execute(
            "SELECT file_id, text_start, text_length FROM chunks "
            "ORDER BY file_id, text_start, text_length"
        ):
            spans.setdefault(file_id, []).append((start, length))
        bad = 0
        for file_id, blob in self._db.execute("SELECT file_id, texts FROM texts"):
            try:
                size = len(_unpack_texts(blob))
            except ValueError:
                size = -1
            tiles = spans.pop(file_id, [])
            ends = [0] + [start + length for start, length in tiles]
            bad += size != ends[-1] or [start for start, _ in tiles] != ends[:-1]
        bad += len(spans)  # files with chunks and no texts
        return f"the chunk texts of {bad} files are damaged" if bad else None

    def _init_meta(self) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (str(STATE_FORMAT),)
            )
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0')")
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('state_id', ?)",
                (secrets.token_hex(16),),
            )

    def _check_format(self) -> None:
        found = self._meta("format")
        if found is not None and int(found) != STATE_FORMAT:
            newer = int(found) > STATE_FORMAT
            raise IndexFormatError(
                f"The index at {self.path.parent} has format {found}; this codefind uses "
                f"format {STATE_FORMAT}." + (" Upgrade codefind to use it." if newer else ""),
                newer=newer,
            )

    def _check_tokens(self) -> None:
        """Refuse (as an outdated format, so a writer rebuilds) a database whose postings were
        made by another ``lexical.tokens``: queries would be tokenized otherwise."""
        found = self._meta("tokens")
        if found is None:
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('tokens', ?)",
                    (_tokens_fingerprint(),),
                )
        elif found != _tokens_fingerprint():
            raise IndexFormatError(
                f"The index at {self.path.parent} was made with another tokenizer.",
                newer=False,
            )

    @_guarded
    def chunker(self) -> str | None:
        """The chunker version that cut the stored chunks (``None``: not recorded)."""
        return self._meta("chunker")

    @_guarded
    def set_chunker(self, version: str) -> None:
        """Record that every stored chunk was cut by chunker ``version``."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('chunker', ?)", (version,)
            )

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _bump_generation(self) -> None:
        self._db.execute(
            "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'generation'"
        )


@functools.cache
def _tokens_fingerprint() -> str:
    """What ``lexical.tokens`` makes of a probe: changes when the tokenizer does."""
    return hashlib.blake2b(" ".join(tokens(_TOKENS_PROBE)).encode(), digest_size=8).hexdigest()


_CHUNK_ROWS = "chunks JOIN files ON files.id = chunks.file_id"
"""Chunks with their file's row: where the path is."""
_CHUNK_COLUMNS = (
    "chunks.id, path, language, start_line, end_line, symbol, kind, file_id, text_start, "
    "text_length, text_hash, line, category"
)


def _pack_texts(texts: Sequence[str]) -> tuple[bytes, list[tuple[int, int]]]:
    """One file's chunk texts as one zlib stream, and each text's (start, length) in it, in
    characters of the inflated string."""
    spans = []
    start = 0
    for text in texts:
        spans.append((start, len(text)))
        start += len(text)
    return zlib.compress("".join(texts).encode("utf-8")), spans


def _unpack_texts(blob: bytes) -> str:
    """The joined texts ``_pack_texts`` made.

    Raises:
        ValueError: The stream is damaged (not zlib, or not UTF-8 once inflated).
    """
    try:
        return zlib.decompress(blob).decode("utf-8")  # UnicodeDecodeError is a ValueError
    except (zlib.error, TypeError) as exc:
        raise ValueError(f"not a zlib stream: {exc}") from exc


def _category(value: str) -> FileCategory:
    return _CATEGORIES.get(value, "code")


_CATEGORIES: dict[str, FileCategory] = {c: c for c in FILE_CATEGORIES}


def _symbol_kind(value: str) -> DefinitionKind:
    return _SYMBOL_KINDS.get(value, "function")


_SYMBOL_KINDS: dict[str, DefinitionKind] = {k: k for k in DEFINITION_KINDS}


def _kind(value: str) -> ChunkKind:
    kinds: dict[str, ChunkKind] = {
        "function": "function",
        "method": "method",
        "class": "class",
        "module": "module",
        "block": "block",
        "text": "text",
    }
    return kinds.get(value, "block")
