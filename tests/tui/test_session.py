"""The app's service adapter: separate lexical and semantic searches, measured debounce."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from codefind.config import load_settings
from codefind.errors import Interrupted
from codefind.tui.session import MAX_SEMANTIC_DELAY, Session
from tests.fakeservers import SGLangServer
from tests.tui.conftest import build_index


def test_a_slow_embedder_gets_a_pause_and_a_fast_one_none(indexed_repo: Path) -> None:
    local = Session.open(indexed_repo, load_settings())
    try:
        for query in ("cache", "invoice total", "slug"):
            local.search(query, mode="hybrid", limit=5)
        assert local.semantic_delay == 0.0
    finally:
        local.close()
    with SGLangServer(dim=2560) as server:
        settings = load_settings().with_backend("sglang")
        settings = replace(settings, sglang=replace(settings.sglang, url=server.url))
        build_index(indexed_repo, settings)
        remote = Session.open(indexed_repo, settings)
        try:
            for query in ("cache", "invoice total", "slug"):
                server.delay_next(0.06, path="/v1/embeddings")
                remote.search(query, mode="hybrid", limit=5)
            assert 0.05 <= remote.semantic_delay <= MAX_SEMANTIC_DELAY
        finally:
            remote.close()


def test_lexical_search_does_not_wait_for_a_slow_semantic_one(indexed_repo: Path) -> None:
    with SGLangServer(dim=2560) as server:
        settings = load_settings().with_backend("sglang")
        settings = replace(settings, sglang=replace(settings.sglang, url=server.url))
        build_index(indexed_repo, settings)
        session = Session.open(indexed_repo, settings)
        try:
            server.delay_next(3.0, path="/v1/embeddings")
            slow = threading.Thread(target=session.search, args=("cache",),
                                    kwargs={"mode": "hybrid", "limit": 5})  # fmt: skip
            slow.start()
            deadline = time.monotonic() + 10
            while not server.posts("/v1/embeddings") and time.monotonic() < deadline:
                time.sleep(0.01)
            result = session.search("invoice", mode="lexical", limit=5)
            assert result.hits[0].path == "billing/invoice.py"
            # Answered while the semantic search still holds its service's lock.
            assert slow.is_alive(), "the lexical search waited for the semantic one"
            slow.join()
        finally:
            session.close()


def test_indexing_does_not_start_once_cancelled(indexed_repo: Path) -> None:
    session = Session.open(indexed_repo, load_settings())
    try:
        session.cancel_indexing()
        with pytest.raises(Interrupted):
            session.index(lambda progress: None, ask=None)
        assert session.wait_for_indexing(timeout=1.0)
    finally:
        session.close()
