"""``codefind mcp``: codefind as an MCP server (stdio) for coding agents.

Tools (see ``TOOLS_HELP``): ``search`` by meaning, ``find_definition`` by name, ``read_code``
around a line, ``index_status``. They answer from one warm workspace whose index stays live
while the server runs (``codefind.live``: the work tree is watched, changes are indexed in
the background), and every hit is re-located in its file as it is on disk before it is
returned (``codefind.relocate``), so an agent never gets a line number that an edit made
a moment ago has made wrong.

Consent works as in the app, except that nobody can be asked: code goes to a remote backend
only if the user has consented for this repository and model before (``codefind index`` in
a terminal), or started the server with ``--yes``. Otherwise the tools fail with a message
that says exactly that.

Answers are sized for a model's context: a snippet of at most ``SNIPPET_LINES`` lines and
``SNIPPET_CHARS`` characters per hit, and ``read_code`` returns at most ``MAX_READ_LINES``.
The SDK is an optional extra (``codefind[mcp]``): it brings a web stack (Starlette, uvicorn,
cryptography) that the app and the CLI do not need.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from codefind.config import Settings
from codefind.errors import CodefindError, ConfigError
from codefind.live import LiveIndex
from codefind.models import Hit
from codefind.relocate import locate, read_lines

if TYPE_CHECKING:
    from codefind.search import SearchFilters, SearchService
    from codefind.workspace import Workspace

SNIPPET_LINES = 12
SNIPPET_CHARS = 1200
MAX_LIMIT = 50
MAX_READ_LINES = 400
WAIT_FOR_CURRENT = 5.0
"""Seconds a tool call waits for changes already seen to be indexed."""

TOOLS_HELP = (
    "codefind searches this repository's code by meaning and by name. Use `search` with a "
    'description of what the code does ("where are failed downloads retried"); '
    "`find_definition` with a name (`load_config`, `Client.send`); `read_code` to see the "
    "lines around a hit; `index_status` to see whether the index is current. Hits give the "
    "path and the line to open as the file is now."
)

ModeName = Literal["hybrid", "semantic", "lexical"]
ScopeName = Literal["auto", "code", "tests", "docs", "examples", "all"]


class CodeSearch:
    """The tools' implementation, free of the MCP SDK (thread-safe)."""

    def __init__(self, workspace: Workspace, live: LiveIndex) -> None:
        self.workspace = workspace
        self.live = live
        self._service: SearchService | None = None

    @property
    def service(self) -> SearchService:
        """The search service (opened on first use)."""
        if self._service is None:
            self._service = self.workspace.search_service()
        return self._service

    def search(
        self,
        query: str,
        *,
        path: str | None,
        globs: Sequence[str],
        languages: Sequence[str],
        scope: ScopeName,
        limit: int,
        mode: ModeName,
        include_weak: bool,
    ) -> dict[str, Any]:
        """Hits for ``query`` as the ``search`` tool returns them."""
        warnings = self._freshness()
        filters = self._filters(path, globs, languages)
        result = self.service.search(
            query, limit=_limit(limit), mode=mode, filters=filters, scope=scope
        )
        shown = result.hits if include_weak else result.strong
        left_out = len(result.hits) - len(shown)
        if left_out:
            warnings.append(
                f"{left_out} weak hit(s) left out (too little evidence that they match); "
                "include_weak=true shows them."
            )
        if not shown:
            warnings.append(f"No good match for {query!r}.")
        return {
            "query": query,
            "mode": result.mode,
            "semantic": result.semantic,
            "translated": result.translation.text if result.translation.changed else None,
            "hits": [self._hit(h) for h in shown],
            "warnings": [*warnings, *result.warnings],
        }

    def find_definition(self, name: str, *, path: str | None, limit: int) -> dict[str, Any]:
        """Where ``name`` is defined, as the ``find_definition`` tool returns it."""
        warnings = self._freshness()
        hits = self.service.definitions(
            name, limit=_limit(limit), filters=self._filters(path, (), ())
        )
        if not hits:
            warnings.append(
                f"No definition named {name!r} is indexed. Give a code name (load_config, "
                "Client.send), or use `search` to find code by what it does."
            )
        return {"name": name, "hits": [self._hit(h) for h in hits], "warnings": warnings}

    def read_code(self, path: str, line: int, before: int, after: int) -> dict[str, Any]:
        """Lines around ``line`` of an indexed file, as it is on disk now.

        Raises:
            ConfigError: ``path`` is not a plain relative path, or not a file codefind
                indexes (so ignored files such as ``.env`` are never read).
        """
        rel = _plain_path(path)
        if rel not in set(self.service.store.state.indexed_paths()):
            raise ConfigError(
                f"{path!r} is not a file codefind indexes in {self.workspace.root} (only "
                "indexed files are read: not ignored, binary or vendored ones)."
            )
        lines = read_lines(self.workspace.root, rel)
        if lines is None:
            raise ConfigError(f"{path!r} cannot be read now (deleted or replaced).")
        before = max(0, min(before, MAX_READ_LINES))
        first = max(1, min(line, len(lines)) - before)
        last = min(len(lines), first + before + max(0, after), first + MAX_READ_LINES - 1)
        return {
            "path": rel,
            "start_line": first,
            "end_line": last,
            "total_lines": len(lines),
            "text": "\n".join(f"{n}: {lines[n - 1]}" for n in range(first, last + 1)),
        }

    def index_status(self) -> dict[str, Any]:
        """Counts, settings and the live index's state."""
        from codefind.service.server import state_json

        status = self.workspace.status()
        settings = self.workspace.settings
        live = state_json(self.live.state)
        if live["current_since"]:
            live["current_since"] = time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.localtime(live["current_since"])
            )
        return {
            "root": str(self.workspace.root),
            "backend": settings.backend,
            "model": settings.model,
            "dim": self.workspace.dim,
            "files": status.files,
            "chunks": status.chunks,
            "vectors": status.vectors,
            "vectors_in_sync": status.in_sync,
            "live": live,
        }

    # --- helpers ----------------------------------------------------------------------------

    def _freshness(self) -> list[str]:
        """Wait briefly for seen changes to be indexed; refuse when consent is missing."""
        self.live.wait_current(WAIT_FOR_CURRENT)
        state = self.live.state
        if state.needs_consent and state.error:
            raise ConfigError(state.error)
        if state.error:
            return [f"The index could not be updated: {state.error}"]
        if not state.current:
            return ["The index is still being updated; the newest changes may be missing."]
        return []

    def _filters(
        self, path: str | None, globs: Sequence[str], languages: Sequence[str]
    ) -> SearchFilters | None:
        from codefind.search import SearchFilters

        filters = SearchFilters(
            paths=(_plain_path(path),) if path else (),
            globs=tuple(globs),
            languages=tuple(lang.lower() for lang in languages),
        )
        return filters if filters.active else None

    def _hit(self, hit: Hit) -> dict[str, Any]:
        """A hit for an agent: where to open it now, what it is, and a short snippet."""
        where = locate(self.workspace.root, hit)
        out: dict[str, Any] = {
            "path": hit.path,
            "line": where.line,
            "start_line": where.start_line,
            "end_line": where.end_line,
            "symbol": hit.symbol,
            "kind": hit.kind,
            "language": hit.language,
            "category": hit.category,
            "score": round(hit.score, 4),
        }
        if hit.weak:
            out["weak"] = True
        if where.moved:
            out["moved_from_line"] = hit.line
        if not where.found:
            out["changed"] = (
                "The file changed since it was indexed and this code is no longer in it; "
                "the index is being updated."
            )
            self.live.request()
            out["snippet"] = _snippet(hit.text.split("\n"), hit.start_line, hit.line)
            return out
        lines = read_lines(self.workspace.root, hit.path) or []
        region = lines[where.start_line - 1 : where.end_line]
        out["snippet"] = _snippet(region, where.start_line, where.line)
        return out


def _snippet(lines: Sequence[str], first: int, line: int) -> str:
    """At most ``SNIPPET_LINES`` lines from just above the line to open, numbered."""
    start = max(0, line - first - 2)
    chosen = lines[start : start + SNIPPET_LINES]
    text = "\n".join(f"{first + start + i}: {row}" for i, row in enumerate(chosen))
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS].rsplit("\n", 1)[0] + "\n…"
    elif start + SNIPPET_LINES < len(lines):
        text += "\n…"
    return text


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def _plain_path(path: str) -> str:
    """A ``/``-separated path inside the repository, or ``ConfigError``."""
    rel = PurePosixPath(path.strip().removeprefix("./"))
    if rel.is_absolute() or ".." in rel.parts or "\\" in path or "\0" in path:
        raise ConfigError(f"{path!r} is not a path inside the repository (use a relative path).")
    return rel.as_posix().rstrip("/")


def build_server(code: CodeSearch) -> Any:
    """The MCP server with codefind's tools (``mcp.server.MCPServer``).

    Raises:
        ConfigError: The ``mcp`` package is not installed.
    """
    try:
        from mcp.server import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        raise ConfigError(
            "The MCP server needs the MCP SDK: pip install 'codefind[mcp]'."
        ) from None
    from codefind import __version__

    server = MCPServer("codefind", version=__version__, instructions=TOOLS_HELP)

    def guarded(call: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = call()
        except CodefindError as exc:
            raise ToolError(exc.message) from None
        return result

    @server.tool()
    def search(
        query: str,
        path: str | None = None,
        glob: list[str] | None = None,
        language: list[str] | None = None,
        scope: ScopeName = "auto",
        limit: int = 10,
        mode: ModeName = "hybrid",
        include_weak: bool = False,
    ) -> dict[str, Any]:
        """Find code by what it does ("retry a failed download with backoff") or by its words.

        path: only this sub-folder or file; glob: only paths matching (repeatable, !pattern
        excludes); language: only these languages (python, go, ...); scope: auto ranks
        implementation first unless the query asks for tests or docs, or code/tests/docs/
        examples/all; mode: hybrid (default), semantic or lexical; limit: at most 50.
        Each hit: path, line to open (as the file is now), start_line/end_line, symbol, kind,
        score and a numbered snippet.
        """
        return guarded(
            lambda: code.search(
                query,
                path=path,
                globs=glob or (),
                languages=language or (),
                scope=scope,
                limit=limit,
                mode=mode,
                include_weak=include_weak,
            )
        )

    @server.tool()
    def find_definition(name: str, path: str | None = None, limit: int = 10) -> dict[str, Any]:
        """Where a function, class, method, type or constant is defined, by its name
        (load_config, LoadConfig, Client.send). Best first; each hit opens at the name."""
        return guarded(lambda: code.find_definition(name, path=path, limit=limit))

    @server.tool()
    def read_code(path: str, line: int, before: int = 5, after: int = 30) -> dict[str, Any]:
        """The numbered lines around `line` of an indexed file, as it is on disk now
        (at most 400 lines)."""
        return guarded(lambda: code.read_code(path, line, before, after))

    @server.tool()
    def index_status() -> dict[str, Any]:
        """Files, chunks and vectors indexed, the backend, and whether the index is current
        with the work tree (it is updated in the background as files change)."""
        return guarded(code.index_status)

    return server


def run_stdio(path: Path, settings: Settings) -> None:
    """Serve MCP on stdin/stdout for the repository containing ``path`` until stdin closes.

    Raises:
        ConfigError: The ``mcp`` package is missing.
        CodefindError: The repository or the settings cannot be used.
    """
    from codefind.workspace import Workspace

    logging.getLogger("mcp").setLevel(logging.WARNING)
    workspace = Workspace.for_repository(path, settings)
    live = LiveIndex(workspace)
    code = CodeSearch(workspace, live)
    server = build_server(code)
    live.start()
    try:
        server.run("stdio")
    finally:
        live.stop()
        workspace.close()
