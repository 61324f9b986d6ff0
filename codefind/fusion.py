"""How the lexical and semantic rankings become one list.

Reciprocal-rank fusion (RRF, k=60) is what most peers use, and it was measured to *lose* to
semantic search alone on real code-search sets (MiniLM + BM25 on CoSQA dev: MRR@10 0.448 vs
0.534): it gives a chunk that BM25 ranks first as much credit as the semantic favourite,
although BM25's first place is right far less often. So codefind fuses *scores*, not ranks:

    score = cosine + LEXICAL_WEIGHT * bm25 / max_bm25

Every candidate has a real cosine (lexical-only candidates get theirs from the vector index),
so the semantic signal leads and BM25 breaks near-ties and rescues exact-word matches.

Where the weights come from, honestly: ``LEXICAL_WEIGHT`` = 0.1 was first chosen on the whole
public sets that RESULTS.md also reports. Re-checked on a split (``benchmarks/tune_fusion.py``,
half of each English set's queries to choose on, the other half held out): the tune halves
prefer 0.15 (mean MRR@10 0.744 against 0.737), and on the held-out halves the two are within
0.01 of each other on every set, so 0.1 stayed: the ranking priors and the no-match
calibration were chosen with it. BM25 helps on ODEX and HumanEval-XL on both halves; on
CoSQA its effect is within the difference between the halves (+0.010 on one, -0.029 on the
other against semantic alone). ``FOREIGN_SCRIPT_LEXICAL_WEIGHT`` was chosen on ODEX Russian;
on MCoNaLa Russian, held out, it is within 0.01 of the best weight tried. Lexical mode
scores ``bm25 / max_bm25``, so every mode's scores are on the cosine scale the ranking priors
(``codefind.ranking``: definitions, implementation first) add to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from codefind.models import SearchMode

LEXICAL_WEIGHT = 0.1
FOREIGN_SCRIPT_LEXICAL_WEIGHT = 0.5
"""For queries in a script the (English-only) model cannot read, e.g. Russian. Chosen on
odex_ru (semantic alone 0.571, BM25 alone 0.664, fused at 0.1: 0.637, at 0.5: 0.695); checked
on mconala_ru, held out: 0.498 at 0.5, 0.508 at the best weight tried (0.75)."""

# Letters of scripts other than Latin (Cyrillic, Greek, Arabic, Hebrew, Hangul, Thai, CJK...).
_FOREIGN_LETTER = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f]")


@dataclass(frozen=True)
class Candidate:
    """One chunk as seen by the retrievers (``None`` where a retriever did not find it)."""

    chunk_id: int
    cosine: float | None = None
    semantic_rank: int | None = None
    bm25: float | None = None
    lexical_rank: int | None = None
    named: bool = False
    """Found in the symbol table as a definition of a name in the query (kept in every mode)."""


def fuse(
    candidates: Iterable[Candidate],
    *,
    mode: SearchMode,
    lexical_weight: float = LEXICAL_WEIGHT,
) -> list[tuple[Candidate, float]]:
    """Candidates with their final scores, best first.

    In ``semantic`` mode the score is the cosine; in ``lexical`` mode the BM25 score over the
    best BM25 score (1.0 for the best); in ``hybrid`` mode the weighted sum above. Where no
    candidate has a cosine (no vectors yet), hybrid falls back to BM25 alone. Candidates
    without the mode's signal are left out, except definitions found by name (``named``),
    which score what they have (the ranking priors then lift them).
    """
    pool = list(candidates)
    top = max((c.bm25 for c in pool if c.bm25 is not None), default=0.0)
    if mode == "semantic":
        scored = [(c, c.cosine or 0.0) for c in pool if c.cosine is not None or c.named]
    elif mode == "lexical" or not any(c.cosine is not None for c in pool):
        scored = [(c, _lexical(c, top)) for c in pool if c.bm25 is not None or c.named]
    else:
        scored = [
            (c, (c.cosine or 0.0) + lexical_weight * _lexical(c, top))
            for c in pool
            if c.cosine is not None or c.named
        ]
    return sorted(((c, float(s)) for c, s in scored), key=_order)


def lexical_weight_for(query: str, *, multilingual: bool, base: float = LEXICAL_WEIGHT) -> float:
    """The BM25 weight for one query: higher when the model cannot read the query's script.

    An English-only model embeds a Russian query (or an untranslated Chinese one) as noise,
    while BM25 still matches the identifiers and numbers in it; so for such queries the
    lexical side gets more say. Multilingual models (Qwen3, Voyage) keep the base weight.
    """
    if multilingual:
        return base
    letters = [ch for ch in query if ch.isalpha()]
    foreign = sum(1 for ch in letters if _FOREIGN_LETTER.match(ch))
    return FOREIGN_SCRIPT_LEXICAL_WEIGHT if letters and foreign / len(letters) > 0.5 else base


def _lexical(c: Candidate, top_bm25: float) -> float:
    return (c.bm25 / top_bm25) if (c.bm25 and top_bm25 > 0) else 0.0


def _order(item: tuple[Candidate, float]) -> tuple[float, int]:
    # Ties (rare) go to the lower chunk id: stable across runs.
    return (-item[1], item[0].chunk_id)


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of several rankings (kept for comparison in benchmarks)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, 1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
