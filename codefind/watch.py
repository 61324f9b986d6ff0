"""Watch a work tree and say, in coalesced batches, that the index may be out of date.

Events are only a trigger: what is indexable is decided by the next incremental indexing run
(``Indexer.run``, whose no-change cost is about one ``git ls-files``), never here. So this
module does not re-implement the walk's rules; it only keeps noise from causing runs:

- ``watchfiles`` (notify, in Rust) groups events until the tree has been quiet for
  ``QUIET_MS`` (at most ``MAX_BATCH_MS``), so a branch switch that rewrites a thousand files
  is one batch, not a thousand.
- Inside the git directory only ``HEAD`` and ``index`` count (a checkout, a reset, an
  ``add``); everything else there, codefind's own index (``.git/codefind``) above all, is
  ignored, otherwise every indexing run would trigger the next.
- Folders the walk never indexes (``node_modules``, ``.venv``: ``repo.VENDORED_DIRS``) and
  editor scratch files are dropped by name, and what is left is asked of
  ``git check-ignore`` once per batch: a build writing into an ignored ``build/`` folder
  causes no run.

The callback runs in the watcher's own thread; it should hand the batch on, not index.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from codefind.repo import VENDORED_DIRS, Repository

QUIET_MS = 150
"""A batch is handed on once no event arrived for this long..."""
MAX_BATCH_MS = 3000
"""...or after this long, whatever keeps happening."""
GIT_TRIGGERS = frozenset({"HEAD", "index"})
"""Files of the git directory whose change can change the work tree's indexable files."""
_NOISE_DIRS = VENDORED_DIRS | {".git", ".hg", ".svn", ".hypothesis", ".idea"}
_SCRATCH_SUFFIXES = (".swp", ".swx", ".swo", "~", ".tmp", ".pyc", ".pyo")

ChangeCallback = Callable[[frozenset[str]], None]
"""Receives the changed paths of one batch, relative to the root ("" for git triggers)."""

log = logging.getLogger(__name__)


class WorktreeWatcher:
    """A thread that watches one repository's work tree (and, for linked worktrees, its git dir)."""

    def __init__(
        self,
        repo: Repository,
        on_change: ChangeCallback,
        *,
        on_error: Callable[[str], None] | None = None,
        quiet_ms: int = QUIET_MS,
    ) -> None:
        self.repo = repo
        self._on_change = on_change
        self._on_error = on_error
        self._quiet_ms = quiet_ms
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        root, git_dir = str(repo.root), str(repo.git_dir)
        self._paths = [root] if _inside(git_dir, root) else [root, git_dir]

    def start(self) -> None:
        """Start watching (returns at once; events are reported from the watcher's thread)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="codefind-watch", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the watches are set up (events before that may be missed)."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Stop watching; returns once the thread has ended (within about a second)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    @property
    def running(self) -> bool:
        """Whether the watcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            from watchfiles import watch

            batches = watch(
                *self._paths,
                watch_filter=self._wanted,
                step=self._quiet_ms,
                debounce=MAX_BATCH_MS,
                stop_event=self._stop,
                rust_timeout=500,
                yield_on_timeout=True,
                raise_interrupt=False,
                ignore_permission_denied=True,
            )
            for changes in batches:
                self._ready.set()  # the first (timeout) yield: the watches are in place
                if self._stop.is_set():
                    return
                paths = self.relevant(path for _, path in changes)
                if paths:
                    self._on_change(paths)
        except Exception as exc:  # a watcher that cannot run must say so, not kill the app
            log.debug("watcher failed", exc_info=True)
            if self._on_error is not None and not self._stop.is_set():
                self._on_error(f"Watching {self.repo.root} for changes failed: {exc}")
        finally:
            self._ready.set()

    def _wanted(self, _change: object, path: str) -> bool:
        """The cheap filter, run for every event: git internals, vendored folders, scratch."""
        rel = self._relative(path)
        if rel is None:
            return False
        if rel.startswith("\0git/"):
            return rel[5:] in GIT_TRIGGERS
        parts = rel.split("/")
        if any(part in _NOISE_DIRS for part in parts[:-1]):
            return False
        name = parts[-1]
        return not (name in _NOISE_DIRS or name.endswith(_SCRATCH_SUFFIXES) or name == "4913")

    def _relative(self, path: str) -> str | None:
        """``path`` relative to the root; git-dir paths as ``"\\0git/NAME"``; else ``None``."""
        git_dir, root = str(self.repo.git_dir), str(self.repo.root)
        if _inside(path, git_dir):
            return "\0git/" + path[len(git_dir) + 1 :].replace(os.sep, "/")
        if _inside(path, root):
            return path[len(root) + 1 :].replace(os.sep, "/")
        return None

    def relevant(self, paths: Iterable[str]) -> frozenset[str]:
        """The batch's paths that can matter to the index ("" stands for a git trigger).

        Paths git ignores are dropped (one ``git check-ignore`` for the whole batch).
        """
        rels = {r for r in (self._relative(p) for p in paths) if r is not None}
        trigger = any(r.startswith("\0git/") for r in rels)
        tree = sorted(r for r in rels if r and not r.startswith("\0git/"))
        kept = set(tree) - _ignored(self.repo.root, tree)
        return frozenset(kept | ({""} if trigger else set()))


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder + os.sep) or path == folder


def _ignored(root: Path, paths: list[str]) -> set[str]:
    """The paths git ignores (tracked files never are); none when git cannot tell."""
    if not paths:
        return set()
    try:
        result = subprocess.run(
            ["git", "check-ignore", "-z", "--stdin"],
            cwd=root,
            input=b"\0".join(p.encode("utf-8", "surrogateescape") for p in paths) + b"\0",
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if result.returncode not in (0, 1):  # 1: nothing ignored; other: an error, so keep all
        return set()
    return {p.decode("utf-8", "surrogateescape") for p in result.stdout.split(b"\0") if p}
