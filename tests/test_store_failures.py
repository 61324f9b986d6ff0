"""What goes wrong with index files on a real disk: damage heals, nothing else deletes anything.

A full disk is a real, small tmpfs; a read-only index is a real read-only bind mount; a lock is
a real SQLite write lock held by another connection; damage is bytes overwritten in the middle
of a real database file. Mounting needs root (CAP_SYS_ADMIN): without it those tests are
skipped, saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import codefind.store.state as state_module
from codefind.config import Settings
from codefind.errors import IndexCorruptError, IndexStoreError
from codefind.models import Chunk, SourceFile
from codefind.store import (
    FileUpdate,
    IndexLocation,
    Store,
    VectorIndex,
    VectorWriter,
    open_vector_index,
    text_hash,
)
from codefind.workspace import Workspace
from tests.cliutil import codefind

FILES: dict[str, str | bytes] = {
    f"pkg/mod_{f}.py": "\n\n".join(
        f"def {verb}_item_{f}_{n}(value):\n"
        f'    """{verb.capitalize()} item {n} of module {f}."""\n'
        f"    return value * {n + 1} + {f}\n"
        for n, verb in enumerate(("parse", "render", "store"))
    )
    for f in range(12)
}


def hashes_of(first: int, end: int) -> list[bytes]:
    """Text hashes for the keys ``first`` to ``end - 1`` (a vector file names each one's)."""
    return [text_hash(f"text {key}") for key in range(first, end)]


def unit(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    unit_rows: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit_rows


def one_file(path: str = "a.py", symbol: str = "load_config") -> FileUpdate:
    chunk = Chunk(path, "python", 1, 1, symbol, "function", f"def {symbol}(): pass")
    return FileUpdate(SourceFile(path, "c1", 10), [(chunk, text_hash(chunk.text))])


def run_json(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    result = codefind(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result, json.loads(result.stdout)


def sudo_mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here (needs root with CAP_SYS_ADMIN): {result.stderr.strip()}")


def unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs: small enough to fill in a moment."""
    disk = tmp_path / "disk"
    disk.mkdir()
    sudo_mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk))
    try:
        yield disk
    finally:
        unmount(disk)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; returns the filler file (delete it to free the space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` as a read-only bind mount (chmod does not stop root)."""
    sudo_mount("--bind", str(folder), str(folder))
    try:
        sudo_mount("-o", "remount,bind,ro", str(folder))
        yield
    finally:
        unmount(folder)


def page_of(database: Path, name: str) -> int:
    """The root page of table or index ``name`` (read without touching the file)."""
    db = sqlite3.connect(f"{database.resolve().as_uri()}?immutable=1", uri=True)
    try:
        return int(
            db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        )
    finally:
        db.close()


def damage_page(database: Path, page: int) -> None:
    """Overwrite the header and cell pointers of one page in the middle of the file."""
    raw = bytearray(database.read_bytes())
    start = (page - 1) * 4096
    raw[start : start + 64] = b"\xa5" * 64
    database.write_bytes(bytes(raw))


# --- item 2: a lock, a full disk, an I/O error are not damage ------------------------------


def test_a_database_locked_by_another_program_is_reported_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = IndexLocation(tmp_path / "index", tmp_path / "cache")
    store = Store.open_for_writing(location)
    store.state.apply([one_file()], [])
    store.close()
    monkeypatch.setattr(state_module, "BUSY_TIMEOUT", 0.2, raising=False)
    holder = sqlite3.connect(location.index_dir / "state.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        notes: list[str] = []
        with pytest.raises(IndexStoreError, match="locked by another program") as caught:
            Store.open_for_writing(location, notes)
        assert not isinstance(caught.value, IndexCorruptError) and notes == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert Store.open(location).state.counts() == (1, 1), "nothing was deleted"


def test_a_full_disk_under_the_vector_index_says_so(small_disk: Path) -> None:
    writer = VectorWriter(small_disk, "m", 256, VectorIndex(None, None), state_id="s")
    writer.add(
        np.arange(1, 2001, dtype=np.uint64), unit(2000, 256), hashes_of(1, 2001)
    )  # ~1.3 MB on disk
    fill(small_disk)
    with pytest.raises(IndexStoreError) as caught:
        writer.save(generation=1)
    assert f"no space left on device: {small_disk / 'vectors'}" in caught.value.message.lower()
    assert list((small_disk / "vectors").iterdir()) == [], "no temporary file is left behind"


def test_a_full_disk_while_indexing_keeps_the_index_and_says_so(
    git_repo: Callable[..., Path], small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFIND_INDEX_DIR", str(small_disk / "index"))
    repo = git_repo(FILES)
    _, first = run_json("index", cwd=repo)
    (state,) = (small_disk / "index").glob("*/state.sqlite")  # a folder per repository
    (repo / "pkg/new.py").write_text('def fetch_page(url):\n    """Download a page."""\n')
    filler = fill(small_disk)
    failed = codefind("index", cwd=repo)
    assert failed.returncode == 2, failed.stderr
    assert "no space left on device: " in failed.stderr.lower(), failed.stderr
    assert "damaged" not in failed.stderr and "unexpected" not in failed.stderr
    assert state.exists()
    filler.unlink()
    _, report = run_json("index", cwd=repo)
    assert report["embedded"] == 1 and report["chunks"] == int(first["chunks"]) + 1  # type: ignore[call-overload]


# --- item 3: a damaged page heals ---------------------------------------------------------


@pytest.mark.parametrize("table", ["files", "lexicon"])
def test_a_damaged_page_in_the_state_database_is_rebuilt(git_repo, table: str) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    _, first = run_json("index", cwd=repo)
    state = repo / ".git" / "codefind" / "state.sqlite"
    damage_page(state, page_of(state, table))
    searched = codefind("search", "parse item", "--no-update", cwd=repo)
    assert "unexpected error" not in searched.stderr and "Traceback" not in searched.stderr
    if searched.returncode != 0:  # the damage is where searching reads: it says what to do
        assert searched.returncode == 2 and "damaged" in searched.stderr
        assert "codefind index" in searched.stderr
    result, report = run_json("index", cwd=repo)
    assert "unexpected error" not in result.stderr
    assert report["embedded"] == 0 and report["chunks"] == first["chunks"]
    again = codefind("search", "parse item", "--json", "--no-update", cwd=repo)
    assert again.returncode == 0 and not again.stderr, again.stderr
    assert json.loads(again.stdout.splitlines()[0])["path"].startswith("pkg/")


def test_a_damaged_page_in_the_embedding_cache_starts_a_new_cache(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    _, first = run_json("index", cwd=repo)
    cache = repo / ".git" / "codefind" / "cache" / "embeddings.sqlite"
    damage_page(cache, page_of(cache, "embeddings_by_key"))
    for path in (repo / ".git" / "codefind" / "vectors").iterdir():
        path.unlink()  # the vectors must come from the cache again
    result, report = run_json("index", cwd=repo)
    assert "unexpected error" not in result.stderr
    assert report["embedded"] == first["chunks"], "the damaged cache's vectors are not trusted"
    assert [p.name for p in cache.parent.glob("embeddings.sqlite.damaged-*")], "moved aside"
    _, again = run_json("index", cwd=repo)
    assert again["embedded"] == 0
    searched = codefind("search", "render item", "--json", "--no-update", cwd=repo)
    assert searched.returncode == 0 and not searched.stderr, searched.stderr


# --- item 6: a reader never loses the vector index to a writer -----------------------------


def test_readers_opening_while_a_writer_replaces_the_index_always_get_one(tmp_path: Path) -> None:
    vectors = unit(300, 32)
    writer = VectorWriter(tmp_path, "m", 32, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 301, dtype=np.uint64), vectors, hashes_of(1, 301))
    writer.save(generation=0)
    failures: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                assert open_vector_index(tmp_path, "m", 32).count == 300
            except IndexStoreError as exc:
                failures.append(exc.message)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for generation in range(1, 150):
            writer.save(generation=generation)
    finally:
        done.set()
        for thread in readers:
            thread.join()
    assert failures == []


# --- item 7: a read-only index is searched as it is ----------------------------------------


def test_a_read_only_index_is_searched_and_says_why_it_is_not_updated(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    run_json("index", cwd=repo)
    (repo / "pkg/new.py").write_text('def fetch_page(url):\n    """Download a page."""\n')
    index_dir = repo / ".git" / "codefind"
    with read_only(index_dir):
        for args in (("--no-update",), ()):
            result = codefind("search", "render item", "--json", *args, cwd=repo)
            assert result.returncode == 0, result.stderr
            assert "not writable" in result.stderr and "damaged" not in result.stderr
            assert "unexpected" not in result.stderr
            assert json.loads(result.stdout.splitlines()[0])["path"].startswith("pkg/mod_")
            semantic = codefind("search", "draw an element", "--json", "--mode", "semantic",
                                "--no-update", "--all", cwd=repo)  # fmt: skip
            assert semantic.returncode == 0 and "lexical hits only" not in semantic.stderr
    assert not (index_dir / "state.damaged").exists()
    _, report = run_json("index", cwd=repo)
    assert report["embedded"] == 1


def test_the_read_only_fallback_reads_a_database_it_cannot_lock(tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index", tmp_path / "cache")
    store = Store.open_for_writing(location)
    store.state.apply([one_file()], [])
    store.close()
    os.chmod(location.index_dir, 0o555)
    try:
        if os.access(location.index_dir, os.W_OK):
            pytest.skip("running as root: chmod does not make a folder read-only here")
        reader = Store.open(location)
        assert reader.read_only and reader.state.counts() == (1, 1)
    finally:
        os.chmod(location.index_dir, 0o755)


def test_a_reader_that_met_damage_searches_again_once_a_writer_rebuilt_it(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    run_json("index", cwd=repo)
    state = repo / ".git" / "codefind" / "state.sqlite"
    damage_page(state, page_of(state, "lexicon"))
    reader = Workspace.for_repository(repo, Settings())
    try:
        service = reader.search_service()
        with pytest.raises(IndexCorruptError) as caught:
            service.search("parse item", mode="lexical")
        assert "codefind index" in caught.value.message
        writer = Workspace.for_repository(repo, Settings())
        try:
            report = writer.indexer().run()
        finally:
            writer.close()
        assert report.embedded == 0 and any("damaged" in note for note in report.notes)
        assert service.search("parse item", mode="lexical").hits, "the same reader works again"
    finally:
        reader.close()
