"""Reading the lines around a hit from disk, fast enough to do on every cursor move.

The preview shows the file as it is now, not the indexed text, so it is read at display
time. Files are split into lines once and kept in a small LRU keyed by path and checked
against ``(mtime, size)``, so moving the selection between hits of one file costs an open, a
``stat`` and a slice, and a 100k-line file previews as fast as a short one after its first
read. Files are opened as the indexer opens them (``open_in_tree``: no symlink followed, not
even a folder's) and split into lines by the indexer's rule (``text_lines``), so the lines
marked are the lines that were indexed.

Nothing here imports Textual.
"""

from __future__ import annotations

import errno
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from codefind.models import FileSkipped
from codefind.repo import SymlinkInPathError, decode_text, open_in_tree, text_lines

WINDOW_LINES = 60
"""Lines of file shown around a hit."""
CONTEXT_ABOVE = 8
"""Lines shown above the hit's first line (when the file has them)."""
CACHE_FILES = 32
MAX_PREVIEW_BYTES = 32 * 1024 * 1024
"""Files larger than this are not read for a preview (the walker skips them anyway)."""


@dataclass(frozen=True)
class Window:
    """A slice of a file: ``lines`` are lines ``first`` .. ``first + len(lines) - 1`` (1-based)."""

    path: str
    first: int
    lines: tuple[str, ...]
    total_lines: int
    stamp: tuple[int, int] = (0, 0)
    """The file's (mtime_ns, size) when read: a changed file gives a different window."""

    @property
    def last(self) -> int:
        """The last line number in the window (``first - 1`` when empty)."""
        return self.first + len(self.lines) - 1


class PreviewUnavailable(Exception):
    """The file cannot be shown: deleted since indexing, unreadable, or too large."""


@dataclass
class _Entry:
    stamp: tuple[int, int]
    lines: list[str]


class FileLines:
    """An LRU of files split into lines, re-read when their mtime or size changes."""

    def __init__(self, root: Path, capacity: int = CACHE_FILES) -> None:
        self.root = root
        self.capacity = capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def lines(self, path: str) -> list[str]:
        """All lines of ``path`` (relative to the root), without line endings.

        Raises:
            PreviewUnavailable: The file is gone, unreadable, not a regular file or too big.
        """
        return self._read(path).lines

    def _read(self, path: str) -> _Entry:
        with self._open(path) as handle:
            st = os.fstat(handle.fileno())
            if st.st_size > MAX_PREVIEW_BYTES:
                raise PreviewUnavailable(f"{path} is too large to preview ({st.st_size:,} bytes).")
            stamp = (st.st_mtime_ns, st.st_size)
            with self._lock:
                entry = self._entries.get(path)
                if entry is not None and entry.stamp == stamp:
                    self._entries.move_to_end(path)
                    return entry
            try:
                data = handle.read()
            except OSError as exc:
                raise PreviewUnavailable(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            text = decode_text(data)  # the same decoding as indexing, so line numbers agree
        except FileSkipped:
            raise PreviewUnavailable(f"{path} is now a binary file.") from None
        entry = _Entry(stamp, text_lines(text))
        with self._lock:
            self._entries[path] = entry
            self._entries.move_to_end(path)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return entry

    def _open(self, path: str) -> BinaryIO:
        """``path`` opened without following symlinks, or why it cannot be shown."""
        try:
            return open_in_tree(self.root, path)
        except SymlinkInPathError:
            raise PreviewUnavailable(
                f"{path} is behind a folder that is now a symlink; codefind does not follow "
                "symlinks."
            ) from None
        except FileNotFoundError:
            raise PreviewUnavailable(
                f"{path} no longer exists: it was deleted or moved since it was indexed."
            ) from None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EINVAL, errno.ENOTDIR):
                raise PreviewUnavailable(f"{path} is no longer a regular file.") from None
            raise PreviewUnavailable(f"Cannot read {path}: {exc.strerror}.") from None

    def window(self, path: str, start: int, end: int, size: int = WINDOW_LINES) -> Window:
        """About ``size`` lines around lines ``start``..``end`` (1-based, inclusive).

        The hit's first line sits ``CONTEXT_ABOVE`` lines below the top when possible; a
        window near the end of the file is shifted up so that it stays full.

        Raises:
            PreviewUnavailable: See ``lines``.
        """
        entry = self._read(path)
        lines = entry.lines
        total = len(lines)
        if total == 0:
            return Window(path, 1, (), 0, entry.stamp)
        first = max(1, min(start, total) - CONTEXT_ABOVE)
        last = min(total, first + size - 1)
        first = max(1, min(first, last - size + 1))
        return Window(path, first, tuple(lines[first - 1 : last]), total, entry.stamp)

    def forget(self, path: str | None = None) -> None:
        """Drop ``path`` (or everything) from the cache."""
        with self._lock:
            if path is None:
                self._entries.clear()
            else:
                self._entries.pop(path, None)
