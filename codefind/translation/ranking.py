"""Choose a word's English sense by evidence instead of taking the dictionary's first one.

CC-CEDICT lists 代理 as "surrogate" before "(computing) proxy", 算法 as "arithmetic" before
"algorithm", 超时 as "exceed the time limit" before "(computing) timeout". Which one a code
query means is a question about words in code, so each candidate sense is scored by:

- the repository's own vocabulary: in how many of its chunks the sense's words occur (a
  callable the search service passes in; httpx says "proxy", so 代理 is "proxy" there);
- a general programming-vocabulary prior: in what share of the files of popular packages
  (not evaluation material) the words occur (``data/vocabulary.tsv.gz``, built by
  ``scripts/build_vocabulary_prior.py``);
- the dictionary's own hints: a "(computing)" label, and the order of the senses, since
  dictionaries put the common reading first;
- its length: a four-word description is a worse keyword than a one-word translation.

The best sense is what the built-in model embeds; the close runners-up are added to the
lexical (BM25) side, where an extra right word helps and a wrong one costs little. The
weights were set before any measurement and checked on the relevance benchmark's ``tune``
half only, where they already closed the zh-en gap; they were not changed afterwards.
"""

from __future__ import annotations

import gzip
import importlib.resources
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from codefind.lexical import query_tokens
from codefind.translation.senses import Candidate

Vocabulary = Callable[[Sequence[str]], Mapping[str, int]]
"""Term -> the number of the repository's chunks that contain it (0 when none does)."""

PRIOR_RESOURCE = "data/vocabulary.tsv.gz"
_PRIOR_SCALE = math.log1p(1_000_000)


@dataclass(frozen=True)
class Weights:
    """How much each kind of evidence counts (set a priori, checked on tune; see module doc)."""

    repository: float = 1.0
    prior: float = 1.0
    computing: float = 0.5
    glossary: float = 2.0
    order: float = 0.05
    length: float = 0.15
    lexical_margin: float = 0.3
    lexical_senses: int = 3


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class ScoredSense:
    """One candidate English sense with its score and the evidence behind it."""

    text: str
    score: float
    why: str


@dataclass(frozen=True)
class SenseChoice:
    """The senses of one word of the query, best first.

    Attributes:
        surface: The word as typed ("代理").
        senses: Every candidate, best first; ``senses[0]`` is the one embedded.
        lexical: The senses searched lexically (the best and the close runners-up).
    """

    surface: str
    senses: tuple[ScoredSense, ...]
    lexical: tuple[str, ...]

    @property
    def best(self) -> str:
        """The chosen English."""
        return self.senses[0].text if self.senses else ""

    def describe(self) -> str:
        """``代理 -> proxy (repo 1.00, prior 0.62, computing; runners-up: surrogate 0.31)``."""
        if not self.senses:
            return f"{self.surface} -> (dropped)"
        head = self.senses[0]
        rest = ", ".join(f"{s.text} {s.score:.2f}" for s in self.senses[1:4])
        more = f"; runners-up: {rest}" if rest else ""
        return f"{self.surface} -> {head.text} ({head.score:.2f}: {head.why}{more})"


def rank_senses(
    surface: str,
    candidates: Sequence[Candidate],
    *,
    vocabulary: Vocabulary | None = None,
    prior: Mapping[str, int] | None = None,
    glossary: bool = False,
    weights: Weights = DEFAULT_WEIGHTS,
) -> SenseChoice:
    """Score ``candidates`` (one word's senses) and order them best first.

    Args:
        surface: The word as typed.
        candidates: Its English senses in dictionary order.
        vocabulary: The repository's document frequencies (``None``: no index, e.g. eval
            corpora built on the fly or a test).
        prior: Token -> parts per million of files (``None``: the shipped table).
        glossary: The candidates come from the programming glossary (a stated sense).
        weights: How much each kind of evidence counts.
    """
    prior = vocabulary_prior() if prior is None else prior
    words = {c.text: [w for w in query_tokens(c.text) if w.isalpha()] for c in candidates}
    every = sorted({w for ws in words.values() for w in ws})
    frequencies = dict(vocabulary(every)) if vocabulary is not None and every else {}
    top = max((frequencies.get(w, 0) for w in every), default=0)
    scored = []
    for candidate in candidates:
        tokens = words[candidate.text] or [candidate.text]
        repo = _mean(_scaled(frequencies.get(w, 0), top) for w in tokens)
        common = _mean(math.log1p(prior.get(w, 0)) / _PRIOR_SCALE for w in tokens)
        score = (
            weights.repository * repo
            + weights.prior * common
            + weights.computing * candidate.computing
            + weights.glossary * glossary
            - weights.order * candidate.order
            - weights.length * (len(tokens) - 1)
        )
        why = _explain(repo, common, candidate, glossary, frequencies, tokens)
        scored.append(ScoredSense(candidate.text, round(score, 3), why))
    scored.sort(key=lambda s: -s.score)
    lexical = tuple(
        s.text
        for s in scored[: weights.lexical_senses]
        if scored and s.score >= scored[0].score - weights.lexical_margin
    )
    return SenseChoice(surface, tuple(scored), lexical)


def _scaled(count: int, top: int) -> float:
    return math.log1p(count) / math.log1p(top) if top > 0 else 0.0


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def _explain(
    repo: float,
    common: float,
    candidate: Candidate,
    glossary: bool,
    frequencies: Mapping[str, int],
    tokens: Sequence[str],
) -> str:
    parts = []
    if glossary:
        parts.append("glossary")
    if frequencies:
        found = ", ".join(f"{w}: {frequencies.get(w, 0)}" for w in tokens)
        parts.append(f"repo {repo:.2f} ({found} chunks)")
    parts.append(f"prior {common:.2f}")
    if candidate.computing:
        parts.append("computing sense")
    if not glossary:
        parts.append(f"dictionary sense {candidate.order + 1}")
    return ", ".join(parts)


_prior: dict[str, int] | None = None
_prior_lock = threading.Lock()


def vocabulary_prior() -> Mapping[str, int]:
    """The shipped token -> parts-per-million table (read once, ~10 ms; empty if missing)."""
    global _prior
    if _prior is None:
        with _prior_lock:
            if _prior is None:
                _prior = _read_prior()
    return _prior


def _read_prior() -> dict[str, int]:
    try:
        resource = importlib.resources.files("codefind.translation").joinpath(PRIOR_RESOURCE)
        text = gzip.decompress(resource.read_bytes()).decode("utf-8")
    except (OSError, EOFError):
        return {}
    table: dict[str, int] = {}
    for line in text.splitlines():
        token, _, count = line.partition("\t")
        if count.isdigit():
            table[token] = int(count)
    return table
