"""The resident service as users run it: real ``codefind serve`` processes, real sockets,
real repositories and the built-in model; ``codefind search`` run as a whole process.

Waits are bounded polls for a behaviour (the service answers, a file is found), never
assertions about time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codefind.config import load_settings
from codefind.service.client import endpoint
from codefind.service.protocol import lock_path, runtime_dir
from tests.cliutil import codefind, codefind_exe
from tests.tui.conftest import SOURCES, build_index

QUERY = "add sales tax to the sum"


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private, short runtime folder (socket paths are limited to ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="cf-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.delenv("CODEFIND_SERVICE", raising=False)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    path = git_repo(SOURCES)
    build_index(path)
    return path


class Served:
    """A ``codefind serve`` process; stopped (killed if need be) at the end of the test."""

    def __init__(self, repo: Path, *args: str) -> None:
        self.repo = repo
        self.process = subprocess.Popen(
            [codefind_exe(), "serve", str(repo), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self) -> dict[str, object]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = codefind("serve", "--status", str(self.repo), cwd=self.repo)
            if status.returncode == 0:
                return {"line": status.stdout}
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        raise AssertionError("the service did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(runtime: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(repo: Path, *args: str) -> Served:
        served = Served(repo, *args)
        started.append(served)
        served.wait_ready()
        return served

    yield start
    for served in started:
        served.stop()


def search(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return codefind("search", *args, "--debug", cwd=repo, env=env)


def test_search_is_answered_by_the_running_service(
    repo: Path, serve: Callable[..., Served]
) -> None:
    served = serve(repo)
    by_service = search(repo, QUERY, "--json")
    assert by_service.returncode == 0, by_service.stderr
    assert f"answered by the service (pid {served.process.pid}" in by_service.stderr
    in_process = search(repo, QUERY, "--json", env={**os.environ, "CODEFIND_SERVICE": "off"})
    assert "answered by the service" not in in_process.stderr
    hits = [json.loads(line) for line in by_service.stdout.splitlines()]
    assert hits == [json.loads(line) for line in in_process.stdout.splitlines()]
    assert hits[0]["path"] == "billing/invoice.py"


def test_filters_and_formats_go_through_the_service(
    repo: Path, serve: Callable[..., Served]
) -> None:
    serve(repo)
    result = search(repo, "cache", "storage/", "--format", "grep", "-n", "3")
    assert "answered by the service" in result.stderr
    assert result.stdout and all(line.startswith("storage/") for line in result.stdout.splitlines())
    none = search(repo, "zzqxjvk")
    assert none.returncode == 1 and "no good match" in none.stderr


def test_the_socket_and_its_folder_are_private(repo: Path, serve: Callable[..., Served]) -> None:
    serve(repo)
    where = endpoint(repo, load_settings())
    assert stat.S_IMODE(os.stat(where.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(where.socket.parent).st_mode) == 0o700
    assert stat.S_ISSOCK(os.lstat(where.socket).st_mode)


def test_a_search_answered_by_the_service_loads_no_model_and_no_numpy(
    repo: Path, serve: Callable[..., Served], tmp_path: Path
) -> None:
    serve(repo)
    out = tmp_path / "modules.txt"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(out)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "from codefind.cli import main\n"
        f"sys.exit(main(['search', {QUERY!r}, '--debug']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and "answered by the service" in result.stderr, result.stderr
    modules = set(out.read_text().split())
    heavy = {"numpy", "onnxruntime", "usearch", "textual", "tokenizers", "tree_sitter", "sqlite3"}
    assert not heavy & modules


def test_a_file_created_while_serving_is_found_within_seconds(
    repo: Path, serve: Callable[..., Served]
) -> None:
    serve(repo)
    (repo / "net").mkdir(exist_ok=True)
    (repo / "net" / "mail.py").write_text(
        "def send_welcome_email(user):\n"
        '    """Email a greeting to a user who just signed up."""\n'
        "    return user\n"
    )
    deadline = time.monotonic() + 60
    while True:
        found = search(repo, "send_welcome_email", "--format", "grep")
        if found.stdout.startswith("net/mail.py:1:"):
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    assert "answered by the service" in found.stderr


def test_a_crashed_service_is_detected_and_replaced(
    repo: Path, serve: Callable[..., Served]
) -> None:
    first = serve(repo)
    where = endpoint(repo, load_settings())
    first.process.kill()
    first.process.wait()
    assert where.socket.exists()  # left behind by the crash
    fallback = search(repo, QUERY)
    assert fallback.returncode == 0 and "answered by the service" not in fallback.stderr
    assert "nobody listens" in fallback.stderr  # --debug says why
    second = serve(repo)
    answered = search(repo, QUERY)
    assert f"answered by the service (pid {second.process.pid}" in answered.stderr


def test_a_service_of_another_version_is_not_trusted_and_is_replaced(
    repo: Path, serve: Callable[..., Served], runtime: Path
) -> None:
    """A process that holds the lock and answers as codefind 0.0.1 (an older install)."""
    where = endpoint_created(repo)
    impostor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            IMPOSTOR,
            str(where.socket),
            str(lock_path(where.socket.parent, where.key)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert impostor.stdout is not None and impostor.stdout.readline().strip() == "ready"
        fallback = search(repo, QUERY)
        assert fallback.returncode == 0 and "not this codefind's" in fallback.stderr
        served = serve(repo)  # asks it to stop, then SIGTERM: it ignores stop, obeys SIGTERM
        assert impostor.wait(30) == -signal.SIGTERM
        answered = search(repo, QUERY)
        assert f"answered by the service (pid {served.process.pid}" in answered.stderr
    finally:
        impostor.kill()
        impostor.wait()


IMPOSTOR = """
import fcntl, json, os, socket, sys
sock_path, lock = sys.argv[1], sys.argv[2]
fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n".encode())
server = socket.socket(socket.AF_UNIX)
os.umask(0o177)
server.bind(sock_path)
server.listen()
print("ready", flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        conn.recv(65536)
        conn.sendall(json.dumps({"ok": True, "protocol": 1, "version": "0.0.1"}).encode() + b"\\n")
"""


def endpoint_created(repo: Path):  # type: ignore[no-untyped-def]
    runtime_dir(create=True)
    return endpoint(repo, load_settings())


def test_two_repositories_have_two_services(
    git_repo: Callable[..., Path], serve: Callable[..., Served]
) -> None:
    one = git_repo(SOURCES, name="one")
    two = git_repo({"only_here.py": "def launch_rocket(fuel):\n    return fuel * 2\n"}, name="two")
    build_index(one)
    build_index(two)
    first, second = serve(one), serve(two)
    assert first.process.pid != second.process.pid
    a = search(one, "launch_rocket", "--format", "grep")
    b = search(two, "launch_rocket", "--format", "grep")
    assert f"pid {first.process.pid}" in a.stderr and "only_here.py" not in a.stdout
    assert f"pid {second.process.pid}" in b.stderr and b.stdout.startswith("only_here.py:1:")


def test_serve_again_says_it_runs_and_stop_stops_it(
    repo: Path, serve: Callable[..., Served]
) -> None:
    served = serve(repo)
    again = codefind("serve", str(repo), cwd=repo)
    assert again.returncode == 0 and "already running" in again.stderr
    stopped = codefind("serve", "--stop", str(repo), cwd=repo)
    assert stopped.returncode == 0
    assert served.process.wait(30) == 0
    assert not endpoint(repo, load_settings()).socket.exists()
    assert codefind("serve", "--status", str(repo), cwd=repo).returncode == 1


def test_an_idle_service_exits_by_itself(repo: Path, runtime: Path) -> None:
    served = Served(repo, "--idle-timeout", "1")
    try:
        served.wait_ready()
        assert served.process.wait(60) == 0
        assert not endpoint(repo, load_settings()).socket.exists()
    finally:
        served.stop()


def test_detach_starts_one_in_the_background(repo: Path, runtime: Path) -> None:
    started = codefind("serve", "--detach", str(repo), cwd=repo)
    assert started.returncode == 0 and "service ready" in started.stderr
    try:
        assert "answered by the service" in search(repo, QUERY).stderr
    finally:
        assert codefind("serve", "--stop", str(repo), cwd=repo).returncode == 0


def test_nothing_listens_on_a_network_port(repo: Path, serve: Callable[..., Served]) -> None:
    served = serve(repo)
    fds = Path(f"/proc/{served.process.pid}/fd")
    links = [os.readlink(fd) for fd in fds.iterdir()]
    sockets = {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    assert sockets  # the Unix socket, at least
    tcp = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
    rows = [line.split() for line in tcp.splitlines() if line.strip() and ":" in line.split()[1]]
    listening = {row[9] for row in rows if row[3] == "0A"}  # state 0A: LISTEN
    assert not sockets & listening


def test_codefind_service_auto_starts_one_for_the_next_search(repo: Path, runtime: Path) -> None:
    auto = {**os.environ, "CODEFIND_SERVICE": "auto"}
    first = search(repo, QUERY, env=auto)
    assert first.returncode == 0 and "answered by the service" not in first.stderr
    try:
        deadline = time.monotonic() + 120
        while codefind("serve", "--status", str(repo), cwd=repo).returncode != 0:
            assert time.monotonic() < deadline, "no service was started"
            time.sleep(0.2)
        assert "answered by the service" in search(repo, QUERY, env=auto).stderr
    finally:
        codefind("serve", "--stop", str(repo), cwd=repo)
    on = search(repo, QUERY)  # the default (on) never starts one
    assert "answered by the service" not in on.stderr
