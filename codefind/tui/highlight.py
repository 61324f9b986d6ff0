"""Syntax highlighting of a pre-cut window of a file, straight from Pygments tokens to strips.

Why not ``rich.syntax.Syntax`` in a ``Static``: measured in this app, ``Syntax`` spends
about two thirds of its time in Rich's text machinery (``Text.divide``, ``render``) around a
Pygments pass that is the only necessary work, and a ``Static`` re-measures its height on
every update, which re-lays the screen out. Here a window of about 60 lines is lexed once
and turned into one ``Strip`` per line (gutter, code, hit-line background); the preview
widget then only crops strips to its width.

The window is lexed on its own, so a window that starts inside a multi-line string may be
coloured as code: accepted for a preview, and the price of a constant cost per file size.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from codefind.tui.files import Window

if TYPE_CHECKING:  # Pygments is imported on the first preview, not at start-up
    from pygments.lexer import Lexer
    from pygments.token import _TokenType

TAB_SIZE = 4
DARK_THEME = "monokai"
LIGHT_THEME = "default"
_LANGUAGE_ALIASES = {"c_sharp": "csharp", "tsx": "tsx", "shell": "bash", "text": "text"}


@dataclass(frozen=True)
class PreviewStyles:
    """The Rich styles a highlighted window is drawn with (from the widget's CSS)."""

    base: Style
    gutter: Style
    gutter_hit: Style
    hit: Style
    """Added to every cell of a hit line (a background tint)."""
    marker: Style
    theme: str = DARK_THEME


@functools.lru_cache(maxsize=64)
def lexer_for(language: str, path: str) -> Lexer:
    """A Pygments lexer for ``language`` (the index's name), else by file name, else text.

    Lexers keep leading blank lines (``stripnl=False``): the window's first line must stay
    the first line, or the line numbers would lie.
    """
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    options = {"stripnl": False, "ensurenl": False, "tabsize": TAB_SIZE}
    name = _LANGUAGE_ALIASES.get(language, language)
    try:
        return get_lexer_by_name(name, **options)
    except ClassNotFound:
        pass
    try:
        return get_lexer_for_filename(path, **options)
    except ClassNotFound:
        return get_lexer_by_name("text", **options)


@functools.lru_cache(maxsize=8)
def _token_styles(theme: str) -> dict[_TokenType, Style]:
    from pygments.styles import get_style_by_name

    style_class = get_style_by_name(theme)
    styles: dict[_TokenType, Style] = {}
    for token, spec in style_class:
        color = spec["color"]
        styles[token] = Style(
            color=f"#{color}" if color else None,
            bold=spec["bold"] or None,
            italic=spec["italic"] or None,
            underline=spec["underline"] or None,
        )
    return styles


def _style_for(token: _TokenType, styles: dict[_TokenType, Style]) -> Style:
    while token not in styles and token.parent is not None:
        token = token.parent
    return styles.get(token, Style())


def highlight_window(
    window: Window,
    language: str,
    hit_lines: tuple[int, int],
    styles: PreviewStyles,
) -> list[Strip]:
    """One strip per line of ``window``: line number, code, and a tint on ``hit_lines``.

    Args:
        window: The lines to show.
        language: The hit's language (chooses the lexer).
        hit_lines: First and last line of the hit (1-based, inclusive).
        styles: Colours from the widget.
    """
    if not window.lines:
        return []
    lexer = lexer_for(language, window.path)
    token_styles = _token_styles(styles.theme)
    number_width = len(str(window.last))
    first_hit, last_hit = hit_lines
    strips: list[Strip] = []
    for offset, tokens in enumerate(_split_lines(lexer.get_tokens("\n".join(window.lines)))):
        number = window.first + offset
        if number > window.last:
            break
        is_hit = first_hit <= number <= last_hit
        base = styles.base + styles.hit if is_hit else styles.base
        gutter = styles.gutter_hit if is_hit else styles.gutter
        segments = [
            Segment("▌" if is_hit else " ", base + styles.marker if is_hit else base),
            Segment(f"{number:>{number_width}} ", base + gutter),
        ]
        for token, text in tokens:
            segments.append(Segment(text, base + _style_for(token, token_styles)))
        strips.append(Strip(segments))
    return strips


def warm_up(language: str = "python", theme: str = DARK_THEME) -> None:
    """Import Pygments and build a lexer and a theme ahead of the first preview."""
    list(lexer_for(language, f"warm.{language}").get_tokens("def f(x):\n    return x\n"))
    _token_styles(theme)


def plain_lines(text: Iterable[str], style: Style) -> list[Strip]:
    """Unhighlighted lines (messages shown in the preview's place)."""
    return [Strip([Segment(" " + line, style)]) for line in text]


def _split_lines(
    tokens: Iterable[tuple[_TokenType, str]],
) -> Iterable[list[tuple[_TokenType, str]]]:
    """Group a token stream into lines; control characters become visible and harmless."""
    line: list[tuple[_TokenType, str]] = []
    for token, value in tokens:
        parts = value.split("\n")
        for index, part in enumerate(parts):
            if index:
                yield line
                line = []
            if part:
                line.append((token, _printable(part)))
    yield line


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ("    " if ch == "\t" else "·") for ch in text)
