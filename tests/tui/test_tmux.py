"""End to end: the installed ``codefind`` command in a real terminal (tmux).

Starts ``codefind`` in a detached tmux session on a private server (``-L``, so the test's
environment, with its isolated HOME and XDG folders, is what the app sees), types a query
with ``send-keys``, reads the screen with ``capture-pane`` until the expected file shows, and
quits with Esc. Skipped where tmux is not installed (CI installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def codefind_command() -> str:
    script = Path(sys.executable).with_name("codefind")
    found = str(script) if script.exists() else shutil.which("codefind")
    if found is None:
        pytest.skip("the codefind entry point is not installed")
    return found


class Tmux:
    """One private tmux server with one session."""

    def __init__(self, name: str) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-L", name, "-f", "/dev/null"]
        self.name = name

    def run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([*self.base, *args], capture_output=True, text=True, check=check)
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name, check=False)

    def wait_for(self, text: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear; the screen shows:\n{self.screen()}")

    def alive(self) -> bool:
        return subprocess.run([*self.base, "has-session", "-t", self.name],
                              capture_output=True).returncode == 0  # fmt: skip


def test_codefind_in_a_terminal(small_repo: Path, tmp_path: Path) -> None:
    exit_file = tmp_path / "exit-status"
    tmux = Tmux(f"codefind-test-{uuid.uuid4().hex[:8]}")
    command = f"'{codefind_command()}' .; echo $? > '{exit_file}'"
    tmux.run("new-session", "-d", "-x", "120", "-y", "35", "-s", tmux.name, "-c",
             str(small_repo), command)  # fmt: skip
    try:
        tmux.wait_for("Search code by meaning")
        tmux.wait_for("5 files")  # indexed by the app itself
        tmux.run("send-keys", "-t", tmux.name, "-l", "add sales tax to the sum")
        screen = tmux.wait_for("billing/invoice.py:")
        rows = [line.split("│")[0] for line in screen.splitlines() if ".py:" in line]
        assert "billing/invoice.py:" in rows[0]
        tmux.run("send-keys", "-t", tmux.name, "Escape")
        deadline = time.monotonic() + 30
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exit_file.read_text().strip() == "0"
    finally:
        tmux.run("kill-server", check=False)
