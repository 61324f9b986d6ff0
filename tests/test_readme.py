"""The README says what the repository holds and what the benchmarks measured.

Its tables of results are generated from ``benchmarks/RESULTS.md`` by
``benchmarks/readme_tables.py``; this test fails when the two disagree, so a figure cannot be
updated in one place and not the other. And every file the README, the docs and the code's
docstrings point to is in the repository.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import readme_tables  # noqa: E402


def test_the_readme_tables_are_the_ones_built_from_results() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    assert "<!-- generated:quality -->" in readme and "<!-- generated:speed -->" in readme
    assert readme_tables.render(readme, results) == readme, (
        "README.md's tables differ from RESULTS.md: run python benchmarks/readme_tables.py"
    )


def test_a_changed_figure_in_results_changes_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    changed = results.replace("| cosqa_dev | 500 | all-MiniLM-L6-v2 | 384 | hybrid |", "| cosqa_dev | 499 | all-MiniLM-L6-v2 | 384 | hybrid |", 1)  # fmt: skip
    assert changed != results
    assert readme_tables.render(readme, changed) != readme


def test_a_missing_section_is_an_error_not_a_blank_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    with pytest.raises(readme_tables.LayoutError):
        readme_tables.render(readme, "# Benchmark results\n")


def test_only_files_of_this_repository_are_referred_to() -> None:
    gone = re.compile(r"DESIGN\.md|api-facts|\.\./shared|shared/eval")
    places = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    places += sorted((ROOT / "codefind").rglob("*.py")) + sorted((ROOT / "tests").glob("*.py"))
    places += sorted((ROOT / "benchmarks").glob("*.py"))
    offenders = []
    for path in places:
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if gone.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
    for link in re.findall(r"\]\(([^)#:]+)\)", (ROOT / "README.md").read_text(encoding="utf-8")):
        assert (ROOT / link).exists(), f"README links to {link}, which is not here"
