"""One ``CODEFIND_INDEX_DIR`` for many repositories keeps them apart (issue 15, item 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cliutil import codefind
from tests.fakeservers import VoyageServer
from tests.gitutil import make_repo

VOYAGE_KEY = "pa-test-index-dir-key-0123456789"


def two_repos(tmp_path: Path) -> tuple[Path, Path]:
    a = make_repo(tmp_path / "a", {"alpha.py": "def zebra():\n    return 1\n"})
    b = make_repo(tmp_path / "b", {"beta.py": "def quokka():\n    return 2\n"})
    return a, b


def lexical(query: str, repo: Path, env: dict[str, str]) -> list[str]:
    result = codefind("search", query, "--json", "--mode", "lexical", cwd=repo, env=env)
    return [json.loads(line)["path"] for line in result.stdout.splitlines()]


def test_two_repositories_share_an_index_dir_without_mixing(tmp_path: Path) -> None:
    a, b = two_repos(tmp_path)
    env = {**os.environ, "CODEFIND_INDEX_DIR": str(tmp_path / "indexes")}
    first = json.loads(codefind("index", "--json", cwd=a, env=env, check=True).stdout)
    second = json.loads(codefind("index", "--json", cwd=b, env=env, check=True).stdout)
    assert (first["files"], second["files"], second["removed"]) == (1, 1, 0)

    assert lexical("zebra", b, env) == [], "B does not see A's files"
    assert lexical("quokka", b, env) == ["beta.py"]
    again = json.loads(codefind("index", "--json", cwd=a, env=env, check=True).stdout)
    assert (again["removed"], again["embedded"]) == (0, 0), "indexing B removed nothing of A"
    assert lexical("zebra", a, env) == ["alpha.py"]
    assert len(list((tmp_path / "indexes").iterdir())) == 2


def test_consent_for_one_repository_does_not_cover_another(tmp_path: Path) -> None:
    a, b = two_repos(tmp_path)
    with VoyageServer(api_key=VOYAGE_KEY) as voyage:
        env = {
            **os.environ,
            "CODEFIND_INDEX_DIR": str(tmp_path / "indexes"),
            "CODEFIND_BACKEND": "voyage",
            "CODEFIND_VOYAGE_URL": voyage.url,
            "VOYAGE_API_KEY": VOYAGE_KEY,
        }
        assert codefind("index", "--yes", cwd=a, env=env).returncode == 0
        sent = len(voyage.posts("/v1/embeddings"))
        refused = codefind("index", cwd=b, env=env)
        assert refused.returncode == 2 and "--yes" in refused.stderr
        assert len(voyage.posts("/v1/embeddings")) == sent, "nothing of B left the machine"


def test_a_relative_index_dir_never_lands_in_the_work_tree(tmp_path: Path) -> None:
    a, _ = two_repos(tmp_path)
    env = {**os.environ, "CODEFIND_INDEX_DIR": "indexes"}
    inside = codefind("index", cwd=a, env=env)
    assert inside.returncode == 2 and "inside the repository" in inside.stderr
    assert not (a / "indexes").exists()

    outside = codefind("index", "--json", str(a), cwd=tmp_path, env=env)
    assert outside.returncode == 0, outside.stderr
    assert (tmp_path / "indexes").is_dir() and not (a / "indexes").exists()
    assert json.loads(outside.stdout)["files"] == 1


def test_an_index_dir_that_cannot_be_used_is_a_clear_error(tmp_path: Path) -> None:
    a, _ = two_repos(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n")
    cases = [
        (tmp_path / "a-file", "is a file, not a folder"),
        (tmp_path / "a-file" / "below", "cannot be created"),
    ]
    if Path("/proc/self").is_dir():  # not writable even by root
        cases.append((Path("/proc/codefind-index"), "cannot be created"))
    for value, message in cases:
        env = {**os.environ, "CODEFIND_INDEX_DIR": str(value)}
        for args in (("index",), ("search", "alpha")):
            result = codefind(*args, cwd=a, env=env)
            assert result.returncode == 2, result.stderr
            assert "CODEFIND_INDEX_DIR" in result.stderr and message in result.stderr
            assert "unexpected error" not in result.stderr
