"""The index is never silently wrong: vectors belong to the state they were built for,
readers see what writers commit, and a chunk's vector depends on its text alone.

Everything runs on real repositories with the real built-in model and real index files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codefind.config import Settings
from codefind.embeddings.base import truncate
from codefind.models import IndexReport
from codefind.search import SearchFilters
from codefind.store import Store, open_vector_index
from codefind.workspace import Workspace

FILES = {
    "app/config.py": '''"""Settings for the app."""

import json


def load_settings(path):
    """Read the JSON settings file and return a dict."""
    with open(path) as handle:
        return json.load(handle)


def save_settings(path, values):
    """Write settings back as JSON."""
    with open(path, "w") as handle:
        json.dump(values, handle)
''',
    "app/net.py": '''import urllib.request


def fetch_page(url, timeout=10):
    """Download a web page and return its body as text."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode("utf-8")
''',
    "app/shapes.py": '''class Circle:
    """A circle with a radius."""

    def area(self):
        """The area of the circle."""
        return 3.14159 * self.radius ** 2


def fibonacci(n):
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
''',
    "docs/guide.md": "# Guide\n\nHow to configure the application and where settings live.\n",
}


@pytest.fixture
def repo(git_repo) -> Path:  # type: ignore[no-untyped-def]
    return git_repo(FILES)


def index(repo: Path) -> IndexReport:
    workspace = Workspace.for_repository(repo, Settings())
    try:
        return workspace.indexer().run()
    finally:
        workspace.close()


def remove_state(repo: Path) -> None:
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (repo / ".git" / "codefind" / name).unlink(missing_ok=True)


def assert_vectors_match_texts(repo: Path) -> None:
    """Every chunk's vector in the index is the cached vector of its own text."""
    workspace = Workspace.for_repository(repo, Settings())
    model_id = workspace.embedder.model_id
    store = Store.open_for_writing(workspace.location)
    try:
        vectors = open_vector_index(workspace.location.index_dir, model_id, 384, verify=True)
        chunks = list(store.state.iter_chunks())
        assert sorted(vectors.keys().tolist()) == sorted(c.id for c in chunks)
        cached = store.cache.get_many(model_id, [c.text_hash for c in chunks])
        for stored in chunks:
            _, row = vectors.vectors([stored.id])
            expected = truncate(cached[stored.text_hash], 384)
            assert float(row[0] @ expected) > 0.999, (stored.id, stored.chunk.symbol)
    finally:
        store.close()
        workspace.close()


# --- item 1: vectors belong to the state database they were built for ----------------------


def test_a_rebuilt_state_database_does_not_inherit_old_vectors(repo: Path) -> None:
    index(repo)
    (repo / "app/config.py").write_text(
        FILES["app/config.py"] + '\n\ndef reset_settings(path):\n    """Remove the file."""\n'
    )
    index(repo)  # an incremental run: config.py's chunks get new ids at the end
    remove_state(repo)
    report = index(repo)
    assert report.embedded == 0, "the vectors come from the embedding cache"
    assert any("another state database" in note for note in report.notes)
    assert_vectors_match_texts(repo)


# --- item 6: a reader sees what writers commit ----------------------------------------------


def test_a_reader_sees_commits_made_after_a_filtered_search(repo: Path) -> None:
    index(repo)
    reader = Workspace.for_repository(repo, Settings())
    try:
        service = reader.search_service()
        python = SearchFilters(languages=("python",))
        app = SearchFilters(paths=("app",))
        assert service.search("web page", filters=python).hits
        assert service.search("web page", filters=app).hits
        (repo / "app/ping.py").write_text(
            'def ping_host(host):\n    """Check that a host answers a ping."""\n    return True\n'
        )
        index(repo)  # another connection (and another vector index file) commits
        for filters in (python, app, None):
            lexical = service.search("ping_host", filters=filters, mode="lexical")
            assert [h.path for h in lexical.hits][:1] == ["app/ping.py"], filters
            semantic = service.search("ping a host", filters=filters, mode="semantic")
            assert semantic.semantic and "app/ping.py" in [h.path for h in semantic.hits]
    finally:
        reader.close()
