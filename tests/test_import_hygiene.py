"""What importing codefind costs, and which layers may import what (DESIGN.md)."""

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


def test_lower_layers_do_not_import_upper_ones() -> None:
    lower = {
        "models.py",
        "errors.py",
        "atomic.py",
        "lexical.py",
        "config.py",
        "repo.py",
        "store",
        "chunking",
        "embeddings",
        "translation",
    }
    upper = (
        "codefind.indexer",
        "codefind.search",
        "codefind.workspace",
        "codefind.evaluation",
        "codefind.fusion",
    )
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] not in lower:
            continue
        offenders += [f"{rel} imports {n}" for n in _imports(path) if n.startswith(upper)]
    assert offenders == []
