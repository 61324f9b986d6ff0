"""Path prefixes and ripgrep-style globs for search filters."""

from __future__ import annotations

import pytest

from codefind.pathfilter import PathFilter


@pytest.mark.parametrize(
    ("globs", "path", "expected"),
    [
        (["*.py"], "src/app/main.py", True),
        (["*.py"], "src/app/main.pyc", False),
        (["src/**/*.ts"], "src/a/b/c.ts", True),
        (["src/**/*.ts"], "lib/src/c.ts", False),
        (["src/*.ts"], "src/a/c.ts", False),
        (["docs/"], "docs/guide/index.md", True),
        (["!tests"], "tests/test_a.py", False),
        (["!tests"], "src/a.py", True),
        (["*.{js,ts}"], "x/y.ts", True),
        (["*.py", "!*_test.py"], "a/b_test.py", False),
        (["test_?.py"], "test_1.py", True),
        (["[ab].py"], "c.py", False),
    ],
)
def test_globs(globs: list[str], path: str, expected: bool) -> None:
    assert PathFilter((), globs).matches(path) is expected


def test_prefixes_match_folders_and_files_not_name_prefixes() -> None:
    keep = PathFilter(["src/app/"], [])
    assert keep.matches("src/app/main.py")
    assert not keep.matches("src/application.py")
    assert PathFilter(["src/app/main.py"], []).matches("src/app/main.py")
    assert PathFilter(["."], []).matches("anything.py")
