"""Opening a hit in the user's editor: which program, and how to tell it the line.

Editors disagree on how to receive a line number, so the command is built from the editor's
program name (``+LINE FILE`` for the vi family and most terminal editors, ``--goto FILE:LINE``
for VS Code and its forks, ``FILE:LINE`` for Sublime Text, Helix and Zed). ``$VISUAL`` or
``$EDITOR`` may carry arguments (``code --wait``): they are split by shell rules and run
without a shell, so a file name can never be interpreted as shell syntax.

Nor as an option: file names come from the repository, and a tracked file named
``+!touch PWNED`` is a shell command to vim, one named ``--eval=(...)`` Lisp to Emacs. So a
relative path always goes as ``./PATH`` (nothing starting with ``./`` is an option or a
``+command`` to any editor; the editor runs in the repository root), and editors whose
argument parser is known to honour ``--`` (vim and neovim: ``+cmd`` after ``--`` is a file)
get ``--`` before it as well.

Nothing here imports Textual: the app suspends itself and calls ``run_editor``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import PurePath

from codefind.errors import CodefindError

DEFAULT_EDITOR = "vi"
PLUS_LINE = frozenset(
    {"vi", "vim", "nvim", "gvim", "mvim", "view", "nano", "pico", "emacs", "emacsclient",
     "micro", "kak", "joe", "jed", "ne", "mg", "ed", "ex", "neovide"}
)  # fmt: skip
"""Editors that take ``+LINE FILE`` (also the fallback for editors not listed anywhere)."""
END_OF_OPTIONS = frozenset({"vi", "vim", "nvim", "gvim", "mvim", "view", "ex", "rvim", "vimx"})
"""Editors that take ``+LINE -- FILE``: vim's and neovim's parsers treat every argument after
``--`` as a file, ``+cmd`` included (nano, emacs and micro still read ``+N`` there)."""
GOTO = frozenset({"code", "code-insiders", "codium", "vscodium", "cursor", "windsurf"})
"""Editors that take ``--goto FILE:LINE`` (VS Code and its forks)."""
COLON = frozenset({"subl", "sublime_text", "hx", "helix", "zed", "zeditor"})
"""Editors that take ``FILE:LINE``."""


class EditorError(CodefindError):
    """The editor could not be started, or ``$VISUAL``/``$EDITOR`` cannot be parsed."""

    title = "Editor"


def editor_value(env: Mapping[str, str] | None = None) -> str:
    """``$VISUAL``, else ``$EDITOR``, else ``vi`` (blank values count as unset)."""
    env = os.environ if env is None else env
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            return value
    return DEFAULT_EDITOR


def editor_command(editor: str, path: str, line: int) -> list[str]:
    """The argv that opens ``path`` at ``line`` in ``editor``.

    Args:
        editor: The editor setting as the user wrote it, e.g. ``nvim`` or ``code --wait``.
        path: The file to open.
        line: 1-based line number.

    Returns:
        The program and its arguments, ready for ``subprocess.run`` without a shell.

    Raises:
        EditorError: ``editor`` is empty or not valid shell-quoted text.
    """
    try:
        words = shlex.split(editor)
    except ValueError as exc:
        raise EditorError(f"Cannot parse the editor setting {editor!r}: {exc}.") from None
    if not words:
        raise EditorError("The editor setting ($VISUAL / $EDITOR) is empty.")
    line = max(1, line)
    name = _program_name(words[0])
    path = safe_path_argument(path)
    if name in GOTO:
        return [*words, "--goto", f"{path}:{line}"]
    if name in COLON:
        return [*words, f"{path}:{line}"]
    if name in END_OF_OPTIONS:
        return [*words, f"+{line}", "--", path]
    return [*words, f"+{line}", path]


def safe_path_argument(path: str) -> str:
    """``path`` in a form no program reads as an option: ``./`` before a relative path.

    Absolute paths start with ``/`` (or a drive on Windows) and are safe as they are.
    """
    if os.path.isabs(path) or path.startswith("./"):
        return path
    return "./" + path


def run_editor(argv: list[str], cwd: str | None = None) -> int:
    """Run the editor in the foreground and wait for it; returns its exit status.

    Raises:
        EditorError: The program does not exist or cannot be executed.
    """
    try:
        return subprocess.run(argv, cwd=cwd, check=False).returncode
    except FileNotFoundError:
        raise EditorError(
            f"The editor {argv[0]!r} was not found. Set $VISUAL or $EDITOR to your editor."
        ) from None
    except OSError as exc:
        raise EditorError(f"Cannot start the editor {argv[0]!r}: {exc.strerror}.") from None


def _program_name(program: str) -> str:
    name = PurePath(program.replace("\\", "/")).name.lower()
    return name.removesuffix(".exe").removesuffix(".cmd")
