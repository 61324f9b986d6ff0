"""What a query became: the value ``translate_query`` returns.

Kept apart from the translator so that a search can hold and pass a ``Translation`` (an
English query is its own translation) without importing the dictionaries, the segmenter and
the sense ranking: those load only when a query has Chinese or Japanese in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codefind.translation.ranking import SenseChoice


@dataclass(frozen=True)
class Translation:
    """A query and the English keywords it became.

    Attributes:
        original: The query as typed.
        text: What to embed and search: English keywords, with words in other scripts
            (identifiers, numbers) kept as typed; equal to ``original`` when nothing was
            translated.
        language: ``"zh"``, ``"ja"``, or ``None`` when the query has no Chinese or Japanese.
        warning: Why a Chinese or Japanese query was not translated (a dictionary is
            missing), for the UI; ``None`` otherwise.
        alternatives: English words of close runner-up senses, searched on the lexical side
            only (the embedded text keeps the best sense of each word).
        choices: Each translated word's senses, scored, for ``--debug`` and ``eval --out``.
    """

    original: str
    text: str
    language: str | None = None
    warning: str | None = None
    alternatives: tuple[str, ...] = ()
    choices: tuple[SenseChoice, ...] = ()

    @property
    def changed(self) -> bool:
        """True when the text to search differs from the query as typed."""
        return self.text != self.original

    def describe(self) -> str:
        """``"读取CSV文件 -> read CSV file"`` when translated, else the query itself."""
        return f"{self.original} -> {self.text}" if self.changed else self.original

    def explain(self) -> list[str]:
        """One line per translated word: the chosen sense, its score and why."""
        return [choice.describe() for choice in self.choices]
