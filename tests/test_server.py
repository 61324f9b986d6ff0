"""Launching and probing SGLang servers.

SGLang itself needs an NVIDIA GPU, so the launch tests put a stand-in ``sglang`` package (a
small HTTP server with SGLang's ``/health`` and ``/v1/models``) and a stand-in ``nvidia-smi`` on
the paths: ``start_server`` runs the real subprocess, health polling and log handling.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from codefind.embeddings.sglang.launcher import (
    MATRYOSHKA_OVERRIDE,
    ServerHandle,
    check_gpu,
    server_command,
    server_status,
    start_server,
)
from codefind.errors import BackendError
from tests.fakeservers import SGLangServer, VoyageServer, dead_url

FAKE_LAUNCH_SERVER = textwrap.dedent(
    """
    import argparse, json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    parser = argparse.ArgumentParser()
    for flag in ("--model-path", "--host", "--json-model-override-args", "--fail"):
        parser.add_argument(flag)
    parser.add_argument("--port", type=int)
    parser.add_argument("--health", type=int, default=200)
    parser.add_argument("--is-embedding", action="store_true")
    args = parser.parse_args()
    print("ARGV " + json.dumps(sys.argv[1:]), flush=True)
    if args.fail:
        print(args.fail, flush=True)
        sys.exit(3)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/health":
                status, body = args.health, b""
            else:
                card = {"id": args.model_path, "root": args.model_path, "max_model_len": 40960}
                status, body = 200, json.dumps({"object": "list", "data": [card]}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    HTTPServer((args.host, args.port), Handler).serve_forever()
    """
)


@pytest.fixture
def fake_sglang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A stand-in sglang package and nvidia-smi; returns the server's environment."""
    package = tmp_path / "site" / "sglang"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "launch_server.py").write_text(FAKE_LAUNCH_SERVER)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H200 (UUID: GPU-fake)'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return {**os.environ, "PYTHONPATH": str(tmp_path / "site")}


@pytest.fixture
def free_port() -> int:
    return int(dead_url("").rsplit(":", 1)[1])


@contextlib.contextmanager
def stopped_afterwards(pids: list[int]) -> Iterator[list[int]]:
    """Stops (by pid) the servers a test launched."""
    try:
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)


def test_the_command_launches_an_embedding_server() -> None:
    command = server_command("Qwen/Qwen3-Embedding-8B", 31000, "0.0.0.0", ["--dtype", "bfloat16"])
    assert command[:3] == [sys.executable, "-m", "sglang.launch_server"]
    assert command[command.index("--model-path") + 1] == "Qwen/Qwen3-Embedding-8B"
    assert "--is-embedding" in command
    assert command[command.index("--port") + 1] == "31000"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert json.loads(command[command.index("--json-model-override-args") + 1]) == {
        "is_matryoshka": True
    }
    assert command[-2:] == ["--dtype", "bfloat16"]


def test_without_sglang_it_says_what_to_install_or_where_to_point(free_port: int) -> None:
    with pytest.raises(BackendError) as caught:
        start_server(port=free_port)
    message = caught.value.message
    assert "pip install 'codefind[sglang]'" in message and "NVIDIA GPU" in message
    assert "CODEFIND_SGLANG_URL" in message


def test_without_a_gpu_it_says_where_to_run_it(
    fake_sglang: dict[str, str], free_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BackendError) as caught:
        start_server(port=free_port, env=fake_sglang)
    assert "No NVIDIA GPU found" in caught.value.message
    assert "CODEFIND_SGLANG_URL" in caught.value.message
    check_gpu(["--device", "cpu"])  # SGLang's CPU build needs no GPU check


def test_start_launches_waits_for_health_and_returns_the_url(
    fake_sglang: dict[str, str], free_port: int, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    waited: list[float] = []
    with stopped_afterwards([]) as pids:
        handle = start_server(
            "Qwen/Qwen3-Embedding-0.6B",
            port=free_port,
            log_path=log,
            wait_s=60,
            poll_s=0.05,
            on_wait=waited.append,
            env=fake_sglang,
        )
        assert handle.pid is not None
        pids.append(handle.pid)
        assert handle.url == f"http://127.0.0.1:{free_port}/v1" and not handle.already_running

        status = server_status(handle.url)
        assert status.healthy and status.model == "Qwen/Qwen3-Embedding-0.6B"
        argv = json.loads(log.read_text().split("ARGV ", 1)[1].splitlines()[0])
        assert "--is-embedding" in argv and MATRYOSHKA_OVERRIDE in argv  # passed without a shell

        again = start_server(port=free_port, env=fake_sglang)
        assert again == ServerHandle(url=handle.url, pid=None, log_path=None)
        assert again.already_running


def test_a_server_that_dies_during_start_up_shows_its_log(
    fake_sglang: dict[str, str], free_port: int, tmp_path: Path
) -> None:
    with pytest.raises(BackendError) as caught:
        start_server(
            port=free_port,
            extra=["--fail", "torch.OutOfMemoryError: CUDA out of memory"],
            log_path=tmp_path / "server.log",
            poll_s=0.05,
            env=fake_sglang,
        )
    assert "exited during start-up (status 3)" in caught.value.message
    assert "CUDA out of memory" in caught.value.message


def test_a_server_that_never_gets_healthy_is_left_running_with_instructions(
    fake_sglang: dict[str, str], free_port: int, tmp_path: Path
) -> None:
    with pytest.raises(BackendError) as caught:
        start_server(
            port=free_port,
            extra=["--health", "503"],
            log_path=tmp_path / "server.log",
            wait_s=0.3,
            poll_s=0.05,
            env=fake_sglang,
        )
    message = caught.value.message
    found = re.search(r"kill (\d+)", message)
    assert found is not None
    with stopped_afterwards([int(found.group(1))]) as pids:
        os.kill(pids[0], 0)  # still running: it may just be downloading the model
        assert "not healthy after" in message and "codefind server status" in message


def test_a_port_taken_by_something_else_is_refused() -> None:
    other = VoyageServer()  # answers HTTP, but not SGLang's /health
    with other, pytest.raises(BackendError, match=f"Port {other.port} is in use"):
        start_server(port=other.port)


def test_status_reports_model_and_context_length() -> None:
    with SGLangServer(model="Qwen/Qwen3-Embedding-4B", context_length=40960) as srv:
        status = server_status(srv.url)
    assert status.reachable and status.healthy
    assert status.model == "Qwen/Qwen3-Embedding-4B" and status.max_model_len == 40960
    assert status.latency_ms is not None and status.latency_ms >= 0
    assert "Qwen/Qwen3-Embedding-4B" in status.message and "40,960" in status.message


def test_status_of_a_starting_server() -> None:
    with SGLangServer(health_status=503) as srv:
        status = server_status(srv.url + "/")
    assert status.reachable and not status.healthy
    assert "starting" in status.message


def test_status_of_a_server_that_wants_a_key() -> None:
    with SGLangServer(api_key="server-secret-123") as srv:
        status = server_status(srv.url)
        assert "CODEFIND_SGLANG_API_KEY" in status.message and status.model is None
        assert server_status(srv.url, api_key="server-secret-123").model is not None


def test_status_of_a_dead_address_says_what_to_do() -> None:
    url = dead_url()
    status = server_status(url, timeout=2)
    assert not status.reachable and not status.healthy and status.model is None
    assert f"No server answers at {url}" in status.message
    assert "codefind server start" in status.message
