"""``codefind mcp`` driven through the MCP SDK's own stdio client, as an agent drives it.

The server is the real ``codefind mcp`` process on a real repository with the built-in
model (or, for consent, a real HTTP server speaking Voyage's wire format); each call goes
over stdin/stdout as JSON-RPC.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fakeservers import VoyageServer
from tests.tui.conftest import SOURCES, build_index

mcp = pytest.importorskip("mcp", reason="the MCP SDK is the optional extra codefind[mcp]")


@asynccontextmanager
async def agent(repo: Path, *extra: str, env: dict[str, str] | None = None) -> AsyncIterator[Any]:
    """An MCP client session with ``codefind mcp REPO`` (the SDK launches the process)."""
    params = mcp.StdioServerParameters(
        command=sys.executable,
        args=["-m", "codefind", "mcp", str(repo), *extra],
        env={**os.environ, **(env or {})},
        cwd=str(repo),
    )
    async with mcp.Client(params, read_timeout_seconds=300) as client:
        yield client


async def call(client: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    path = git_repo(SOURCES)
    build_index(path)
    return path


async def test_the_tools_an_agent_sees(repo: Path) -> None:
    async with agent(repo) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {"search", "find_definition", "read_code", "index_status"}
    search_args = set(tools["search"].input_schema["properties"])
    assert {"query", "path", "glob", "language", "scope", "limit", "mode"} <= search_args


async def test_search_by_meaning_returns_what_an_agent_needs(repo: Path) -> None:
    async with agent(repo) as client:
        found = await call(client, "search", query="add sales tax to the sum", limit=3)
        filtered = await call(client, "search", query="cache", path="storage", limit=5)
        by_words = await call(client, "search", query="slugify", mode="lexical")
    top = found["hits"][0]
    assert top["path"] == "billing/invoice.py" and top["symbol"] == "Invoice.total_with_tax"
    assert top["line"] == 10 and top["start_line"] <= 10 <= top["end_line"]
    assert top["kind"] == "method" and isinstance(top["score"], float)
    assert "10:     def total_with_tax(self, tax_rate):" in top["snippet"]
    assert len(found["hits"]) <= 3
    assert filtered["hits"] and all(h["path"].startswith("storage/") for h in filtered["hits"])
    assert by_words["mode"] == "lexical" and by_words["hits"][0]["path"] == "text/slug.py"


async def test_find_a_definition_by_name_and_read_around_it(repo: Path) -> None:
    async with agent(repo) as client:
        found = await call(client, "find_definition", name="LRUCache")
        method = await call(client, "find_definition", name="LRUCache.put")
        missing = await call(client, "find_definition", name="no_such_function_here")
        around = await call(client, "read_code", path="storage/lru.py", line=6, before=1, after=2)
        refused = await client.call_tool("read_code", {"path": "../outside.txt", "line": 1})
        ignored = await client.call_tool("read_code", {"path": ".git/config", "line": 1})
    top = found["hits"][0]
    assert (top["path"], top["line"], top["kind"]) == ("storage/lru.py", 6, "class")
    assert method["hits"][0]["symbol"] == "LRUCache.put"
    assert missing["hits"] == [] and "No definition named" in missing["warnings"][0]
    assert around["text"].splitlines() == [
        "5: ",
        "6: class LRUCache:",
        '7:     """Keep the most recently used values, evicting the oldest when full."""',
        "8: ",
    ]
    assert refused.is_error and "not a path inside the repository" in refused.content[0].text
    assert ignored.is_error and "not a file codefind indexes" in ignored.content[0].text


async def test_the_index_stays_live_while_the_server_runs(repo: Path) -> None:
    async with agent(repo) as client:
        status = await call(client, "index_status")
        assert status["files"] == 5 and status["live"]["watching"]
        path = repo / "billing" / "invoice.py"
        path.write_text("# moved down\n" * 10 + path.read_text())
        (repo / "net" / "mail.py").write_text(
            "def send_welcome_email(user):\n"
            '    """Email a greeting to a user who just signed up."""\n'
            "    return user\n"
        )
        deadline = time.monotonic() + 60
        while True:
            found = await call(client, "search", query="send_welcome_email", limit=1)
            if found["hits"] and found["hits"][0]["path"] == "net/mail.py":
                break
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.2)
        tax = await call(client, "find_definition", name="total_with_tax")
        status = await call(client, "index_status")
    assert tax["hits"][0]["line"] == 20  # the line as the file is now
    assert status["files"] == 6 and status["live"]["current"]


async def test_voyage_without_recorded_consent_sends_nothing_and_says_how_to_consent(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo(SOURCES)
    with VoyageServer(api_key="test-key") as voyage:
        env = {
            "CODEFIND_BACKEND": "voyage",
            "CODEFIND_VOYAGE_URL": voyage.url,
            "VOYAGE_API_KEY": "test-key",
        }
        async with agent(repo, env=env) as client:
            result = await client.call_tool("search", {"query": "sales tax"})
        assert voyage.posts("/v1/embeddings") == []
    assert result.is_error
    message = result.content[0].text
    assert "Nothing was sent" in message
    assert "codefind index --backend voyage --model voyage-code-3" in message
    assert "--yes" in message
