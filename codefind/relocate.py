"""Where a hit is *now*: its file may have changed since the index was written.

A hit carries the lines it had when it was indexed. Opening the file at that line after an
edit (ten lines inserted above the function) would put the user, or an agent, on the wrong
code. So before a hit is opened or quoted, its file is read and the hit is looked for:

1. **unchanged**: the indexed text is still at the indexed lines;
2. **symbol**: the file is chunked again (the indexer's own chunker) and the chunk with the
   same symbol and kind is taken (the one with the same text, else the nearest);
3. **text**: the line the hit opens at (``def total(...)``) is searched for, exactly, then
   ignoring indentation, nearest to where it was;
4. **gone**: none of that is found (the code was deleted or rewritten), and the caller says
   so instead of opening a line that means nothing now.

Costs one file read (and one parse when the file changed), so it runs per hit on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codefind.chunking import chunk_file
from codefind.models import Hit
from codefind.repo import decode_text, open_in_tree, text_lines

How = Literal["unchanged", "symbol", "text", "gone"]
MAX_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Located:
    """Where to open a hit now.

    Attributes:
        line: The line to open (the indexed ``hit.line`` when ``how`` is unchanged or gone).
        start_line: The hit's first line now.
        end_line: The hit's last line now.
        how: How it was found (see the module docstring).
    """

    line: int
    start_line: int
    end_line: int
    how: How

    @property
    def moved(self) -> bool:
        """Whether the file changed and the hit was found elsewhere."""
        return self.how in ("symbol", "text")

    @property
    def found(self) -> bool:
        """Whether the hit's code is in the file now."""
        return self.how != "gone"


def locate(root: Path, hit: Hit) -> Located:
    """Find ``hit`` in its file as it is on disk now (see the module docstring).

    A file that cannot be read (deleted, now a symlink, too large) gives ``gone``.
    """
    lines = read_lines(root, hit.path)
    if lines is None:
        return Located(hit.line, hit.start_line, hit.end_line, "gone")
    region = "\n".join(lines[hit.start_line - 1 : hit.end_line])
    if hit.end_line <= len(lines) and hit.text and hit.text in region:
        return Located(hit.line, hit.start_line, hit.end_line, "unchanged")
    by_symbol = _by_symbol(hit, lines)
    if by_symbol is not None:
        return by_symbol
    return _by_text(hit, lines)


def read_lines(root: Path, path: str) -> list[str] | None:
    """The file's lines as the indexer numbers them, or ``None`` if it cannot be read."""
    try:
        with open_in_tree(root, path) as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(data) > MAX_BYTES:
        return None
    return text_lines(decode_text(data))


def _by_symbol(hit: Hit, lines: list[str]) -> Located | None:
    if not hit.symbol:
        return None
    chunks = [
        c
        for c in chunk_file(hit.path, "\n".join(lines) + "\n", language=hit.language)
        if c.symbol == hit.symbol and c.kind == hit.kind
    ]
    if not chunks:
        return None
    same = [c for c in chunks if c.text == hit.text]
    pool = same or chunks
    best = min(pool, key=lambda c: abs(c.start_line - hit.start_line))
    # The same text: the same offset inside it (a hit named by a constant in module code
    # opens at that constant). Other text: the definition's own line.
    line = best.start_line + (hit.line - hit.start_line) if same else best.line
    return Located(line, best.start_line, best.end_line, "symbol")


def _by_text(hit: Hit, lines: list[str]) -> Located:
    gone = Located(hit.line, hit.start_line, hit.end_line, "gone")
    own = hit.text.split("\n")
    offset = hit.line - hit.start_line
    anchor = own[offset] if 0 <= offset < len(own) else ""
    if not anchor.strip():
        anchor = next((line for line in own if line.strip()), "")
        offset = own.index(anchor) if anchor else 0
    if not anchor.strip():
        return gone
    for exact in (True, False):
        want = anchor if exact else anchor.strip()
        found = [i + 1 for i, line in enumerate(lines) if (line if exact else line.strip()) == want]
        if found:
            line = min(found, key=lambda n: abs(n - hit.line))
            start = max(1, line - offset)
            return Located(line, start, start + (hit.end_line - hit.start_line), "text")
    return gone
