"""Asking a running service: used by ``codefind search`` before it loads anything heavy.

Every failure is ``Unavailable`` with the reason, and the caller searches in-process as if
no service existed: a socket file with nobody listening (a crashed service), a service of
another codefind version or protocol, one for another key or root, one that does not answer
within ``HELLO_TIMEOUT``, or a socket that is not this user's. A service is never trusted
on its word alone: the socket's owner and the folder's mode are checked first.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codefind.config import Settings
from codefind.models import Hit, Scope, SearchMode
from codefind.repo import Repository
from codefind.service.protocol import (
    LineReader,
    ServiceError,
    hit_from_wire,
    identity,
    runtime_dir,
    send,
    service_key,
    socket_path,
)

HELLO_TIMEOUT = 2.0
"""Seconds a service has to say who it is before it counts as hung."""
ANSWER_MARGIN = 60.0
"""Seconds a search may take beyond the wait for a current index (a model on a busy host)."""
STOP_WAIT = 10.0
"""Seconds ``stop`` waits for the service to remove its socket (it stops listening first)."""


class Unavailable(Exception):
    """No trustworthy service answered; ``reason`` says why (empty: none is running)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or "no service is running")
        self.reason = reason


@dataclass(frozen=True)
class Endpoint:
    """Where the service of one repository and settings listens."""

    root: Path
    key: str
    socket: Path


@dataclass(frozen=True)
class ServiceTranslation:
    """The query's translation as the service reports it (``Translation``'s reading side)."""

    changed: bool
    text: str
    alternatives: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()

    def explain(self) -> tuple[str, ...]:
        """Each translated word's chosen sense and why (as ``Translation.explain``)."""
        return self.lines


@dataclass(frozen=True)
class ServiceResult:
    """A search answered by the service (the fields of ``SearchResult`` the CLI prints)."""

    query: str
    mode: SearchMode
    hits: tuple[Hit, ...]
    translation: ServiceTranslation
    semantic: bool
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    pid: int = 0

    @property
    def strong(self) -> tuple[Hit, ...]:
        """The hits with enough evidence."""
        return tuple(h for h in self.hits if not h.weak)


def endpoint(path: Path, settings: Settings) -> Endpoint:
    """The service endpoint for the repository containing ``path`` under ``settings``.

    Raises:
        NotARepositoryError, RepoError: As ``Repository.discover``.
        Unavailable: The runtime folder does not exist or cannot be trusted.
    """
    repo = Repository.discover(
        path, max_file_bytes=settings.max_file_bytes, include_data=settings.include_data
    )
    key = service_key(repo.index_dir(settings.index_dir), repo.root, settings)
    try:
        folder = runtime_dir(create=False)
    except ServiceError as exc:
        raise Unavailable(exc.message) from None
    if folder is None:
        raise Unavailable()
    return Endpoint(repo.root, key, socket_path(folder, key))


class Connection:
    """One connection to a service whose ``hello`` matched (use as a context manager)."""

    def __init__(self, where: Endpoint, *, timeout: float = HELLO_TIMEOUT) -> None:
        _check_socket(where.socket)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(where.socket))
        except OSError as exc:
            self._sock.close()
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                raise Unavailable(f"nobody listens on {where.socket} (a stopped service)") from None
            raise Unavailable(f"cannot connect to {where.socket}: {exc}") from None
        self._reader = LineReader(self._sock)
        self.info = self.request({"op": "hello"})
        mine = identity(where.key, where.root)
        theirs = {k: self.info.get(k) for k in mine}
        if theirs != mine:
            self.close()
            raise Unavailable(f"the service is not this codefind's ({theirs} != {mine})")

    def request(self, message: Mapping[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send ``message`` and return the answer.

        Raises:
            Unavailable: The service did not answer in time, closed the connection, sent
                something unreadable, or answered with an error of its own.
        """
        if timeout is not None:
            self._sock.settimeout(timeout)
        try:
            send(self._sock, message)
            answer = self._reader.read()
        except TimeoutError:
            raise Unavailable("the service did not answer in time") from None
        except (OSError, ServiceError) as exc:
            raise Unavailable(f"the service failed: {exc}") from None
        if answer is None:
            raise Unavailable("the service closed the connection")
        if not answer.get("ok"):
            raise Unavailable(str(answer.get("error") or "the service refused the request"))
        return answer

    def close(self) -> None:
        """Close the connection."""
        self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def search(
    where: Endpoint,
    query: str,
    *,
    limit: int,
    mode: SearchMode,
    scope: Scope,
    paths: Sequence[str] = (),
    globs: Sequence[str] = (),
    languages: Sequence[str] = (),
    wait: float = 0.0,
) -> ServiceResult:
    """Search through the service at ``where``.

    Args:
        wait: Seconds the service may wait for changes it has seen to be indexed (0: search
            the index as it is, as ``--no-update``).

    Raises:
        Unavailable: No trustworthy service answered (see the module docstring).
    """
    request = {
        "op": "search",
        "query": query,
        "limit": limit,
        "mode": mode,
        "scope": scope,
        "paths": list(paths),
        "globs": list(globs),
        "languages": list(languages),
        "wait": wait,
    }
    with Connection(where) as conn:
        answer = conn.request(request, timeout=wait + ANSWER_MARGIN)
        pid = int(conn.info.get("pid") or 0)
    try:
        hits = tuple(hit_from_wire(h) for h in answer["hits"])
        tr = answer["translation"]
        return ServiceResult(
            query=query,
            mode=answer["mode"],
            hits=hits,
            translation=ServiceTranslation(
                bool(tr["changed"]), str(tr["text"]), tuple(tr["alternatives"]), tuple(tr["lines"])
            ),
            semantic=bool(answer["semantic"]),
            timings_ms={str(k): float(v) for k, v in answer["timings_ms"].items()},
            warnings=tuple(str(w) for w in answer["warnings"]),
            pid=pid,
        )
    except (KeyError, TypeError, ValueError, ServiceError) as exc:
        raise Unavailable(f"the service sent an answer codefind cannot read: {exc}") from None


def status(where: Endpoint) -> dict[str, Any]:
    """The service's ``hello``: pid, root, index state.

    Raises:
        Unavailable: No trustworthy service answered.
    """
    with Connection(where) as conn:
        return conn.info


def stop(where: Endpoint, *, wait: float = STOP_WAIT) -> int:
    """Ask the service to exit and wait until it no longer listens; returns its pid.

    Raises:
        Unavailable: No trustworthy service answered.
    """
    with Connection(where) as conn:
        conn.request({"op": "stop"})
        pid = int(conn.info.get("pid") or 0)
    deadline = time.monotonic() + wait
    while where.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pid


def _check_socket(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise Unavailable() from None
    except OSError as exc:
        raise Unavailable(f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        raise Unavailable(f"{path} is not a socket of this user; not used")
    if info.st_mode & 0o077:
        raise Unavailable(f"{path} can be opened by other users; not used")
