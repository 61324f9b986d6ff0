"""Running the installed ``codefind`` command in tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def codefind_exe() -> str:
    """The ``codefind`` script of the environment running the tests."""
    return shutil.which("codefind", path=str(Path(sys.executable).parent)) or "codefind"


def codefind(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = False,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run ``codefind ARGS`` and capture its output (``check`` raises on a non-zero exit)."""
    result = subprocess.run(
        [codefind_exe(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"codefind {args} failed ({result.returncode}): {result.stderr}")
    return result
