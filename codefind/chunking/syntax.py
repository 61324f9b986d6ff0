"""tree-sitter parsing and the definitions (functions, methods, classes) found in a tree.

One place parses code for the whole project: the chunker cuts files at these definitions and
``codefind.mining`` reads their doc comments. A ``Definition`` carries the line range a chunk
should cover (decorators, attributes and the comments directly above included, because a doc
comment is what describes the function) and its qualified symbol (``Store.save``; Go methods
``Type.Method`` from the receiver, Rust impl members ``Type.method``, C++ ``A::f`` as
``A.f``). Namespaces and packages are left out of symbols to keep them short.

Parsers are created lazily, one per grammar per thread: a ``tree_sitter.Parser`` must not be
used by two threads at once, and the indexer chunks from worker threads.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from tree_sitter import Language, Node, Parser, Tree

from codefind.chunking.specs import GRAMMAR_MODULES, SPECS, LanguageSpec
from codefind.models import DefinitionKind as SymbolKind

DefinitionKind = Literal["function", "method", "class"]

# Node types -> what they define, where the node type alone says it (see ``_symbol_kind``).
_SYMBOL_KINDS: dict[str, SymbolKind] = {
    "struct_item": "struct", "struct_specifier": "struct", "struct_declaration": "struct",
    "record_struct_declaration": "struct",
    "enum_item": "enum", "enum_specifier": "enum", "enum_declaration": "enum",
    "union_item": "union", "union_specifier": "union",
    "trait_item": "trait", "trait_declaration": "trait",
    "interface_declaration": "interface",
    "impl_item": "impl",
    "type_item": "type", "type_alias_declaration": "type", "type_definition": "type",
    "module": "module",
    "macro_definition": "macro",
}  # fmt: skip

# Definitions nested deeper than this are left inside their parent: it bounds recursion on
# pathological input and nothing real nests this deep.
_MAX_DEPTH = 40
_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_CLASS_VALUES = frozenset({"class"})
_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")

_LANGUAGES: dict[str, Language] = {}
_LANGUAGES_LOCK = threading.Lock()
_LOCAL = threading.local()


@dataclass(frozen=True, eq=False)
class Definition:
    """A function, method or class found in a syntax tree.

    Attributes:
        kind: ``function``, ``method`` or ``class``.
        symbol: Qualified name, parts joined by ``.``.
        node: The definition node itself: inside any wrapper (decorators, ``export``), and
            the function value for ``const f = () => {...}``.
        outer: The node the definition's code starts with: the wrapper, or ``node``.
        start_line: First line (1-based) including the comments and attributes above it.
        code_start_line: First line of ``outer`` (decorators included, comments not).
        end_line: Last line (1-based, inclusive).
        comments: The comment nodes directly above, top to bottom.
        members: Definitions inside a class (methods, nested classes); empty for functions,
            whose nested definitions are only looked for on demand (``nested_definitions``).
        name: The defined name alone (``save``; for a Rust ``impl`` block, the type).
        name_line: The line holding the name: where an editor should open the definition.
        symbol_kind: What is defined, finely (``struct``, ``trait``, ``impl``, ``method``...).
        container: The enclosing scope (``Store`` for ``Store.save``); for a Rust ``impl
            Trait for Type`` block, the trait.
    """

    kind: DefinitionKind
    symbol: str
    node: Node
    outer: Node
    start_line: int
    code_start_line: int
    end_line: int
    comments: tuple[Node, ...]
    members: tuple[Definition, ...]
    name: str = ""
    name_line: int = 0
    symbol_kind: SymbolKind = "function"
    container: str = ""


def parse(grammar: str, source: bytes) -> Tree:
    """Parse ``source`` with this thread's parser for ``grammar``.

    Raises:
        KeyError: ``grammar`` is unknown.
        ImportError: The grammar wheel is missing.
    """
    return _parser(grammar).parse(source)


def encode(text: str) -> bytes:
    """The bytes tree-sitter parses; rows stay aligned with ``text.split("\\n")``."""
    return text.encode("utf-8", errors="replace")


def end_line(node: Node) -> int:
    """The last line (1-based) holding any of ``node``'s text.

    A node that ends at column 0 ends with a newline, so its last line is the one before.
    """
    row, column = node.end_point
    last = row if column == 0 else row + 1
    return max(last, node.start_point[0] + 1)


def error_lines(tree: Tree) -> int:
    """How many lines lie inside ERROR or MISSING nodes (0 when the tree is clean)."""
    root = tree.root_node
    if not root.has_error:
        return 0
    spans: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            spans.append((node.start_point[0] + 1, end_line(node)))
        elif node.has_error:
            stack.extend(node.children)
    return _union_length(spans)


def comment_only(tree: Tree, grammar: str, lines: Sequence[str], start: int, end: int) -> bool:
    """Whether every non-blank line of ``start..end`` (1-based) is wholly a comment.

    Asks the tree only about those lines (the node where each line's text begins), so it
    costs nothing per file, only per short piece the chunker asks about.
    """
    kinds = SPECS[grammar].comments
    root = tree.root_node
    for number in range(start, end + 1):
        line = lines[number - 1].encode("utf-8", errors="replace")
        column = len(line) - len(line.lstrip())
        if column == len(line):
            continue  # blank
        node: Node | None = root.descendant_for_point_range(
            (number - 1, column), (number - 1, column)
        )
        while node is not None and node.type not in kinds:
            node = node.parent
        if node is None or node.start_point > (number - 1, column):
            return False
        if node.end_point[0] == number - 1 and node.end_point[1] < len(line.rstrip()):
            return False  # code after a block comment on the same line
    return True


def definitions(tree: Tree, grammar: str, lines: Sequence[str]) -> list[Definition]:
    """The top-level definitions of a file, in order, classes with their members.

    Args:
        tree: The parsed file.
        grammar: The grammar it was parsed with.
        lines: The file's lines (``text.split("\\n")``), to tell leading comments from
            comments that trail code.
    """
    finder = _Finder(SPECS[grammar], grammar, lines)
    return finder.scan(tree.root_node.children, scope="", in_class=False, depth=0)


def nested_definitions(
    definition: Definition, grammar: str, lines: Sequence[str]
) -> list[Definition]:
    """The definitions directly inside a function's body (used when it must be split)."""
    finder = _Finder(SPECS[grammar], grammar, lines)
    body = definition.node.child_by_field_name("body") or definition.node
    return finder.scan(body.children, scope=definition.symbol, in_class=False, depth=1)


# Top-level statements that bind names without defining a function or class, per grammar:
# node type -> the child node types that hold one bound name each (searched one level down).
_BINDINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "python": {"expression_statement": ("assignment",), "type_alias_statement": ()},
    "javascript": {"lexical_declaration": ("variable_declarator",),
                   "variable_declaration": ("variable_declarator",)},
    "typescript": {"lexical_declaration": ("variable_declarator",),
                   "variable_declaration": ("variable_declarator",)},
    "go": {"const_declaration": ("const_spec",), "var_declaration": ("var_spec",)},
    "rust": {"const_item": (), "static_item": ()},
    "c": {"preproc_def": ()},
    "cpp": {"preproc_def": ()},
    "ruby": {"assignment": ()},
}  # fmt: skip
_BINDINGS["tsx"] = _BINDINGS["typescript"]


def module_names(tree: Tree, grammar: str) -> list[tuple[str, int]]:
    """Names bound at the top level outside definitions, with their lines.

    ``DEFAULT_TIMEOUT = 5``, ``export const schema = z.object(...)``, ``const MaxDepth =
    10``: a user who types such a name wants the line that binds it, and no definition chunk
    carries it. Functions and classes bound this way are definitions already and left out.
    """
    kinds = _BINDINGS.get(grammar)
    if not kinds:
        return []
    found: list[tuple[str, int]] = []
    for node in tree.root_node.named_children:
        if node.type == "export_statement":
            inner = node.child_by_field_name("declaration")
            node = inner if inner is not None else node
        holders = kinds.get(node.type)
        if holders is None:
            continue
        targets = [node] if not holders else _children_of_types(node, holders)
        for target in targets:
            for name in _bound_names(target):
                found.append((name, target.start_point[0] + 1))
    return found


# Node types that declare a member of a type (a field, a property, an enum variant), per
# grammar, and the node fields that hold its name.
_MEMBERS: dict[str, dict[str, tuple[str, ...]]] = {
    "go": {"field_declaration": ("name",)},
    "rust": {"field_declaration": ("name",), "enum_variant": ("name",)},
    "typescript": {"public_field_definition": ("name",), "property_signature": ("name",)},
    "javascript": {"field_definition": ("property",)},
    "python": {"assignment": ("left",)},
}  # fmt: skip
_MEMBERS["tsx"] = _MEMBERS["typescript"]
_MEMBER_NAMES = ("field_identifier", "identifier", "property_identifier")
_TYPE_NODES = frozenset(
    {"type_spec", "struct_item", "enum_item", "union_item", "class_declaration",
     "abstract_class_declaration", "interface_declaration", "type_alias_declaration", "class",
     "class_definition"}
)  # fmt: skip
"""Nodes that declare a type: the members found inside belong to it (its ``name``)."""
_CODE_BODIES = frozenset(
    {"function_definition", "function_declaration", "method_declaration", "method_definition",
     "function_item", "arrow_function", "function_expression", "function", "statement_block"}
)  # fmt: skip
"""Nodes whose insides declare no members worth a symbol: not walked (it keeps the walk to
the type bodies of a large file)."""


def member_names(tree: Tree, grammar: str) -> list[tuple[str, int, str]]:
    """Names that types declare as members (fields, properties, enum variants), with their
    lines and the declaring type's name.

    ``NoOptDefVal string`` in a Go struct, ``pub major: u64``, ``timeout: number`` in a
    TypeScript interface, ``LeadingZero(Position)`` in a Rust enum, ``x: int = 0`` in a Python
    class body or ``self.headers = {}`` in its ``__init__``: a user who types such a name
    wants the line that declares it. Python counts only assignments directly in a class body
    and the top-level ``self.x =`` statements of ``__init__``.
    """
    kinds = _MEMBERS.get(grammar)
    if not kinds:
        return []
    found: list[tuple[int, int, str, str]] = []
    stack: list[tuple[Node, str]] = [(tree.root_node, "")]
    while stack:
        node, owner = stack.pop()
        if node.type in _TYPE_NODES:
            owner = _clean(node.child_by_field_name("name")) or owner
        if grammar == "python" and _is_initializer(node):
            found.extend(
                (row, column, text, owner) for text, row, column in _instance_attributes(node)
            )
            continue
        holders = kinds.get(node.type)
        if holders is not None and (grammar != "python" or _in_class_body(node)):
            for field in holders:
                for name in node.children_by_field_name(field):
                    if name.type in _MEMBER_NAMES and (text := _clean(name)):
                        found.append((*name.start_point, text, owner))
            continue
        if node.type not in _CODE_BODIES:
            stack.extend((child, owner) for child in node.named_children)
    return [(text, row + 1, owner) for row, _, text, owner in sorted(found)]


def _is_initializer(node: Node) -> bool:
    """A Python ``def __init__`` written directly in a class body (a decorated one sits one
    level deeper and is not taken)."""
    name = node.child_by_field_name("name")
    return (
        node.type == "function_definition"
        and name is not None
        and name.text == b"__init__"
        and _directly_in_class(node)
    )


def _instance_attributes(initializer: Node) -> list[tuple[str, int, int]]:
    """``self.x = ...`` statements of an ``__init__`` body (not nested in ``if`` or loops: the
    attributes every instance has), with their positions."""
    found: list[tuple[str, int, int]] = []
    body = initializer.child_by_field_name("body")
    for statement in body.named_children if body is not None else ():
        if statement.type != "expression_statement" or not statement.named_children:
            continue
        assignment = statement.named_children[0]
        target = assignment.child_by_field_name("left") if assignment.type == "assignment" else None
        if target is None or target.type != "attribute":
            continue
        owner, attribute = (
            target.child_by_field_name("object"),
            target.child_by_field_name("attribute"),
        )
        if owner is None or owner.text != b"self" or attribute is None:
            continue
        if text := _clean(attribute):
            found.append((text, *attribute.start_point))
    return found


def _in_class_body(assignment: Node) -> bool:
    """A Python assignment written directly in a class body (``x: int = 0``)."""
    statement = assignment.parent
    return (
        statement is not None
        and statement.type == "expression_statement"
        and _directly_in_class(statement)
    )


def _directly_in_class(statement: Node) -> bool:
    """A Python statement of a class's own body (not of a method or a nested block)."""
    block = statement.parent
    owner = block.parent if block is not None else None
    return owner is not None and owner.type == "class_definition"


def _children_of_types(node: Node, types: tuple[str, ...]) -> list[Node]:
    """Children of ``node`` of ``types``, looking through one list node (Go's ``var (...)``)."""
    found: list[Node] = []
    for child in node.named_children:
        if child.type in types:
            found.append(child)
        elif child.type.endswith("_list"):
            found.extend(c for c in child.named_children if c.type in types)
    return found


def _bound_names(node: Node) -> list[str]:
    """The plain identifiers ``node`` binds (not destructuring, not functions or classes)."""
    if node.type in ("const_spec", "var_spec"):  # Go: `const a, b = 1, 2`
        return [_clean(n) for n in node.children_by_field_name("name") if n.type == "identifier"]
    name = node.child_by_field_name("name") or node.child_by_field_name("left")
    value = node.child_by_field_name("value") or node.child_by_field_name("right")
    if value is not None and value.type in _FUNCTION_VALUES | _CLASS_VALUES | {"lambda"}:
        return []
    if name is None:
        return []
    if name.type in ("identifier", "constant", "type_identifier", "property_identifier"):
        text = _clean(name)
        return [text] if text else []
    return []


def test_module_lines(tree: Tree, grammar: str) -> list[tuple[int, int]]:
    """Line ranges of test code inside a file that is not a test file.

    Rust keeps unit tests next to the code, in ``#[cfg(test)] mod tests { ... }``; those
    chunks are tests (ranked after the implementation), though their file is not.
    """
    if grammar != "rust":
        return []
    found: list[tuple[int, int]] = []
    stack = [(tree.root_node, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.named_children:
            if child.type != "mod_item" or depth > _MAX_DEPTH:
                continue
            if _is_rust_test_module(child):
                found.append((_first_attribute_line(child), end_line(child)))
            else:
                body = child.child_by_field_name("body")
                if body is not None:
                    stack.append((body, depth + 1))
    return found


def _first_attribute_line(node: Node) -> int:
    """The first line of ``node`` with the ``#[attributes]`` directly above it."""
    first = node
    previous = node.prev_named_sibling
    while previous is not None and previous.type == "attribute_item":
        first = previous
        previous = previous.prev_named_sibling
    return first.start_point[0] + 1


def _is_rust_test_module(module: Node) -> bool:
    name = _clean(module.child_by_field_name("name"))
    if name in ("test", "tests"):
        return True
    previous = module.prev_named_sibling
    while previous is not None and previous.type == "attribute_item":
        text = (previous.text or b"").decode("utf-8", errors="replace").replace(" ", "")
        if "cfg(test)" in text:
            return True
        previous = previous.prev_named_sibling
    return False


def iter_definitions(found: Sequence[Definition]) -> Iterator[Definition]:
    """Every definition in ``found`` and, depth first, the members of its classes."""
    for definition in found:
        yield definition
        yield from iter_definitions(definition.members)


# --- parsers ---------------------------------------------------------------------------


def _language(grammar: str) -> Language:
    with _LANGUAGES_LOCK:
        language = _LANGUAGES.get(grammar)
        if language is None:
            module_name, function = GRAMMAR_MODULES[grammar]
            module = importlib.import_module(module_name)
            language = Language(getattr(module, function)())
            _LANGUAGES[grammar] = language
        return language


def _parser(grammar: str) -> Parser:
    parsers: dict[str, Parser] | None = getattr(_LOCAL, "parsers", None)
    if parsers is None:
        parsers = {}
        _LOCAL.parsers = parsers
    parser = parsers.get(grammar)
    if parser is None:
        parser = Parser(_language(grammar))
        parsers[grammar] = parser
    return parser


# --- finding definitions ---------------------------------------------------------------


class _Finder:
    """Walks the statement-level nodes of a tree, never into expressions or function bodies."""

    def __init__(self, spec: LanguageSpec, grammar: str, lines: Sequence[str]) -> None:
        self.spec = spec
        self.grammar = grammar
        self.lines = lines
        # Node types worth a closer look, and node types to search inside.
        self.candidates = (
            spec.functions
            | spec.classes
            | spec.wrappers
            | spec.variables
            | spec.fields
            | spec.assignments
        )
        self.containers = spec.descend | spec.wrappers

    def scan(
        self, nodes: Sequence[Node], *, scope: str, in_class: bool, depth: int
    ) -> list[Definition]:
        """The definitions among ``nodes`` and inside those of them that are containers."""
        found: list[Definition] = []
        if depth > _MAX_DEPTH:
            return found
        for node in nodes:
            if not node.is_named:
                continue  # keywords share names with nodes ("class", "if")
            node_type = node.type
            if node_type in self.candidates:
                definition = self.definition(node, scope=scope, in_class=in_class, depth=depth)
                if definition is not None:
                    found.append(definition)
                    continue
            if node_type in self.containers:
                found.extend(
                    self.scan(node.children, scope=scope, in_class=in_class, depth=depth + 1)
                )
        return found

    def definition(
        self, outer: Node, *, scope: str, in_class: bool, depth: int
    ) -> Definition | None:
        """``outer`` as a definition (members of classes found too), or ``None``."""
        found = self.named_definition(outer, in_class) or _default_export(outer)
        if found is None:
            return None
        node, kind, name = found
        qualified = f"{scope}.{name}" if scope else name
        if kind == "function" and "." in name and self.grammar == "cpp":
            kind = "method"  # `void Store::save() {...}` defined outside its class
        symbol_kind = _symbol_kind(node, kind)
        symbol, container = qualified, scope
        if symbol_kind == "impl":
            # `impl Display for Store` is about Store, but it is not Store's definition: its
            # chunk is named for what it is, and its members are Store's (`Store.fmt`).
            trait = _clean(node.child_by_field_name("trait"))
            symbol = f"impl {trait} for {qualified}" if trait else f"impl {qualified}"
            container = trait
        members: tuple[Definition, ...] = ()
        if kind == "class":
            body = node.child_by_field_name("body")
            if body is not None:
                members = tuple(
                    self.scan(body.children, scope=qualified, in_class=True, depth=depth + 1)
                )
        comments, first_line = self.leading(outer)
        code_start = outer.start_point[0] + 1
        short = name.rsplit(".", 1)[-1]
        if "." in name and symbol_kind != "impl":  # Go `Store.Save`, JS `A.prototype.run`
            container = name.rsplit(".", 1)[0]
        return Definition(
            kind=kind,
            symbol=symbol,
            node=node,
            outer=outer,
            start_line=min(first_line, code_start),
            code_start_line=code_start,
            end_line=end_line(outer),
            comments=comments,
            members=members,
            name=name if symbol_kind == "impl" else short,
            name_line=_name_line(node, outer),
            symbol_kind=symbol_kind,
            container=container,
        )

    def named_definition(
        self, outer: Node, in_class: bool
    ) -> tuple[Node, DefinitionKind, str] | None:
        """The definition node in ``outer``, its kind and its name, if it defines something."""
        node = self.unwrap(outer)
        if node is None:
            return None
        kind = self.kind_of(node, in_class)
        if kind is None:
            return None
        name = self.name_of(node)
        if not name:
            return None
        if node.type in self.spec.assignments and "." in name and kind == "function":
            kind = "method"  # `Store.prototype.save = function () {...}`
        if self._holds_value(node):
            value = self._assigned_value(node)
            node = value if value is not None else node  # the function, for its body
        return node, kind, name

    def unwrap(self, outer: Node) -> Node | None:
        """The definition inside a wrapper (or ``outer`` itself), ``None`` if there is none."""
        node = outer
        for _ in range(3):  # export -> decorated -> class at most
            if node.type not in self.spec.wrappers:
                return node
            inner = node.child_by_field_name("definition") or node.child_by_field_name(
                "declaration"
            )
            if inner is None:
                inner = next((c for c in node.named_children if self._is_definition_type(c)), None)
            if inner is None:
                return None
            node = inner
        return None

    def _is_definition_type(self, node: Node) -> bool:
        spec = self.spec
        return (
            node.type in spec.functions
            or node.type in spec.classes
            or node.type in spec.wrappers
            or node.type in spec.variables
        )

    def kind_of(self, node: Node, in_class: bool) -> DefinitionKind | None:
        """What ``node`` defines, or ``None`` when it defines nothing chunk-worthy."""
        spec = self.spec
        kind: DefinitionKind | None = None
        if node.type in spec.functions:
            if spec.needs_body and node.child_by_field_name("body") is None:
                return None
            kind = "method" if in_class or node.type in spec.methods else "function"
        elif node.type in spec.classes:
            if node.type in spec.bodied_classes and node.child_by_field_name("body") is None:
                return None
            if node.type == "type_definition" and not self._typedef_has_body(node):
                return None
            kind = "class"
        elif self._holds_value(node) and (in_class or node.type not in spec.fields):
            value = self._assigned_value(node)
            if value is None:
                return None
            kind = "method" if in_class else "function"
            if value.type in _CLASS_VALUES:
                kind = "class"
        return kind

    @staticmethod
    def _typedef_has_body(node: Node) -> bool:
        inner = node.child_by_field_name("type")
        return inner is not None and inner.child_by_field_name("body") is not None

    def _holds_value(self, node: Node) -> bool:
        spec = self.spec
        return (
            node.type in spec.variables or node.type in spec.fields or node.type in spec.assignments
        )

    def _assigned_value(self, node: Node) -> Node | None:
        """The function or class a declaration, field or assignment holds, if that is all."""
        if node.type in self.spec.fields:
            value = node.child_by_field_name("value")
        elif node.type in self.spec.assignments:
            assignment = node.named_children[0] if node.named_child_count == 1 else None
            if assignment is None or assignment.type != "assignment_expression":
                return None
            value = assignment.child_by_field_name("right")
            for _ in range(3):  # `res.contentType = res.type = function contentType() {...}`
                if value is None or value.type != "assignment_expression":
                    break
                value = value.child_by_field_name("right")
        else:
            declarators = [c for c in node.named_children if c.type == "variable_declarator"]
            if len(declarators) != 1:
                return None
            value = declarators[0].child_by_field_name("value")
        if value is None or value.type not in _FUNCTION_VALUES | _CLASS_VALUES:
            return None
        return value

    def name_of(self, node: Node) -> str:
        """The definition's own name (Go methods and C++ out-of-class methods qualified)."""
        kind = node.type
        if kind in self.spec.variables:
            declarator = next(c for c in node.named_children if c.type == "variable_declarator")
            return _clean(declarator.child_by_field_name("name"))
        if kind in self.spec.fields:
            return _clean(node.child_by_field_name("name") or node.child_by_field_name("property"))
        if kind in self.spec.assignments:  # `exports.parse = function`, `A.prototype.run = ...`
            left = node.named_children[0].child_by_field_name("left")
            dotted = _clean(left).replace(".prototype.", ".")
            return dotted.removeprefix("module.exports.").removeprefix("exports.")
        if kind == "method_declaration" and self.grammar == "go":
            return _go_method_name(node)
        if kind == "impl_item":
            return _clean(node.child_by_field_name("type"))
        if kind == "type_declaration":  # Go: `type Store struct {...}`
            spec_node = next((c for c in node.named_children if "type_" in c.type), None)
            return _clean(spec_node.child_by_field_name("name") if spec_node else None)
        if kind == "type_definition":  # C: `typedef struct {...} box_t;`
            return _clean(_innermost_declarator(node.child_by_field_name("declarator")))
        name = node.child_by_field_name("name")
        if name is None and kind == "function_definition":
            name = _function_declarator_name(node)
        return _clean(name)

    def leading(self, outer: Node) -> tuple[tuple[Node, ...], int]:
        """The comments directly above ``outer`` and the first line of what is attached."""
        attached: list[Node] = []
        comments: list[Node] = []
        top_row = outer.start_point[0]
        current = outer
        while True:
            previous = _previous_sibling(current)
            if previous is None:
                break
            if previous.type not in self.spec.comments and previous.type not in self.spec.attached:
                break
            if end_line(previous) < top_row or not self._starts_line(previous):
                break  # a blank line between, or a comment trailing code
            if previous.start_point[0] == 0 and self._line(0).startswith("#!"):
                break  # a shebang line is not a doc comment
            attached.append(previous)
            if previous.type in self.spec.comments:
                comments.append(previous)
            top_row = previous.start_point[0]
            current = previous
        comments.reverse()
        return tuple(comments), top_row + 1

    def _line(self, row: int) -> str:
        return self.lines[row] if 0 <= row < len(self.lines) else ""

    def _starts_line(self, node: Node) -> bool:
        row, column = node.start_point
        line = self._line(row).encode("utf-8", errors="replace")
        return not line[:column].strip()


def _previous_sibling(node: Node) -> Node | None:
    """The node before ``node``, climbing out of parents that start where it starts.

    Ruby puts the comment above a class's first member outside the body node; climbing
    finds it.
    """
    current = node
    for _ in range(_MAX_DEPTH):
        previous = current.prev_sibling
        if previous is not None:
            return previous
        parent = current.parent
        if parent is None or parent.start_byte != current.start_byte:
            return None
        current = parent
    return None


def _symbol_kind(node: Node, kind: DefinitionKind) -> SymbolKind:
    """What ``node`` defines, finely: ``struct`` and ``impl`` are both ``class`` chunks."""
    if kind != "class":
        return kind
    if node.type == "type_declaration":  # Go: `type X struct {...}` / `interface` / alias
        spec = next((c for c in node.named_children if "type_" in c.type), None)
        inner = spec.child_by_field_name("type") if spec is not None else None
        if inner is not None and inner.type == "struct_type":
            return "struct"
        if inner is not None and inner.type == "interface_type":
            return "interface"
        return "type"
    return _SYMBOL_KINDS.get(node.type, "class")


def _name_line(node: Node, outer: Node) -> int:
    """The line (1-based) of the definition's name: below decorators and attributes."""
    name = node.child_by_field_name("name")
    if name is None and node.type == "impl_item":
        name = node.child_by_field_name("type")
    if name is None and node.type == "type_declaration":
        spec = next((c for c in node.named_children if "type_" in c.type), None)
        name = spec.child_by_field_name("name") if spec is not None else None
    if name is None:  # `const f = () => {}`, a C declarator: where the declaration starts
        return outer.start_point[0] + 1
    return name.start_point[0] + 1


def _default_export(outer: Node) -> tuple[Node, DefinitionKind, str] | None:
    """``export default function () {...}`` / ``export default class {...}``: ``default``."""
    if outer.type != "export_statement":
        return None
    value = outer.child_by_field_name("value")
    if value is None:
        return None
    if value.type in _FUNCTION_VALUES:
        return value, "function", "default"
    if value.type in _CLASS_VALUES:
        return value, "class", "default"
    return None


def _go_method_name(node: Node) -> str:
    name = _clean(node.child_by_field_name("name"))
    receiver = node.child_by_field_name("receiver")
    parameter = receiver.named_children[0] if receiver and receiver.named_children else None
    type_node = parameter.child_by_field_name("type") if parameter else None
    receiver_type = _clean(type_node).lstrip("*&").split("[")[0].strip()
    return f"{receiver_type}.{name}" if receiver_type and name else name


def _function_declarator_name(node: Node) -> Node | None:
    """The declared name of a C/C++ function: follow ``declarator`` fields to the name."""
    current: Node | None = node.child_by_field_name("declarator")
    for _ in range(_MAX_DEPTH):
        if current is None:
            return None
        if current.type == "function_declarator":
            return current.child_by_field_name("declarator")
        current = current.child_by_field_name("declarator")
    return None


def _innermost_declarator(node: Node | None) -> Node | None:
    current = node
    for _ in range(_MAX_DEPTH):
        if current is None:
            return None
        inner = current.child_by_field_name("declarator")
        if inner is None:
            return current
        current = inner
    return current


def _clean(node: Node | None) -> str:
    """A name node's text as a symbol part: no generics, ``::`` as ``.``, one line."""
    if node is None or node.text is None:
        return ""
    text = node.text.decode("utf-8", errors="replace")
    if "<" in text:
        for _ in range(10):
            stripped = _TEMPLATE_ARGS.sub("", text)
            if stripped == text:
                break
            text = stripped
    text = _SPACE.sub(" ", text.replace("::", ".")).strip().strip(".")
    return text if len(text) <= 200 else text[:200]


def _union_length(spans: list[tuple[int, int]]) -> int:
    total = 0
    last_end = 0
    for start, end in sorted(spans):
        start = max(start, last_end + 1)
        if end >= start:
            total += end - start + 1
            last_end = end
    return total
