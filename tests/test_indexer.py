"""Indexing a real repository with the real built-in model: incremental runs and recovery."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from codefind.config import Settings
from codefind.errors import Interrupted
from codefind.indexer import IndexProgress
from codefind.models import IndexReport
from codefind.store import Store, open_vector_index
from codefind.workspace import Workspace
from tests.gitutil import commit_all, git

FILES: dict[str, str | bytes] = {
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
    "app/maths.py": '''def fibonacci(n):
    """Return the n-th Fibonacci number."""
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


class Matrix:
    """A small dense matrix."""

    def __init__(self, rows):
        self.rows = rows

    def transpose(self):
        """Swap rows and columns."""
        return Matrix([list(col) for col in zip(*self.rows)])
''',
    "README.md": "# Demo\n\nA tiny app used by the tests.\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary",
}


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo(FILES)


def index_report(repo: Path, **kwargs: object) -> IndexReport:
    """One indexing run of ``repo`` with the default settings."""
    workspace = Workspace.for_repository(repo, Settings())
    try:
        return workspace.indexer(**kwargs).run()  # type: ignore[arg-type]
    finally:
        workspace.close()


def index(repo: Path, **kwargs: object) -> dict[str, Any]:
    return index_report(repo, **kwargs).to_json()


def assert_rebuilt_without_embedding(report: IndexReport, chunks: object) -> None:
    """The run rebuilt the state, embedded nothing, and said so without a reader's advice."""
    assert report.embedded == 0 and report.reused == chunks == report.chunks
    rebuilt = [note for note in report.notes if "Rebuilt it" in note]
    assert rebuilt and not any("Run `codefind index`" in note for note in rebuilt), rebuilt


def test_first_run_embeds_everything_and_second_run_nothing(repo: Path) -> None:
    first = index(repo)
    assert first["files"] == 4 and first["skipped"] == {"binary": 1}
    chunks = first["chunks"]
    assert isinstance(chunks, int) and chunks >= 6
    assert first["embedded"] == chunks and first["reused"] == 0
    assert (first["backend"], first["dim"]) == ("local", 384)

    second = index(repo)
    assert (second["embedded"], second["reused"], second["removed"]) == (0, 0, 0)
    assert second["chunks"] == chunks and second["skipped"] == {"binary": 1}


def test_only_changed_files_are_rechunked_and_only_new_text_embedded(repo: Path) -> None:
    first = index(repo)
    (repo / "app/net.py").write_text(
        str(FILES["app/net.py"])
        + '\n\ndef ping(host):\n    """Check that a host answers."""\n    return True\n'
    )
    (repo / "app/maths.py").unlink()
    second = index(repo)
    assert second["embedded"] == 1, "only the new function: net.py's other chunks are cached"
    assert second["reused"] == 2, "net.py's unchanged chunks come back from the cache"
    assert second["removed"] == 2 + 4, "old chunks of net.py and all of maths.py"
    assert second["files"] == 3
    assert second["chunks"] == first["chunks"] - 4 + 1


def test_a_file_coming_back_reuses_cached_vectors(repo: Path) -> None:
    index(repo)
    (repo / "app/maths.py").unlink()
    index(repo)
    (repo / "app/maths.py").write_text(str(FILES["app/maths.py"]))
    again = index(repo)
    assert again["embedded"] == 0 and again["reused"] >= 3


def test_vectors_taken_by_text_in_slices_are_all_there(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuilt state database takes every vector from the old vector file by text, a slice
    at a time (memory stays one slice deep); every chunk still gets its own vector, whichever
    slice it was in."""
    import codefind.store.reuse

    first = index(repo)
    workspace = Workspace.for_repository(repo, Settings())
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (workspace.location.index_dir / name).unlink(missing_ok=True)
    workspace.close()
    monkeypatch.setattr(codefind.store.reuse, "SLICE", 2)
    again = index(repo)
    assert (again["embedded"], again["reused"]) == (0, first["chunks"])
    workspace = Workspace.for_repository(repo, Settings())
    try:
        hit = workspace.search_service().search("transpose a matrix", mode="semantic").hits[0]
        assert hit.symbol == "Matrix.transpose"
    finally:
        workspace.close()


def test_committing_a_dirty_file_costs_nothing(repo: Path) -> None:
    (repo / "app/extra.py").write_text('def extra():\n    """Extra helper."""\n    return 1\n')
    index(repo)
    commit_all(repo, "add extra")
    after = index(repo)
    assert (after["embedded"], after["removed"]) == (0, 0)


def test_vector_index_matches_state_after_runs(repo: Path) -> None:
    index(repo)
    (repo / "app/net.py").unlink()
    index(repo)
    workspace = Workspace.for_repository(repo, Settings())
    store = Store.open(workspace.location)
    vectors = open_vector_index(
        workspace.location.index_dir, workspace.embedder.model_id, 384, verify=True
    )
    assert sorted(vectors.keys().tolist()) == sorted(store.state.chunk_ids())
    status = workspace.status()
    assert status.in_sync and status.vectors == status.chunks
    keys, rows = vectors.vectors(store.state.chunk_ids()[:3])
    assert len(keys) == 3
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-2)


def test_cancel_keeps_finished_work_and_a_rerun_completes(repo: Path) -> None:
    cancel = threading.Event()
    seen: list[IndexProgress] = []

    def on_progress(progress: IndexProgress) -> None:
        seen.append(progress)
        if progress.phase == "embed" and progress.done > 0:
            cancel.set()

    workspace = Workspace.for_repository(repo, Settings())
    # Small batches so that cancelling happens between batches.
    workspace.embedder.batch_size = 2
    with pytest.raises(Interrupted):
        workspace.indexer(on_progress=on_progress, cancel=cancel).run()
    done_before = max(p.done for p in seen if p.phase == "embed")
    assert done_before >= 2
    status = workspace.status()
    assert 0 < status.vectors < status.chunks and not status.in_sync
    workspace.close()

    rerun = index(repo)
    assert rerun["embedded"] == int(rerun["chunks"]) - done_before
    assert rerun["reused"] == 0, "vectors kept in the partial index need not be reused"
    assert cache_count(repo) == 0, "what the cache held for the resume, the index holds now"


def test_walk_from_a_subfolder_and_index_in_git_dir(repo: Path) -> None:
    workspace = Workspace.for_repository(repo / "app", Settings())
    assert workspace.root == repo.resolve()
    assert workspace.location.index_dir == (repo / ".git" / "codefind").resolve()
    git(repo, "status")  # the index inside .git does not show up as untracked
    assert "codefind" not in git(repo, "status", "--porcelain")


def test_codefind_index_dir_overrides_both_locations(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    workspace = Workspace.for_repository(repo, Settings(index_dir=target))
    assert workspace.location.index_dir.parent == target  # a folder per repository in it
    assert workspace.location.cache_dir == workspace.location.index_dir / "cache"


def test_query_translation_can_be_turned_off_to_measure_it(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo({"io.py": "def read_file(path):\n    return open(path).read()\n"})
    index(repo)
    found = {}
    for translate in (True, False):
        workspace = Workspace.for_repository(repo, Settings(translate=translate, mode="lexical"))
        try:
            result = workspace.search_service().search("读取文件", mode="lexical")
        finally:
            workspace.close()
        found[translate] = [hit.symbol for hit in result.hits]
        assert result.translation.changed is translate
    assert found == {True: ["read_file"], False: []}


def test_implementation_code_is_embedded_first_and_searchable_before_the_run_ends(
    git_repo: Callable[..., Path],
) -> None:
    """Useful sooner: code, then tests, then docs; a run stopped after the code keeps it all."""
    files: dict[str, str | bytes] = {
        "docs/guide.md": "\n\n".join(f"## Part {i}\n\nHow to use feature {i}." for i in range(30)),
        "tests/test_things.py": "".join(
            f"def test_thing_{i}():\n    assert thing({i}) == {i}\n\n" for i in range(20)
        ),
        "app/things.py": "".join(f"def thing_{i}(x):\n    return x + {i}\n\n" for i in range(20)),
    }
    repo = git_repo(files)
    workspace = Workspace.for_repository(repo, Settings())
    state = Store.open(workspace.location).state
    cancel = threading.Event()
    code_chunks: list[int] = []

    def progress(p: IndexProgress) -> None:
        if p.phase == "chunk" and not code_chunks:
            return
        if p.phase == "embed" and not code_chunks:
            code_chunks.extend(
                cid
                for cid, s in state.chunks(state.chunk_ids(), text=False).items()
                if s.chunk.category == "code"
            )
        if p.phase == "embed" and code_chunks and p.embedded >= len(code_chunks):
            cancel.set()

    with pytest.raises(Interrupted):
        workspace.indexer(on_progress=progress, cancel=cancel).run()
    index = open_vector_index(workspace.location.index_dir, workspace.embedder.model_id, 384)
    indexed = set(index.keys().tolist())
    categories = {
        cid: s.chunk.category for cid, s in state.chunks(state.chunk_ids(), text=False).items()
    }
    assert set(code_chunks) <= indexed, "all implementation code is searchable"
    assert {categories[cid] for cid in indexed} == {"code"}, "nothing else came first"


@pytest.mark.parametrize(
    "outdated",
    [
        "UPDATE meta SET value = '2' WHERE key = 'format'",  # the format before contentless FTS5
        "UPDATE meta SET value = 'x' WHERE key = 'tokens'",  # another lexical.tokens
    ],
)
def test_an_outdated_state_is_rebuilt_without_embedding(repo: Path, outdated: str) -> None:
    import sqlite3

    first = index(repo)
    workspace = Workspace.for_repository(repo, Settings())
    state = workspace.location.index_dir / "state.sqlite"
    workspace.close()
    db = sqlite3.connect(state)
    db.execute(outdated)
    db.commit()
    db.close()
    assert_rebuilt_without_embedding(index_report(repo), first["chunks"])
    workspace = Workspace.for_repository(repo, Settings())
    try:
        hits = workspace.search_service().search("fibonacci number", mode="lexical").hits
        assert hits and hits[0].symbol == "fibonacci"
    finally:
        workspace.close()


FORMAT_3_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (path TEXT PRIMARY KEY, content_id TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, skip TEXT);
CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL,
    language TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    symbol TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, text_hash BLOB NOT NULL,
    line INTEGER NOT NULL, category TEXT NOT NULL);
CREATE INDEX chunks_by_path ON chunks (path);
CREATE TABLE lexicon (term TEXT NOT NULL, segment INTEGER NOT NULL, ids BLOB NOT NULL,
    weights BLOB NOT NULL, PRIMARY KEY (term, segment)) WITHOUT ROWID;
"""
"""The tables of format 3 that format 4 changed: path and text in every chunk row."""


def test_a_format_3_state_is_rebuilt_without_embedding(repo: Path) -> None:
    """An index made before chunk texts were kept per file (its tables cannot take the new
    ones) is refused to readers with advice, and rebuilt by the next run: no text is embedded
    again, and every mode searches."""
    import sqlite3

    from codefind.errors import IndexFormatError
    from codefind.store import StateDB

    first = index(repo)
    workspace = Workspace.for_repository(repo, Settings())
    location = workspace.location
    workspace.close()
    state = location.index_dir / "state.sqlite"
    current = StateDB(state, readonly=True)
    files = list(current.files().values())
    chunks = list(current.iter_chunks())
    current.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    old = sqlite3.connect(state)
    old.executescript(FORMAT_3_SCHEMA)
    old.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("format", "3"), ("generation", "1"), ("state_id", "f" * 32)],
    )
    old.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
        [(f.file.path, f.file.content_id, f.file.size, f.file.mtime_ns, f.skip) for f in files],
    )
    old.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(s.id, s.chunk.path, s.chunk.language, s.chunk.start_line, s.chunk.end_line,
          s.chunk.symbol, s.chunk.kind, s.chunk.text, s.text_hash, s.chunk.line,
          s.chunk.category) for s in chunks],
    )  # fmt: skip
    old.commit()
    old.close()
    with pytest.raises(IndexFormatError, match="Run `codefind index` to rebuild it") as refused:
        Store.open(location)
    assert not refused.value.newer

    assert_rebuilt_without_embedding(index_report(repo), first["chunks"])
    workspace = Workspace.for_repository(repo, Settings())
    try:
        service = workspace.search_service()
        for mode in ("lexical", "semantic", "hybrid"):
            hits = service.search("fibonacci number", mode=mode).hits
            assert hits and hits[0].symbol == "fibonacci", mode
            assert "a, b = b, a + b" in hits[0].text
    finally:
        workspace.close()


def test_a_new_chunker_re_chunks_every_file_once_without_embedding(repo: Path) -> None:
    """An index cut by an older chunker (recorded in its meta, or not recorded at all) is
    re-chunked whole on the next run, so an upgrade does not leave old chunks in every file
    nobody edits; the vectors of unchanged texts come from the cache."""
    import sqlite3

    from codefind.chunking import CHUNKER_VERSION

    first = index_report(repo)
    state = Workspace.for_repository(repo, Settings()).location.index_dir / "state.sqlite"
    db = sqlite3.connect(state)
    assert db.execute("SELECT value FROM meta WHERE key = 'chunker'").fetchone() == (
        CHUNKER_VERSION,
    )
    db.execute("UPDATE meta SET value = '1' WHERE key = 'chunker'")
    db.execute("UPDATE chunks SET symbol = 'stale_name' WHERE symbol = 'fibonacci'")
    db.commit()
    db.close()

    second = index_report(repo)
    assert second.embedded == 0 and second.chunks == first.chunks
    assert any("Re-chunked every file" in note for note in second.notes)
    workspace = Workspace.for_repository(repo, Settings())
    try:
        hits = workspace.search_service().search("fibonacci", mode="lexical").hits
        assert hits and hits[0].symbol == "fibonacci", "the chunks were cut again"
    finally:
        workspace.close()
    db = sqlite3.connect(state)
    try:
        (postings,) = db.execute("SELECT SUM(postings) FROM lexicon_segments").fetchone()
        (live,) = db.execute("SELECT SUM(terms) FROM lexicon_docs").fetchone()
        assert postings == live, "a re-chunk's dead postings (half of them) are merged away"
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        assert db.execute("PRAGMA freelist_count").fetchone() == (0,), "pages given back"
    finally:
        db.close()

    third = index_report(repo)
    assert not any("Re-chunked" in note for note in third.notes)
    assert (third.embedded, third.removed) == (0, 0)


def generated(round_: int, functions: int = 10) -> str:
    """A module whose every function changes with ``round_`` (each round, new texts)."""
    return "\n\n".join(
        f"def step_{i}(value):\n    return value * {i} + {round_ * 100 + i}\n"
        for i in range(functions)
    )


def cache_count(repo: Path) -> int:
    workspace = Workspace.for_repository(repo, Settings())
    try:
        store = Store.open(workspace.location)
        try:
            return store.cache.count(workspace.embedder.model_id)
        finally:
            store.close()
    finally:
        workspace.close()


def test_the_cache_forgets_the_oldest_vectors_no_checkout_uses(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pruning the cache keeps every text that left the index; it keeps unused ones
    for half the chunks (the newest: a branch switch or revert stays free)."""
    import codefind.indexer

    monkeypatch.setattr(codefind.indexer, "CACHE_SPARE_FLOOR", 0)
    for round_ in range(3):
        (repo / "app/gen.py").write_text(generated(round_))
        index(repo)
    (repo / "app/gen.py").write_text(generated(3))
    assert any("Forgot" in note for note in index_report(repo).notes)
    live = index(repo)["chunks"]
    assert isinstance(live, int)
    assert cache_count(repo) <= live // 2 + live // 8

    (repo / "app/gen.py").write_text(generated(2))  # the newest unused texts: still cached
    assert index(repo)["embedded"] == 0
    (repo / "app/gen.py").write_text(generated(0))  # the oldest: forgotten
    assert index(repo)["embedded"] == 10


def test_a_worktree_takes_the_vectors_it_shares_from_another_checkouts_index(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache holds only vectors no index holds, so worktrees share through each other's
    vector files; pruning in one checkout never costs the other an embedding."""
    import shutil

    import codefind.indexer

    monkeypatch.setattr(codefind.indexer, "CACHE_SPARE_FLOOR", 0)
    first = index(repo)
    assert cache_count(repo) == 0, "every vector is in the index, none in the cache"
    other = repo.parent / "other"
    git(repo, "worktree", "add", "-q", str(other), "-b", "other")
    shared = index(other)
    assert (shared["embedded"], shared["reused"]) == (0, first["chunks"])
    (other / "app/gen.py").write_text(generated(7))
    assert index(other)["embedded"] == 10
    for round_ in range(6):  # churn in the main work tree: the cache is pruned there
        (repo / "app/gen.py").write_text(generated(round_))
        index(repo)
    (repo / "app/gen.py").write_text(generated(6))
    assert any("Forgot" in note for note in index_report(repo).notes)

    workspace = Workspace.for_repository(other, Settings())
    shutil.rmtree(workspace.location.index_dir / "vectors")
    workspace.close()
    lost = index(other)  # only its own texts (gen.py, round 7) were in its file alone
    assert (lost["embedded"], lost["reused"]) == (10, first["chunks"])


def test_nothing_is_pruned_while_another_worktrees_index_cannot_be_read(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codefind.indexer

    monkeypatch.setattr(codefind.indexer, "CACHE_SPARE_FLOOR", 0)
    other = repo.parent / "other"
    git(repo, "worktree", "add", "-q", str(other), "-b", "other")
    index(other)
    workspace = Workspace.for_repository(other, Settings())
    (workspace.location.index_dir / "state.sqlite").write_bytes(b"not a database" * 100)
    workspace.close()
    for round_ in range(6):
        (repo / "app/gen.py").write_text(generated(round_))
        index(repo)
    (repo / "app/gen.py").write_text(generated(6))
    assert not any("Forgot" in note for note in index_report(repo).notes)
