"""The command line: ``main`` parses argv and runs one command (see ``codefind.cli.main``).

Modules: ``main`` (parsers, dispatch and the index/search/config/server commands),
``evaluate`` (``codefind eval``), ``render`` (output formats, summaries, progress on stderr).
Only this package and ``codefind.tui`` are front ends; nothing below them imports either.
"""

from __future__ import annotations

from codefind.cli.main import main

__all__ = ["main"]
