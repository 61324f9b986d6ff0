"""Build the programming-vocabulary prior that ranks dictionary senses (issue 17).

Why: a dictionary lists 代理 as "act on behalf of", "agent", "surrogate" and "proxy"; which
one a code query means is a question about the words code uses. This script counts, over the
source files of popular packages that are *not* evaluation material, in what share of each
package's files every identifier/comment token occurs (``codefind.lexical.tokens``: the
tokens the lexical index uses), averages that share over packages (so django's size does not
outvote a small package), and writes the most common tokens as a compact table shipped in the
package: ``codefind/translation/data/vocabulary.tsv.gz`` (``token<TAB>parts per million``).

Sources: the pinned versions (and sha256) of ``training/sources.lock``, fetched with
``training/download_sources.fetch`` (``pip download`` / ``npm pack``). Never used: the
relevance benchmark's nine projects (flask, httpie, axios, commander, zod, serde_json,
toml_edit, cobra, burntsushi_toml) and their close kin (werkzeug), the quality table's mined
packages (rich, click, sqlalchemy), httpx (the issue's own example repository), and anything
from the public evaluation sets (``CODEFIND_EVAL_DIR``).

    python scripts/build_vocabulary_prior.py            # download (once) and write the table
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from benchmarks._trees import MINED_PACKAGES
from codefind.lexical import tokens

OUTPUT = ROOT / "codefind" / "translation" / "data" / "vocabulary.tsv.gz"
PYPI = (
    "django", "aiohttp", "requests", "urllib3", "tornado", "celery", "kombu", "jinja2",
    "jsonschema", "pydantic", "pytest", "setuptools", "sphinx", "scrapy", "gitpython",
    "redis", "pymongo", "fsspec", "starlette", "fastapi", "marshmallow", "pyyaml",
    "packaging", "pygments", "black", "babel", "twisted", "networkx", "pandas",
)  # fmt: skip
NPM = (
    "express", "lodash", "eslint", "webpack", "vue", "rxjs", "yargs", "marked", "handlebars",
    "async", "jquery", "date-fns", "validator", "immutable", "three", "chart.js",
)  # fmt: skip
EXCLUDED = frozenset(MINED_PACKAGES) | {
    "flask", "werkzeug", "httpie", "axios", "commander", "zod", "serde_json", "toml_edit",
    "cobra", "burntsushi_toml", "httpx",
}  # fmt: skip
SOURCE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx")
SKIPPED_PARTS = frozenset({"node_modules", "vendor", "_vendor", "extern", "third_party"})
MAX_TOKENS = 30_000
"""Table size: the 30,000 most common tokens cover every sense word worth ranking (~200 KB)."""


def main(argv: list[str] | None = None) -> int:
    """Fetch the packages (reusing earlier downloads), count, and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    from download_sources import SOURCES, fetch, read_lock

    pins = {(s.registry, s.name): s.version for s in read_lock()}
    shares: Counter[str] = Counter()
    used = 0
    for registry, names in (("pypi", PYPI), ("npm", NPM)):
        for name in names:
            if name in EXCLUDED:
                raise SystemExit(f"{name} is evaluation material")
            folder = SOURCES / name
            if not folder.is_dir():
                fetch(registry, name, "prior", pins.get((registry, name)))
            files = package_files(folder)
            if not files:
                print(f"{name}: no source files", file=sys.stderr)
                continue
            for token, count in document_frequencies(files).items():
                shares[token] += count / len(files)
            used += 1
            print(f"{registry} {name}: {len(files)} files", file=sys.stderr)
    write_table(args.output, shares, used)
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes, {used} packages)")
    return 0


def package_files(folder: Path) -> list[str]:
    """The distinct source texts of one package (no vendored code, no minified bundles)."""
    seen: set[bytes] = set()
    texts = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or not path.name.endswith(SOURCE_SUFFIXES):
            continue
        if SKIPPED_PARTS & set(path.parts) or path.name.endswith((".min.js", ".d.ts")):
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).digest()
        if digest in seen or len(data) > 2_000_000:
            continue
        seen.add(digest)
        texts.append(data.decode("utf-8", errors="replace"))
    return texts


def document_frequencies(texts: list[str]) -> Counter[str]:
    """Token -> the number of texts it occurs in (alphabetic ASCII tokens of 2-24 letters)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(
            {t for t in tokens(text) if 2 <= len(t) <= 24 and t.isascii() and t.isalpha()}
        )
    return counts


def write_table(path: Path, shares: Counter[str], packages: int) -> None:
    """``token<TAB>ppm`` lines, most common first (ppm: mean share of files x 10^6)."""
    rows = [(t, round(1e6 * s / packages)) for t, s in shares.most_common(MAX_TOKENS)]
    body = "".join(f"{t}\t{ppm}\n" for t, ppm in rows if ppm > 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same counts give the same bytes (a rebuild is a no-op in git).
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(body.encode("utf-8"))


if __name__ == "__main__":
    raise SystemExit(main())
