"""The index is never silently wrong: vectors belong to the state they were built for,
readers see what writers commit, and a chunk's vector depends on its text alone.

Everything runs on real repositories with the real built-in model and real index files.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from codefind.chunking import embedding_text
from codefind.config import Settings
from codefind.embeddings.base import truncate
from codefind.models import IndexReport
from codefind.search import SearchFilters
from codefind.store import Store, VectorWriter, open_vector_index
from codefind.workspace import Workspace
from tests.cliutil import codefind

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
def repo(git_repo: Callable[..., Path]) -> Path:
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
    """Every chunk's vector in the index is the model's vector of its own text, and the
    index's ``.hashes`` name that text."""
    workspace = Workspace.for_repository(repo, Settings())
    model_id = workspace.embedder.model_id
    store = Store.open_for_writing(workspace.location)
    try:
        vectors = open_vector_index(workspace.location.index_dir, model_id, 384, verify=True)
        chunks = list(store.state.iter_chunks())
        assert sorted(vectors.keys().tolist()) == sorted(c.id for c in chunks)
        assert vectors.text_hashes() == {c.id: c.text_hash for c in chunks}
        texts = [embedding_text(c.chunk) for c in chunks]
        expected = truncate(workspace.embedder.embed_documents(texts), 384)
        for stored, vector in zip(chunks, expected, strict=True):
            _, row = vectors.vectors([stored.id])
            assert float(row[0] @ vector) > 0.999, (stored.id, stored.chunk.symbol)
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
    assert report.embedded == 0, "the vectors come from the old vector file, by text"
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


# --- item 4: bad vectors are never served for good ------------------------------------------


def test_bad_cached_vectors_are_embedded_again_when_the_index_is_rebuilt(repo: Path) -> None:
    index(repo)
    moved = {path: (repo / path).read_text() for path in ("app/config.py", "app/shapes.py")}
    for path in moved:
        (repo / path).unlink()
    gone = index(repo)  # their vectors leave the index for the cache
    workspace = Workspace.for_repository(repo, Settings())
    cache = workspace.location.cache_dir / "embeddings.sqlite"
    workspace.close()
    db = sqlite3.connect(cache)
    rows = db.execute("SELECT text_hash, vector FROM embeddings ORDER BY id LIMIT 4").fetchall()
    assert len(rows) == 4
    good = [np.frombuffer(blob, dtype=np.int8) for _, blob in rows]
    flipped = good[1].copy()
    flipped[7] ^= 1  # one bit: a well formed row that only its checksum catches, like -good[0]
    rotten = [-good[0], flipped, 0 * good[2], good[3] // 2]
    db.executemany(
        "UPDATE embeddings SET vector = ? WHERE text_hash = ?",
        [(v.astype(np.int8).tobytes(), key) for v, (key, _) in zip(rotten, rows, strict=True)],
    )
    db.commit()
    db.close()
    for path, text in moved.items():
        (repo / path).write_text(text)
    report = index(repo)
    assert report.embedded == 4 and report.reused == report.chunks - gone.chunks - 4
    assert any("4 cached vectors were bad" in note for note in report.notes)
    assert_vectors_match_texts(repo)


def test_a_float16_vector_file_of_format_1_is_rebuilt_as_int8_from_its_vectors(repo: Path) -> None:
    """An older codefind's vector file (float16, format 1, no ``.hashes``) is never read as
    int8: readers are told it will be rebuilt, and the next writer rebuilds it without
    embedding, taking its vectors by text (the state database names each key's text)."""
    import zlib
    from dataclasses import asdict, replace

    from usearch.index import Index

    from codefind.errors import IndexFormatError
    from codefind.store.vectors import read_manifest, slug

    first = index(repo)
    workspace = Workspace.for_repository(repo, Settings())
    model_id, folder = workspace.embedder.model_id, workspace.location.index_dir
    workspace.close()
    current = open_vector_index(folder, model_id, 384)
    keys, rows = current.vectors(current.keys())
    old = Index(ndim=384, metric="cos", dtype="f16")  # as codefind wrote it before int8
    old.add(keys, rows)
    data = folder / "vectors" / f"{slug(model_id, 384)}.9.usearch"
    old.save(str(data))
    manifest = read_manifest(folder, model_id, 384)
    assert manifest is not None
    older = replace(
        manifest, file=data.name, size=data.stat().st_size,
        crc32=zlib.crc32(data.read_bytes()), dtype="f16", format=1,
    )  # fmt: skip
    (folder / "vectors" / f"{slug(model_id, 384)}.json").write_text(json.dumps(asdict(older)))
    with pytest.raises(IndexFormatError, match="has format 1"):
        open_vector_index(folder, model_id, 384)
    reader = Store.open(workspace.location)
    try:
        with pytest.raises(IndexFormatError, match="Run `codefind index` to rebuild it"):
            reader.vector_index(model_id, 384)
    finally:
        reader.close()

    report = index(repo)
    assert report.embedded == 0 and report.reused == first.chunks
    rebuilt_notes = [note for note in report.notes if "has format 1" in note]
    assert rebuilt_notes and all(
        "Rebuilt it" in note and "Run `codefind index`" not in note for note in rebuilt_notes
    )
    rebuilt = read_manifest(folder, model_id, 384)
    assert rebuilt is not None and (rebuilt.format, rebuilt.dtype) == (3, "i8")
    assert not data.exists(), "the float16 file is gone"
    assert_vectors_match_texts(repo)


def test_json_never_prints_nan_even_from_an_index_of_bad_vectors(repo: Path) -> None:
    index(repo)
    workspace = Workspace.for_repository(repo, Settings())
    model_id, folder = workspace.embedder.model_id, workspace.location.index_dir
    store = Store.open(workspace.location)
    current = open_vector_index(folder, model_id, 384)
    writer = VectorWriter(folder, model_id, 384, current, state_id=store.state.state_id)
    bad = current.keys()[:3]  # as written by a codefind that did not check vectors
    held = current.text_hashes()
    writer.add(bad, np.full((len(bad), 384), np.nan, dtype=np.float32), [held[k] for k in bad])
    writer.save(generation=store.state.generation)
    store.close()
    workspace.close()
    for mode in ("hybrid", "semantic"):
        result = codefind(
            "search", "settings file", "--json", "--no-update", "--mode", mode, cwd=repo
        )
        assert result.returncode == 0, result.stderr
        assert "NaN" not in result.stdout and "Infinity" not in result.stdout
        for line in result.stdout.splitlines():
            assert math.isfinite(json.loads(line)["score"])


# --- item 8: a chunk's vector depends on its text alone -------------------------------------


def test_an_incremental_index_and_a_fresh_one_hold_identical_vectors(repo: Path, git_repo) -> None:  # type: ignore[no-untyped-def]
    extra = {
        "app/text.py": '''def reverse_words(sentence):
    """Flip the order of the words in a string."""
    return " ".join(reversed(sentence.split()))


def shout(text):
    """Upper-case text with an exclamation mark."""
    return text.upper() + "!"
'''
    }
    index(repo)
    (repo / "app/text.py").write_text(extra["app/text.py"])
    index(repo)  # the new chunks are embedded on their own
    fresh = git_repo({**FILES, **extra}, name="fresh")
    index(fresh)  # the same chunks are embedded among all the others
    assert cached_vectors(repo) == cached_vectors(fresh)
    scores = []
    for checkout in (repo, fresh):
        workspace = Workspace.for_repository(checkout, Settings())
        try:
            result = workspace.search_service().search("reverse the words", mode="semantic")
            scores.append([(h.path, h.start_line, h.score) for h in result.hits])
        finally:
            workspace.close()
    assert scores[0] == scores[1]


def cached_vectors(repo: Path) -> dict[bytes, bytes]:
    """Text hash -> the exact bytes of its cached vector."""
    workspace = Workspace.for_repository(repo, Settings())
    db = sqlite3.connect(workspace.location.cache_dir / "embeddings.sqlite")
    try:
        return {
            bytes(key): bytes(blob)
            for key, blob in db.execute("SELECT text_hash, vector FROM embeddings")
        }
    finally:
        db.close()
        workspace.close()
