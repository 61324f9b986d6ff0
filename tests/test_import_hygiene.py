"""What importing codefind costs, and which layers may import what.

The layers (README, "Development"): models and errors at the bottom, then config, then the
parts that do one job each (repository walk, chunking, embeddings, store, translation,
consent, mining), then indexing and search, then the workspace and evaluation, then the
front ends. Inside the app the direction is app -> screens -> widgets -> helpers. Every
module must have a place in ``LAYERS``: a new module fails ``test_every_module_has_a_layer``
until someone decides where it belongs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "codefind"


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


LAYERS: dict[str, int] = {
    # 0: values, errors and small helpers that import nothing above them
    "codefind": 0, "codefind.models": 0, "codefind.errors": 0, "codefind.atomic": 0,
    "codefind.lexical": 0, "codefind.categories": 0, "codefind.pathfilter": 0,
    # 1: settings
    "codefind.config": 1,
    # 2: one job each
    "codefind.repo": 2, "codefind.chunking.*": 2, "codefind.embeddings.*": 2,
    "codefind.store.*": 2, "codefind.translation.*": 2, "codefind.consent": 2,
    "codefind.mining": 2,
    # 3: indexing and search
    "codefind.indexer": 3, "codefind.search": 3, "codefind.ranking": 3, "codefind.fusion": 3,
    # 4: what front ends start from
    "codefind.workspace": 4, "codefind.evaluation": 4, "codefind.about": 4,
    # 5: front ends
    "codefind.cli.*": 5, "codefind.tui.*": 5, "codefind.__main__": 5,
}  # fmt: skip
"""Module (or ``package.*``: the package and everything in it) -> layer. A module may import
from its own layer and those below."""

INNER: dict[str, int] = {
    "codefind.tui.session": 0, "codefind.tui.files": 0, "codefind.tui.editor": 0,
    "codefind.tui.settings_form": 0,
    "codefind.tui.highlight": 1, "codefind.tui.messages": 1,
    "codefind.tui.widgets.*": 2,
    "codefind.tui.screens.*": 3,
    "codefind.tui.app": 4, "codefind.tui": 4,
    "codefind.cli.render": 0, "codefind.cli.evaluate": 1, "codefind.cli.main": 2,
    "codefind.cli": 3,
}  # fmt: skip
"""The same inside each front end: helpers, then widgets, then screens, then the app."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _place(name: str, table: dict[str, int]) -> int | None:
    """``name``'s entry in ``table``: an exact key, else the nearest ``package.*``."""
    if name in table:
        return table[name]
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end]) + ".*"
        if key in table:
            return table[key]
    return None


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    missing = [m for m in _modules() if _place(m, LAYERS) is None]
    inner = [
        m
        for m in _modules()
        if m.startswith(("codefind.tui", "codefind.cli")) and _place(m, INNER) is None
    ]
    assert missing == [] and inner == [], "give each new module its place in LAYERS/INNER"


def test_imports_go_down_or_sideways_never_up() -> None:
    offenders = []
    for module, path in _modules().items():
        offenders += _offences(module, _imports(path))
    assert offenders == []


def _offences(module: str, names: set[str]) -> list[str]:
    """What is wrong with ``module`` importing ``names`` (empty when nothing is)."""
    own = _place(module, LAYERS)
    out = []
    for name in sorted(names):
        if name != "codefind" and not name.startswith("codefind."):
            continue
        target = _place(name, LAYERS)
        if own is None or target is None or target > own:
            out.append(f"{module} ({own}) imports {name} ({target})")
        elif module.startswith("codefind.tui") and name.startswith("codefind.cli"):
            out.append(f"{module} imports the command line {name}")
        elif _same_front_end(module, name):
            mine, theirs = _place(module, INNER), _place(name, INNER)
            if mine is None or theirs is None or theirs > mine:
                out.append(f"{module} ({mine}) imports {name} ({theirs}) upwards")
    return out


def _same_front_end(a: str, b: str) -> bool:
    return any(a.startswith(f) and b.startswith(f) for f in ("codefind.tui", "codefind.cli"))


def test_the_contract_catches_upward_imports(tmp_path: Path) -> None:
    """The checker itself, on imports that would break the layering."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from codefind.search import SearchService\n")
    assert _imports(probe) == {"codefind.search"}, "imports inside functions count"
    assert _offences("codefind.store.state", {"codefind.search"})
    assert _offences("codefind.consent", {"codefind.workspace"})
    assert _offences("codefind.tui.widgets.preview", {"codefind.tui.screens.search"})
    assert _offences("codefind.tui.screens.help", {"codefind.tui.app"})
    assert _offences("codefind.tui.app", {"codefind.cli.main"})
    assert _offences("codefind.cli.render", {"codefind.cli.main"})
    assert not _offences("codefind.cli.main", {"codefind.tui", "codefind.workspace"})
    assert not _offences("codefind.tui.app", {"codefind.tui.screens.search", "codefind.config"})
