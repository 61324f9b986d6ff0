"""Cutting a run of lines into windows that fit the character budget.

Used for everything that is not one whole definition: text files, module-level code, long
definitions, and code that does not parse. Windows prefer to end at a blank line in their
second half (a paragraph or statement group boundary) and then need no overlap; a window cut
mid-flow repeats its last few lines at the start of the next, so a statement cut in two is
whole in one of them. A single line longer than the budget (minified code) is cut by
characters as a last resort; such a window names its line and the columns it covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """A window: lines ``start..end`` (1-based, inclusive), or a slice of one long line.

    Attributes:
        start: First line.
        end: Last line.
        columns: For a piece of a line longer than the budget, the ``[from, to)`` character
            offsets of the piece in that line (``start == end``); ``None`` for whole lines.
    """

    start: int
    end: int
    columns: tuple[int, int] | None = None


def is_blank(line: str) -> bool:
    """Whether a line holds nothing but whitespace."""
    return not line.strip()


def line_windows(
    lines: Sequence[str], start: int, end: int, *, max_chars: int, overlap: int
) -> list[Span]:
    """Cut lines ``start..end`` into windows of at most ``max_chars`` characters.

    Every non-blank line in the range lies in at least one window; no window starts or ends
    with a blank line; no window is longer than ``max_chars`` (counting the newlines between
    its lines).

    Args:
        lines: All lines of the file, ``lines[0]`` being line 1.
        start: First line of the range (1-based).
        end: Last line of the range (inclusive).
        max_chars: The budget per window.
        overlap: Lines repeated between windows cut mid-flow (at most a third of a window).
    """
    max_chars = max(1, max_chars)
    while end >= start and is_blank(lines[end - 1]):
        end -= 1
    total = sum(map(len, lines[start - 1 : end])) + end - start
    if total <= max_chars:  # the common case: one window
        while start <= end and is_blank(lines[start - 1]):
            start += 1
        return [Span(start, end)] if start <= end else []
    spans = _windows(lines, start, end, max_chars, max_chars, overlap)
    if len(spans) < 2 or any(span.columns for span in spans):
        return spans
    # Filling each window to the budget can leave a stub of a few lines at the end: aim at
    # an even share instead, the smallest that needs no more windows.
    for step in range(1, 10):
        budget = min(max_chars, total // len(spans) + step * max_chars // 10)
        even = _windows(lines, start, end, budget, max_chars, overlap)
        if len(even) <= len(spans):
            return even
    return spans


def _windows(
    lines: Sequence[str], start: int, end: int, budget: int, max_chars: int, overlap: int
) -> list[Span]:
    """Greedy windows of at most ``budget`` characters (longer lines cut at ``max_chars``)."""
    spans: list[Span] = []
    line = start
    while line <= end:
        while line <= end and is_blank(lines[line - 1]):
            line += 1
        if line > end:
            break
        if len(lines[line - 1]) > budget:
            if len(lines[line - 1]) > max_chars:
                pieces = line_pieces(lines[line - 1], max_chars)
                spans.extend(Span(line, line, piece) for piece in pieces)
            else:
                spans.append(Span(line, line))
            line += 1
            continue
        last, natural = _window_end(lines, line, end, budget)
        spans.append(Span(line, last))
        if last >= end:
            break
        if natural:
            line = last + 1
        else:
            repeat = min(overlap, (last - line + 1) // 3)
            line = max(last + 1 - repeat, line + 1)
    return spans


def _window_end(lines: Sequence[str], first: int, end: int, max_chars: int) -> tuple[int, bool]:
    """The last line of the window starting at ``first``, and whether it ends at a blank line.

    ``first`` is not blank and fits the budget on its own.
    """
    size = len(lines[first - 1])
    last = first
    while last < end:
        following = len(lines[last])
        if following > max_chars or size + 1 + following > max_chars:
            break
        size += 1 + following
        last += 1
    if last >= end:
        return last, False
    middle = first + (last - first) // 2
    for candidate in range(last + 1, middle, -1):  # a blank line just past the end counts too
        if is_blank(lines[candidate - 1]):
            return _trim_end(lines, first, candidate - 1), True
    return _trim_end(lines, first, last), False


def _trim_end(lines: Sequence[str], first: int, last: int) -> int:
    while last > first and is_blank(lines[last - 1]):
        last -= 1
    return last


def line_pieces(line: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut one over-long line into ``[from, to)`` pieces of at most ``max_chars`` characters.

    Pieces overlap by a tenth of the budget and prefer to end after a space; pieces of pure
    whitespace are left out.
    """
    max_chars = max(1, max_chars)
    repeat = max_chars // 10
    pieces: list[tuple[int, int]] = []
    position = 0
    length = len(line)
    while position < length:
        cut = min(position + max_chars, length)
        if cut < length:
            space = line.rfind(" ", position + max_chars * 4 // 5, cut)
            if space > position:
                cut = space + 1
        if line[position:cut].strip():
            pieces.append((position, cut))
        if cut >= length:
            break
        position = max(cut - repeat, position + 1)
    return pieces
