"""``pip install .`` from a clean clone must carry the built-in model.

The model is package data: if a packaging rule (``.gitignore``, hatch's include/exclude)
dropped it, codefind would install fine and then fail on the first search on a machine with
no network. So this builds a real wheel from a copy of exactly the files a clone has (tracked
plus untracked-not-ignored) and checks every file of every shipped model's manifest is inside
with its sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def clone_files(target: Path) -> None:
    """Copy the files a clean clone of the working tree would have into ``target``."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "-co", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode("utf-8")
        .split("\0")
    )
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():  # a tracked file deleted in the work tree is not in a clone
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / rel)


@pytest.mark.slow
def test_wheel_from_a_clean_clone_carries_every_model_file(tmp_path: Path) -> None:
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling (the build backend, in the test extra) is not installed")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    clone_files(clone)
    manifests = sorted(clone.glob("codefind/builtin_models/*/manifest.json"))
    assert manifests, "no built-in model in the clone: are the model files committed?"
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(wheels),
            ".",
        ],
        cwd=clone,
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("codefind-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for manifest_path in manifests:
            folder = manifest_path.parent.relative_to(clone).as_posix()
            assert f"{folder}/manifest.json" in names
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            for name, entry in manifest["files"].items():
                member = f"{folder}/{name}"
                assert member in names, f"{member} is missing from the wheel"
                digest = hashlib.sha256(archive.read(member)).hexdigest()
                assert digest == entry["sha256"], f"{member} differs from its manifest"
