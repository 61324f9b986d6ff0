"""Fetch the relevance benchmark's projects and commit each as a git repository.

    python benchmarks/relevance/fetch.py            # all projects
    python benchmarks/relevance/fetch.py flask zod  # some

Archives come from the package registries only (``pip download`` for PyPI sdists, ``npm pack``
for npm tarballs, ``apt-get download`` for Debian packages that carry Rust crates and Go
modules), are checked against the sha256 in ``projects.json``, and are unpacked into
``benchmarks/data/relevance/repos/NAME`` (one commit: the archive's ``root`` folder as is).
Question line numbers refer to exactly these files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from benchmarks._trees import commit_all

WORK = HERE.parent / "data" / "relevance"


@dataclass(frozen=True)
class Project:
    """One pinned project (see ``projects.json``)."""

    name: str
    language: str
    source: str
    spec: str
    archive: str
    sha256: str
    root: str


def projects() -> list[Project]:
    """Every project of the benchmark, in ``projects.json`` order."""
    raw = json.loads((HERE / "projects.json").read_text(encoding="utf-8"))
    return [Project(**p) for p in raw["projects"]]


def repo_path(project: Project) -> Path:
    """Where the project's repository is (after ``fetch``)."""
    return WORK / "repos" / project.name


def fetch(project: Project) -> Path:
    """The project's repository, downloaded, verified and committed once."""
    repo = repo_path(project)
    if (repo / ".git").exists():
        return repo
    archive = _download(project)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        unpacked = Path(tmp)
        _unpack(project, archive, unpacked)
        source = unpacked / project.root
        if not source.is_dir():
            raise SystemExit(f"{project.name}: {project.root} is not in {archive.name}")
        if repo.exists():
            shutil.rmtree(repo)
        repo.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), repo)
    commit_all(repo, f"{project.spec} ({project.source})")
    return repo


def _download(project: Project) -> Path:
    folder = WORK / "archives"
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / project.archive
    if not archive.exists():
        if project.source == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                   ":all:", "-d", str(folder), project.spec]  # fmt: skip
        elif project.source == "npm":
            cmd = ["npm", "pack", "--silent", "--pack-destination", str(folder), project.spec]
        elif project.source == "deb":
            cmd = ["apt-get", "download", "-q", project.spec]
        else:
            raise SystemExit(f"{project.name}: unknown source {project.source}")
        subprocess.run(cmd, check=True, cwd=folder, capture_output=project.source == "deb")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != project.sha256:
        raise SystemExit(f"{archive}: sha256 {digest}, expected {project.sha256}")
    return archive


def _unpack(project: Project, archive: Path, into: Path) -> None:
    if project.source == "deb":
        subprocess.run(["dpkg-deb", "-x", str(archive), str(into)], check=True)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")


def main(argv: list[str]) -> int:
    wanted = set(argv)
    for project in projects():
        if not wanted or project.name in wanted:
            print(f"{project.name}: {fetch(project)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
