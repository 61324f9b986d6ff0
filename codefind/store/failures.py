"""What a failed write or read of an index file means, in words a user can act on.

Why this is one place: a full disk, a lock held by another program, an I/O error and a
damaged file all surface as ``sqlite3.Error`` or ``OSError`` (and USearch masks ENOSPC as
"Failed to serialize into stream"), but only real damage may lead to a rebuild. Everything
else must keep the files as they are and say what is wrong. SQLite's result code
(``sqlite_errorcode``; the low byte is the primary code) tells them apart; its message
does not.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from codefind.errors import IndexCorruptError, IndexReadOnlyError, IndexStoreError

# SQLite primary result codes (https://sqlite.org/rescode.html); the ``sqlite3`` module has
# them as constants too, but typeshed does not list them all.
SQLITE_ERROR = 1
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26
_CORRUPT = {SQLITE_CORRUPT, SQLITE_NOTADB}
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
LOW_SPACE = 1 << 20
"""Free bytes below which an I/O error is taken for a full disk: SQLite reports a -shm or
-wal file it cannot grow as ``SQLITE_IOERR``, not ``SQLITE_FULL``."""


def sqlite_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``exc`` (``None`` when SQLite gave none)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is damaged (not merely busy, full or unreadable)."""
    return sqlite_code(exc) in _CORRUPT


def give_back_pages(db: sqlite3.Connection, script: str) -> None:
    """Run SQL that only gives freed pages back to the file system (``VACUUM``, ``PRAGMA
    incremental_vacuum``). If another process stands in its way it is skipped: the pages are
    reused by later rows all the same. Damage is raised. As a script, so a pragma runs to its
    end (``execute`` would step ``incremental_vacuum`` once: one page)."""
    try:
        db.executescript(script)
    except sqlite3.OperationalError as exc:
        if is_corruption(exc):
            raise


def sqlite_failure(exc: sqlite3.Error, path: Path, what: str) -> IndexStoreError:
    """The error to raise for ``exc`` on the SQLite file ``path`` (``what`` names it)."""
    code = sqlite_code(exc)
    if code in _CORRUPT:
        return IndexCorruptError(f"The {what} {path} is damaged ({exc}).", path=str(path))
    if code == SQLITE_FULL or (code == SQLITE_IOERR and free_bytes(path.parent) < LOW_SPACE):
        return no_space(path.parent)
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return IndexStoreError(
            f"The {what} {path} is locked by another program ({exc}). Close it (an sqlite3 "
            "shell, a backup tool) and try again; nothing was changed."
        )
    if code in (SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN):
        return read_only(path.parent, str(exc))
    if code == SQLITE_IOERR:
        return IndexStoreError(
            f"The disk reported an I/O error on the {what} {path} ({exc}). Check the disk; "
            "nothing was deleted."
        )
    return IndexStoreError(f"The {what} {path} failed ({exc}).")


def os_failure(exc: OSError, folder: Path, doing: str) -> IndexStoreError:
    """The error to raise for ``exc`` while ``doing`` something in the index ``folder``."""
    if exc.errno in _NO_SPACE:
        return no_space(folder)
    if exc.errno in _READ_ONLY:
        return read_only(folder, exc.strerror or str(exc))
    if exc.errno == errno.EIO:
        return IndexStoreError(
            f"The disk reported an I/O error while {doing} in {folder}. Check the disk; "
            "nothing was deleted."
        )
    return IndexStoreError(f"{doing.capitalize()} in {folder} failed: {exc.strerror or exc}.")


def free_bytes(folder: Path) -> int:
    """Bytes free for this process in ``folder``'s file system (huge if unknown)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return 1 << 62
    return stats.f_bavail * stats.f_frsize


def no_space(folder: Path) -> IndexStoreError:
    """The disk holding ``folder`` is full."""
    return IndexStoreError(
        f"No space left on device: {folder}. Free some space and run `codefind index` again; "
        "what was indexed so far is kept."
    )


def read_only(folder: Path, reason: str) -> IndexReadOnlyError:
    """``folder`` cannot be written."""
    return IndexReadOnlyError(
        f"The index in {folder} cannot be updated: the folder is not writable ({reason})."
    )
