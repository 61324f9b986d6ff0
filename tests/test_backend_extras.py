"""A backend whose client library is an extra that is not installed says which extra to
install, before anything is indexed; the built-in model needs none of them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# Runs codefind's CLI with some top-level packages made unimportable, as in an environment
# where they were never installed (a meta-path finder that refuses them comes first).
HIDING_RUNNER = textwrap.dedent(
    """
    import sys

    HIDDEN = set(sys.argv[1].split(","))


    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Hide())
    from codefind.cli.main import main

    sys.exit(main(sys.argv[2:]))
    """
)


def run_without(hidden: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HIDING_RUNNER, hidden, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("backend", "extra"),
    [
        ("voyage", "codefind[voyage]"),
        ("openai", "codefind[openai]"),
        ("sglang", "codefind[openai]"),
    ],
)
def test_a_missing_client_names_the_extra(
    backend: str, extra: str, git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFIND_OPENAI_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("CODEFIND_OPENAI_MODEL", "m")
    repo = git_repo({"a.py": "def a():\n    return 1\n"})
    result = run_without("openai,voyageai", "index", "--backend", backend, "--yes", cwd=repo)
    assert result.returncode == 2, result.stderr
    assert f"pip install '{extra}'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_builtin_model_needs_no_extra(git_repo: Callable[..., Path]) -> None:
    repo = git_repo({"a.py": "def parse_config(path):\n    return open(path).read()\n"})
    result = run_without("openai,voyageai", "search", "parse config", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert '"path": "a.py"' in result.stdout
