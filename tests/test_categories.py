"""What a file is for, by its path: the input of "implementation first" and of the data skip."""

from __future__ import annotations

import pytest

from codefind.categories import compiled_twins, file_category, is_data_file
from codefind.repo import Repository


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
        ("locales/fr.json", "docs"),
        ("config/locales/en.yml", "docs"),
        ("app/locale/de/LC_MESSAGES/django.po", "docs"),
        ("lib/l10n/app_en.arb", "docs"),
        ("src/locales/fr.ts", "code"),
        ("src/i18n/index.js", "code"),
        ("lang/python/config.json", "config"),
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


def test_build_output_of_typescript_sources_is_found_by_its_twin_source() -> None:
    paths = [
        "src/v4/core/errors.ts",
        "v4/core/errors.js",
        "v4/core/errors.cjs",
        "v4/core/errors.d.ts",
        "dist/index.js",
        "src/index.ts",
        "lib/helpers.js",  # no TypeScript source of that name: hand-written
        "src/types.d.ts",  # a declaration source, not output
    ]
    assert compiled_twins(paths) == {
        "v4/core/errors.js",
        "v4/core/errors.cjs",
        "v4/core/errors.d.ts",
        "dist/index.js",
    }
    assert compiled_twins(["lib/a.js", "lib/b.js"]) == set()


def test_the_walk_skips_compiled_twins_as_generated(git_repo) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(
        {
            "src/parse.ts": "export function parse(s: string): number { return 1; }\n",
            "dist/parse.js": "function parse(s) { return 1; }\nexports.parse = parse;\n",
            "dist/parse.d.ts": "export declare function parse(s: string): number;\n",
            "lib/util.js": "function util() { return 2; }\n",
        }
    )
    walk = Repository.discover(repo).walk()
    assert [f.path for f in walk.files] == ["lib/util.js", "src/parse.ts"]
    assert walk.skipped.get("generated") == 2
