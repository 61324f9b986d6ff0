"""``codefind serve``: one warm process per repository and settings, on a private socket.

Life cycle, and why:

- **Start.** The service takes an exclusive ``flock`` on its key's lock file and holds it
  while it lives. The kernel drops the lock when the process dies however it dies, so
  "is a service alive?" never depends on a pid that may have been reused. A socket file
  left by a crashed service is removed by the next one to take the lock. If the lock is
  held and the holder answers ``hello`` as this codefind would, there is nothing to do
  (``AlreadyRunning``); if it holds the lock but does not answer, or answers as another
  version, it is stale: it is asked to stop, then sent SIGTERM, then SIGKILL, and replaced.
- **Warm.** Before it listens, the service opens the store, loads the model and runs one
  search, so the first real query costs what every later one does.
- **Live.** ``codefind.live.LiveIndex`` watches the work tree and indexes changes in the
  background. A search that may wait (``wait`` > 0, which ``codefind search`` sends unless
  ``--no-update``) waits for changes already seen to be indexed, at most that long, and
  says so in a warning when it could not.
- **Exit.** After ``idle_timeout`` seconds without a request (default 30 minutes: a model
  and an index in memory are 150-400 MB that an idle machine should get back), when the
  work tree is deleted, on SIGTERM/SIGINT, or on a ``stop`` request. The socket is removed
  on the way out (only if it is still this service's own).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from codefind.config import Settings
from codefind.errors import CodefindError
from codefind.live import LiveIndex, LiveState
from codefind.models import SCOPES, SEARCH_MODES, Scope, SearchMode
from codefind.service.client import Endpoint, Unavailable, status
from codefind.service.protocol import (
    IDLE_TIMEOUT,
    LineReader,
    ServiceError,
    hit_to_wire,
    identity,
    lock_path,
    runtime_dir,
    send,
    service_key,
    socket_path,
)

if TYPE_CHECKING:
    from codefind.search import SearchService
    from codefind.workspace import Workspace

MAX_WAIT = 120.0
"""The longest a search request may ask to wait for the index to be current."""
STOP_GRACE = 5.0
"""Seconds a stale service gets to exit after each of: stop request, SIGTERM."""
WARM_UP_QUERY = "read the configuration file"


class AlreadyRunning(ServiceError):
    """A trustworthy service for this repository and settings is running already."""

    def __init__(self, pid: int, sock: Path) -> None:
        super().__init__(f"A codefind service is already running for this repository (pid {pid}).")
        self.pid = pid
        self.socket = sock


class Service:
    """The warm state of one service and the answers to its requests (thread-safe)."""

    def __init__(self, workspace: Workspace, key: str, *, watch: bool = True) -> None:
        self.workspace = workspace
        self.key = key
        self.started = time.time()
        self.last_request = time.monotonic()
        self.live = LiveIndex(workspace, watch=watch)
        self._search: SearchService | None = None
        self.stopping = threading.Event()

    def warm_up(self) -> None:
        """Open the store, load the model and search once, then start the live index.

        Raises:
            CodefindError: The index or the backend cannot be used.
        """
        self._search = self.workspace.search_service()
        self.workspace.embedder.embed_query(WARM_UP_QUERY)
        self._search.search(WARM_UP_QUERY, limit=1)
        self.live.start()

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to one request (errors become ``{"ok": false, "error": ...}``)."""
        self.last_request = time.monotonic()
        op = request.get("op")
        try:
            if op == "hello":
                return self._hello()
            if op == "search":
                return self._search_request(request)
            if op == "stop":
                self.stopping.set()
                return {"ok": True}
        except CodefindError as exc:
            return {"ok": False, "error": exc.message, "title": exc.title}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"Bad request: {exc}"}
        return {"ok": False, "error": f"Unknown request {op!r}."}

    def _hello(self) -> dict[str, Any]:
        state = self.live.state
        return {
            "ok": True,
            **identity(self.key, self.workspace.root),
            "pid": os.getpid(),
            "started": self.started,
            "backend": self.workspace.settings.backend,
            "model": self.workspace.settings.model,
            "index": state_json(state),
        }

    def _search_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        from codefind.search import SearchFilters

        mode = _choice(request["mode"], SEARCH_MODES, "mode")
        scope = _choice(request.get("scope", "auto"), SCOPES, "scope")
        wait = min(MAX_WAIT, max(0.0, float(request.get("wait", 0.0))))
        warnings: list[str] = []
        if wait and not self.live.wait_current(wait):
            state = self.live.state
            if state.error:
                warnings.append(f"The index could not be updated: {state.error}")
            else:
                warnings.append(
                    "The index is still being updated; these hits may miss the newest changes."
                )
        filters = SearchFilters(
            paths=tuple(str(p) for p in request.get("paths", ())),
            globs=tuple(str(g) for g in request.get("globs", ())),
            languages=tuple(str(lang) for lang in request.get("languages", ())),
        )
        assert self._search is not None
        result = self._search.search(
            str(request["query"]),
            limit=int(request["limit"]),
            mode=cast(SearchMode, mode),
            filters=filters,
            scope=cast(Scope, scope),
        )
        tr = result.translation
        return {
            "ok": True,
            "mode": result.mode,
            "hits": [hit_to_wire(h) for h in result.hits],
            "translation": {
                "changed": tr.changed,
                "text": tr.text,
                "alternatives": list(tr.alternatives),
                "lines": list(tr.explain()) if tr.changed else [],
            },
            "semantic": result.semantic,
            "timings_ms": dict(result.timings_ms),
            "warnings": [*warnings, *result.warnings],
        }

    def close(self) -> None:
        """Stop the live index and release the store and the model."""
        self.live.stop()
        self.workspace.close()


def state_json(state: LiveState) -> dict[str, Any]:
    """The live index's state as JSON (for ``hello`` and the MCP status tool)."""
    return {
        "current": state.current,
        "updating": state.updating,
        "pending": state.pending,
        "updates": state.updates,
        "current_since": state.current_since,
        "error": state.error,
        "watching": state.watching,
        "watch_error": state.watch_error,
    }


def _choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}")
    return value


# --- running ----------------------------------------------------------------------------------


def serve(
    path: Path,
    settings: Settings,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    on_ready: Callable[[Endpoint, Service], None] | None = None,
) -> int:
    """Run the service for the repository containing ``path`` until it should exit.

    Returns:
        0 (stopped, idle, or the work tree went away).

    Raises:
        AlreadyRunning: A trustworthy service for this key runs already.
        ServiceError: The runtime folder cannot be used or a stale service would not exit.
        CodefindError: The repository, the index or the backend cannot be used.
    """
    from codefind.workspace import Workspace

    workspace = Workspace.for_repository(path, settings)
    key = service_key(workspace.location.index_dir, workspace.root, settings)
    folder = runtime_dir(create=True)
    assert folder is not None
    where = Endpoint(workspace.root, key, socket_path(folder, key))
    lock_fd = _take_lock(lock_path(folder, key), where)
    try:
        service = Service(workspace, key)
        try:
            service.warm_up()
            listener, inode = _listen(where.socket)
            try:
                if on_ready is not None:
                    on_ready(where, service)
                _accept_loop(listener, service, idle_timeout)
            finally:
                _remove_socket(listener, where.socket, inode)
        finally:
            service.close()
    finally:
        os.close(lock_fd)  # releases the lock
    return 0


def _take_lock(path: Path, where: Endpoint) -> int:
    """Take the key's lock, replacing a stale holder; the fd holds the lock until closed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_lock(fd):
            _replace_holder(fd, path, where)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _replace_holder(fd: int, path: Path, where: Endpoint) -> None:
    """Another process holds the lock: done if it is a good service, else make it exit."""
    try:
        info = status(where)
    except Unavailable:
        pid = _holder_pid(path)
        with contextlib.suppress(Unavailable, OSError):  # a wrong version may still obey
            _raw_stop(where.socket)
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + STOP_GRACE
            while time.monotonic() < deadline:
                if _try_lock(fd):
                    return
                time.sleep(0.05)
        raise ServiceError(
            f"A stale codefind service (pid {pid or 'unknown'}) holds {path} and would not exit."
        ) from None
    raise AlreadyRunning(int(info.get("pid") or 0), where.socket)


def _raw_stop(sock_path: Path) -> None:
    """Send ``stop`` without trusting the answer (a service of another version)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        sock.connect(str(sock_path))
        send(sock, {"op": "stop"})
        with contextlib.suppress(OSError, ServiceError):
            LineReader(sock).read()


def _holder_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _listen(path: Path) -> tuple[socket.socket, int]:
    """Bind the socket with mode 0600 from the start (umask), replacing a stale file.

    Returns the listening socket and the inode of its file (to remove only our own).
    """
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.settimeout(0.5)
    return listener, os.lstat(path).st_ino


def _remove_socket(listener: socket.socket, path: Path, inode: int) -> None:
    """Close and remove the socket, unless another service has bound the path since."""
    try:
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(path).st_ino == inode:
                path.unlink()
    finally:
        listener.close()


def _accept_loop(listener: socket.socket, service: Service, idle_timeout: float) -> None:
    stopping = service.stopping
    previous = (
        {
            sig: signal.signal(sig, lambda *_: stopping.set())
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    root = service.workspace.root
    try:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                idle = time.monotonic() - service.last_request
                if (idle_timeout > 0 and idle > idle_timeout) or not root.is_dir():
                    return
                continue
            threading.Thread(target=_serve_connection, args=(conn, service), daemon=True).start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve_connection(conn: socket.socket, service: Service) -> None:
    with conn:
        conn.settimeout(None)
        reader = LineReader(conn)
        while True:
            try:
                request = reader.read()
            except (OSError, ServiceError):
                return
            if request is None:
                return
            answer = service.handle(request)
            try:
                send(conn, answer)
            except OSError:
                return
