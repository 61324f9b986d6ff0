"""Shared fixtures: every test runs with its own config, cache and index locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitutil import make_repo


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads the user's config, cache or keys, or writes outside its temp dirs."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    for name in (
        "CODEFIND_BACKEND",
        "CODEFIND_MODEL",
        "CODEFIND_DIM",
        "CODEFIND_MODE",
        "CODEFIND_INDEX_DIR",
        "CODEFIND_CONFIG",
        "CODEFIND_SGLANG_URL",
        "CODEFIND_SGLANG_MODEL",
        "CODEFIND_SGLANG_API_KEY",
        "CODEFIND_SGLANG_INSTRUCTION",
        "CODEFIND_SGLANG_RERANK_URL",
        "CODEFIND_VOYAGE_MODEL",
        "CODEFIND_VOYAGE_URL",
        "VOYAGE_API_KEY",
        "CODEFIND_LOCAL_MODEL",
        "OPENAI_API_KEY",
        "VISUAL",
        "EDITOR",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def git_repo(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory: ``git_repo({"a.py": "..."})`` makes a committed repository in tmp_path."""

    def factory(files: dict[str, str | bytes], *, commit: bool = True, name: str = "repo") -> Path:
        return make_repo(tmp_path / name, files, commit=commit)

    return factory
