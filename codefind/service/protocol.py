"""What the service and its clients share: where the socket is, and what goes over it.

**Where.** One socket per repository *and* settings: the key hashes the index folder (so the
repository, the checkout and ``CODEFIND_INDEX_DIR``), the backend, model, dimension and
everything else that changes what an index holds. Two repositories, or one repository
searched with two models, have two services. Sockets live in a folder only the user can
enter (``$XDG_RUNTIME_DIR/codefind``, else ``$XDG_CACHE_HOME/codefind/run``; mode 0700,
checked on every use) and are themselves mode 0600. No TCP port is opened.

**What.** One JSON object per line, one request and one answer per line, at most
``MAX_LINE`` bytes. Every connection starts with ``hello``: the answer carries the protocol,
codefind's version, the key and the pid, and a client that sees anything but its own
values does not trust the service (it searches in-process instead). Hits travel as every
field of ``codefind.models.Hit``.

Imports stay light (no numpy, no index libraries): ``codefind search`` imports this module
before it knows whether a service will answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codefind import __version__
from codefind.config import Settings, cache_home
from codefind.errors import CodefindError
from codefind.models import Hit

PROTOCOL = 1
MAX_LINE = 64 * 1024 * 1024
"""The longest line either side reads (a search answer of 1,000 long hits fits)."""
SOCKET_PATH_MAX = 100
"""``sockaddr_un`` holds 107 bytes; longer runtime folders fall back to /tmp/codefind-UID."""
IDLE_TIMEOUT = 30 * 60.0
"""Seconds without a request after which ``codefind serve`` exits (0: never)."""


class ServiceError(CodefindError):
    """The service cannot be started, reached or trusted."""

    title = "Service"


def service_key(index_dir: Path, root: Path, settings: Settings) -> str:
    """The hex key of the service for this index folder, work tree and settings."""
    endpoint = {"sglang": settings.sglang.url, "voyage": settings.voyage.url}
    fingerprint = {
        "index_dir": str(index_dir),
        "root": str(root),
        "backend": settings.backend,
        "model": settings.model,
        "dim": settings.dim,
        "endpoint": endpoint.get(settings.backend, ""),
        "include_data": settings.include_data,
        "max_file_bytes": settings.max_file_bytes,
        "translate": settings.translate,
    }
    data = json.dumps(fingerprint, sort_keys=True).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


def runtime_dir(*, create: bool) -> Path | None:
    """The folder of sockets and lock files, checked to be the user's own and private.

    Returns ``None`` when it does not exist and ``create`` is false.

    Raises:
        ServiceError: The folder is not a private folder of this user (a symlink, someone
            else's, or open to others) or cannot be created.
    """
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    base = Path(xdg) / "codefind" if xdg and os.path.isabs(xdg) else cache_home() / "run"
    if len(str(base)) + 30 > SOCKET_PATH_MAX:
        base = Path("/tmp") / f"codefind-{os.getuid()}"
    if create:
        try:
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ServiceError(f"Cannot create {base} for the service: {exc.strerror}") from None
    try:
        info = os.lstat(base)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ServiceError(f"Cannot read {base}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ServiceError(f"{base} is not a folder of this user; codefind will not use it.")
    if info.st_mode & 0o077:
        raise ServiceError(
            f"{base} can be entered by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            "codefind keeps its sockets in a folder only you can open (chmod 700)."
        )
    return base


def socket_path(folder: Path, key: str) -> Path:
    """The service socket for ``key`` in the runtime folder."""
    return folder / f"{key[:24]}.sock"


def lock_path(folder: Path, key: str) -> Path:
    """The lock file a live service holds (the kernel releases it when the process dies)."""
    return folder / f"{key[:24]}.lock"


# --- the wire ---------------------------------------------------------------------------------


def send(sock: socket.socket, message: Mapping[str, Any]) -> None:
    """Send one message as one line."""
    sock.sendall(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")


class LineReader:
    """Reads newline-terminated JSON messages from a socket, at most ``MAX_LINE`` bytes each."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def read(self) -> dict[str, Any] | None:
        """The next message, or ``None`` when the peer closed the connection.

        Raises:
            ServiceError: The line is too long or not a JSON object.
            OSError: The socket failed (``TimeoutError`` included).
        """
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise ServiceError("A message from the service was too long.")
            data = self._sock.recv(1 << 20)
            if not data:
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            value = json.loads(line)
        except ValueError:
            raise ServiceError("A message was not valid JSON.") from None
        if not isinstance(value, dict):
            raise ServiceError("A message was not a JSON object.")
        return value


def hit_to_wire(hit: Hit) -> dict[str, Any]:
    """Every field of a hit, as JSON values."""
    return dataclasses.asdict(hit)


_HIT_FIELDS = frozenset(f.name for f in dataclasses.fields(Hit))


def hit_from_wire(data: Mapping[str, Any]) -> Hit:
    """The hit ``hit_to_wire`` sent (unknown fields are ignored).

    Raises:
        ServiceError: Fields are missing or of the wrong kind.
    """
    try:
        return Hit(**{k: v for k, v in data.items() if k in _HIT_FIELDS})
    except TypeError as exc:
        raise ServiceError(f"The service sent a hit codefind cannot read: {exc}") from None


def identity(key: str, root: Path) -> dict[str, Any]:
    """What a service says about itself in ``hello`` (a client compares it with its own)."""
    return {"protocol": PROTOCOL, "version": __version__, "key": key, "root": str(root)}
