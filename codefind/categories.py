"""What a file is for, judged by its path: implementation code, tests, docs, data...

Search ranks implementation code before tests, docs and examples that talk about the same
thing (a user asking "where are cookies stored" wants the cookie jar, not its test), and
data files are not indexed at all by default. Both need to know what a file is for, and the
path says it well enough in nearly every repository: ``tests/``, ``_test.go``, ``docs/``,
``CHANGELOG.md``, ``examples/``, ``testdata/``. Nothing here reads a file, so the walk can
classify every path for free; the one content-based case (Rust's inline ``#[cfg(test)]``
modules) is found by the chunker.

The rules are ordered: data (records, and structured files inside test and fixture folders),
generated output, tests, changelogs, prose (docs), examples, configuration, and code is what
is left.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from codefind.models import FileCategory

DATA_SUFFIXES = frozenset(
    {".csv", ".tsv", ".psv", ".jsonl", ".ndjson", ".jsonlines", ".arff", ".snap", ".ambr",
     ".golden", ".vcf", ".fasta", ".geojson", ".har"}
)  # fmt: skip
"""Extensions of files that hold records, not code or prose (``.snap``: test snapshots)."""
DATA_DIRS = frozenset(
    {"testdata", "test_data", "test-data", "fixtures", "__fixtures__", "__snapshots__",
     "snapshots", "corpus", "corpora", "datasets", "benchsuite"}
)  # fmt: skip
"""Folders whose non-code files are inputs and expected outputs of tests or benchmarks."""
STRUCTURED_SUFFIXES = frozenset(
    {".json", ".yaml", ".yml", ".toml", ".xml", ".txt", ".html", ".htm", ".ini", ".cfg",
     ".properties", ".svg", ".plist", ".out", ".in", ".expected", ".log", ".sql"}
)  # fmt: skip
"""Files that are data when they sit in a data folder or are large."""
LARGE_DATA_BYTES = 200_000
"""A JSON/YAML/XML file this large is a data dump, not configuration (measured: the largest
hand-written config in the benchmark projects is under 30 KB)."""

TEST_DIRS = frozenset(
    {"test", "tests", "testing", "__tests__", "__test__", "spec", "specs", "e2e",
     "integration_tests", "unittests", "testsuite", "test-suite"}
)  # fmt: skip
EXAMPLE_DIRS = frozenset(
    {"example", "examples", "sample", "samples", "demo", "demos", "tutorial", "tutorials",
     "cookbook", "playground", "bench", "benches", "benchmark", "benchmarks", "perf"}
)  # fmt: skip
"""Code that uses the project rather than being it: examples, demos and benchmarks."""
DOC_DIRS = frozenset({"doc", "docs", "documentation", "man", "manual", "guide", "guides", "wiki"})
DOC_SUFFIXES = frozenset(
    {".md", ".markdown", ".rst", ".txt", ".adoc", ".asciidoc", ".org", ".tex", ".pod",
     ".rdoc", ".texi", ".1", ".3", ".5", ".8", ".ipynb"}
)  # fmt: skip
DOC_NAMES = (
    "readme", "contributing", "license", "licence", "copying", "authors", "notice",
    "code_of_conduct", "security", "migration", "upgrading", "faq", "todo", "install",
)  # fmt: skip
CHANGELOG_NAMES = (
    "changelog", "changes", "history", "news", "releases", "release-notes", "release_notes",
    "releasenotes", "whatsnew", "whats_new",
)  # fmt: skip
CHANGELOG_DIRS = frozenset({"changelog.d", "changes", "newsfragments", "release-notes"})
CONFIG_SUFFIXES = frozenset(
    {".toml", ".ini", ".cfg", ".conf", ".yaml", ".yml", ".json", ".json5", ".xml",
     ".properties", ".env", ".lock", ".editorconfig", ".gitignore", ".gitattributes",
     ".dockerignore", ".npmignore", ".codefindignore", ".mod", ".sum", ".gradle"}
)  # fmt: skip
CONFIG_NAMES = frozenset(
    {"makefile", "dockerfile", "cmakelists.txt", "justfile", "procfile", "vagrantfile",
     "manifest.in", "tox.ini", "pkg-info", "go.mod", "go.sum", "cargo.toml", "package.json",
     "tsconfig.json", "setup.cfg", "pyproject.toml", "rustfmt.toml", "deny.toml"}
)  # fmt: skip
CONFIG_DIRS = frozenset({".github", ".gitlab", ".circleci", ".devcontainer", ".vscode", "debian"})
LOCALE_DIRS = frozenset({"locale", "locales", "i18n", "l10n", "translations"})
CATALOG_SUFFIXES = frozenset(
    {".json", ".yaml", ".yml", ".po", ".pot", ".ftl", ".xlf", ".xliff", ".arb", ".strings",
     ".properties", ".resx", ".toml", ".ini"}
)  # fmt: skip
"""Message catalogs: a folder of locales holding each UI message once per language is prose
for people, not code (yargs: twenty ``locales/*.json`` each held "Invalid JSON config file"
and filled the top hits for "parse configuration from json file"). They rank with docs;
locale modules written in code (``locales/fr.ts``) stay code."""
GENERATED_DIRS = frozenset({"dist", "build", "out", "_build", "target", "coverage"})
GENERATED_SUFFIXES = frozenset({".js", ".mjs", ".cjs", ".css", ".map"})
"""Build output folders count as generated only for files a build emits (bundles, CSS):
``build/`` and ``dist/`` also hold real source in some projects (Go's ``go/build``)."""


def file_category(path: str, size: int = 0) -> FileCategory:
    """What the file at ``path`` (relative, ``/``-separated) is for.

    Args:
        path: The file's path in the repository.
        size: Its size in bytes, when known (large JSON/YAML/XML files are data).
    """
    folder, name = posixpath.split(path.lower())
    parts = folder.split("/") if folder else []
    stem, suffix = _split_name(name)
    if _is_data(parts, suffix, size):
        return "data"
    if suffix in GENERATED_SUFFIXES and parts and parts[0] in GENERATED_DIRS:
        return "generated"
    if _is_test(parts, name, stem, suffix):
        return "test"
    if stem.startswith(CHANGELOG_NAMES) or any(part in CHANGELOG_DIRS for part in parts):
        return "changelog"
    if stem.startswith("requirements") and suffix in (".txt", ".in"):
        return "config"
    if suffix in DOC_SUFFIXES or (not suffix and stem.startswith(DOC_NAMES)):
        return "docs"
    if suffix in CATALOG_SUFFIXES and any(part in LOCALE_DIRS for part in parts):
        return "docs"
    if any(part in EXAMPLE_DIRS for part in parts):
        return "example"
    if any(part in DOC_DIRS for part in parts):
        return "example" if _is_code_suffix(suffix) else "docs"
    if name in CONFIG_NAMES or suffix in CONFIG_SUFFIXES or (name.startswith(".") and not suffix):
        return "config"
    if any(part in CONFIG_DIRS for part in parts):
        return "config"
    return "code"


COMPILED_SUFFIXES = (".d.ts", ".d.cts", ".d.mts", ".js", ".cjs", ".mjs", ".js.map")
"""What a TypeScript build writes next to (or away from) its sources."""
TYPESCRIPT_SUFFIXES = (".ts", ".tsx", ".mts", ".cts")
BUILD_ROOTS = frozenset(
    {"src", "lib", "dist", "build", "out", "esm", "cjs", "es", "umd", "types", "typings"}
)
"""Leading folders that a build maps onto each other (``src/a.ts`` -> ``dist/a.js``)."""
DECLARATION_SUFFIXES = (".d.ts", ".d.cts", ".d.mts", ".pyi")
"""Type declarations: they describe the implementation and are ranked a little after it."""


def compiled_twins(paths: Iterable[str]) -> set[str]:
    """The files that are build output of a TypeScript source in the same repository.

    npm packages ship ``src/v4/core/errors.ts`` next to ``v4/core/errors.js``,
    ``errors.cjs`` and ``errors.d.ts``; all of them define the same names, and only the
    source is what a developer wants to read or edit. A file is a twin when, without its
    extension and without a leading build folder (``src/``, ``dist/``, ``lib/``...), its path
    equals a TypeScript source's. The walk skips twins as generated code (in zod, half of
    the chunks), as it skips files marked generated.
    """
    paths = list(paths)
    sources = {
        _build_key(p[: -len(suffix)])
        for p in paths
        for suffix in TYPESCRIPT_SUFFIXES
        if p.endswith(suffix) and not p.endswith(DECLARATION_SUFFIXES)
    }
    if not sources:
        return set()
    twins = set()
    for path in paths:
        for suffix in COMPILED_SUFFIXES:
            if path.endswith(suffix) and _build_key(path[: -len(suffix)]) in sources:
                twins.add(path)
                break
    return twins


def _build_key(stem_path: str) -> str:
    first, _, rest = stem_path.partition("/")
    return rest if rest and first.lower() in BUILD_ROOTS else stem_path


def is_data_file(path: str, size: int = 0) -> bool:
    """Whether ``path`` holds data (not indexed unless the user asks for it)."""
    return file_category(path, size) == "data"


def _split_name(name: str) -> tuple[str, str]:
    """``foo.test.ts`` -> (``foo.test``, ``.ts``); dot files are all stem (``.gitignore``)."""
    return posixpath.splitext(name)


def _is_data(parts: list[str], suffix: str, size: int) -> bool:
    if suffix in DATA_SUFFIXES:
        return True
    if suffix in STRUCTURED_SUFFIXES:
        if any(part in DATA_DIRS or part in TEST_DIRS for part in parts):
            return True
        if suffix in (".json", ".yaml", ".yml", ".xml") and size > LARGE_DATA_BYTES:
            return True
    return False


def _is_test(parts: list[str], name: str, stem: str, suffix: str) -> bool:
    if any(part in TEST_DIRS for part in parts):
        return True
    if name in ("conftest.py", "tests.rs", "test.rs", "test_helpers.rs"):
        return True
    if suffix == ".py" and (stem.startswith("test_") or stem.endswith(("_test", "_tests"))):
        return True
    if suffix == ".go" and stem.endswith("_test"):
        return True
    if stem.endswith((".test", ".spec", "_spec", "_test", ".tests")):
        return True
    return suffix in (".java", ".kt", ".cs", ".php", ".swift") and stem.endswith(("test", "tests"))


_CODE_SUFFIXES = frozenset(
    {".py", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".rs", ".java", ".c", ".h",
     ".cc", ".cpp", ".hpp", ".rb", ".php", ".cs", ".sh", ".kt", ".swift", ".scala", ".lua",
     ".pl", ".r", ".jl", ".ex", ".exs", ".erl", ".hs", ".ml", ".clj", ".dart", ".zig"}
)  # fmt: skip


def _is_code_suffix(suffix: str) -> bool:
    return suffix in _CODE_SUFFIXES
