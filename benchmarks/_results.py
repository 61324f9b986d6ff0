"""Shared by every benchmark script: machine facts and the sections of RESULTS.md.

Each script owns one section of ``benchmarks/RESULTS.md``, delimited by HTML comments, and
rewrites only that section, so scripts can be re-run in any order without clobbering the
others' figures.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
EVAL_DIR = Path(
    os.environ.get("CODEFIND_EVAL_DIR") or Path(__file__).resolve().parents[2] / "shared" / "eval"
)
"""The public evaluation sets (CoSQA, ODEX, MCoNaLa, HumanEval-XL in codefind's format; see
``tests/data/README.md``): ``CODEFIND_EVAL_DIR``, or the folder next to the checkout where
this project's machines keep them. Too large for the repository; one small set is vendored
in ``tests/data`` for the tests."""
HEADER = (
    "# Benchmark results\n\n"
    "Written by the scripts in this folder; each section says which script and machine.\n"
    "Re-run a script to refresh its section.\n"
)


def machine_info() -> str:
    """One line describing this machine: CPU model, cores, memory, OS, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {cores} cores{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def stamp() -> str:
    """Date and git commit, for the head of a section."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    date = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{date}, commit {commit or 'uncommitted'}"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def read_section(name: str) -> str:
    """The text of the section ``name`` in RESULTS.md ("" when there is none)."""
    start, end = _markers(name)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    found = re.search(re.escape(start) + r"(.*?)" + re.escape(end), text, re.DOTALL)
    return found.group(1) if found else ""


def write_section(name: str, markdown: str) -> None:
    """Replace the section ``name`` in RESULTS.md with ``markdown`` (appended if new)."""
    start, end = _markers(name)
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def compile_codefind() -> None:
    """Compile codefind's bytecode, as ``pip install`` does, before timing whole processes.

    A source checkout run under ``PYTHONDONTWRITEBYTECODE`` (as some sandboxes set) would
    otherwise compile every module at every launch: over 100 ms that no installed copy pays.
    Python still reads the compiled files with that variable set; it only never writes them.
    """
    import sys

    package = Path(__file__).resolve().parent.parent / "codefind"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
