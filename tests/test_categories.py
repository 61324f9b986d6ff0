"""What a file is for, by its path: the input of "implementation first" and of the data skip."""

from __future__ import annotations

import pytest

from codefind.categories import file_category, is_data_file


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/flask/app.py", "code"),
        ("httpx/_client.py", "code"),
        ("crates/searcher/src/searcher/mod.rs", "code"),
        ("lib/core/Axios.js", "code"),
        ("tests/test_client.py", "test"),
        ("src/foo/test_utils.py", "test"),
        ("pkg/walk_test.go", "test"),
        ("src/schemas.test.ts", "test"),
        ("src/__tests__/a.tsx", "test"),
        ("conftest.py", "test"),
        ("crates/core/tests.rs", "test"),
        ("docs/quickstart.md", "docs"),
        ("README.md", "docs"),
        ("LICENSE", "docs"),
        ("guide/intro.rst", "docs"),
        ("docs/tutorial/blog.rst", "docs"),
        ("CHANGELOG.md", "changelog"),
        ("CHANGES.rst", "changelog"),
        ("changelog.d/123.fix.md", "changelog"),
        ("examples/tutorial/flaskr/db.py", "example"),
        ("benches/linear.rs", "example"),
        ("docs/conf.py", "example"),
        ("pyproject.toml", "config"),
        (".github/workflows/ci.yml", "config"),
        ("Makefile", "config"),
        ("requirements-dev.txt", "config"),
        ("dist/axios.min.js", "generated"),
        ("benchsuite/runs/2024/raw.csv", "data"),
        ("tests/fixtures/cookies.json", "data"),
        ("internal/toml-test/tests/valid/array.toml", "data"),
        ("src/__snapshots__/app.test.ts.snap", "data"),
        ("testdata/input.txt", "data"),
    ],
)
def test_categories_by_path(path: str, expected: str) -> None:
    assert file_category(path) == expected


def test_code_in_a_fixtures_folder_is_test_code_not_data() -> None:
    assert file_category("tests/fixtures/plugin.py") == "test"


def test_large_structured_files_are_data_small_ones_configuration() -> None:
    assert file_category("schema/openapi.json", 10_000) == "config"
    assert is_data_file("schema/openapi.json", 5_000_000)
    assert not is_data_file("src/app.py", 5_000_000)
