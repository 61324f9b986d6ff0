"""The terminal app (Textual). ``run_app`` is the only entry point; the CLI calls it.

Textual is imported inside ``run_app``, never at package import, so nothing else that imports
``codefind.tui`` (or the CLI, for ``codefind search``) pays for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codefind.config import Settings

FRAME_RATE = 120
"""Frames per second Textual may draw. Its default, 60, makes a change that arrives just
after a frame wait up to 16.7 ms for the next one; at 120 a keystroke's results reach the
screen about 8 ms sooner (measured in benchmarks/bench_app.py). The app only draws when
something changed, so a higher ceiling costs nothing while idle."""


def configure_textual() -> None:
    """Settings Textual reads from the environment when it is first imported.

    Called before ``codefind.tui.app`` is imported (by ``run_app`` and the benchmark); a
    value the user set in the environment wins.
    """
    os.environ.setdefault("TEXTUAL_FPS", str(FRAME_RATE))


def run_app(path: Path, settings: Settings) -> int:
    """Run the app on the repository containing ``path`` until the user quits.

    Returns:
        The exit status: 0 after a normal quit, 2 when the repository cannot be opened (the
        reason is printed on stderr when the app has closed).
    """
    configure_textual()
    from codefind.tui.app import CodefindApp

    app = CodefindApp(path, settings)
    try:
        app.run()
    finally:
        if app.session is not None:  # stops indexing at its next batch, keeping its work
            app.session.close()
    return app.return_code or 0
