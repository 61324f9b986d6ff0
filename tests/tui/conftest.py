"""Fixtures for the app's tests: a small real repository, indexed with the built-in model.

``pilot_wait`` polls the running app (real workers, real threads) until a condition holds,
with a bound, so tests wait for behaviour instead of sleeping for a guessed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from codefind.config import Settings, load_settings
from codefind.workspace import Workspace

SOURCES: dict[str, str | bytes] = {
    "net/http_client.py": '''"""A small HTTP client."""

import time
import urllib.request


def fetch_with_retries(url, attempts=3, backoff=0.5):
    """Download a web page, trying again with a growing pause when the request fails."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url) as response:
                return response.read()
        except OSError:
            time.sleep(backoff * 2**attempt)
    raise RuntimeError(f"giving up on {url}")
''',
    "billing/invoice.py": '''"""Invoices."""


class Invoice:
    """Lines of an invoice and its total."""

    def __init__(self, lines):
        self.lines = lines

    def total_with_tax(self, tax_rate):
        """Sum the price of every line and add the sales tax."""
        subtotal = sum(line.price * line.quantity for line in self.lines)
        return subtotal * (1 + tax_rate)
''',
    "storage/lru.py": '''"""Caching."""

from collections import OrderedDict


class LRUCache:
    """Keep the most recently used values, evicting the oldest when full."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.items = OrderedDict()

    def get(self, key):
        value = self.items.pop(key)
        self.items[key] = value
        return value

    def put(self, key, value):
        self.items[key] = value
        if len(self.items) > self.capacity:
            self.items.popitem(last=False)
''',
    "text/slug.py": '''"""Text helpers."""

import re


def slugify(title):
    """Turn a title into a lowercase URL slug with dashes."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
''',
    "README.md": "# demo\n\nA tiny project used by codefind's app tests.\n",
}


@pytest.fixture
def small_repo(git_repo: Callable[..., Path]) -> Path:
    """A committed repository with a few Python files of clearly different purpose."""
    return git_repo(SOURCES)


def build_index(repo: Path, settings: Settings | None = None) -> None:
    """Index ``repo`` through the service layer, before an app opens it."""
    workspace = Workspace.for_repository(repo, settings or load_settings())
    try:
        workspace.indexer().run()
    finally:
        workspace.close()


@pytest.fixture
def indexed_repo(small_repo: Path) -> Path:
    """``small_repo`` with its index already built (the app finds nothing to do)."""
    build_index(small_repo)
    return small_repo


async def pilot_wait(
    pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 60.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(0.02)
        await pilot.pause()
