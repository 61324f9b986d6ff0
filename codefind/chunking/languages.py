"""Naming a file's language: by file name, then shebang, then Pygments' filename table.

The name decides two things: which tree-sitter grammar chunks the file (or none, for line
windows) and what ``--lang`` filters on. Common names are resolved from small tables here, so
detection is a dict lookup; everything else falls back to the filename patterns Pygments knows.
Pygments is consulted through ``get_all_lexers``, which reads its static mapping without
importing any lexer module (importing lexers costs tens of milliseconds each, and the indexer
asks for every file). Unknown files are ``text``.
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import threading

TEXT = "text"

# Languages with a tree-sitter grammar wheel, by codefind's name.
SYNTAX_LANGUAGES: frozenset[str] = frozenset(
    {
        "python",
        "javascript",
        "typescript",
        "go",
        "rust",
        "java",
        "c",
        "cpp",
        "ruby",
        "php",
        "csharp",
        "bash",
    }
)

_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".c++": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".h++": "cpp",
    ".ipp": "cpp",
    ".tpp": "cpp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".gemspec": "ruby",
    ".ru": "ruby",
    ".php": "php",
    ".phtml": "php",
    ".cs": "csharp",
    ".csx": "csharp",
    ".sh": "bash",
    ".bash": "bash",
    ".zsh": "bash",
    ".ksh": "bash",
    ".bats": "bash",
    # Names Pygments gets wrong for most repositories (it has Prolog for .pl, REBOL for .r).
    ".pl": "perl",
    ".pm": "perl",
    ".r": "r",
    ".sql": "sql",
    ".m": "objective-c",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": TEXT,
    ".svelte": "html",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".json": "json",
}

_FILENAMES: dict[str, str] = {
    "Rakefile": "ruby",
    "Gemfile": "ruby",
    "Podfile": "ruby",
    "Vagrantfile": "ruby",
    "Guardfile": "ruby",
    "Brewfile": "ruby",
    "Dockerfile": "docker",
    "Containerfile": "docker",
    "Makefile": "make",
    "GNUmakefile": "make",
    "makefile": "make",
    "CMakeLists.txt": "cmake",
    ".bashrc": "bash",
    ".bash_profile": "bash",
    ".zshrc": "bash",
    ".profile": "bash",
    "PKGBUILD": "bash",
    "APKBUILD": "bash",
}

_INTERPRETERS: dict[str, str] = {
    "python": "python",
    "pypy": "python",
    "node": "javascript",
    "nodejs": "javascript",
    "bun": "javascript",
    "deno": "typescript",
    "ts-node": "typescript",
    "tsx": "typescript",
    "ruby": "ruby",
    "php": "php",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "dash": "bash",
    "ksh": "bash",
    "ash": "bash",
    "perl": "perl",
}

# Pygments' canonical alias -> codefind's name, where codefind has a grammar under another name.
_PYGMENTS_ALIASES: dict[str, str] = {
    "python2": "python",
    "jsx": "javascript",
    "tsx": "typescript",
    "tsql": "sql",
}

# What people type for ``--lang`` -> codefind's name (file extensions and common short forms).
LANGUAGE_ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "js": "javascript", "node": "javascript",
    "jsx": "javascript", "ts": "typescript", "tsx": "typescript", "golang": "go",
    "rs": "rust", "c++": "cpp", "cxx": "cpp", "cc": "cpp", "hpp": "cpp", "cs": "csharp",
    "c#": "csharp", "rb": "ruby", "sh": "bash", "shell": "bash", "zsh": "bash", "md": "markdown",
    "yml": "yaml", "dockerfile": "docker", "makefile": "make", "txt": TEXT,
}  # fmt: skip

# A header is C++ rather than C when it uses any of these.
_CPP_MARKERS = ("class ", "namespace ", "template<", "template <", "::", "public:", "private:")


def detect_language(path: str, text: str | None = None) -> str:
    """Name the language of a file.

    Args:
        path: The file's path (only the name matters).
        text: The content, when known; used for ``#!`` lines of files without an extension
            and to tell C headers from C++ headers.

    Returns:
        A lower-case name: codefind's grammar names (``python``, ``typescript`` for ``.ts``
        and ``.tsx``, ``cpp``, ``csharp``, ...), otherwise Pygments' main alias
        (``markdown``, ``yaml``, ``toml``, ``docker``, ``make``), otherwise ``text``.
    """
    name = posixpath.basename(path.replace("\\", "/"))
    if name in _FILENAMES:
        return _FILENAMES[name]
    _, ext = posixpath.splitext(name)
    ext = ext.lower()
    if ext == ".h":
        return "cpp" if text is not None and _looks_like_cpp(text) else "c"
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if text is not None and text.startswith("#!"):
        from_shebang = _shebang_language(text)
        if from_shebang:
            return from_shebang
    return _pygments_language(name)


def resolve_language(name: str) -> str | None:
    """codefind's name for a language as a user types it (``py`` -> ``python``), or ``None``.

    Accepted: codefind's own names, the aliases above, and every name Pygments has for a
    language (``--lang`` filters on what ``detect_language`` stores, so an alias must map to
    that name, not to a second spelling that would match nothing).
    """
    key = name.strip().lower()
    key = LANGUAGE_ALIASES.get(key, key)
    if key in common_languages():
        return key
    alias = _pygments_aliases().get(key)
    return _PYGMENTS_ALIASES.get(alias, alias) if alias else None


@functools.cache
def common_languages() -> tuple[str, ...]:
    """The names codefind gives without asking Pygments, sorted: what error messages list."""
    names = {*SYNTAX_LANGUAGES, *_EXTENSIONS.values(), *_FILENAMES.values(), TEXT}
    return tuple(sorted(names))


@functools.cache
def _pygments_aliases() -> dict[str, str]:
    """Every Pygments alias of a language -> its main alias (what ``detect_language`` stores)."""
    try:
        from pygments.lexers import get_all_lexers
    except ImportError:  # pragma: no cover - pygments is a dependency
        return {}
    out: dict[str, str] = {}
    for _name, aliases, _filenames, _mimes in get_all_lexers(plugins=False):
        for alias in aliases:
            out.setdefault(alias.lower(), aliases[0].lower())
    return out


def grammar_name(language: str, path: str) -> str | None:
    """The tree-sitter grammar for ``language`` (``tsx`` for ``.tsx`` files), or ``None``."""
    if language not in SYNTAX_LANGUAGES:
        return None
    if language == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    return language


def _looks_like_cpp(text: str) -> bool:
    head = text[:20_000]
    return any(marker in head for marker in _CPP_MARKERS)


def _shebang_language(text: str) -> str | None:
    first = text.split("\n", 1)[0][2:].strip()
    words = first.split()
    if not words:
        return None
    program = posixpath.basename(words[0])
    if program == "env":
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        program = posixpath.basename(rest[0])
    program = program.rstrip("0123456789.")  # python3.12 -> python
    return _INTERPRETERS.get(program)


def _pygments_language(name: str) -> str:
    """Pygments' main alias for a file name, mapped to codefind's names; ``text`` if none."""
    exact, by_ext, _patterns = _pygments_index()
    _, ext = posixpath.splitext(name)
    alias = exact.get(name) or (by_ext.get(ext.lower()) if ext else None) or _by_pattern(name)
    if alias is None:
        return TEXT
    return _PYGMENTS_ALIASES.get(alias, alias)


@functools.lru_cache(maxsize=1024)
def _by_pattern(name: str) -> str | None:
    _exact, _by_ext, patterns = _pygments_index()
    return next((alias for pattern, alias in patterns if fnmatch.fnmatchcase(name, pattern)), None)


_INDEX_LOCK = threading.Lock()
_INDEX: tuple[dict[str, str], dict[str, str], list[tuple[str, str]]] | None = None


def _pygments_index() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    """Pygments' filename patterns split into exact names, ``*.ext`` and the rest.

    The first lexer listed for a pattern wins; the tables above settle the ambiguous
    extensions that matter.
    """
    global _INDEX
    with _INDEX_LOCK:
        if _INDEX is None:
            _INDEX = _build_pygments_index()
        return _INDEX


def _build_pygments_index() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str]]]:
    exact: dict[str, str] = {}
    by_ext: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    try:
        from pygments.lexers import get_all_lexers
    except ImportError:  # pragma: no cover - pygments is a dependency
        return exact, by_ext, patterns
    for _name, aliases, filenames, _mimes in get_all_lexers(plugins=False):
        if not aliases:
            continue
        alias = aliases[0].lower()
        for pattern in filenames:
            if not any(c in pattern for c in "*?["):
                exact.setdefault(pattern, alias)
            elif pattern.startswith("*.") and not any(c in pattern[2:] for c in "*?[."):
                by_ext.setdefault(pattern[1:].lower(), alias)
            else:
                patterns.append((pattern, alias))
    return exact, by_ext, patterns
