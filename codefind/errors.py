"""One error hierarchy for everything a user can be told about.

The core raises these and never prints or exits; the CLI turns them into a message on stderr
and an exit status, the app into a notification. ``message`` is written for the user: what
went wrong and, where there is one, how to fix it. It must never contain secrets; and since
a server may echo a key back or a URL may carry a password, every front end also passes what
it shows through ``redact`` at the output boundary.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable

SECRET_VARIABLES = ("VOYAGE_API_KEY", "CODEFIND_SGLANG_API_KEY", "OPENAI_API_KEY")
"""Environment variables whose values are secrets wherever they appear."""

_MIN_SECRET = 4
"""Shorter values are not replaced: "***" for every "a" would make messages unreadable."""
_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_KEY_SHAPE = re.compile(r"\b(pa|sk|sk-proj|sk-ant)-[A-Za-z0-9_-]{12,}")
_KEY_FIELD = re.compile(
    r"(?i)\b(api[_-]?key|access[_-]?token|auth[_-]?token|password|secret)"
    r"([\"']?\s*[:=]\s*[\"']?)(?!(?:null|none|true|false|\*+)(?:[\s\"',;&}]|\Z))[^\s\"',;&}]+"
)


def remember_secret(value: str | None) -> None:
    """Add ``value`` (a configured API key) to what ``redact`` removes, for this process."""
    if value and len(value) >= _MIN_SECRET:
        with _secrets_lock:
            _known_secrets.add(value)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` without secrets: known keys, URL passwords and obvious key shapes.

    Applied to everything shown to a user (messages, ``--debug`` tracebacks, notifications),
    because a server may echo a key in an error body and a URL may be written with a password
    (``http://user:pw@host/v1``). Known keys are the configured ones (``remember_secret``),
    the values of ``SECRET_VARIABLES`` and ``secrets``; the shapes are URL userinfo,
    ``Bearer ...``, ``pa-...``/``sk-...`` keys and ``api_key=...``-style fields.
    """
    with _secrets_lock:
        known = set(_known_secrets)
    known.update(os.environ.get(name, "") for name in SECRET_VARIABLES)
    known.update(s for s in secrets if s)
    for secret in sorted((s for s in known if len(s) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = _URL_USERINFO.sub(r"\1***@", text)
    text = _BEARER.sub(r"\1***", text)
    text = _KEY_SHAPE.sub(r"\1-***", text)
    return _KEY_FIELD.sub(r"\1\2***", text)


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
