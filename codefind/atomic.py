"""Atomic file replacement: a reader sees the old file or the new one, never a mix.

Every index file codefind writes goes through here: write a temporary file in the same
folder, fsync it, ``os.replace`` it over the target, then fsync the folder so the rename
itself survives a power cut. USearch's own ``save()`` rewrites in place (and crashes readers
that have the file memory-mapped), so it is only ever pointed at the temporary path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    import tempfile  # only writers need it; readers (and the app's first frame) do not

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``target`` with ``data`` atomically (optionally with file ``mode``)."""
    with atomic_path(target, mode=mode) as tmp:
        tmp.write_bytes(data)


def atomic_write_with(target: Path, write: Callable[[Path], object]) -> None:
    """Replace ``target`` with whatever ``write(tmp_path)`` writes, atomically."""
    with atomic_path(target) as tmp:
        write(tmp)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
