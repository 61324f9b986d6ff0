"""Mining (doc comment -> function) pairs from a repository's own code for ``codefind eval --repo``.

Public benchmarks say how a backend does on someone else's code; these pairs say how it does
on yours. For every function and method the chunker's tree-sitter pass finds
(``codefind.chunking.syntax``, the one place code is parsed), the documentation is taken
from where each language keeps it:

* Python: the docstring (else the ``#`` comments directly above the ``def``).
* JavaScript/TypeScript, Java, PHP: the ``/** ... */`` block directly above (JSDoc, Javadoc,
  phpdoc).
* Go: the ``//`` comments directly above. Rust: ``///`` (or ``/** */``). C#: ``///``
  (``<summary>`` preferred). Ruby and Bash: ``#`` above. C/C++: ``/** */``, ``///``, ``//``
  or ``/* */`` above.

The query is the doc's first sentence, cleaned of comment markers, markup (Markdown, reST
roles, HTML/XML tags, ``{@link X}``) and everything from the first tag section on
(``@param``, ``:param``, ``Args:``, ``Returns:``...). A leading word equal to the function's
name is dropped (Go and Javadoc style "Save writes ..." becomes "writes ..."), because a
query that spells the symbol would be found by name alone. The code is the function's source
without its doc: the docstring is cut out of the body, the comments above are not included.

Pairs are skipped when the doc is under three words or boilerplate ("TODO", "Constructor",
"Getter", "See X", "Deprecated", "Returns the value"...), when the body without the doc has
fewer than two non-blank lines, for test files and test functions, and for dunder methods.
A query seen before in the same file is skipped (overloads and copies share docs).

Known bias: docstrings are not real queries. They are written by the code's author, in the
code's vocabulary, often naming its identifiers, and describe *what* a function does rather
than what a user looks for ("the thing that retries failed uploads"). Scores on mined pairs
therefore overrate lexical matching and models trained on docstring/code pairs (CodeSearchNet
is built exactly this way), and underrate paraphrase. Use them to compare backends and
dimensions on the same code, not as an absolute measure of search quality.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tree_sitter import Node

from codefind.chunking.languages import detect_language, grammar_name
from codefind.chunking.syntax import (
    Definition,
    definitions,
    encode,
    end_line,
    iter_definitions,
    parse,
)

logger = logging.getLogger(__name__)

MIN_QUERY_WORDS = 3
MIN_BODY_LINES = 2
_MAX_QUERY_WORDS = 40

_TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec|testing|testdata)/"
    r"|(^|/)test_[^/]*\.py$|_test\.(py|go)$|\.(test|spec)\.[cm]?[jt]sx?$"
    r"|(Test|Tests|IT)\.(java|cs|kt)$|_spec\.rb$|_test\.rb$|Test\.php$"
)
_TEST_NAME = re.compile(r"^(test|Test|Benchmark|Fuzz|Example)([A-Z_0-9]|$)|^test")
_BOILERPLATE = re.compile(
    r"^(todo|fixme|xxx|hack|note|nb)\b"
    r"|^(default |the |a |an )?(constructor|ctor|destructor|getter|setter)\b"
    r"|^usage\b|^(deprecated|inherit|inheritdoc|override|overrides|overridden|implements)\b"
    r"|^see( also)?:?\s+\S+$"  # a bare cross-reference; "See if ..." is a description
    r"|^(gets?|sets?|returns?) the (value|result)( of (the|this) \w+)?$"
    r"|^(this is )?(auto-?)?generated\b|^do not (edit|modify|use)\b"
    r"|^(creates?|constructs?|initiali[sz]es?|instantiates?) (a |an )?(new )?"
    r"(instance|object)( of)?( (this|the) class)?$"
    r"|^(main|entry point|helper|wrapper|internal|private|unused|stub|placeholder|no-?op)"
    r"( (function|method|use|only))?$"
)
# Lines where the summary ends: tag sections of the common doc formats.
_SECTION = re.compile(
    r"^(@\w+|:\w+[^:]*:|(args|arguments|parameters|params|returns?|yields?|raises|throws|"
    r"examples?|notes?|see also|attributes|keyword arguments|other parameters)\s*:?\s*$|"
    r"(args|arguments|parameters|params|returns?|yields?|raises|throws|example)\s*:|"
    r"-{3,}|={3,}|>>>|<(param|returns?|exception|example|remarks)\b|#\s*(arguments|examples|"
    r"panics|errors|safety)\b)",
    re.IGNORECASE,
)
_LINK = re.compile(r"\{@(?:link|linkplain|code|literal)\s+([^}\s]+)(?:\s+([^}]*))?\}")
_XML_REF = re.compile(r"<(?:see|seealso|paramref|typeparamref)\s+\w+=\"([^\"]*)\"\s*/?>")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_REST_ROLE = re.compile(r":[\w:.-]+:`~?([^`]*)`")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_REF = re.compile(r"\[`?([^\]`]*)`?\](?!\()")
_EMPHASIS = re.compile(r"\*\*(\S[^*]*?)\*\*|(?<![\w*])\*(\S[^*]*?)\*(?![\w*])")
_SENTENCE_END = re.compile(
    r"(?<!e\.g\.)(?<!i\.e\.)(?<!etc\.)(?<!vs\.)(?<!cf\.)"  # not after an abbreviation
    r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|(?<=[。！？])"
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"[^\W\d_][\w'-]*|\d+", re.UNICODE)
_TRAILING_CLOSERS = re.compile(r"^[\s})\];,]*(end)?[\s})\];,]*$")

# How doc comments look, per language: which comment texts count.
_DOC_PREFIXES: dict[str, tuple[str, ...]] = {
    "python": ("#",),
    "javascript": ("/**",),
    "typescript": ("/**",),
    "java": ("/**",),
    "php": ("/**",),
    "go": ("//", "/*"),
    "rust": ("///", "/**"),
    "csharp": ("///", "/**"),
    "ruby": ("#",),
    "bash": ("#",),
    "c": ("/**", "///", "//", "/*"),
    "cpp": ("/**", "///", "//", "/*"),
}
_NOT_DOC_PREFIXES = ("//!", "/*!", "#!", "////")


@dataclass(frozen=True)
class MinedPair:
    """One (query, code) pair mined from a function and its documentation.

    Attributes:
        query: The doc's first sentence, cleaned of markup and tags.
        code: The function's source with the doc removed.
        path: The file, relative to the root.
        symbol: The function's qualified name (``Store.save``).
        language: The file's language.
        start_line: First line of the function's code (decorators included, doc comments
            above it not), 1-based.
        end_line: Last line of the function, inclusive.
    """

    query: str
    code: str
    path: str
    symbol: str
    language: str
    start_line: int
    end_line: int


def mine_pairs(path: str, text: str, *, language: str | None = None) -> list[MinedPair]:
    """Mine (doc -> function) pairs from one file. Never raises.

    Args:
        path: The file's path relative to the root (used for the language and to skip tests).
        text: The file's content.
        language: The language name; detected from ``path`` when ``None``.

    Returns:
        The pairs in file order; empty for test files, files without a grammar, and files
        whose functions have no usable documentation.
    """
    if is_test_path(path):
        return []
    try:
        language = language or detect_language(path, text)
        grammar = grammar_name(language, path)
        if grammar is None or language not in _DOC_PREFIXES:
            return []
        return _mine(path, text, language, grammar)
    except Exception:
        logger.warning("Mining %s failed", path, exc_info=True)
        return []


def is_test_path(path: str) -> bool:
    """Whether ``path`` names a test file or a file in a test folder."""
    return bool(_TEST_PATH.search(path.replace("\\", "/")))


def clean_doc(raw: str) -> str:
    """The first sentence of a doc comment or docstring, as plain text.

    Comment markers, XML/HTML tags, Markdown and reST markup and inline tags are removed;
    reading stops at the first blank line or tag section (``@param``, ``Args:``, ...).
    """
    summary = _summary_lines(_strip_markers(raw))
    text = " ".join(summary)
    if "<summary>" in raw:
        inside = re.search(r"<summary>(.*?)(</summary>|$)", " ".join(_strip_markers(raw)), re.S)
        if inside:
            text = inside.group(1)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _XML_REF.sub(lambda m: m.group(1).split(".")[-1], text)
    text = _TAG.sub(" ", text)
    text = _REST_ROLE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF.sub(r"\1", text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text).replace("`", "")
    text = " ".join(text.split())
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    words = sentence.split()
    if len(words) > _MAX_QUERY_WORDS:
        sentence = " ".join(words[:_MAX_QUERY_WORDS])
    return sentence.rstrip(" .:;,。；：，")


def word_count(query: str) -> int:
    """Words in a query; CJK text, written without spaces, counts a word per two characters."""
    cjk = len(_CJK.findall(query))
    return len(_WORD.findall(_CJK.sub(" ", query))) + cjk // 2


def is_boilerplate(query: str) -> bool:
    """Whether a cleaned doc says nothing a user would search for."""
    return bool(_BOILERPLATE.search(query.lower().strip()))


# --- internals -------------------------------------------------------------------------


def _mine(path: str, text: str, language: str, grammar: str) -> list[MinedPair]:
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    tree = parse(grammar, encode(text))
    pairs: list[MinedPair] = []
    seen: set[str] = set()
    for definition in iter_definitions(definitions(tree, grammar, lines)):
        pair = _pair(definition, path, language, lines)
        if pair is not None and pair.query.lower() not in seen:
            seen.add(pair.query.lower())
            pairs.append(pair)
    return pairs


def _pair(
    definition: Definition, path: str, language: str, lines: Sequence[str]
) -> MinedPair | None:
    if definition.kind == "class" or definition.node.has_error:
        return None
    name = definition.symbol.rsplit(".", 1)[-1]
    if _TEST_NAME.search(name) or (name.startswith("__") and name.endswith("__")):
        return None
    found = _doc(definition, language, lines)
    if found is None:
        return None
    raw, removed = found
    query = _drop_name(clean_doc(raw), name)
    if word_count(query) < MIN_QUERY_WORDS or is_boilerplate(query):
        return None
    start, end = definition.code_start_line, min(definition.end_line, len(lines))
    kept = [lines[i - 1] for i in range(start, end + 1) if i not in removed]
    if _body_lines(kept) < MIN_BODY_LINES:
        return None
    return MinedPair(
        query=query,
        code="\n".join(kept),
        path=path,
        symbol=definition.symbol,
        language=language,
        start_line=start,
        end_line=end,
    )


def _doc(
    definition: Definition, language: str, lines: Sequence[str]
) -> tuple[str, frozenset[int]] | None:
    """The raw doc text and the lines to cut from the code (a docstring's lines)."""
    if language == "python":
        docstring = _python_docstring(definition.node, lines)
        if docstring is not None:
            return docstring
    comments = _doc_comments(definition.comments, language)
    if not comments:
        return None
    return "\n".join(_text(c) for c in comments), frozenset()


def _python_docstring(function: Node, lines: Sequence[str]) -> tuple[str, frozenset[int]] | None:
    """The docstring and its lines, when it stands on lines of its own."""
    body = function.child_by_field_name("body")
    first = body.named_children[0] if body is not None and body.named_children else None
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return None
    string = first.named_children[0]
    if string.type != "string":
        return None
    first_line, last_line = first.start_point[0] + 1, end_line(first)
    if first_line <= function.start_point[0] + 1:
        return None  # `def f(): "doc"` - no line of its own to cut
    after = lines[last_line - 1].encode("utf-8", errors="replace")[first.end_point[1] :]
    if after.strip() and not after.strip().startswith(b"#"):
        return None
    removed = set(range(first_line, last_line + 1))
    following = last_line + 1
    while following <= len(lines) and not lines[following - 1].strip():
        removed.add(following)  # the blank line after a docstring goes with it
        following += 1
    return _string_value(string), frozenset(removed)


def _string_value(string: Node) -> str:
    parts = [c for c in string.named_children if c.type == "string_content"]
    if parts:
        return "".join(_text(p) for p in parts)
    raw = _text(string).lstrip("rRuUbBfF")
    for quote in ('"""', "'''", '"', "'"):
        if raw.startswith(quote) and raw.endswith(quote) and len(raw) >= 2 * len(quote):
            return raw[len(quote) : -len(quote)]
    return raw


def _doc_comments(comments: Sequence[Node], language: str) -> list[Node]:
    """The comments above a definition that are its doc, in this language's style."""
    prefixes = _DOC_PREFIXES.get(language, ())
    docs = [
        c
        for c in comments
        if _text(c).lstrip().startswith(prefixes)
        and not _text(c).lstrip().startswith(_NOT_DOC_PREFIXES)
    ]
    blocks = [c for c in docs if _text(c).lstrip().startswith("/*")]
    if blocks:
        return [blocks[-1]]  # the block nearest the definition is its doc
    return docs


def _strip_markers(raw: str) -> list[str]:
    """Doc lines without comment markers (``/**``, ``*``, ``///``, ``//``, ``#``)."""
    out: list[str] = []
    for line in raw.replace("\r", "").split("\n"):
        stripped = line.strip()
        stripped = re.sub(r"^/\*+!?|\*+/$", "", stripped).strip()
        stripped = re.sub(r"^(///?|#+|\*+(?!\*))\s?", "", stripped)
        out.append(stripped.rstrip())
    return out


def _summary_lines(lines: list[str]) -> list[str]:
    """The first paragraph, stopping at a tag section."""
    summary: list[str] = []
    for line in lines:
        if not line.strip():
            if summary:
                break
            continue
        if _SECTION.match(line.strip()):
            break
        summary.append(line.strip())
    return summary


def _drop_name(query: str, name: str) -> str:
    """``Save writes the store`` -> ``writes the store`` (the name gives the answer away).

    Only an exact, case-sensitive match is dropped: ``write`` documented as "Write the bytes"
    starts with a verb, not with its name.
    """
    words = query.split(" ", 1)
    if len(words) == 2 and words[0].strip("'\"").removesuffix("()") == name:
        return words[1]
    return query


def _body_lines(code: Sequence[str]) -> int:
    """Non-blank lines after the first, not counting lines of closing brackets or ``end``."""
    return sum(1 for line in code[1:] if line.strip() and not _TRAILING_CLOSERS.match(line))


def _text(node: Node) -> str:
    return node.text.decode("utf-8", errors="replace") if node.text is not None else ""
