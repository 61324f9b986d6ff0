"""Settings: defaults < config file < environment < flags, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from codefind.config import (
    DEFAULT_SGLANG_URL,
    config_path,
    load_settings,
    read_config_file,
    settings_as_dict,
    write_config_value,
)
from codefind.errors import ConfigError


def test_defaults() -> None:
    settings = load_settings(env={}, path=Path("/nonexistent/config.toml"))
    assert (settings.backend, settings.mode, settings.dim, settings.model) == (
        "local",
        "hybrid",
        None,
        "all-MiniLM-L6-v2",
    )
    assert settings.sglang.url == DEFAULT_SGLANG_URL
    assert (
        settings.sglang.model == "Qwen/Qwen3-Embedding-4B"
        and settings.voyage.model == "voyage-code-3"
    )


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'backend = "sglang"\ndim = 512\n[sglang]\nurl = "http://file:1/v1"\nmodel = "Qwen/Qwen3-Embedding-0.6B"\n'
    )
    from_file = load_settings(env={}, path=path)
    assert (from_file.backend, from_file.dim, from_file.sglang.url) == (
        "sglang",
        512,
        "http://file:1/v1",
    )
    assert from_file.model == "Qwen/Qwen3-Embedding-0.6B"

    env = {
        "CODEFIND_DIM": "256",
        "CODEFIND_SGLANG_URL": "http://env:2/v1",
        "CODEFIND_MODEL": "Qwen/Qwen3-Embedding-8B",
    }
    from_env = load_settings(env=env, path=path)
    assert (from_env.dim, from_env.sglang.url, from_env.model) == (
        256,
        "http://env:2/v1",
        "Qwen/Qwen3-Embedding-8B",
    )

    flags = {"dim": 128, "backend": "voyage", "model": None, "mode": "lexical"}
    from_flags = load_settings(flags, env=env, path=path)
    assert (from_flags.backend, from_flags.dim, from_flags.mode) == ("voyage", 128, "lexical")
    assert from_flags.model == "Qwen/Qwen3-Embedding-8B", (
        "CODEFIND_MODEL names the chosen backend's model"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('backend = "gpu"\n', "Unknown backend"),
        ('mode = "fuzzy"\n', "Unknown mode"),
        ("dim = 'many'\n", "whole number"),
        ("limit = -3\n", "must not be negative"),
        ("colour = 1\n", "Unknown setting"),
        ("[sglang]\nattempts = 0\n", "attempts"),
        ("this is not toml", "not valid TOML"),
        ("sglang = 3\n", "table"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(env={}, path=path)


def test_written_file_is_private_and_keys_are_masked(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    write_config_value("voyage.api_key", "pa-secret", path)
    write_config_value("backend", "voyage", path)
    write_config_value("sglang.retry_delay", "0.25", path)
    assert path.stat().st_mode & 0o777 == 0o600
    settings = load_settings(env={}, path=path)
    assert settings.voyage.api_key == "pa-secret" and settings.sglang.retry_delay == 0.25
    assert settings_as_dict(settings)["voyage"]["api_key"] == "***"
    assert "pa-secret" not in repr(settings)
    with pytest.raises(ConfigError):
        write_config_value("backend", "nonsense", path)
    assert load_settings(env={}, path=path).backend == "voyage", "a bad value is not written"


def test_a_key_in_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[voyage]\napi_key = "pa-secret"\n')
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        read_config_file(path)
    assert "pa-secret" not in info.value.message
    path.write_text('backend = "local"\n')
    assert read_config_file(path) == {"backend": "local"}, "no key, no objection"


def test_config_path_follows_environment(tmp_path: Path) -> None:
    assert config_path({"CODEFIND_CONFIG": str(tmp_path / "x.toml")}) == tmp_path / "x.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "codefind" / "config.toml"
