"""Starting a service in the background: ``codefind serve --detach`` and on-demand starts.

Whether ``codefind search`` starts a service by itself is the user's choice, made with
``CODEFIND_SERVICE`` (read here, not in the config file, because it is about one shell's
habits): ``on`` (the default) uses a running service and never starts one; ``auto`` also
starts one in the background after a search found none, so the next search is warm; ``off``
never asks a service (every search is a whole in-process run, as before). A service costs
memory (the model and the index: 150-400 MB) and exits after ``IDLE_TIMEOUT`` without
requests, which is why it is not started unasked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from codefind.service.client import Endpoint, Unavailable, status
from codefind.service.protocol import ServiceError

ServiceUse = Literal["on", "auto", "off"]
READY_TIMEOUT = 120.0
"""How long ``--detach`` waits for the service to answer (it loads the model first)."""


def service_use() -> ServiceUse:
    """``CODEFIND_SERVICE``: on (default), auto or off; anything else counts as on."""
    value = os.environ.get("CODEFIND_SERVICE", "on").strip().lower()
    if value in ("auto", "off"):
        return value  # type: ignore[return-value]
    return "on"


def spawn(root: Path, flags: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``codefind serve ROOT FLAGS`` in its own session, its output going to ``log``."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "codefind", "serve", str(root), *flags],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


def start_detached(where: Endpoint, flags: Sequence[str], *, wait: bool = True) -> dict[str, Any]:
    """Start a service for ``where`` in the background and wait until it answers.

    Returns:
        The service's ``hello`` (empty when ``wait`` is false).

    Raises:
        ServiceError: It exited before answering (its log is quoted) or did not answer in
            ``READY_TIMEOUT``.
    """
    log = where.socket.with_suffix(".log")
    process = spawn(where.root, flags, log)
    if not wait:
        return {}
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            return status(where)
        except Unavailable:
            pass
        code = process.poll()
        if code is not None:
            try:  # a service that found another one running exits 0 after saying so
                return status(where)
            except Unavailable:
                pass
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise ServiceError(
                f"The service exited with status {code} before answering"
                + (": " + " / ".join(tail) if tail else ".")
            )
        time.sleep(0.1)
    raise ServiceError(f"The service did not answer within {READY_TIMEOUT:.0f} s (log: {log}).")
