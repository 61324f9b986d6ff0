"""What importing codefind costs, and which layers may import what (docs/ARCHITECTURE.md).

The import graph is read from the source (every ``import``, at the top or inside a function,
``TYPE_CHECKING`` ones included), so a lazy import that breaks a layer rule is caught too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

from tests.cliutil import codefind

PACKAGE = Path(__file__).resolve().parent.parent / "codefind"

LAYERS: dict[str, int] = {
    "codefind": 0, "codefind.errors": 0, "codefind.models": 0, "codefind.atomic": 0,
    "codefind.lexical": 0, "codefind.plugins": 0,
    "codefind.categories": 1, "codefind.pathfilter": 1, "codefind.consent": 1,
    "codefind.config": 2,
    "codefind.repo": 3, "codefind.chunking": 3, "codefind.embeddings": 3, "codefind.store": 3,
    "codefind.translation": 3,
    "codefind.indexer": 4, "codefind.search": 4, "codefind.ranking": 4, "codefind.fusion": 4,
    "codefind.mining": 4, "codefind.watch": 4, "codefind.relocate": 4,
    "codefind.workspace": 5, "codefind.about": 5,
    "codefind.evaluation": 6, "codefind.live": 6, "codefind.service": 6,
    "codefind.mcp_server": 6,
    "codefind.tui": 7,
    "codefind.cli": 8,
    "codefind.__main__": 9,
}  # fmt: skip
"""Layers from the bottom (docs/ARCHITECTURE.md): a module imports its own layer or lower.
Layer 3's packages are peers that do not import each other."""


def imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_import_codefind_is_cheap() -> None:
    modules = imported_after("import codefind")
    assert (
        not {"numpy", "onnxruntime", "usearch", "textual", "openai", "voyageai", "tree_sitter"}
        & modules
    )


def test_cli_search_path_never_imports_textual() -> None:
    modules = imported_after(
        "import codefind.cli, codefind.search, codefind.workspace, codefind.evaluation"
    )
    assert "textual" not in modules
    assert "openai" not in modules and "voyageai" not in modules, (
        "remote clients load only when chosen"
    )
    assert "onnxruntime" not in modules, "the model loads lazily"


def test_a_search_process_loads_neither_the_chunker_nor_tree_sitter(
    git_repo: Callable[[dict[str, str]], Path],
) -> None:
    """A search of an index made earlier never chunks, so it must not pay for loading the
    chunker and the grammars (tens of ms of every ``codefind search``)."""
    repo = git_repo({"app.py": "def parse_headers(raw):\n    return raw.split('\\n')\n"})
    codefind("index", cwd=repo, check=True)
    code = (
        "import sys\n"
        "from codefind.cli import main\n"
        "code = main(['search', 'parse headers', '--no-update', '--format', 'grep'])\n"
        "print('|'.join(sorted(sys.modules)), code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    modules, exit_code = out.split()[-2].split("|"), out.split()[-1]
    assert exit_code == "0" and "app.py:1:" in out, out
    assert "tree_sitter" not in modules
    assert "codefind.chunking.chunker" not in modules and "codefind.indexer" not in modules


def test_usearch_then_onnxruntime_in_one_process() -> None:
    """usearch 2.26.2-2.26.6 made this segfault (a static libstdc++); the pin must hold."""
    result = subprocess.run(
        [sys.executable, "-c", "import usearch.index, onnxruntime; print('ok')"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-500:]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_tui_imports_textual_and_nothing_below_imports_the_front_ends() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("tui/"):
            continue
        for name in _imports(path):
            front_end = name.startswith(("codefind.tui", "codefind.cli"))
            if name.split(".")[0] == "textual" or (
                front_end and rel != "__main__.py" and not rel.startswith("cli/")
            ):
                offenders.append(f"{rel} imports {name}")
    assert offenders == []


# --- the import graph ----------------------------------------------------------------------


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@cache
def graph() -> dict[str, frozenset[str]]:
    """module -> the codefind modules it imports (``from pkg import submodule`` resolved)."""
    known = modules()
    edges = {}
    for name, path in known.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name.split(".")
                    if path.name != "__init__.py":
                        package.pop()
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, *([node.module] if node.module else [])])
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        edges[name] = frozenset(t for t in targets if t in known and t != name)
    return edges


def layer(module: str) -> int:
    owner = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[owner]


def package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in modules() if m != "codefind" and package(m) not in LAYERS]
    assert unplaced == [], "add new modules to LAYERS (and docs/ARCHITECTURE.md)"


def test_layers_import_only_downward_and_peers_stay_apart() -> None:
    offenders = []
    for module, targets in graph().items():
        for target in targets:
            if layer(target) > layer(module):
                offenders.append(f"{module} (layer {layer(module)}) imports {target}")
            elif layer(target) == layer(module) == 3 and package(target) != package(module):
                offenders.append(f"{module} imports its peer {target}")
    assert offenders == []


def test_the_tui_imports_inward_only() -> None:
    """Widgets know no screen and no app; screens know no app; the key bindings, the session
    and the settings form know no screen, widget or app (the app passes things down)."""
    rules = {
        "codefind.tui.widgets": ("codefind.tui.screens", "codefind.tui.app"),
        "codefind.tui.screens": ("codefind.tui.app",),
        "codefind.tui.bindings": (
            "codefind.tui.screens",
            "codefind.tui.widgets",
            "codefind.tui.app",
        ),
        "codefind.tui.session": (
            "codefind.tui.screens",
            "codefind.tui.widgets",
            "codefind.tui.app",
        ),
        "codefind.tui.settings_form": ("codefind.tui.screens", "codefind.tui.app"),
    }
    offenders = []
    for module, targets in graph().items():
        for inner, forbidden in rules.items():
            if module == inner or module.startswith(inner + "."):
                offenders += [f"{module} imports {t}" for t in targets if t.startswith(forbidden)]
    assert offenders == []


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_lazy_imports() -> None:
    """The checks above are only as good as the graph: a function-level import is an edge."""
    assert "codefind.tui" in graph()["codefind.cli.main"], "imported inside _run_app"


def test_the_checks_catch_what_they_forbid() -> None:
    """The rules themselves, on imports that would break them."""
    assert layer("codefind.store.state") < layer("codefind.search"), "store below search"
    assert layer("codefind.consent") < layer("codefind.workspace")
    assert layer("codefind.live") > layer("codefind.workspace"), "live builds on a workspace"
    assert package("codefind.embeddings.sglang.launcher") == "codefind.embeddings"
    assert layer("codefind.tui.screens.help") < layer("codefind.cli.main")
