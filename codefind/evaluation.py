"""Retrieval quality, measured the way users will feel it: ``codefind eval``.

An evaluation set is a corpus of code snippets and queries that name the relevant snippets
(format: ``tests/data/README.md``). The corpus is indexed through exactly the same code as a
repository (``CorpusSource`` is a ``FileSource``: each snippet is a file), so what is measured
is what ships: chunking, the embedding text, the store, fusion and all. Hits are chunks; a
snippet cut into several chunks counts once, at its best chunk's rank.

Metrics: recall@k is the share of queries with a relevant snippet in the top k
("success@k", as in CodeSearchNet and CoSQA); MRR@10 the mean of 1/rank of the first relevant
snippet, 0 beyond rank 10. Query latency is the wall time of one search through the search
service after a warm-up.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codefind.config import Settings, cache_home
from codefind.errors import ConfigError
from codefind.indexer import ProgressCallback
from codefind.mining import mine_pairs
from codefind.models import FileSkipped, SearchMode, SourceFile, WalkResult
from codefind.repo import Repository, blob_id
from codefind.search import SearchService
from codefind.store import IndexLocation
from codefind.workspace import Workspace

SEARCH_DEPTH = 50
"""Hits fetched per query before collapsing to snippets (a snippet may span several)."""

_EXTENSIONS = {
    "python": ".py", "javascript": ".js", "typescript": ".ts", "go": ".go", "rust": ".rs",
    "java": ".java", "c": ".c", "cpp": ".cpp", "ruby": ".rb", "php": ".php", "csharp": ".cs",
    "bash": ".sh",
}  # fmt: skip


@dataclass(frozen=True)
class CorpusEntry:
    """One snippet of an evaluation corpus."""

    id: str
    code: str
    language: str
    path: str


@dataclass(frozen=True)
class EvalQuery:
    """One query and the ids of the snippets that answer it."""

    id: str
    query: str
    relevant: frozenset[str]
    nl: str = "en"


@dataclass(frozen=True)
class EvalSet:
    """A corpus and its queries."""

    name: str
    corpus: tuple[CorpusEntry, ...]
    queries: tuple[EvalQuery, ...]

    def fingerprint(self) -> str:
        """Identifies the corpus content (the index of a changed corpus is not reused)."""
        digest = hashlib.sha256()
        for entry in self.corpus:
            digest.update(f"{entry.path}\0{entry.code}\0".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:12]


@dataclass(frozen=True)
class QueryOutcome:
    """What happened to one query (a line of ``eval --out``)."""

    id: str
    query: str
    translated: str | None
    relevant: tuple[str, ...]
    rank: int | None
    """1-based rank of the first relevant snippet, ``None`` when not in the fetched hits."""
    top: tuple[str, ...]
    ms: float
    senses: tuple[str, ...] = ()
    """Each translated word's chosen sense and why (``SenseChoice.describe``)."""


@dataclass(frozen=True)
class EvalReport:
    """The figures of one evaluation run (the keys of ``eval --json``)."""

    queries: int
    corpus: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    query_ms_p50: float
    query_ms_p95: float
    index_seconds: float
    backend: str
    model: str
    dim: int
    mode: str
    rerank: bool
    outcomes: tuple[QueryOutcome, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, object]:
        """The object printed by ``codefind eval --json``."""
        return {
            "queries": self.queries,
            "corpus": self.corpus,
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_5, 4),
            "recall@10": round(self.recall_at_10, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "query_ms_p50": round(self.query_ms_p50, 2),
            "query_ms_p95": round(self.query_ms_p95, 2),
            "index_seconds": round(self.index_seconds, 2),
            "backend": self.backend,
            "model": self.model,
            "dim": self.dim,
            "mode": self.mode,
            "rerank": self.rerank,
        }


# --- metrics ------------------------------------------------------------------------------


def first_relevant_rank(ranked_ids: Sequence[str], relevant: Iterable[str]) -> int | None:
    """1-based rank of the first id in ``relevant``; ``None`` if none appears."""
    wanted = set(relevant)
    for rank, cid in enumerate(ranked_ids, 1):
        if cid in wanted:
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of queries whose first relevant hit is within the top ``k``."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at(ranks: Sequence[int | None], k: int = 10) -> float:
    """Mean reciprocal rank, counting ranks beyond ``k`` (or missing) as 0."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def collapse(paths: Iterable[str], id_of: Mapping[str, str]) -> list[str]:
    """Hit paths to corpus ids, best first, each id once."""
    seen: dict[str, None] = {}
    for path in paths:
        cid = id_of.get(path)
        if cid is not None:
            seen.setdefault(cid, None)
    return list(seen)


# --- loading ------------------------------------------------------------------------------


def load_eval_set(corpus: Path, queries: Path, name: str | None = None) -> EvalSet:
    """Read ``corpus.jsonl`` and ``queries.jsonl``.

    Raises:
        ConfigError: A file is missing or a line is not the expected JSON.
    """
    entries = tuple(_corpus_entry(row, n) for n, row in enumerate(_jsonl(corpus)))
    ids = {e.id for e in entries}
    if len(ids) != len(entries):
        raise ConfigError(f"{corpus}: corpus ids must be unique.")
    questions = tuple(_query(row) for row in _jsonl(queries))
    return EvalSet(name or corpus.parent.name, entries, questions)


def _jsonl(path: Path) -> list[dict[str, object]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg}).") from exc
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{number}: expected a JSON object.")
        rows.append(row)
    return rows


def _corpus_entry(row: Mapping[str, object], number: int) -> CorpusEntry:
    """One snippet; without a ``path`` it gets a neutral file name.

    The product embeds each chunk with its path as context. A snippet's id as its file name
    (``odex-en-17.py``) would put the same meaningless words into every corpus text, which
    measured 0.05 MRR@10 worse on odex_en than a neutral ``snippet_17.py``; real repositories
    have paths that mean something, so the neutral name is the fair stand-in.
    """
    try:
        cid, code = str(row["id"]), str(row["code"])
    except KeyError as exc:
        raise ConfigError(f"Corpus line without {exc.args[0]!r}: {str(row)[:80]}") from None
    language = str(row.get("language") or "python").lower()
    path = str(row.get("path") or "") or f"snippet_{number}{_EXTENSIONS.get(language, '.txt')}"
    return CorpusEntry(cid, code, language, path)


def _query(row: Mapping[str, object]) -> EvalQuery:
    try:
        relevant = row["relevant"]
        if not isinstance(relevant, list):
            raise TypeError
        return EvalQuery(
            str(row["id"]),
            str(row["query"]),
            frozenset(map(str, relevant)),
            str(row.get("nl", "en")),
        )
    except (KeyError, TypeError):
        raise ConfigError(
            f"Query line needs id, query and a relevant list: {str(row)[:80]}"
        ) from None


def _safe_name(cid: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cid)


# --- the corpus as a file source ----------------------------------------------------------


class CorpusSource:
    """An evaluation corpus seen as a folder of files, one per snippet (a ``FileSource``)."""

    def __init__(self, eval_set: EvalSet, root: Path) -> None:
        self._root = root
        self._by_path = {e.path: e for e in eval_set.corpus}
        if len(self._by_path) != len(eval_set.corpus):
            raise ConfigError("Two corpus entries share a path; give them distinct paths.")

    @property
    def root(self) -> Path:
        """A nominal root (nothing is read from disk)."""
        return self._root

    def id_of_path(self) -> dict[str, str]:
        """Corpus id by file path."""
        return {path: e.id for path, e in self._by_path.items()}

    def walk(self, known: Mapping[str, SourceFile] | None = None) -> WalkResult:
        """Every snippet as a file; content ids are git blob ids of the code."""
        files = tuple(
            SourceFile(path, blob_id(e.code.encode("utf-8", "surrogatepass")), len(e.code))
            for path, e in self._by_path.items()
        )
        return WalkResult(files=files, files_seen=len(files))

    def read(self, file: SourceFile) -> str:
        """The snippet's code."""
        return self._by_path[file.path].code


def eval_location(eval_set: EvalSet, env: Mapping[str, str] | None = None) -> IndexLocation:
    """Where a corpus is indexed: ``$XDG_CACHE_HOME/codefind/eval/<name>-<fingerprint>/``.

    The embedding cache is shared by all corpora (it is content-addressed), so a second run
    with another dimension or mode, or a corpus that overlaps another, re-embeds nothing.
    """
    base = cache_home(env) / "eval"
    return IndexLocation(
        base / f"{_safe_name(eval_set.name)}-{eval_set.fingerprint()}", base / "cache"
    )


# --- running ------------------------------------------------------------------------------


def run_queries(
    service: SearchService,
    eval_set: EvalSet,
    id_of: Mapping[str, str],
    *,
    mode: SearchMode,
    rerank: bool = False,
    limit: int | None = None,
    on_query: Callable[[int, int], None] | None = None,
) -> list[QueryOutcome]:
    """Search every query (the first ``limit``) and record where its answer ranked."""
    queries = eval_set.queries[:limit] if limit else eval_set.queries
    if queries:  # warm-up: the first query pays for lazy loading, which is not query time
        service.search(queries[0].query, limit=SEARCH_DEPTH, mode=mode, rerank=rerank)
    outcomes = []
    for number, q in enumerate(queries, 1):
        started = time.perf_counter()
        result = service.search(q.query, limit=SEARCH_DEPTH, mode=mode, rerank=rerank)
        elapsed = (time.perf_counter() - started) * 1000
        ranked = collapse((h.path for h in result.hits), id_of)
        translated = result.translation.text if result.translation.changed else None
        outcomes.append(
            QueryOutcome(
                q.id, q.query, translated, tuple(sorted(q.relevant)),
                first_relevant_rank(ranked, q.relevant), tuple(ranked[:10]), elapsed,
                tuple(result.translation.explain()),
            )
        )  # fmt: skip
        if on_query is not None:
            on_query(number, len(queries))
    return outcomes


def summarize(
    outcomes: Sequence[QueryOutcome],
    *,
    corpus: int,
    index_seconds: float,
    settings: Settings,
    model: str,
    dim: int,
    mode: str,
) -> EvalReport:
    """The report for a list of outcomes."""
    ranks = [o.rank for o in outcomes]
    times = [o.ms for o in outcomes]
    return EvalReport(
        queries=len(outcomes),
        corpus=corpus,
        recall_at_1=recall_at(ranks, 1),
        recall_at_5=recall_at(ranks, 5),
        recall_at_10=recall_at(ranks, 10),
        mrr_at_10=mrr_at(ranks, 10),
        query_ms_p50=percentile(times, 50),
        query_ms_p95=percentile(times, 95),
        index_seconds=index_seconds,
        backend=settings.backend,
        model=model,
        dim=dim,
        mode=mode,
        rerank=settings.rerank,
        outcomes=tuple(outcomes),
    )


def write_outcomes(path: Path, outcomes: Iterable[QueryOutcome]) -> None:
    """``eval --out``: one JSON object per query, for error analysis."""
    with open(path, "w", encoding="utf-8") as out:
        for o in outcomes:
            row = {
                "id": o.id, "query": o.query, "translated": o.translated,
                "relevant": list(o.relevant), "rank": o.rank, "top": list(o.top), "ms": round(o.ms, 2),
            }  # fmt: skip
            if o.senses:
                row["senses"] = list(o.senses)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def evaluate(
    eval_set: EvalSet,
    settings: Settings,
    *,
    limit: int | None = None,
    location: IndexLocation | None = None,
    on_index_progress: ProgressCallback | None = None,
    ask: Callable[[str], bool] | None = None,
    on_query: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Index ``eval_set`` (reusing its cached index) and run its queries.

    Args:
        limit: Only the first ``limit`` queries.
        location: Where to index (default: ``eval_location``).
        ask: Asks before a corpus is sent to a remote backend (see ``Workspace.upload_guard``).
    """
    source = CorpusSource(eval_set, Path("/codefind-eval") / _safe_name(eval_set.name))
    workspace = Workspace(source, location or eval_location(eval_set), settings)
    try:
        started = time.monotonic()
        workspace.update_index(on_progress=on_index_progress, ask=ask)
        index_seconds = time.monotonic() - started
        service = workspace.search_service(rerank=settings.rerank, strict=True, ask=ask)
        outcomes = run_queries(
            service, eval_set, source.id_of_path(),
            mode=settings.mode, rerank=settings.rerank, limit=limit, on_query=on_query,
        )  # fmt: skip
        return summarize(
            outcomes,
            corpus=len(eval_set.corpus),
            index_seconds=index_seconds,
            settings=settings,
            model=workspace.embedder.model,
            dim=workspace.dim,
            mode=settings.mode,
        )
    finally:
        workspace.close()


def mined_eval_set(repo: Repository) -> EvalSet:
    """An evaluation set mined from a repository's own documented functions.

    Each documented function becomes a corpus entry with its doc removed, and the doc's
    first sentence its query (see ``codefind.mining`` for the rules and the bias this has).
    """
    entries: list[CorpusEntry] = []
    queries: list[EvalQuery] = []
    walk = repo.walk()
    for file in walk.files:
        try:
            text = repo.read(file)
        except FileSkipped:
            continue
        for pair in mine_pairs(file.path, text):
            cid = f"{pair.path}:{pair.start_line}"
            ext = Path(pair.path).suffix
            path = f"{pair.path}@{pair.start_line}{ext}"
            entries.append(CorpusEntry(cid, pair.code, pair.language, path))
            queries.append(EvalQuery(f"q:{cid}", pair.query, frozenset([cid])))
    if not queries:
        raise ConfigError(
            f"No documented functions found in {repo.root} to evaluate on "
            "(codefind mines docstrings and doc comments; see `codefind eval --help`)."
        )
    return EvalSet(f"repo-{repo.root.name}", tuple(entries), tuple(queries))
