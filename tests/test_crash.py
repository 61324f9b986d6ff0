"""Killed runs, damaged files and two writers: the index is always the old one or the new one.

``codefind index`` runs as a real process against a local SGLang-speaking server (fast and
controllable), is killed with SIGKILL at chosen moments, and the next run must finish without
re-embedding what was committed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codefind.store import text_hash
from tests.cliutil import codefind, codefind_exe
from tests.fakeservers import SGLangServer

MODEL = "Qwen/Qwen3-Embedding-0.6B"
TOPICS = [
    "parse",
    "render",
    "fetch",
    "store",
    "merge",
    "split",
    "encode",
    "decode",
    "sort",
    "filter",
]


def many_functions(files: int, per_file: int = 4) -> dict[str, str | bytes]:
    out: dict[str, str | bytes] = {}
    for f in range(files):
        body = []
        for n in range(per_file):
            topic = TOPICS[(f + n) % len(TOPICS)]
            body.append(
                f"def {topic}_item_{f}_{n}(value):\n"
                f'    """{topic.capitalize()} item number {n} of module {f}."""\n'
                f"    return value * {n + 1} + {f}\n"
            )
        out[f"pkg/mod_{f}.py"] = "\n\n".join(body)
    return out


@pytest.fixture
def server() -> Iterator[SGLangServer]:
    with SGLangServer(model=MODEL, dim=1024) as srv:
        yield srv


def env_for(srv: SGLangServer) -> dict[str, str]:
    return {
        **os.environ,
        "CODEFIND_BACKEND": "sglang",
        "CODEFIND_SGLANG_MODEL": MODEL,
        "CODEFIND_SGLANG_URL": srv.url,
    }


def sent_texts(srv: SGLangServer) -> list[str]:
    texts: list[str] = []
    for request in srv.posts("/v1/embeddings"):
        if not isinstance(request.body, dict):
            continue  # a request the SIGKILL cut off before its body was sent
        inputs = request.body["input"]
        texts.extend([inputs] if isinstance(inputs, str) else inputs)
    return texts


def cached_count(repo: Path) -> int:
    path = repo / ".git" / "codefind" / "cache" / "embeddings.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=10)
    try:
        return int(db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def start_index(repo: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [codefind_exe(), "index", "--json"], cwd=repo, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def indexed_chunks(repo: Path) -> int:
    """Chunks in the state database (0 when a run was killed before it saved any)."""
    path = repo / ".git" / "codefind" / "state.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=10)
    try:
        return int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def assert_whole_results(repo: Path, env: dict[str, str]) -> None:
    """Searching finds what the index holds, and every hit is real: its text is exactly the
    file's lines. "No hits" passes only when no chunk was saved at all."""
    chunks = indexed_chunks(repo)
    # Every function's docstring says "item number", so every saved chunk matches.
    result = codefind("search", "item number", "--json", "--all", "--no-update", cwd=repo, env=env)
    assert "Traceback" not in result.stderr
    if chunks == 0:
        assert result.returncode == 1 and result.stdout == "", result.stderr
        return
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == min(10, chunks), (len(rows), chunks)
    for hit in rows:
        lines = (repo / hit["path"]).read_text().splitlines()
        assert hit["text"] == "\n".join(lines[hit["start_line"] - 1 : hit["end_line"]])


def test_sigkill_during_embedding_keeps_finished_batches(git_repo, server: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(60))  # 240 functions: 8 batches of 32
    env = env_for(server)
    server.delay_next(0.4, times=1000)
    process = start_index(repo, env)
    wait_for(lambda: cached_count(repo) >= 64, timeout=180.0)  # a loaded CI host is slow
    process.send_signal(signal.SIGKILL)
    process.wait()
    committed = cached_count(repo)
    assert 64 <= committed < 240
    before = set(sent_texts(server))

    assert_whole_results(repo, env)
    server.delay_next(0.0, times=0)
    server.script()  # clear pending delays
    n_before = len(server.posts("/v1/embeddings"))
    rerun = codefind("index", "--json", cwd=repo, env=env, check=True)
    report = json.loads(rerun.stdout)
    resent = [t for r in server.posts("/v1/embeddings")[n_before:] for t in r.body["input"]]
    assert report["embedded"] == len(resent) == report["chunks"] - committed
    assert len(before) >= committed
    hashes_resent = {text_hash(t) for t in resent}
    assert len(hashes_resent) == len(resent), "nothing sent twice in the rerun"
    again = json.loads(codefind("index", "--json", cwd=repo, env=env, check=True).stdout)
    assert (again["embedded"], again["reused"]) == (0, 0)


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 2.5])
def test_sigkill_at_any_moment_leaves_a_usable_index(
    git_repo: Callable[..., Path], server: SGLangServer, delay: float
) -> None:
    repo = git_repo(many_functions(150, per_file=3))
    env = env_for(server)
    process = start_index(repo, env)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert_whole_results(repo, env)
    report = json.loads(codefind("index", "--json", cwd=repo, env=env, check=True).stdout)
    assert report["chunks"] == 450 and report["files"] == 150
    again = json.loads(codefind("index", "--json", cwd=repo, env=env, check=True).stdout)
    assert (again["embedded"], again["reused"], again["removed"]) == (0, 0, 0)
    assert_whole_results(repo, env)


def test_sigint_exits_130_and_keeps_work(git_repo, server: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(40))
    env = env_for(server)
    server.delay_next(0.3, times=1000)
    process = start_index(repo, env)
    wait_for(lambda: cached_count(repo) >= 32)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "kept" in stderr and "Traceback" not in stderr
    status = codefind("search", "parse item", "--json", "--no-update", cwd=repo, env=env)
    assert status.returncode == 0, "what was embedded before Ctrl-C is searchable"


def test_damaged_vector_file_is_rebuilt_and_says_so(git_repo, server: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    """The vector file is the only copy of the vectors it holds (the cache keeps the others),
    so a damaged one is embedded again: never read, and never a silent partial index."""
    repo = git_repo(many_functions(10))
    env = env_for(server)
    codefind("index", cwd=repo, env=env, check=True)
    data = next((repo / ".git" / "codefind" / "vectors").glob("*.usearch"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    n_before = len(server.posts("/v1/embeddings"))
    result = codefind("index", "--json", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["embedded"] == report["chunks"] == 40 and report["reused"] == 0
    assert any("damaged" in note and "embedded again" in note for note in report["notes"])
    assert len(server.posts("/v1/embeddings")) > n_before
    assert_whole_results(repo, env)


@pytest.mark.parametrize("damage", ["zero", "garbage"])
def test_damaged_state_database_is_rebuilt_without_embedding(
    git_repo: Callable[..., Path], server: SGLangServer, damage: str
) -> None:
    repo = git_repo(many_functions(10))
    env = env_for(server)
    codefind("index", cwd=repo, env=env, check=True)
    state = repo / ".git" / "codefind" / "state.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    state.write_bytes(b"" if damage == "zero" else os.urandom(8192))
    searched = codefind("search", "parse item", "--no-update", cwd=repo, env=env)
    assert "Traceback" not in searched.stderr
    assert damage == "zero" or (searched.returncode == 2 and "codefind index" in searched.stderr)
    result = codefind("index", "--json", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["embedded"] == 0 and report["chunks"] == 40
    assert_whole_results(repo, env)


@pytest.mark.parametrize(("fmt", "embedded"), [(2, 0), (99, 20)])
def test_vector_index_from_another_format_is_rebuilt(  # type: ignore[no-untyped-def]
    git_repo, server: SGLangServer, fmt: int, embedded: int
) -> None:
    """An older format's file (format 2: no ``.hashes``) gives its vectors to the rebuild, by
    the text the state database names for each key; a newer format's is never read."""
    repo = git_repo(many_functions(5))
    env = env_for(server)
    codefind("index", cwd=repo, env=env, check=True)
    folder = repo / ".git" / "codefind" / "vectors"
    manifest = next(folder.glob("*.json"))
    data = json.loads(manifest.read_text())
    data["format"] = fmt
    manifest.write_text(json.dumps(data))
    next(folder.glob("*.hashes")).unlink()
    result = codefind("index", "--json", cwd=repo, env=env, check=True)
    report = json.loads(result.stdout)
    assert (report["embedded"], report["chunks"]) == (embedded, 20)
    assert json.loads(manifest.read_text())["format"] == 3
    assert sorted(p.suffix for p in folder.iterdir()) == [".hashes", ".json", ".usearch"]
    assert_whole_results(repo, env)


def test_state_from_a_newer_codefind_is_refused_clearly(git_repo, server: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(3))
    env = env_for(server)
    codefind("index", cwd=repo, env=env, check=True)
    db = sqlite3.connect(repo / ".git" / "codefind" / "state.sqlite")
    db.execute("UPDATE meta SET value = '999' WHERE key = 'format'")
    db.commit()
    db.close()
    result = codefind("index", cwd=repo, env=env)
    assert result.returncode == 2 and "Upgrade codefind" in result.stderr


def test_two_index_runs_at_once_one_waits(git_repo, server: SGLangServer) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(many_functions(30))
    env = env_for(server)
    server.delay_next(3.0, times=10)  # the first run holds the lock for a few seconds
    first = start_index(repo, env)
    wait_for(lambda: len(server.posts("/v1/embeddings")) >= 1)
    second = start_index(repo, env)
    searched = codefind("search", "parse item", "--json", cwd=repo, env=env)
    assert (
        "is updating this index" in searched.stderr
        and "Searching the index as it is" in searched.stderr
    )
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert "waiting for process" in err2
    assert json.loads(out2)["embedded"] == 0, "the second run found everything done"
    assert json.loads(out1)["embedded"] == 120


def test_search_with_a_truncated_vector_file_falls_back_to_lexical(
    git_repo: Callable[..., Path], server: SGLangServer
) -> None:
    repo = git_repo(many_functions(5))
    env = env_for(server)
    codefind("index", cwd=repo, env=env, check=True)
    data = next((repo / ".git" / "codefind" / "vectors").glob("*.usearch"))
    data.write_bytes(data.read_bytes()[:100])
    result = codefind("search", "parse item", "--json", "--no-update", cwd=repo, env=env)
    assert result.returncode == 0 and "lexical hits only" in result.stderr
    assert "Traceback" not in result.stderr
    assert_whole_results(repo, env)
