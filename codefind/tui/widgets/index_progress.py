"""The indexing progress row: phase, counts, speed, ETA and a bar.

Shown only while an indexing run has real work (reading changed files or embedding); a run
that finds nothing to do stays invisible. The words come from ``describe_progress``, a pure
function, so the snapshot of the indexing state is deterministic and the arithmetic is tested
without an app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.containers import Horizontal

if TYPE_CHECKING:  # imported when needed, after the first frame
    from textual.widgets import Label, ProgressBar

    from codefind.indexer import IndexProgress

PHASES = {
    "walk": "Scanning files",
    "chunk": "Reading files",
    "embed": "Embedding",
    "save": "Saving the index",
    "done": "Done",
}


@dataclass(frozen=True)
class ProgressView:
    """What the row shows for one progress report."""

    label: str
    done: int
    total: int
    short: str
    """A few words for the status line (``embedding 38%``)."""


def describe_progress(
    progress: IndexProgress, embed_start: tuple[float, int] | None
) -> ProgressView:
    """The label, bar position and percentage for ``progress``.

    Args:
        progress: The latest report.
        embed_start: ``(elapsed, done)`` of the first embedding report of this run, from
            which the speed is measured (``None`` before embedding starts).
    """
    phase = PHASES.get(progress.phase, progress.phase)
    done, total = progress.done, progress.total
    percent = f"{100 * progress.fraction:.0f}%"
    if progress.phase == "chunk":
        label = f"{phase} {done:,}/{total:,} files"
    elif progress.phase == "embed":
        label = f"{phase} {done:,}/{total:,} chunks"
        if embed_start is not None:
            seconds = progress.elapsed - embed_start[0]
            count = done - embed_start[1]
            if seconds > 0.5 and count > 0:
                rate = count / seconds
                label += f" · {rate:,.0f}/s · ETA {_clock((total - done) / rate)}"
    else:
        label = phase
    short = f"{phase.lower()} {percent}" if progress.phase in ("chunk", "embed") else phase.lower()
    return ProgressView(label, done, max(total, 1), short)


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class IndexProgressRow(Horizontal):
    """A label and a bar; hidden unless it has the ``-active`` class.

    The children are mounted by the first ``show``: most starts index nothing, and every
    widget composed up front delays the first frame.
    """

    DEFAULT_CSS = """
    IndexProgressRow {
        height: 1;
        display: none;
        background: $panel;
        padding: 0 1;
        &.-active { display: block; }
        & > Label { width: 1fr; color: $text-muted; }
        & > ProgressBar { width: auto; }
        & > ProgressBar > Bar { width: 24; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._label: Label | None = None
        self._bar: ProgressBar | None = None

    def show(self, view: ProgressView) -> None:
        """Show ``view`` (and the row); the label and bar are mounted on first use."""
        if self._label is None or self._bar is None:
            from textual.widgets import Label, ProgressBar

            self._label = Label("", id="index-label", markup=False)
            self._bar = ProgressBar(total=1, show_eta=False, id="index-bar")
            self.mount(self._label, self._bar)
        self.add_class("-active")
        self._label.update(view.label, layout=False)
        self._bar.update(total=view.total, progress=view.done)

    def hide(self) -> None:
        """Hide the row (the run ended or has nothing to do)."""
        self.remove_class("-active")
