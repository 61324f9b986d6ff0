"""Launching and checking an SGLang embedding server (``codefind server start|status``).

Why codefind launches SGLang at all: the sglang backend needs a server, and the right flags
for Qwen3-Embedding are easy to get wrong (``--is-embedding``, the dtype, Matryoshka only
with an override of the model's config; see ``docs/API_NOTES.md``, "SGLang: launching
Qwen3-Embedding"). ``start_server`` runs ``python -m sglang.launch_server`` detached from the
terminal (it outlives codefind; its output goes to a log file), waits until ``GET /health``
answers 200, and returns where it listens. Where that cannot work (sglang not installed, no
NVIDIA GPU) it says what to install, or where to point codefind instead.

``server_status`` is a cheap probe of any server (``/health`` and ``/v1/models``), used by
``codefind server status``. Only the standard library is used, so both stay fast to start.
No command-line parsing here: the CLI calls these functions and prints what they return.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codefind.config import DEFAULT_SGLANG_MODEL, cache_home
from codefind.errors import BackendError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 30000
DEFAULT_WAIT_S = 900.0
"""The first start downloads the model (8 GB for the 4B), so waiting long is normal."""
MATRYOSHKA_OVERRIDE = '{"is_matryoshka": true}'
"""Lets the server accept ``dimensions`` for Qwen3-Embedding (its config does not declare
Matryoshka support). codefind itself never sends ``dimensions``: it requests native vectors
and truncates them, so the flag is for other clients sharing the server; it costs nothing."""
INSTALL_HINT = (
    "pip install 'codefind[sglang]' on a machine with an NVIDIA GPU, or point "
    "CODEFIND_SGLANG_URL at a running server (e.g. http://gpu-host:30000/v1)"
)


@dataclass(frozen=True)
class ServerHandle:
    """A launched (or already running) server.

    Attributes:
        url: Base URL for ``CODEFIND_SGLANG_URL`` (ends in ``/v1``).
        pid: Process id of the launched server; ``None`` if one was already running.
        log_path: Where the server's output goes (``None`` if not launched by codefind).
        command: The command that was run (empty if not launched).
    """

    url: str
    pid: int | None
    log_path: Path | None
    command: tuple[str, ...] = ()

    @property
    def already_running(self) -> bool:
        """Whether a healthy server was found instead of launching one."""
        return self.pid is None


@dataclass(frozen=True)
class ServerStatus:
    """What a probe of a server found.

    Attributes:
        url: The base URL probed.
        reachable: Something answered HTTP at the address.
        healthy: ``GET /health`` answered 200.
        model: The served model (``root`` of ``/v1/models``, else its ``id``), if known.
        max_model_len: The context length the server reports, if known.
        latency_ms: Round trip of ``GET /health`` in milliseconds, if it answered.
        message: One line for the user: the state and, if something is wrong, the fix.
    """

    url: str
    reachable: bool
    healthy: bool
    model: str | None
    max_model_len: int | None
    latency_ms: float | None
    message: str


def server_url(host: str, port: int) -> str:
    """The base URL clients use for a server bound to ``host``:``port``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"


def server_command(
    model: str = DEFAULT_SGLANG_MODEL,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    extra: Sequence[str] = (),
    python: str | None = None,
) -> list[str]:
    """The command that launches SGLang for a Qwen3-Embedding model.

    Args:
        model: Hugging Face id or local path of the model.
        port: Port to listen on.
        host: Address to bind (``0.0.0.0`` to serve other machines).
        extra: More ``sglang.launch_server`` flags, e.g. ``("--dtype", "bfloat16")``.
        python: The interpreter (default: the one running codefind, where sglang must be).
    """
    return [
        python or sys.executable,
        "-m",
        "sglang.launch_server",
        "--model-path",
        model,
        "--is-embedding",
        "--host",
        host,
        "--port",
        str(port),
        "--json-model-override-args",
        MATRYOSHKA_OVERRIDE,
        *extra,
    ]


def check_sglang_installed() -> None:
    """Raise ``BackendError`` with the install hint when ``sglang`` cannot be imported."""
    if importlib.util.find_spec("sglang") is None:
        raise BackendError(f"SGLang is not installed here. {INSTALL_HINT}.")


def check_gpu(extra: Sequence[str] = ()) -> None:
    """Raise ``BackendError`` unless an NVIDIA GPU is visible (skipped for ``--device`` other
    than ``cuda`` in ``extra``, e.g. SGLang's Xeon CPU build)."""
    device = _flag_value(extra, "--device")
    if device is not None and device != "cuda":
        return
    nvidia_smi = shutil.which("nvidia-smi")
    hint = (
        "SGLang needs an NVIDIA GPU: run `codefind server start` on a GPU machine and set "
        "CODEFIND_SGLANG_URL=http://that-machine:30000/v1 here, or use --backend local or voyage."
    )
    if nvidia_smi is None:
        raise BackendError(f"No NVIDIA GPU found (nvidia-smi is not installed). {hint}")
    try:
        result = subprocess.run(
            [nvidia_smi, "-L"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"nvidia-smi failed ({exc}). {hint}") from exc
    if result.returncode != 0 or "GPU" not in result.stdout:
        raise BackendError(f"No NVIDIA GPU found (nvidia-smi lists none). {hint}")


def default_log_path(port: int) -> Path:
    """``$XDG_CACHE_HOME/codefind/sglang/server-PORT.log``."""
    return cache_home() / "sglang" / f"server-{port}.log"


def start_server(
    model: str = DEFAULT_SGLANG_MODEL,
    *,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    extra: Sequence[str] = (),
    log_path: Path | None = None,
    wait_s: float = DEFAULT_WAIT_S,
    poll_s: float = 2.0,
    on_wait: Callable[[float], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerHandle:
    """Launch SGLang for ``model`` in the background and wait until it is healthy.

    Args:
        model: Hugging Face id or local path.
        port: Port to listen on.
        host: Address to bind.
        extra: More ``sglang.launch_server`` flags.
        log_path: Where the server writes its output (default ``default_log_path(port)``).
        wait_s: How long to wait for ``/health`` (the first start downloads the model).
        poll_s: Seconds between health checks.
        on_wait: Called with the seconds waited so far after each check (for progress).
        env: Environment of the server (default: codefind's own).

    Returns:
        The running server; ``already_running`` when a healthy server was already there.

    Raises:
        BackendError: sglang missing, no GPU, the port taken by something else, the server
            exited during start-up (with the end of its log), or not healthy within ``wait_s``.
    """
    url = server_url(host, port)
    found = server_status(url, timeout=2.0)
    if found.healthy:
        return ServerHandle(url=url, pid=None, log_path=None)
    if found.reachable or _port_in_use(host, port):
        raise BackendError(
            f"Port {port} is in use by something that is not a healthy SGLang server. "
            "Choose another port with --port, or stop that program."
        )
    check_sglang_installed()
    check_gpu(extra)
    command = server_command(model, port, host, extra)
    log_path = log_path or default_log_path(port)
    process = _launch(command, log_path, env)
    handle = ServerHandle(url=url, pid=process.pid, log_path=log_path, command=tuple(command))
    _wait_healthy(process, handle, wait_s, poll_s, on_wait)
    return handle


def server_status(url: str, *, api_key: str | None = None, timeout: float = 5.0) -> ServerStatus:
    """Probe the SGLang server whose base URL (``.../v1``) is ``url``.

    Never raises for network problems: an unreachable server is a status with a message.
    """
    url = url.rstrip("/")
    start = time.perf_counter()
    health = _get(_root(url) + "/health", api_key, timeout)
    latency = (time.perf_counter() - start) * 1000
    if health.status is None:
        return ServerStatus(
            url,
            False,
            False,
            None,
            None,
            None,
            f"No server answers at {url} ({health.reason}). Start one with `codefind server "
            "start` on a machine with an NVIDIA GPU, or set CODEFIND_SGLANG_URL to a running "
            "server.",
        )
    models = _get(url + "/models", api_key, timeout)
    model, context = _model_card(models.body)
    healthy = health.status == 200
    return ServerStatus(
        url,
        True,
        healthy,
        model,
        context,
        latency,
        _status_message(url, health.status, models.status, model, context, latency),
    )


# --- internals -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    status: int | None
    body: Any = None
    reason: str = ""


def _get(url: str, api_key: str | None, timeout: float) -> _Response:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _Response(response.status, _json(response.read()))
    except urllib.error.HTTPError as exc:
        return _Response(exc.code, _json(exc.read()))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return _Response(None, reason=str(getattr(reason, "strerror", None) or reason))


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _root(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _model_card(body: Any) -> tuple[str | None, int | None]:
    cards = body.get("data") if isinstance(body, dict) else None
    if not isinstance(cards, list) or not cards or not isinstance(cards[0], dict):
        return None, None
    card = cards[0]
    name = card.get("root") or card.get("id")
    length = card.get("max_model_len")
    return (str(name) if name else None), (length if isinstance(length, int) else None)


def _status_message(
    url: str,
    health: int,
    models: int | None,
    model: str | None,
    context: int | None,
    latency: float,
) -> str:
    if health == 503:
        return (
            f"The server at {url} is starting (health check 503): the model may still be loading."
        )
    if models in (401, 403):
        return (
            f"The server at {url} wants an API key ({models}): set CODEFIND_SGLANG_API_KEY to "
            "its --api-key."
        )
    if health != 200:
        return f"The server at {url} is not healthy (health check {health}); check its log."
    if model is None:
        return (
            f"Something healthy answers at {url} but /v1/models says nothing about a model: "
            "is it an SGLang server?"
        )
    length = f", context {context:,} tokens" if context else ""
    return f"SGLang at {url} serves {model}{length}; answered in {latency:.0f} ms."


def _port_in_use(host: str, port: int) -> bool:
    address = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return True
    except OSError:
        return False


def _launch(
    command: list[str], log_path: Path, env: Mapping[str, str] | None
) -> subprocess.Popen[bytes]:
    """Start the server detached from codefind's terminal (Ctrl-C here does not stop it)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(env) if env is not None else None,
            )
        except OSError as exc:
            raise BackendError(f"Could not start SGLang ({exc.strerror}): {command[0]}") from exc


def _wait_healthy(
    process: subprocess.Popen[bytes],
    handle: ServerHandle,
    wait_s: float,
    poll_s: float,
    on_wait: Callable[[float], None] | None,
) -> None:
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        code = process.poll()
        if code is not None:
            raise BackendError(
                f"SGLang exited during start-up (status {code}). The end of its log "
                f"({handle.log_path}):\n{_tail(handle.log_path)}"
            )
        if server_status(handle.url, timeout=min(5.0, max(poll_s, 0.5))).healthy:
            return
        if waited >= wait_s:
            raise BackendError(
                f"SGLang (pid {handle.pid}) is not healthy after {wait_s:.0f} s; it keeps "
                f"starting in the background (downloading the model can take a while). "
                f"Watch {handle.log_path}, check with `codefind server status`, or stop it "
                f"with `kill {handle.pid}`."
            )
        if on_wait is not None:
            on_wait(waited)
        time.sleep(poll_s)


def _tail(path: Path | None, lines: int = 20) -> str:
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(log unreadable)"
    return "\n".join(text.splitlines()[-lines:])


def _flag_value(args: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None
