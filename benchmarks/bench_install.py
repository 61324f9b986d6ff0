"""What ``pip install`` costs: packages and disk in a fresh virtual environment.

Why it matters: the quick start is ``pip install . && codefind``, and every package pulled in
is download time, disk, and something that can break an install on a machine that only wants
the built-in model. The remote backends' clients (``openai``, and ``voyageai`` with its
langchain-core, aiohttp and pillow) are extras for that reason; this script measures what that
changed, whole environment against whole environment.

For each case it makes a new venv with this Python, runs ``pip install SPEC`` from a clean
export of the commit (``git archive``, so untracked files play no part), and counts what
``pip list`` shows and what ``du`` says the venv takes. Downloads come from pip's cache or the
configured index, so the seconds are indicative only.

Usage::

    python benchmarks/bench_install.py                  # this commit: ., .[openai], .[voyage]
    python benchmarks/bench_install.py --before dadd466 # and `.` at an earlier commit
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import machine_info, stamp, write_section

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Install:
    label: str
    packages: int
    megabytes: int
    seconds: float
    names: frozenset[str]


def export(ref: str, target: Path) -> Path:
    """The files of commit ``ref`` in ``target`` (what a clean clone has)."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def measure(label: str, source: Path, extra: str, work: Path) -> Install:
    venv = work / f"venv-{len(list(work.iterdir()))}"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    spec = f"{source}[{extra}]" if extra else str(source)
    subprocess.run([*pip, "install", "-q", "--disable-pip-version-check", spec], check=True)
    seconds = time.monotonic() - started
    listed = subprocess.run(
        [*pip, "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    names = frozenset(line.split("==")[0].lower() for line in listed)
    du = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True, check=True)
    install = Install(label, len(names), int(du.stdout.split()[0]), seconds, names)
    print(f"{label}: {install.packages} packages, {install.megabytes} MB, {seconds:.0f} s")
    shutil.rmtree(venv)
    return install


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="also measure `pip install .` at this commit")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="codefind-install-") as tmp:
        work = Path(tmp)
        venvs = work / "venvs"
        venvs.mkdir()
        now = export("HEAD", work / "now")
        runs = []
        if args.before:
            then = export(args.before, work / "before")
            runs.append(measure(f"`pip install .` at {args.before}", then, "", venvs))
        runs += [
            measure(f"`pip install .` at {head}", now, "", venvs),
            measure(f"`pip install '.[openai]'` at {head}", now, "openai", venvs),
            measure(f"`pip install '.[voyage]'` at {head}", now, "voyage", venvs),
        ]
    base = next(r for r in runs if r.label == f"`pip install .` at {head}")
    rows = [
        f"| {r.label} | {r.packages} | {r.megabytes} | {r.seconds:.0f} | "
        f"{' '.join(sorted(r.names - base.names)) or '-'} |"
        for r in runs
    ]
    lines = [
        "## Install footprint (benchmarks/bench_install.py)",
        "",
        f"{stamp()}; {machine_info()}. A fresh venv per row (`python -m venv`), `pip install`"
        " from a `git archive` of the commit; packages as `pip list` counts them (pip and "
        "setuptools included), size as `du -sm` of the venv. Seconds depend on pip's cache and "
        "the index, so they are indicative only.",
        "",
        "| install | packages | venv MB | seconds | packages beyond `pip install .` now |",
        "| --- | --- | --- | --- | --- |",
        *rows,
    ]
    write_section("install", "\n".join(lines))


if __name__ == "__main__":
    main()
