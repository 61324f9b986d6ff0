"""Real git repositories for the benchmarks and the training measurements.

Every benchmark works on a real repository: files copied from somewhere (the standard
library, a package's wheel) and committed, as a user's checkout would be. The git identity
is fixed here so that commits work on a machine with no git config.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

# The packages whose sources are the repo-mined evaluation sets (quality.py's "repo:" rows,
# training/measure.py's "repo_" rows): pinned, and never trained on.
MINED_PACKAGES = {
    "rich": "rich==15.0.0",
    "click": "click==8.5.1",
    "sqlalchemy": "SQLAlchemy==2.1.9",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "codefind-bench",
    "GIT_AUTHOR_EMAIL": "bench@codefind.invalid",
    "GIT_COMMITTER_NAME": "codefind-bench",
    "GIT_COMMITTER_EMAIL": "bench@codefind.invalid",
}


def git(repo: Path, *args: str) -> None:
    """Run one git command in ``repo`` (quietly; a failure raises)."""
    subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, env={**os.environ, **GIT_ENV}
    )


def commit_all(repo: Path, message: str) -> None:
    """Commit everything in ``repo``, making it a repository first if it is not one."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def package_repo(name: str, requirement: str, work: Path) -> Path:
    """The ``.py`` files of a PyPI package's wheel, committed in ``work/repos/NAME``.

    Downloaded once (``pip download``, wheel only, no dependencies) and reused.
    """
    repo = work / "repos" / name
    if (repo / ".git").exists():
        return repo
    wheels = work / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
         "-d", str(wheels), requirement],
        check=True,
    )  # fmt: skip
    wheel = next(p for p in wheels.glob("*.whl") if p.name.lower().startswith(name.lower()))
    repo.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith(".py") and ".dist-info/" not in member:
                archive.extract(member, repo)
    commit_all(repo, requirement)
    return repo
