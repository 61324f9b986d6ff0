"""Mine (search query -> code chunk) training pairs from the downloaded packages.

Run with the project venv (it imports codefind), after ``download_sources.py``:

    .venv/bin/python training/mine_pairs.py

Why each step:

* Parsing: ``codefind.mining.mine_pairs`` (the one place code is parsed for pairs), so the
  training data is cut exactly like ``codefind eval --repo`` cuts a repository: same doc
  cleaning, same boilerplate and test filters.
* The positive is what the product embeds: ``codefind.chunking.embedding_text`` of the chunk
  ``chunk_file`` makes for the function (header ``path: symbol`` + code). Most positives have
  the doc removed (the model must match intent to *code*, not copy the doc); a quarter keep it
  (real code at search time usually has docs, and CoSQA's corpus keeps them), and those get a
  query that is not the doc's own first sentence (a shortened form or the name in words), so
  they are not a copy task either. Functions the chunker splits into blocks are skipped.
* Queries: the doc's first sentence (half of them, half of those lower-cased), a shortened
  keyword form (about 30%: leading "Return(s)/Get(s)" and articles dropped, at most 8 words)
  and the function name split into words (about 20%), drawn with a seeded RNG per pair.
* De-duplication by normalised code hash and by normalised first sentence, across all
  packages (npm packages ship the same function as src/, cjs/ and esm/ copies); a cap per
  package keeps a few huge projects from dominating.
* The overlap filter: a pair is dropped when the normalised hash of its code (comments,
  docstrings and whitespace removed, lower-cased) matches any snippet of any
  ``../shared/eval/*/corpus.jsonl``, or the body of one (ODEX wraps one-liners in
  ``def f_<id>()``), or when its query equals an evaluation query. Counts are reported.
* Splits: whole files go to validation (2%, by a hash of package and path), so a
  validation score is not inflated by near-copies in the same file. The "heldout" packages
  are never trained on: they become extra evaluation sets (``.work/heldout/<name>/``, in the
  ``codefind eval --corpus`` format, built like ``codefind eval --repo`` builds them).

Outputs (under ``training/.work/``): ``pairs/train.jsonl``, ``pairs/val.jsonl``,
``heldout/<name>/{corpus,queries}.jsonl``; and ``training/data_stats.json`` (counts per
package, drops per filter), which is small and committed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import random
import re
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from codefind.chunking import MAX_CHUNK_CHARS, chunk_file, embedding_text
from codefind.mining import MinedPair, mine_pairs
from codefind.models import Chunk

TRAINING = Path(__file__).resolve().parent
WORK = TRAINING / ".work"
SOURCES = WORK / "src"
EVAL_DIR = TRAINING.parent.parent / "shared" / "eval"
SEED = 20240611

PER_PACKAGE_CAP = 2500
HELDOUT_CAP = 600
VAL_SHARE = 0.02
DOC_KEPT_SHARE = 0.25
MAX_FILE_BYTES = 400_000

_EXTENSIONS = (".py", ".js", ".mjs", ".cjs", ".ts", ".mts", ".jsx", ".tsx")
# Vendored copies (pip vendors rich; setuptools vendors others), bundles, type stubs, tests.
_SKIP_PATH = re.compile(
    r"(^|/)(_vendor|vendor|vendored|extern|externals|_vendored|node_modules|third_party|"
    r"tests?|testing|__tests__|benchmarks?|examples?|docs?)/"
    r"|\.min\.[cm]?js$|\.d\.[cm]?ts$|(^|/)dist/.*\.(umd|browser|bundle|global)\.|\.map$"
)
_LEADING = re.compile(
    r"^(this (function|method) |(a )?(helper|function|method|utility) (to|that|for) )?"
    r"(returns?|gets?|retrieves?)\s+",
    re.IGNORECASE,
)
_FILLER = frozenset(
    {
        "a",
        "an",
        "the",
        "given",
        "specified",
        "provided",
        "supplied",
        "this",
        "that",
        "which",
        "its",
        "their",
        "any",
        "some",
        "optionally",
    }
)
_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+")


def main(argv: list[str] | None = None) -> int:
    """Mine every package in ``sources.lock``; write pairs, held-out sets and stats."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=int, default=PER_PACKAGE_CAP, help="pairs per package")
    args = parser.parse_args(argv)
    lock = [
        json.loads(line)
        for line in (TRAINING / "sources.lock").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    eval_codes, eval_bodies, eval_queries = eval_fingerprints()
    seen_code: set[str] = set()
    seen_query: set[str] = set()
    stats: dict[str, dict[str, int]] = {}
    drops: Counter[str] = Counter()
    train: list[dict[str, object]] = []
    val: list[dict[str, object]] = []
    for source in lock:
        name, role = source["name"], source["role"]
        counts: Counter[str] = Counter()
        rows: list[dict[str, object]] = []
        heldout: list[tuple[MinedPair, Chunk]] = []
        limit = HELDOUT_CAP if role == "heldout" else args.cap
        for path, text in iter_files(SOURCES / name, source["registry"]):
            if len(rows) + len(heldout) >= limit:
                counts["files_not_read"] += 1  # enough pairs: the rest stays unread
                continue
            for pair, chunk in pairs_with_chunks(path, text, counts):
                counts["mined"] += 1
                code_hash = normalized_hash(pair.code, pair.language)
                if code_hash in seen_code:
                    counts["duplicate_code"] += 1
                    continue
                seen_code.add(code_hash)
                if code_hash in eval_codes or body_hash(pair.code, pair.language) in eval_bodies:
                    counts["eval_code_overlap"] += 1
                    drops["eval_code_overlap"] += 1
                    continue
                qkey = normalize_query(pair.query)
                if qkey in eval_queries:
                    counts["eval_query_overlap"] += 1
                    drops["eval_query_overlap"] += 1
                    continue
                if qkey in seen_query:
                    counts["duplicate_query"] += 1
                    continue
                seen_query.add(qkey)
                if role == "heldout":
                    heldout.append((pair, chunk))
                else:
                    rows.append(make_row(name, pair, chunk))
        rng = random.Random(f"{SEED}:{name}")
        if role == "heldout":
            rng.shuffle(heldout)
            write_heldout(name, heldout[:HELDOUT_CAP])
            counts["heldout_queries"] = min(len(heldout), HELDOUT_CAP)
        else:
            rows = rows[: args.cap]
            for row in rows:
                (val if _is_val(name, str(row["path"])) else train).append(row)
            counts["kept"] = len(rows)
        stats[name] = dict(counts)
        print(f"{name:20} {dict(counts)}", file=sys.stderr, flush=True)
    rng = random.Random(SEED)
    rng.shuffle(train)
    rng.shuffle(val)
    out = WORK / "pairs"
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / "train.jsonl", train)
    _write_jsonl(out / "val.jsonl", val)
    forms = Counter(str(r["form"]) + ("+doc" if r["doc_kept"] else "") for r in train)
    summary = {
        "train_pairs": len(train),
        "val_pairs": len(val),
        "train_languages": dict(Counter(str(r["language"]) for r in train)),
        "train_query_forms": dict(forms),
        "dropped_eval_code_overlap": drops["eval_code_overlap"],
        "dropped_eval_query_overlap": drops["eval_query_overlap"],
        "eval_snippets_hashed": len(eval_codes),
        "eval_queries": len(eval_queries),
        "per_package": stats,
    }
    (TRAINING / "data_stats.json").write_text(json.dumps(summary, indent=1) + "\n", "utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_package"}), file=sys.stderr)
    return 0


# --- files and pairs ----------------------------------------------------------------------


def iter_files(root: Path, registry: str) -> Iterator[tuple[str, str]]:
    """(path as in the project, text) of every source file worth mining, in a seeded order.

    The order is shuffled (per package, seeded) so that a package cut off at the cap gives
    pairs from all over it, not from its alphabetically first modules.

    npm tarballs unpack into ``package/``: that folder is dropped so paths read like a
    repository's (``lib/router.js``). Wheels unpack as installed (``requests/api.py``).
    """
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix in _EXTENSIONS)
    random.Random(f"{SEED}:{root.name}").shuffle(files)
    for file in files:
        rel = file.relative_to(root).as_posix()
        if registry == "npm" and rel.startswith("package/"):
            rel = rel[len("package/") :]
        if ".dist-info/" in rel or _SKIP_PATH.search(rel) or file.stat().st_size > MAX_FILE_BYTES:
            continue
        yield rel, file.read_text("utf-8", errors="replace")


def pairs_with_chunks(
    path: str, text: str, counts: Counter[str]
) -> Iterator[tuple[MinedPair, Chunk]]:
    """Each mined pair with the chunk the product would embed for its function."""
    pairs = mine_pairs(path, text)
    if not pairs:
        return
    every = chunk_file(path, text)
    chunks = [c for c in every if c.kind in ("function", "method")]
    blocks = [c for c in every if c.kind == "block"]
    by_symbol: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_symbol[chunk.symbol].append(chunk)
    for pair in pairs:
        if re.search(r"[^\x00-\x7f]", pair.query):
            counts["non_english_query"] += 1
            continue
        match = next(
            (
                c
                for c in by_symbol.get(pair.symbol, ())
                if c.start_line <= pair.start_line <= c.end_line
            ),
            None,
        )
        if match is None:
            # Over the chunk budget: the product embeds it as ``block`` windows, and the
            # first one (signature and start of the body) is what a search finds.
            first = next(
                (
                    c
                    for c in blocks
                    if c.symbol == pair.symbol and c.start_line <= pair.start_line <= c.end_line
                ),
                None,
            )
            if first is None:
                counts["no_chunk"] += 1
                continue
            counts["first_block"] += 1
            match = first
        yield pair, match


def make_row(package: str, pair: MinedPair, chunk: Chunk) -> dict[str, object]:
    """One training pair: a query form and the positive text (doc kept or removed)."""
    rng = random.Random(f"{SEED}:{package}:{pair.path}:{pair.start_line}")
    doc_kept = rng.random() < DOC_KEPT_SHARE
    short = shorten(pair.query)
    name_words = split_name(pair.symbol.rsplit(".", 1)[-1])
    draw = rng.random()
    if doc_kept:  # never the doc's own first sentence: the text contains it
        form, query = ("name", name_words) if draw < 0.4 and name_words else ("short", short)
        if query.lower() == pair.query.lower():
            form, query = ("name", name_words) if name_words else ("first", "")
    elif draw < 0.5:
        form, query = "first", pair.query if rng.random() < 0.5 else pair.query.lower()
    elif draw < 0.8:
        form, query = "short", short
    else:
        form, query = ("name", name_words) if name_words else ("short", short)
    if not query:  # nothing usable but the doc itself: train on it with the doc removed
        form, query, doc_kept = "first", pair.query, False
    positive = embedding_text(chunk if doc_kept else replace(chunk, text=head(pair.code)))
    return {
        "query": query,
        "positive": positive,
        "form": form,
        "doc_kept": doc_kept,
        "package": package,
        "path": pair.path,
        "symbol": pair.symbol,
        "language": pair.language,
    }


def head(code: str, budget: int = MAX_CHUNK_CHARS) -> str:
    """The whole lines of ``code`` that fit the chunk budget (all of a function that fits).

    A function over the budget is indexed as windows; its first window is what a search
    finds, so a doc-stripped positive is cut the same way.
    """
    kept: list[str] = []
    size = 0
    for line in code.split("\n"):
        size += len(line) + 1
        if kept and size > budget:
            break
        kept.append(line[:budget])
    return "\n".join(kept)


def shorten(query: str) -> str:
    """A keyword form of a doc sentence: "Return the number of rows in the given frame" ->
    "number of rows in frame". Searches are short and skip the verb docs start with."""
    text = _LEADING.sub("", query.strip())
    text = re.sub(r"\([^)]*\)", " ", text)
    words = [w for w in re.findall(r"[\w.'-]+", text.lower()) if w not in _FILLER]
    return " ".join(words[:8]).strip(" .'-")


def split_name(name: str) -> str:
    """``parse_http_response`` / ``parseHTTPResponse`` -> ``parse http response`` ("" if 1 word)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    words = [w.lower() for w in re.split(r"[\s_$]+", spaced) if w]
    return " ".join(words) if len(words) >= 2 else ""


def _is_val(package: str, path: str) -> bool:
    digest = hashlib.sha256(f"{package}/{path}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < VAL_SHARE


def write_heldout(name: str, items: list[tuple[MinedPair, Chunk]]) -> None:
    """An evaluation set built the way ``codefind.evaluation.mined_eval_set`` builds one."""
    folder = WORK / "heldout" / name
    folder.mkdir(parents=True, exist_ok=True)
    corpus, queries = [], []
    for pair, _chunk in sorted(items, key=lambda i: (i[0].path, i[0].start_line)):
        cid = f"{pair.path}:{pair.start_line}"
        ext = Path(pair.path).suffix
        corpus.append(
            {
                "id": cid,
                "code": pair.code,
                "language": pair.language,
                "path": f"{name}/{pair.path}@{pair.start_line}{ext}",
            }
        )
        queries.append({"id": f"q:{cid}", "query": pair.query, "relevant": [cid], "nl": "en"})
    _write_jsonl(folder / "corpus.jsonl", corpus)
    _write_jsonl(folder / "queries.jsonl", queries)


# --- the evaluation-overlap filter --------------------------------------------------------


def eval_fingerprints() -> tuple[set[str], set[str], set[str]]:
    """Normalised hashes of every eval snippet and snippet body, and every eval query."""
    codes: set[str] = set()
    bodies: set[str] = set()
    queries: set[str] = set()
    for corpus in sorted(EVAL_DIR.glob("*/corpus.jsonl")):
        for line in corpus.read_text("utf-8").splitlines():
            row = json.loads(line)
            language = str(row.get("language") or "python")
            codes.add(normalized_hash(row["code"], language))
            body = body_hash(row["code"], language)
            if body:
                bodies.add(body)
    for query_file in sorted(EVAL_DIR.glob("*/queries.jsonl")):
        for line in query_file.read_text("utf-8").splitlines():
            queries.add(normalize_query(json.loads(line)["query"]))
    bodies.discard("")
    return codes, bodies, queries


def normalize_query(query: str) -> str:
    """Lower-case words only: "Decode a hex string '4a4b4c' to UTF-8." -> "decode a hex ..."."""
    return " ".join(re.findall(r"\w+", query.lower()))


def normalize_code(code: str, language: str) -> str:
    """Code without comments, docstrings and whitespace, lower-cased.

    Python goes through ``ast`` (docstrings dropped, then ``ast.unparse``), which also evens
    out quoting and formatting; code that does not parse, and other languages, lose their
    comments by pattern.
    """
    if language == "python":
        try:
            tree = ast.parse(textwrap.dedent(code))
            for node in ast.walk(tree):
                body = getattr(node, "body", None)
                if (
                    isinstance(body, list)
                    and body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                ):
                    node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
            code = ast.unparse(tree)
        except (SyntaxError, ValueError, RecursionError):
            code = re.sub(r"#[^\n]*", "", code)
    else:
        code = re.sub(r"/\*.*?\*/|//[^\n]*", "", code, flags=re.S)
    return re.sub(r"\s+", "", code).lower()


def normalized_hash(code: str, language: str) -> str:
    """sha1 of ``normalize_code``."""
    return hashlib.sha1(normalize_code(code, language).encode()).hexdigest()


def body_hash(code: str, language: str) -> str:
    """Hash of a lone Python function's body (its name and signature ignored); "" otherwise.

    ODEX names every snippet ``f_<task id>``: the same one-liner under another name must
    still count as the same code.
    """
    if language != "python":
        return ""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError, RecursionError):
        return ""
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if len(functions) != 1:
        return ""
    body = functions[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    text = re.sub(r"\s+", "", "\n".join(ast.unparse(s) for s in body)).lower()
    if len(text) < 12:  # `return x`, `pass`: too generic to mean a copy
        return ""
    return hashlib.sha1(text.encode()).hexdigest()


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
