"""How the CLI prints: hits in four formats, index summaries, and progress on stderr.

Only the CLI uses this module. Formats follow the README's "The command line" exactly:
``text`` for people (grouped by file, coloured on a TTY), ``grep`` (``path:line:symbol``),
``vimgrep`` (``path:line:1:symbol``) and ``json`` (JSON Lines, one hit per line).

File names and code come from the repository, so they may hold anything: a newline in a name
would split a ``grep`` line into two fake hits, an escape sequence would retitle or clear the
terminal. Like ripgrep, nothing from the repository reaches the terminal raw: ``visible``
escapes control characters (``\\n``, ``\\x1b``) in paths, symbols, code and notes. JSON is
escaped by ``json.dumps`` already.

Imports stay light (no indexer, no numpy): ``main`` uses ``visible`` for every error message.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from codefind.errors import redact
from codefind.models import Hit, IndexReport

if TYPE_CHECKING:  # importing the indexer would load numpy for every error message
    from codefind.indexer import IndexProgress

JSON_TEXT_LIMIT = 4000
_PHASE_NAMES = {
    "walk": "Scanning files",
    "chunk": "Reading files",
    "embed": "Embedding",
    "save": "Saving",
    "done": "Done",
}


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters never printed raw: C0 and C1 controls (newline and escape included), DEL,
Unicode line separators and the bidirectional overrides that reorder what a reader sees."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control character escaped visibly, except those in ``keep``.

    ``keep="\\t"`` leaves tabs in code; ``keep="\\n\\t"`` leaves a message's own line
    breaks.
    """

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        if char in _NAMED:
            return _NAMED[char]
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNSAFE.sub(escape, text)


def hit_json(hit: Hit, rank: int) -> dict[str, object]:
    """One hit as the JSON object of the CLI contract."""
    return {
        "rank": rank,
        "path": hit.path,
        "line": hit.line,
        "start_line": hit.start_line,
        "end_line": hit.end_line,
        "symbol": hit.symbol,
        "kind": hit.kind,
        "language": hit.language,
        "category": hit.category,
        "score": round(hit.score, 6),
        "text": hit.text[:JSON_TEXT_LIMIT],
    }


def json_line(value: object) -> str:
    """``value`` as one line of JSON that is safe on a terminal and parses back exactly.

    ``json.dumps`` escapes C0 controls but leaves DEL, C1 controls, U+2028/2029 and the
    bidirectional overrides raw (with ``ensure_ascii=False``); they can only occur inside
    strings, where a ``\\uXXXX`` escape means the same character.
    """
    text = json.dumps(value, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def write_hits(hits: Sequence[Hit], fmt: str, out: TextIO, *, color: bool) -> None:
    """Print ``hits`` in format ``fmt`` (text, grep, vimgrep or json)."""
    if fmt == "json":
        for rank, hit in enumerate(hits, 1):
            out.write(json_line(hit_json(hit, rank)) + "\n")
    elif fmt in ("grep", "vimgrep"):
        column = ":1" if fmt == "vimgrep" else ""
        for hit in hits:
            label = _one_line(hit.symbol or hit.kind)
            out.write(f"{visible(hit.path)}:{hit.line}{column}:{label}\n")
    else:
        _write_text(hits, out, color=color)


def write_report(report: IndexReport, out: TextIO) -> None:
    """The human summary of an indexing run."""
    skipped = sum(report.skipped.values())
    reasons = ", ".join(
        f"{n} {visible(r).replace('_', ' ')}" for r, n in report.skipped.items() if n
    )
    out.write(
        f"Indexed {report.files} files ({report.chunks} chunks) with {visible(report.backend)} "
        f"{visible(report.model)} at {report.dim} dimensions in {report.seconds:.1f} s.\n"
        f"  embedded {report.embedded}, reused {report.reused} embedded before, "
        f"removed {report.removed}; looked at {report.files_seen} files"
        + (f", skipped {skipped} ({reasons})" if skipped else "")
        + ".\n"
    )
    for note in report.notes:
        out.write(f"  note: {visible(note)}\n")


LOG_INTERVAL = 10.0
"""Seconds between progress lines when stderr is not a terminal."""
RATE_WINDOW = 30.0
"""Seconds of recent progress the rate (and so the ETA) is computed from."""


class ProgressLine:
    """Indexing progress on stderr, for a person at a terminal and for a log alike.

    On a terminal: one bar, redrawn in place at most 10 times a second. Elsewhere (a CI job,
    a script, ``2> log``) a redrawn line would be garbage, and silence for ten minutes looks
    like a hang, so a plain line is written every ``interval`` seconds of the run (files,
    chunks, rate, ETA); a run shorter than that prints nothing. ``quiet`` prints nothing.
    Times are the indexer's own (``IndexProgress.elapsed``), so a replayed run prints the same.
    """

    def __init__(
        self, stream: TextIO | None = None, *, quiet: bool = False, interval: float = LOG_INTERVAL
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.enabled = not quiet
        self.interval = interval
        self._rate = RecentRate()
        self._files = 0
        self._last = 0.0
        self._last_logged = 0.0
        self._shown = False

    def __call__(self, progress: IndexProgress) -> None:
        """Show ``progress`` (called by the indexer)."""
        if not self.enabled:
            return
        if progress.phase == "chunk":
            self._files = max(self._files, progress.files)
        if progress.phase == "embed":
            self._rate.add(progress.elapsed, progress.done)
        if not self.tty:
            self._log(progress)
            return
        now = time.monotonic()
        if progress.phase != "done" and now - self._last < 0.1 and progress.done < progress.total:
            return
        self._last = now
        if progress.phase == "done":
            self.clear()
            return
        self.stream.write("\r\x1b[2K" + _progress_text(progress, self._rate))
        self.stream.flush()
        self._shown = True

    def _log(self, progress: IndexProgress) -> None:
        if progress.phase == "done" or progress.elapsed - self._last_logged < self.interval:
            return
        self._last_logged = progress.elapsed
        self.stream.write(f"codefind: {_log_text(progress, self._rate, self._files)}\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the line (before printing anything else to stderr)."""
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._shown = False


class RecentRate:
    """Units per second over the last ``window`` seconds: the ETA follows today's pace.

    The rate since the start would carry a slow start (loading the model, a busy minute)
    for the rest of the run, and an ETA from it stays wrong long after the pace changed.
    """

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, seconds: float, done: int) -> None:
        """Record that ``done`` units were finished ``seconds`` into the run."""
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()  # a new phase (or run) counts from zero again
        self._samples.append((seconds, done))
        while len(self._samples) > 2 and seconds - self._samples[1][0] >= self.window:
            self._samples.popleft()

    def per_second(self) -> float | None:
        """The recent rate, or ``None`` before there are two samples apart in time."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None

    def eta(self, remaining: int) -> float | None:
        """Seconds until ``remaining`` more units are done at the recent rate."""
        rate = self.per_second()
        return None if rate is None else remaining / rate


def _duration(seconds: float) -> str:
    """``42 s``, ``7 min 05 s``, ``2 h 03 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _log_text(p: IndexProgress, rate: RecentRate, files: int) -> str:
    """One plain progress line: what is being done, how far, how fast, how long still."""
    name = _PHASE_NAMES.get(p.phase, p.phase).lower()
    if p.phase == "chunk":
        return f"{name}: {p.done:,}/{p.total:,} files, {_duration(p.elapsed)} so far"
    if p.phase != "embed":
        return f"{name}, {_duration(p.elapsed)} so far"
    share = 100 * p.fraction
    text = f"{name}: {p.done:,}/{p.total:,} chunks ({share:.0f}%)"
    if files:
        text += f" from {files:,} files read"
    per_second = rate.per_second()
    if per_second is not None:
        eta = rate.eta(p.total - p.done) or 0.0
        text += f", {per_second:.1f} chunks/s, ETA {_duration(eta)}"
    return text + f", {_duration(p.elapsed)} so far"


def _progress_text(p: IndexProgress, rate: RecentRate) -> str:
    name = _PHASE_NAMES.get(p.phase, p.phase)
    if p.total <= 1 and p.phase in ("walk", "save"):
        return f"{name}…"
    width = 24
    filled = int(width * p.fraction)
    bar = "█" * filled + "░" * (width - filled)
    text = f"{name} {bar} {p.done}/{p.total}"
    per_second = rate.per_second() if p.phase == "embed" else None
    if per_second is not None:
        eta = rate.eta(p.total - p.done) or 0.0
        text += f"  {per_second:.0f} chunks/s  ETA {_duration(eta)}"
    return text


def _write_text(hits: Sequence[Hit], out: TextIO, *, color: bool) -> None:
    bold, dim, cyan, reset = ("\x1b[1m", "\x1b[2m", "\x1b[36m", "\x1b[0m") if color else ("",) * 4
    last_path = None
    for hit in hits:
        if hit.path != last_path:
            if last_path is not None:
                out.write("\n")
            out.write(f"{bold}{cyan}{visible(hit.path)}{reset}\n")
            last_path = hit.path
        label = visible(hit.symbol or hit.kind)
        where = "" if hit.category == "code" else f"{hit.category}, "
        out.write(
            f"  {bold}{hit.line}{reset}{dim} ({hit.start_line}-{hit.end_line}){reset} {label} "
            f"{dim}({where}{hit.kind}, {hit.score:.3f}){reset}\n"
        )
        for line in _preview_lines(hit.text):
            out.write(f"    {dim}{line}{reset}\n")


def _preview_lines(text: str, count: int = 3, width: int = 100) -> list[str]:
    # "\n" only: str.splitlines would also split on form feeds and U+2028, which are code.
    lines = [line.rstrip() for line in text.split("\n") if line.strip()][:count]
    return [visible(line[:width], keep="\t") for line in lines]


def _one_line(text: str) -> str:
    return visible(" ".join(text.split()))


def ask_yes_no(question: str) -> bool:
    """Ask on the terminal (the question on stderr), default no."""
    # stderr, not stdout: stdout carries results only.
    sys.stderr.write(f"{visible(redact(question), keep=chr(10))}\nContinue? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")
