"""Backends from other packages: a real package, built and installed by pip into a folder of
its own, adds a backend with one file and one entry-point line; codefind lists it, checks its
settings, indexes and searches with it. Also the registry's contract for every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from codefind import plugins
from codefind.config import load_settings
from codefind.embeddings import backend, backends, create_embedder
from codefind.embeddings.base import Backend
from codefind.errors import ConfigError
from tests.cliutil import codefind
from tests.gitutil import make_repo

ROOT = Path(__file__).resolve().parent.parent

TOY = '''
"""A toy codefind backend: the whole plug-in is this file and one entry-point line."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from codefind.embeddings.base import Backend, Dimensions, Embedder


@dataclass(frozen=True)
class ToySettings:
    model: str = "toy-1"
    api_key: str | None = None
    scale: int = 1


class ToyEmbedder(Embedder):
    backend = "toy"
    max_tokens = 512

    def __init__(self, options: ToySettings) -> None:
        self.model = options.model
        self.model_id = f"toy:{options.model}"
        self.dimensions = Dimensions(native=16)
        self.scale = options.scale

    def _embed(self, texts, *, query):
        rows = []
        for text in texts:
            row = np.zeros(16)
            for word in re.findall("[a-z]+", text.lower()):
                digest = hashlib.sha256(word.encode()).digest()
                row += np.frombuffer(digest[:16], dtype=np.uint8) - 127.5
            rows.append(row * self.scale)
        return np.asarray(rows, dtype=np.float32)


class ToyBackend(Backend):
    name = "toy"
    label = "Toy words (a plug-in)"
    known_models = ("toy-1",)
    settings_type = ToySettings

    def create(self, settings):
        return ToyEmbedder(self.options(settings))

    def dimensions(self, settings, model):
        return Dimensions(native=16)
'''

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "codefind-toy"
version = "1.0"

[project.entry-points."codefind.backends"]
toy = "codefind_toy:ToyBackend"
broken = "codefind_toy_missing:Nothing"
local = "codefind_toy:ToyBackend"

[tool.hatch.build.targets.wheel]
include = ["codefind_toy.py"]
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where pip installed the toy package (its dist-info holds the entry points)."""
    source = tmp_path_factory.mktemp("toy-source")
    (source / "codefind_toy.py").write_text(textwrap.dedent(TOY))
    (source / "pyproject.toml").write_text(PYPROJECT)
    site = tmp_path_factory.mktemp("toy-site")
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
    pip += ["--no-build-isolation", "--disable-pip-version-check", "-q"]
    result = subprocess.run(
        [*pip, "--target", str(site), str(source)], capture_output=True, text=True
    )
    if result.returncode != 0 and "hatchling" in result.stderr:
        pytest.skip("hatchling (the test extra's build backend) is not installed")
    assert result.returncode == 0, result.stderr
    assert list(site.glob("codefind_toy-1.0.dist-info/entry_points.txt"))
    return site


@pytest.fixture
def with_plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The toy package importable in this process (and its children), the registry re-read."""
    monkeypatch.syspath_prepend(str(plugin_site))
    paths = [str(plugin_site), str(ROOT), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    plugins.forget()
    yield plugin_site
    plugins.forget()


def test_an_installed_plugin_is_a_backend_like_the_others(with_plugin: Path) -> None:
    assert plugins.names()[: len(plugins.BUILTIN)] == tuple(plugins.BUILTIN)
    assert "toy" in plugins.names() and plugins.origin("toy") == "codefind-toy"
    toy = backend("toy")
    assert isinstance(toy, Backend) and toy.label == "Toy words (a plug-in)"
    assert "toy" in [b.name for b in backends()]

    settings = load_settings({"backend": "toy"}, env={})
    embedder = create_embedder(settings)
    assert embedder.model_id == "toy:toy-1"
    assert embedder.embed_query("parse the file").shape == (16,)


def test_a_plugin_cannot_take_a_builtin_name(with_plugin: Path) -> None:
    assert type(backend("local")).__module__ == "codefind.embeddings.local"


def test_a_broken_plugin_is_named_and_left_out_of_lists(
    with_plugin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        backend("broken")
    assert "codefind-toy" in caught.value.message and "ModuleNotFoundError" in caught.value.message
    assert "broken" not in [b.name for b in backends()]
    assert "broken backend" in capsys.readouterr().err


def test_a_plugins_config_table_is_checked_against_its_settings(
    with_plugin: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('backend = "toy"\n[toy]\nmodel = "toy-2"\nscale = 3\n')
    settings = load_settings(env={}, path=config)
    embedder = create_embedder(settings)
    assert (embedder.model, getattr(embedder, "scale", None)) == ("toy-2", 3)

    config.write_text('backend = "toy"\n[toy]\nscale = "big"\n')
    with pytest.raises(ConfigError, match=r"'toy.scale' must be a whole number"):
        create_embedder(load_settings(env={}, path=config))
    config.write_text('backend = "toy"\n[toy]\nscael = 3\n')
    with pytest.raises(ConfigError, match=r"Unknown setting 'toy.scael'.*scale"):
        create_embedder(load_settings(env={}, path=config))


def test_a_table_for_a_backend_nobody_provides_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[toy]\nscale = 3\n")
    with pytest.raises(ConfigError, match="Unknown setting 'toy'"):
        load_settings(env={}, path=config)


@pytest.mark.slow
def test_the_command_line_indexes_and_searches_with_a_plugin(
    with_plugin: Path, tmp_path: Path
) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "net.py": "def fetch_page(url):\n    return http_get(url)\n",
            "store.py": "def save_index(path):\n    write_file(path)\n",
        },
    )
    env = {**os.environ, "CODEFIND_BACKEND": "toy"}
    listed = codefind("index", "--help", cwd=repo, env=env)
    assert "toy" in listed.stdout
    indexed = codefind("index", "--json", cwd=repo, env=env)
    assert indexed.returncode == 0, indexed.stderr
    report = json.loads(indexed.stdout)
    assert (report["backend"], report["model"], report["dim"]) == ("toy", "toy-1", 16)
    found = codefind(
        "search", "save index", "--json", "--mode", "semantic", "--all", cwd=repo, env=env
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout.splitlines()[0])["path"] == "store.py"
    unknown = codefind("index", "--backend", "nope", cwd=repo, env=env)
    assert unknown.returncode == 2 and "toy" in unknown.stderr, "the choices list the plug-in"


# --- every backend keeps the contract ------------------------------------------------------


@pytest.mark.parametrize("name", list(plugins.BUILTIN))
def test_every_builtin_backend_declares_itself(name: str) -> None:
    chosen = backend(name)
    assert chosen.name == name and chosen.label
    assert (chosen.consent == "never") == (not chosen.remote)
    if chosen.remote:
        assert chosen.url_setting, "a server's URL is a setting the settings screen shows"
    for field in (chosen.url_setting, chosen.instruction_setting):
        if field:
            load_settings(env={}).section_value(name, field)  # the field exists
    if chosen.known_models:
        assert chosen.dimensions(load_settings(env={}), chosen.known_models[0]) is not None


@pytest.mark.parametrize(
    ("name", "url", "remote"),
    [
        ("sglang", "http://127.0.0.1:30000/v1", False),
        ("sglang", "http://gpu-box.invalid:30000/v1", True),
        ("openai", "http://localhost:11434/v1", False),
        ("openai", "https://api.openai.com/v1", True),
        ("voyage", "https://api.voyageai.com/v1", True),
    ],
)
def test_embedders_ask_for_consent_as_their_backend_declares(
    name: str, url: str, remote: bool
) -> None:
    chosen = backend(name)
    settings = load_settings({"backend": name}, env={})
    settings = settings.with_section_value(name, "url", url).with_model(
        chosen.known_models[0] if chosen.known_models else "some-model"
    )
    embedder = chosen.create(settings)
    assert embedder.remote is remote
    assert embedder.endpoint == url
    if chosen.consent == "always":
        assert embedder.remote
