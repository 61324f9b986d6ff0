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


def query_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("codefind-query")]


def test_closing_a_session_stops_its_search_threads(indexed_repo: Path) -> None:
    """The app opens a session per settings change; each must give its threads back."""
    before = set(query_threads())  # other tests' apps may have left theirs
    session = Session.open(indexed_repo, load_settings())
    session.search("invoice total", mode="hybrid", limit=5)
    started = [t for t in query_threads() if t not in before]
    assert started, "a hybrid search embeds its query in the service's threads"
    session.close()
    for t in started:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in started)


def test_a_closed_search_service_still_answers_without_threads(indexed_repo: Path) -> None:
    """A search that races with ``close`` (the app's worker threads) still gets its answer."""
    from codefind.workspace import Workspace

    before = set(query_threads())
    workspace = Workspace.for_repository(indexed_repo, load_settings())
    try:
        service = workspace.search_service()
        service.close()
        service.close()  # idempotent
        result = service.search("invoice total", mode="hybrid", limit=5)
        assert result.semantic and result.hits[0].path == "billing/invoice.py"
        assert set(query_threads()) <= before, "no new threads"
    finally:
        workspace.close()


def test_quitting_ends_a_wait_for_another_indexer(indexed_repo: Path) -> None:
    from codefind.store import write_lock

    session = Session.open(indexed_repo, load_settings())
    waited: list[int | None] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            session.index(lambda progress: None, ask=None, on_lock_wait=waited.append)
        except BaseException as exc:
            errors.append(exc)

    try:
        with write_lock(session.workspace.location.index_dir):
            worker = threading.Thread(target=run)
            worker.start()
            deadline = time.monotonic() + 30
            while not waited and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(waited) == 1, "told once that it waits"
            session.cancel_indexing()
            worker.join(timeout=10)
            assert not worker.is_alive(), "quitting ended the wait"
        assert len(errors) == 1 and isinstance(errors[0], Interrupted)
    finally:
        session.close()
