"""Paths as the command line takes and prints them, shared by ``main`` and ``serve``.

A PATH argument must exist (a typo must not read as "no hits") and lie inside the
repository; hits are printed relative to the current folder, as ripgrep prints them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from codefind.errors import ConfigError
from codefind.models import Hit


def existing_path(path: str) -> Path:
    """``path`` as given, if it exists.

    Raises:
        ConfigError: Nothing is there.
    """
    target = Path(path)
    if not target.exists():
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")  # \xff, not \udcff
        raise ConfigError(f"{shown}: no such file or folder.")
    return target


def relative_to_root(root: Path, target: Path) -> str:
    """``target`` as a repository-relative POSIX path (the form filters use).

    Raises:
        ConfigError: ``target`` is outside the repository.
    """
    try:
        return target.resolve().relative_to(root).as_posix()
    except ValueError:
        raise ConfigError(f"{target} is not inside the repository at {root}.") from None


def paths_from_here(hits: Sequence[Hit], root: Path, *, absolute: bool) -> list[Hit]:
    """Hits whose paths are relative to the current folder.

    So ``vim -q <(codefind search ... --format vimgrep)`` opens the right files from a
    sub-folder. As with ripgrep, a PATH given as an absolute path gives absolute paths.
    """
    here = Path.cwd()
    return [
        replace(
            hit, path=str(root / hit.path) if absolute else os.path.relpath(root / hit.path, here)
        )
        for hit in hits
    ]
