"""Ranking priors: what a developer wants first, beyond how well a chunk matches the words.

Fusion (``codefind.fusion``) says how well each chunk matches the query. On a real
repository that is not enough: the test and the docs page that describe a behaviour match
it as well as the code that implements it, and a type's name matches every line that uses
the type. So, after fusion, four priors reorder the list:

1. **Definitions know their names.** A query that is a name (``HiArgs``, ``load_config``,
   ``Client.send``) lifts the chunk that defines it, found in the symbol table: the type or
   function itself first, then a same-named method, then ``impl`` blocks and members of the
   type, then everything else. A name inside a sentence ("where is MultipartStream
   encoded") counts at half strength.
2. **Implementation first.** Tests, docs, changelogs, examples, configuration and generated
   files (``codefind.categories``) lose a fixed amount, unless the query asks for them
   ("tests for ...", "docs about ...").
3. **File names.** A query word that names the file or its folder (``cookies`` ->
   ``cookies.py``) adds a little.
4. **Per-file saturation** (each further chunk of a file listed above loses a little) is
   implemented and measured; on the tune half it hurt, so its amount is 0.

Every amount is a ``RankingPriors`` field, chosen on the tune half of the relevance benchmark
(``benchmarks/relevance.py``); the values and the measurement are in RESULTS.md. Scores are in
cosine units (fusion's scale), so the same amounts work for every backend.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from codefind.categories import DECLARATION_SUFFIXES
from codefind.lexical import identifier_key, query_tokens, split_identifier
from codefind.models import TYPE_KINDS, DefinitionKind, FileCategory, Hit

# Query words that ask for something other than implementation code.
_INTENT_WORDS: dict[str, tuple[FileCategory, ...]] = {
    "test": ("test",),
    "tests": ("test",),
    "testing": ("test",),
    "tested": ("test",),
    "unittest": ("test",),
    "unittests": ("test",),
    "spec": ("test",),
    "specs": ("test",),
    "pytest": ("test",),
    "doc": ("docs",),
    "docs": ("docs",),
    "documentation": ("docs",),
    "documented": ("docs",),
    "readme": ("docs",),
    "guide": ("docs",),
    "tutorial": ("docs", "example"),
    "manual": ("docs",),
    "changelog": ("changelog",),
    "changes": ("changelog",),
    "release": ("changelog",),
    "example": ("example",),
    "examples": ("example",),
    "demo": ("example",),
    "sample": ("example",),
    "benchmark": ("example",),
    "benchmarks": ("example",),
    "bench": ("example",),
}
# An identifier inside prose: camelCase/PascalCase with an inner capital, snake_case, or dotted.
_INLINE_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)*")
_QUALIFIED = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::|#)[A-Za-z_$][\w$]*)+$")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")


@dataclass(frozen=True)
class NameQuery:
    """A code name the query asks for: ``key`` reduced as in the symbol table.

    ``container`` is the reduced type of a qualified name (``client`` for ``Client.send``);
    ``inline`` says the name is inside a sentence rather than the whole query.
    """

    key: str
    container: str | None = None
    inline: bool = False
    spelled: str = ""
    """The name's last part as typed (``value``), to prefer a definition spelled the same."""


@dataclass(frozen=True)
class QueryIntent:
    """What the query is, for the priors: names it asks for, categories it asks for."""

    names: tuple[NameQuery, ...] = ()
    wanted: frozenset[FileCategory] = frozenset()
    words: frozenset[str] = frozenset()
    """Reduced query words (plural ``s`` dropped), compared with file and folder names."""

    @property
    def is_name(self) -> bool:
        """Whether the whole query is a code name."""
        return any(not n.inline for n in self.names)


@dataclass(frozen=True)
class RankingPriors:
    """The amounts the priors add or take, in cosine units (see the module docstring)."""

    definition: float = 3.0
    """Added to the chunk that defines the name the query is (times the tier below). Large
    enough that the tiers decide among named chunks: a one-line ``impl Value {`` chunk is
    closer to the query ``Value`` by cosine than the documented ``enum Value`` itself."""
    type_tier: float = 1.0
    function_tier: float = 0.9
    method_tier: float = 0.75
    """A member with the name (a ``url`` property when the query is ``URL``)."""
    impl_tier: float = 0.5
    """An ``impl`` block of the named type."""
    variable_tier: float = 0.7
    """A module-level variable or constant with the name: below a function or method of the
    same name (`var contentType = require('content-type')` next to `res.contentType = function
    contentType()` in Express), still far above chunks that only use the name."""
    field_tier: float = 0.6
    """A field, property or enum variant a type declares with the name: below a module-level
    variable (a field name is more often shared by several types)."""
    member_tier: float = 0.3
    """A member of the named type (its methods), or a same-named member of another type."""
    prefix_factor: float = 0.4
    """Names that only start with the query (``SearcherBuild`` -> ``SearcherBuilder``)."""
    inline_factor: float = 0.5
    """A name inside a sentence counts this much of a query that is the name."""
    category_penalty: Mapping[str, float] = field(
        default_factory=lambda: {
            "test": 0.5,
            "docs": 0.4,
            "changelog": 0.4,
            "example": 0.06,
            "config": 0.06,
            "generated": 0.12,
            "data": 0.1,
        }
    )
    """Taken from chunks of each category unless the query asks for that category. Tests and
    docs lose a lot (chosen on the tune half, where larger was better up to the grid's end):
    they rank before code only when the query asks for them or nothing in code matches. No
    tune question decides the changelog's amount; it is treated like docs."""
    unwanted_code_penalty: float = 0.08
    """Taken from code when the query asks for tests, docs or examples."""
    declaration: float = 0.04
    """Taken from type declarations (``.d.ts``, ``.pyi``): they describe, the code does."""
    declaration_definition: float = 0.6
    """The share of the definition boost a declaration file's definition gets. attrs ships a
    ``.pyi`` stub with three ``@overload`` lines for ``instance_of``: each is a definition,
    short and close to the query by cosine, and all three ranked above the implementation.
    At 0.6 a stub still ranks far above the chunks that only use the name."""
    exact_case: float = 0.15
    """Added to the tier of a definition spelled exactly as typed (``value`` over ``Value``)."""
    file_name: float = 0.03
    """Added per query word that names the chunk's file or folder (at most two)."""
    same_file: float = 0.0
    """Taken from a chunk per better chunk of the same file above it (at most five). A peer
    reports that this saturation helps; on the tune half every value above 0 cost top-1 and
    top-3 (the right place often has a neighbour in its file ranked just above), so it is
    off, and kept to measure again."""


DEFAULT_PRIORS = RankingPriors()


@dataclass(frozen=True)
class ChunkFacts:
    """What the priors need to know about one candidate chunk."""

    path: str
    category: FileCategory


def analyse_query(query: str, translated: str | None = None) -> QueryIntent:
    """The names and categories ``query`` asks for (``translated``: its English, if any)."""
    text = query.strip()
    english = translated if translated is not None else text
    words = query_tokens(english)
    wanted = frozenset(c for w in words for c in _INTENT_WORDS.get(w, ()))
    return QueryIntent(
        names=_names(text), wanted=wanted, words=frozenset(_reduce(w) for w in words)
    )


@dataclass(frozen=True)
class DefinitionBoost:
    """What a chunk gets for defining a name the query asks for, and where the name is."""

    amount: float
    line: int
    """The line binding the name (a constant inside module code is not the chunk's start)."""


def definition_boosts(
    intent: QueryIntent, rows_for: Mapping[NameQuery, Sequence[SymbolMatch]], priors: RankingPriors
) -> dict[int, DefinitionBoost]:
    """The definition boost of each chunk found in the symbol table for the query's names."""
    boosts: dict[int, DefinitionBoost] = {}
    for name in intent.names:
        for match in rows_for.get(name, ()):
            if match.kind == "field" and name.inline:
                # Inside a sentence a field's name asks what is done with it ("join baseURL
                # and a relative path"), not where a type declares it (`baseURL?: string`).
                continue
            strength = priors.inline_factor if name.inline else 1.0
            amount = priors.definition * _tier(name, match, priors) * strength
            best = boosts.get(match.chunk_id)
            if best is None or amount > best.amount:
                boosts[match.chunk_id] = DefinitionBoost(amount, match.line)
    return boosts


@dataclass(frozen=True)
class SymbolMatch:
    """A symbol-table row found for a name: how it matched, and what it defines."""

    chunk_id: int
    kind: DefinitionKind
    key: str
    container_key: str
    line: int = 0
    name: str = ""
    prefix: bool = False
    member_of_name: bool = False
    """Found as a member of the named type (its method), not by its own name."""


def apply_priors(
    scored: Iterable[tuple[int, float]],
    facts: Mapping[int, ChunkFacts],
    intent: QueryIntent,
    boosts: Mapping[int, DefinitionBoost],
    priors: RankingPriors = DEFAULT_PRIORS,
) -> list[tuple[int, float]]:
    """Chunk ids with their final scores, best first (see the module docstring).

    Args:
        scored: (chunk id, fused score) pairs.
        facts: Path and category of each chunk (chunks without facts keep their score).
        intent: What the query asks for (``analyse_query``).
        boosts: Definition boosts (``definition_boosts``).
        priors: The amounts.
    """
    adjusted: list[tuple[int, float]] = []
    for cid, score in scored:
        fact = facts.get(cid)
        boost = boosts.get(cid)
        path = fact.path if fact is not None else None
        if boost is not None:
            score += definition_amount(boost, path, priors)
        if fact is not None:
            score -= _category_penalty(fact.category, intent, priors)
            if is_declaration(fact.path):
                score -= priors.declaration
            score += priors.file_name * min(2, _file_name_matches(fact.path, intent.words))
        adjusted.append((cid, score))
    adjusted.sort(key=lambda item: (-item[1], item[0]))
    if priors.same_file <= 0:
        return adjusted
    seen: Counter[str] = Counter()
    saturated: list[tuple[int, float]] = []
    for cid, score in adjusted:
        fact = facts.get(cid)
        if fact is not None:
            score -= priors.same_file * min(5, seen[fact.path])
            seen[fact.path] += 1
        saturated.append((cid, score))
    saturated.sort(key=lambda item: (-item[1], item[0]))
    return saturated


NO_MATCH_COVERAGE = 0.5
"""A query whose words are mostly unknown to the index (``zzqxjvk``, "recipe for a chocolate
cake") has no good match, unless it names a definition. Measured on the tune half
(``benchmarks/calibrate_no_match.py``): real questions have coverage 0.71 or more; 93% of
nonsense and off-topic searches have less than 0.5."""
NO_MATCH_COSINE = 0.25
"""A hit this far from the query by cosine is weak, whatever its words. Measured with the
built-in model on the tune half: right top hits have 0.34 or more at the 10th percentile,
nonsense and off-topic top hits 0.30 at the 90th; with coverage, 0.25 shows 2 of 180
no-match searches and hides none of 107 real questions. Stronger models give related text
higher cosines, so for them the same value errs on the side of showing hits."""


LEXICAL_EVIDENCE_RANK = 3
"""When every word of the query is in the index, the best BM25 matches count as evidence
whatever their cosine (a one-word query such as ``vendored`` against a README line)."""


def mark_weak(hits: Sequence[Hit], coverage: float) -> list[Hit]:
    """The hits with ``weak`` set, strong ones first (each group in rank order).

    A hit is strong when it defines a name the query asks for, when the query's words are
    known to the index (``coverage``) and the hit is close by cosine (hits without a cosine,
    in lexical mode or before vectors exist, count on the words alone), or when all the
    query's words are known and the hit is one of the best BM25 matches.
    """
    strong, weak = [], []
    for hit in hits:
        if is_strong(hit.named, hit.cosine, hit.lexical_rank, coverage):
            strong.append(hit)
        else:
            weak.append(replace(hit, weak=True))
    return strong + weak


def is_strong(named: bool, cosine: float | None, lexical_rank: int | None, coverage: float) -> bool:
    """The evidence rule of ``mark_weak`` for one candidate (search applies it before it cuts
    the ranking at ``limit``, so a strong hit is not lost behind weak ones)."""
    close = cosine is None or cosine >= NO_MATCH_COSINE
    worded = coverage >= 1.0 and lexical_rank is not None and lexical_rank <= LEXICAL_EVIDENCE_RANK
    return named or (coverage >= NO_MATCH_COVERAGE and close) or worded


def definition_amount(boost: DefinitionBoost, path: str | None, priors: RankingPriors) -> float:
    """What defining the query's name adds to a chunk at ``path``: a declaration file's
    definition (a stub) gets ``declaration_definition`` of it."""
    declared = path is not None and is_declaration(path)
    return boost.amount * (priors.declaration_definition if declared else 1.0)


def is_declaration(path: str) -> bool:
    """Whether ``path`` is a type declaration file (``.d.ts``, ``.pyi``)."""
    return path.endswith(DECLARATION_SUFFIXES)


def _category_penalty(category: FileCategory, intent: QueryIntent, priors: RankingPriors) -> float:
    if category in intent.wanted:
        return 0.0
    if category == "code":
        return priors.unwanted_code_penalty if intent.wanted else 0.0
    return priors.category_penalty.get(category, 0.0)


def _tier(name: NameQuery, match: SymbolMatch, priors: RankingPriors) -> float:
    if match.member_of_name:
        tier = priors.member_tier
    elif name.container is not None:  # `Client.send`: the right container, or another one
        tier = priors.function_tier if match.container_key == name.container else priors.member_tier
    elif match.kind == "impl":
        tier = priors.impl_tier
    elif match.kind in TYPE_KINDS:
        tier = priors.type_tier
    elif match.kind == "method":
        tier = priors.method_tier
    elif match.kind == "variable":
        tier = priors.variable_tier
    elif match.kind == "field":
        tier = priors.field_tier
    else:
        tier = priors.function_tier
    if match.name and match.name == name.spelled:
        tier += priors.exact_case
    return tier * (priors.prefix_factor if match.prefix else 1.0)


def _names(text: str) -> tuple[NameQuery, ...]:
    """The names in a query: the whole query when it is one, else identifiers inside it."""
    if _QUALIFIED.match(text):
        container, _, last = re.split(r"(\.|::|#)", text)[-3:]
        return (NameQuery(identifier_key(last), identifier_key(container), spelled=last),)
    if _SIMPLE_NAME.match(text):
        key = identifier_key(text)
        return (NameQuery(key, spelled=text),) if key else ()
    found: dict[str, NameQuery] = {}
    for word in _INLINE_NAME.findall(text):
        if _looks_like_code_name(word):
            name = _names(word)
            if name:
                found.setdefault(word, replace(name[0], inline=True))
    return tuple(found.values())


def _looks_like_code_name(word: str) -> bool:
    """``MultipartStream``, ``load_config``, ``Client.send``: not ``The`` or ``HTTP``."""
    if any(sep in word for sep in (".", "::", "#")):
        return len(word) > 2 and not word.endswith(".")
    if "_" in word.strip("_"):
        return True
    return bool(re.search(r"[a-z][A-Z]", word))


def _reduce(word: str) -> str:
    """A word for comparing with file names: lower-case, a plural ``s`` dropped."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _file_name_matches(path: str, words: frozenset[str]) -> int:
    return len(_name_words(path) & words) if words else 0


@functools.lru_cache(maxsize=65536)
def _name_words(path: str) -> frozenset[str]:
    """The reduced words of a file's stem and its folder's name (``cookies.py`` -> cookie)."""
    folder, _, name = path.rpartition("/")
    stem = name.split(".", 1)[0]
    parent = folder.rpartition("/")[2]
    return frozenset(_reduce(p) for p in (*split_identifier(stem), *split_identifier(parent)) if p)
