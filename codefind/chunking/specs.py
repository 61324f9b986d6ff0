"""Which tree-sitter node types are definitions, containers and comments, per grammar.

This is the only per-language knowledge the chunker has: adding a language means adding a
grammar module to ``GRAMMAR_MODULES`` and a ``LanguageSpec`` here. Node type names come from
each grammar's ``node-types.json`` (checked against the wheels pinned in pyproject.toml).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# grammar name -> (module, function returning the language pointer)
GRAMMAR_MODULES: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "bash": ("tree_sitter_bash", "language"),
}


@dataclass(frozen=True)
class LanguageSpec:
    """The node types that matter for chunking one grammar.

    Attributes:
        functions: Function-like definitions (functions, methods, constructors).
        classes: Type definitions; their member functions become chunks of their own.
        wrappers: Nodes that wrap a definition and belong to it (decorators, ``export``,
            ``template<...>``), so the chunk starts where the wrapper starts.
        variables: Declarations that define a function when their only declarator's value
            is a function or class (``const f = () => {}``).
        fields: Class members that define a method when their value is a function
            (``onClick = () => {}`` in a JS class).
        assignments: Statements that define a function by assigning one
            (``exports.parse = function () {}``, ``Foo.prototype.run = ...``).
        descend: Nodes searched for definitions: blocks, namespaces, conditionals.
        comments: Comment nodes; those directly above a definition belong to it.
        attached: Other nodes directly above a definition that belong to it (Rust
            ``#[attributes]``).
        methods: Function types that are methods wherever they appear (Go receivers).
        needs_body: Whether a function without a body (an abstract method, a prototype)
            is left in its class's chunk instead of becoming a chunk of its own.
        bodied_classes: Class types that only define something when they have a body
            (C's ``struct s *p;`` uses a struct, ``struct s {...};`` defines one).
    """

    functions: frozenset[str]
    classes: frozenset[str] = frozenset()
    wrappers: frozenset[str] = frozenset()
    variables: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    assignments: frozenset[str] = frozenset()
    descend: frozenset[str] = frozenset()
    comments: frozenset[str] = frozenset({"comment"})
    attached: frozenset[str] = frozenset()
    methods: frozenset[str] = frozenset()
    needs_body: bool = True
    bodied_classes: frozenset[str] = field(default_factory=frozenset)


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


_JS_FUNCTIONS = _set("function_declaration", "generator_function_declaration", "method_definition")
_JS_DESCEND = _set(
    "statement_block",
    "class_body",
    "if_statement",
    "else_clause",
    "try_statement",
    "catch_clause",
    "finally_clause",
)
_JS_VARIABLES = _set("lexical_declaration", "variable_declaration")

_TYPESCRIPT = LanguageSpec(
    functions=_JS_FUNCTIONS,
    classes=_set(
        "class_declaration",
        "abstract_class_declaration",
        "interface_declaration",
        "enum_declaration",
        "type_alias_declaration",
    ),
    wrappers=_set("export_statement", "ambient_declaration"),
    variables=_JS_VARIABLES,
    fields=_set("public_field_definition"),
    assignments=_set("expression_statement"),
    descend=_JS_DESCEND | _set("internal_module", "module", "expression_statement"),
)

_C_DESCEND = _set(
    "preproc_if",
    "preproc_ifdef",
    "preproc_else",
    "preproc_elif",
    "preproc_elifdef",
    "linkage_specification",
    "declaration_list",
)
_C_CLASSES = _set("struct_specifier", "union_specifier", "enum_specifier", "type_definition")

SPECS: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        functions=_set("function_definition"),
        classes=_set("class_definition"),
        wrappers=_set("decorated_definition"),
        descend=_set(
            "block",
            "if_statement",
            "elif_clause",
            "else_clause",
            "try_statement",
            "except_clause",
            "except_group_clause",
            "finally_clause",
            "with_statement",
        ),
    ),
    "javascript": LanguageSpec(
        functions=_JS_FUNCTIONS,
        classes=_set("class_declaration"),
        wrappers=_set("export_statement"),
        variables=_JS_VARIABLES,
        fields=_set("field_definition"),
        assignments=_set("expression_statement"),
        descend=_JS_DESCEND,
    ),
    "typescript": _TYPESCRIPT,
    "tsx": _TYPESCRIPT,
    "go": LanguageSpec(
        functions=_set("function_declaration", "method_declaration"),
        classes=_set("type_declaration"),
        methods=_set("method_declaration"),
    ),
    "rust": LanguageSpec(
        functions=_set("function_item", "macro_definition"),
        classes=_set("struct_item", "enum_item", "union_item", "trait_item", "impl_item"),
        descend=_set("declaration_list", "mod_item"),
        comments=_set("line_comment", "block_comment"),
        attached=_set("attribute_item"),
        needs_body=False,  # macro_rules! has rules, not a body; signatures are not function_item
    ),
    "java": LanguageSpec(
        functions=_set(
            "method_declaration", "constructor_declaration", "compact_constructor_declaration"
        ),
        classes=_set(
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
        ),
        descend=_set(
            "class_body",
            "interface_body",
            "enum_body",
            "enum_body_declarations",
            "annotation_type_body",
        ),
        comments=_set("line_comment", "block_comment"),
    ),
    "c": LanguageSpec(
        functions=_set("function_definition"),
        classes=_C_CLASSES,
        descend=_C_DESCEND,
        bodied_classes=_set("struct_specifier", "union_specifier", "enum_specifier"),
    ),
    "cpp": LanguageSpec(
        functions=_set("function_definition"),
        classes=_C_CLASSES | _set("class_specifier"),
        wrappers=_set("template_declaration"),
        descend=_C_DESCEND | _set("namespace_definition"),
        bodied_classes=_set(
            "struct_specifier", "union_specifier", "enum_specifier", "class_specifier"
        ),
    ),
    "ruby": LanguageSpec(
        functions=_set("method", "singleton_method"),
        classes=_set("class", "module"),
        descend=_set("body_statement", "singleton_class", "begin_block", "if", "unless"),
        needs_body=False,  # `def empty; end` has no body node but is still a method
    ),
    "php": LanguageSpec(
        functions=_set("function_definition", "method_declaration"),
        classes=_set(
            "class_declaration",
            "interface_declaration",
            "trait_declaration",
            "enum_declaration",
        ),
        descend=_set(
            "declaration_list",
            "namespace_definition",
            "compound_statement",
            "enum_declaration_list",
        ),
    ),
    "csharp": LanguageSpec(
        functions=_set(
            "method_declaration",
            "constructor_declaration",
            "destructor_declaration",
            "operator_declaration",
            "conversion_operator_declaration",
            "local_function_statement",
        ),
        classes=_set(
            "class_declaration",
            "struct_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "record_struct_declaration",
        ),
        descend=_set("declaration_list", "namespace_declaration"),
    ),
    "bash": LanguageSpec(
        functions=_set("function_definition"),
        descend=_set("if_statement", "elif_clause", "else_clause"),
    ),
}
