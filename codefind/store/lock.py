"""One writer per index: an advisory lock file that names its holder.

``flock`` is released by the kernel when the holder dies, so a lock left by a killed process
is taken over by the next run without any stale-pid guessing; the pid written into the file
is only there to tell the user who holds it (so failing to write it, on a full disk, is no
reason to stop). A folder where the lock file cannot be made is read-only for codefind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from codefind.errors import IndexLockedError
from codefind.store.failures import os_failure


@contextlib.contextmanager
def write_lock(
    folder: Path,
    *,
    wait_seconds: float = 0.0,
    on_wait: Callable[[int | None], None] | None = None,
) -> Iterator[None]:
    """Hold the index's write lock for the ``with`` block.

    Args:
        folder: The index folder (the lock file is ``folder/lock``).
        wait_seconds: How long to wait for another writer before giving up (0 = don't wait).
        on_wait: Called once with the holder's pid when we start waiting.

    Raises:
        IndexLockedError: Another process held the lock for longer than ``wait_seconds``.
        IndexReadOnlyError: The folder cannot be written (a kind of ``IndexLockedError``).
        IndexStoreError: The lock file cannot be made for another reason (a full disk).
    """
    path = folder / "lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise os_failure(exc, folder, "creating the lock file") from exc
    try:
        _acquire(fd, path, wait_seconds, on_wait)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_holder(folder: Path) -> int | None:
    """The pid of the process writing the index in ``folder``, or ``None`` if nobody is."""
    path = folder / "lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _acquire(
    fd: int, path: Path, wait_seconds: float, on_wait: Callable[[int | None], None] | None
) -> None:
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _read_pid(path)
            if time.monotonic() >= deadline:
                who = f"process {holder}" if holder else "another process"
                raise IndexLockedError(
                    f"Another codefind ({who}) is updating this index. Wait for it to finish, "
                    "or search with --no-update meanwhile."
                ) from None
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            time.sleep(0.1)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
