"""Real git repositories for tests, made with the git command line."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout (raises on failure)."""
    result = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return result.stdout


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    """Write ``files`` (path -> text or bytes) under ``root``, making folders."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_repo(root: Path, files: dict[str, str | bytes], *, commit: bool = True) -> Path:
    """A new repository at ``root`` holding ``files``, committed unless ``commit`` is false."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    write_files(root, files)
    if commit and files:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
    return root


def commit_all(repo: Path, message: str = "change") -> None:
    """Stage everything and commit."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def helper_modules(modules: int, functions: int) -> dict[str, str]:
    """``pkg/modI.py`` files of small documented functions: enough chunks for several
    embedding batches, each text distinct (so nothing comes from the cache by accident)."""
    return {
        f"pkg/mod{i}.py": "".join(
            f'def helper_{i}_{j}(value):\n    """Turn value number {j} into text {i}."""\n'
            f"    return str(value) + '{i}-{j}'\n\n\n"
            for j in range(functions)
        )
        for i in range(modules)
    }
