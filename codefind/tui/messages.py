"""Messages that cross from the app's worker threads to its screens.

Workers never touch widgets: they post one of these (``post_message`` is thread-safe) and
the app hands the news down to the screens by method calls. Messages a single widget emits
are nested in that widget's class instead (``ResultList.Highlighted``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the service layer is imported lazily, after the first frame
    from codefind.indexer import IndexProgress
    from codefind.models import IndexReport
    from codefind.tui.session import Session


@dataclass
class SessionOpened(Message):
    """The workspace is open: searching can start."""

    session: Session


@dataclass
class SessionFailed(Message):
    """The workspace could not be opened (not a repository, bad settings)."""

    message: str
    exit_code: int = 2


@dataclass
class BackendFailed(Message):
    """The backend of ``session`` cannot embed queries; search falls back to lexical."""

    session: Session
    message: str


@dataclass
class IndexCounted(Message):
    """The index of ``session`` holds ``files`` files and ``chunks`` chunks."""

    session: Session
    files: int
    chunks: int


@dataclass
class IndexProgressed(Message):
    """An indexing run of ``session`` moved on (posted at most about ten times a second)."""

    session: Session
    progress: IndexProgress

    def can_replace(self, message: Message) -> bool:
        """A newer progress report makes an unprocessed older one pointless."""
        return isinstance(message, IndexProgressed)


@dataclass
class IndexFinished(Message):
    """An indexing run of ``session`` completed."""

    session: Session
    report: IndexReport


@dataclass
class IndexStopped(Message):
    """An indexing run of ``session`` ended early (interrupted, locked, backend failure)."""

    session: Session
    message: str
    title: str = "Indexing"
    interrupted: bool = False


@dataclass
class WorktreeChanged(Message):
    """Files of the work tree of ``session`` changed (a coalesced batch from the watcher)."""

    session: Session
    paths: frozenset[str]


@dataclass
class WatchFailed(Message):
    """The work tree of ``session`` cannot be watched: changes need a restart to be seen."""

    session: Session
    message: str


class IndexUpdateWanted(Message):
    """A screen saw the index fall behind (an edit, a stale hit): the app updates it.

    Screens know no app, so they say so by message rather than by calling it.
    """
