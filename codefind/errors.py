"""One error hierarchy for everything a user can be told about.

The core raises these and never prints or exits; the CLI turns them into a message on stderr
and an exit status, the app into a notification. ``message`` is written for the user: what
went wrong and, where there is one, how to fix it. It must never contain secrets.
"""

from __future__ import annotations


class CodefindError(Exception):
    """Base of all errors with a user-facing message.

    Attributes:
        message: What went wrong, in words a user can act on.
        title: A short heading for the app's notification.
        exit_code: The CLI's exit status for this error (2 = error, per the CLI contract).
    """

    title = "codefind"
    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(CodefindError):
    """A setting, flag or config file is invalid."""

    title = "Configuration"


class NotARepositoryError(CodefindError):
    """The path is not inside a git work tree (or is a bare repository)."""

    title = "Not a repository"


class RepoError(CodefindError):
    """git failed while walking the repository."""

    title = "Repository"


class BackendError(CodefindError):
    """An embedding or rerank backend failed: unreachable, refused, or answered nonsense."""

    title = "Backend"


class ModelFilesError(CodefindError):
    """The built-in model's files are missing or do not match their manifest."""

    title = "Built-in model"


class IndexStoreError(CodefindError):
    """The index on disk cannot be used (corrupt, locked, or from another format)."""

    title = "Index"


class IndexFormatError(IndexStoreError):
    """The index was written in another on-disk format.

    ``newer`` is true when a newer codefind wrote it (upgrade to read it); an older format is
    rebuilt automatically by the next indexing run.
    """

    def __init__(self, message: str, *, newer: bool) -> None:
        super().__init__(message)
        self.newer = newer


class IndexCorruptError(IndexStoreError):
    """A file of the index is damaged: SQLite reports corruption, or an integrity check failed.

    Only this (and an older ``IndexFormatError``) lets a writer rebuild what is derived;
    a full disk, a lock or an I/O error is reported and nothing is deleted. ``path`` is
    the damaged file.
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class IndexLockedError(IndexStoreError):
    """Another codefind process is writing this index."""


class IndexReadOnlyError(IndexLockedError):
    """The index folder cannot be written (a read-only mount, another user's checkout).

    A kind of ``IndexLockedError`` because callers treat both alike: the index cannot be
    updated now, so search it as it is.
    """


class ConsentError(CodefindError):
    """Code would leave the machine and the user has not agreed (or cannot be asked)."""

    title = "Consent needed"


class DictionaryMissingError(CodefindError):
    """A dictionary package for query translation is not installed."""

    title = "Query translation"


class Interrupted(CodefindError):
    """The user interrupted a run; work done so far has been kept."""

    title = "Interrupted"
    exit_code = 130
