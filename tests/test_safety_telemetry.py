"""The built-in model writes nothing under HOME: onnxruntime's telemetry is off (issue 15,
item 8)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cliutil import codefind
from tests.gitutil import make_repo


@pytest.mark.parametrize("xdg_cache", [False, True])
def test_running_the_built_in_model_leaves_no_telemetry_files(
    tmp_path: Path, xdg_cache: bool
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "def embed_me():\n    return 1\n"})
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")
    }
    env["HOME"] = str(home)
    if xdg_cache:
        env["XDG_CACHE_HOME"] = str(home / "xdg-cache")

    result = codefind("index", "--json", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["embedded"] >= 1, "the model really ran"
    assert codefind("search", "embed me", "--no-update", cwd=repo, env=env).returncode == 0
    written = [p.relative_to(home).as_posix() for p in home.rglob("*")]
    assert not [p for p in written if "Microsoft" in p or "onnxruntime" in p], written
