"""Typed settings: defaults < config file < environment (``CODEFIND_*``) < command-line flags.

Everything a run needs to know about backends, models, dimensions and locations is in one
frozen ``Settings`` value that is built once (by the CLI or the app) and passed down. Nothing
else reads the environment or the config file.

The config file is TOML at ``$XDG_CONFIG_HOME/codefind/config.toml`` (``CODEFIND_CONFIG``
overrides the path). It may hold API keys, so codefind writes it with mode 0600 and refuses
to read keys from it when other users can read it.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codefind.atomic import atomic_write_bytes
from codefind.errors import ConfigError
from codefind.models import SEARCH_MODES, SearchMode

BACKENDS: tuple[str, ...] = ("local", "sglang", "voyage")

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
DEFAULT_SGLANG_URL = "http://127.0.0.1:30000/v1"
DEFAULT_SGLANG_MODEL = "Qwen/Qwen3-Embedding-4B"
DEFAULT_SGLANG_INSTRUCTION = (
    "Given a code search query, retrieve relevant code snippets that answer the query"
)
DEFAULT_VOYAGE_MODEL = "voyage-code-3"
DEFAULT_VOYAGE_URL = "https://api.voyageai.com/v1"
DEFAULT_VOYAGE_RERANK_MODEL = "rerank-2.5"
DEFAULT_MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class LocalSettings:
    """The built-in CPU model."""

    model: str = DEFAULT_LOCAL_MODEL
    """Name of a model shipped inside the package."""
    threads: int = 0
    """onnxruntime intra-op threads; 0 = one per physical core."""


@dataclass(frozen=True)
class SGLangSettings:
    """An SGLang server speaking the OpenAI embeddings API."""

    url: str = DEFAULT_SGLANG_URL
    model: str = DEFAULT_SGLANG_MODEL
    api_key: str | None = field(default=None, repr=False)
    instruction: str = DEFAULT_SGLANG_INSTRUCTION
    """Task instruction put before every query (Qwen3-Embedding's query format)."""
    rerank_url: str | None = None
    """A second SGLang server that serves a Qwen3-Reranker (one server serves one model)."""
    rerank_model: str = "Qwen/Qwen3-Reranker-4B"
    attempts: int = 5
    """Tries per request before giving up (429, 5xx); 1 = no retry. Timeouts are not retried."""
    retry_delay: float = 0.5
    """First backoff between tries, in seconds; it doubles on each retry."""
    timeout: float = 30.0
    """Seconds to wait for the answer to one indexing batch."""
    query_timeout: float = 5.0
    """Seconds to wait for a search query's vector before searching lexically."""


@dataclass(frozen=True)
class VoyageSettings:
    """Voyage AI's cloud API."""

    model: str = DEFAULT_VOYAGE_MODEL
    url: str = DEFAULT_VOYAGE_URL
    api_key: str | None = field(default=None, repr=False)
    rerank_model: str = DEFAULT_VOYAGE_RERANK_MODEL
    price_per_million_tokens: Mapping[str, float] = field(default_factory=dict)
    """Overrides of the built-in price table, model -> USD per million tokens."""
    attempts: int = 5
    """Tries per request before giving up (429, 5xx); 1 = no retry. Timeouts are not retried."""
    retry_delay: float = 0.5
    """First backoff between tries, in seconds; it doubles on each retry."""
    timeout: float = 30.0
    """Seconds to wait for the answer to one indexing batch."""
    query_timeout: float = 5.0
    """Seconds to wait for a search query's vector before searching lexically."""


@dataclass(frozen=True)
class Settings:
    """Every setting of one run."""

    backend: str = "local"
    dim: int | None = None
    """Embedding dimension; ``None`` means the model's native dimension."""
    mode: SearchMode = "hybrid"
    limit: int = 10
    rerank: bool = False
    index_dir: Path | None = None
    """Overrides the index location inside the git directory (``CODEFIND_INDEX_DIR``)."""
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    yes: bool = False
    """Consent given up front for sending code to a remote backend (``--yes``)."""
    debug: bool = False
    translate: bool = True
    """Chinese/Japanese queries become English keywords (off only to measure what it adds)."""
    local: LocalSettings = field(default_factory=LocalSettings)
    sglang: SGLangSettings = field(default_factory=SGLangSettings)
    voyage: VoyageSettings = field(default_factory=VoyageSettings)

    @property
    def model(self) -> str:
        """The model of the chosen backend."""
        section: LocalSettings | SGLangSettings | VoyageSettings = getattr(self, self.backend)
        return section.model

    def with_model(self, model: str) -> Settings:
        """A copy whose chosen backend uses ``model``."""
        section = getattr(self, self.backend)
        return replace(self, **{self.backend: replace(section, model=model)})

    def with_backend(self, backend: str, dim: int | None = None) -> Settings:
        """A copy that uses ``backend`` at ``dim`` (native when ``None``)."""
        return replace(self, backend=_check_backend(backend), dim=dim)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file lives (it need not exist)."""
    env = os.environ if env is None else env
    if env.get("CODEFIND_CONFIG"):
        return Path(env["CODEFIND_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "codefind" / "config.toml"


def cache_home(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/codefind``: eval corpora and derived dictionary maps live here."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codefind"


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Build the settings of one run.

    Args:
        flags: Command-line values; ``None`` values mean "not given".
        env: The environment (``os.environ`` by default).
        path: The config file (``config_path(env)`` by default).

    Raises:
        ConfigError: The file is not valid TOML, a value has the wrong type, or a file that
            others can read holds an API key.
    """
    env = os.environ if env is None else env
    data = read_config_file(path or config_path(env))
    _merge(data, _from_env(env))
    _merge(data, {k: v for k, v in (flags or {}).items() if v is not None})
    return _build(data)


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file as a dict ({} when it does not exist)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    import tomllib  # only when a config file exists: it is not free at start-up

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from exc
    if _holds_key(data) and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"The config file {path} holds an API key and other users can read it. "
            f"Run: chmod 600 {path}"
        )
    return data


def write_config_value(key: str, value: str, path: Path | None = None) -> Path:
    """Set ``key`` (``backend`` or ``section.field``) in the config file, atomically, mode 0600.

    The value is checked by building settings from the result before anything is written.
    """
    path = path or config_path()
    data = read_config_file(path)
    parts = key.split(".")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"Unknown setting {key!r}. Run `codefind config show` for the names.")
    target = data
    if len(parts) == 2:
        target = data.setdefault(parts[0], {})
    target[parts[-1]] = _parse_scalar(value)
    _build(data)  # validate before writing
    atomic_write_bytes(path, _dump_toml(data).encode("utf-8"), mode=0o600)
    return path


def settings_as_dict(settings: Settings, *, hide_secrets: bool = True) -> dict[str, Any]:
    """Settings as a plain dict for ``codefind config show`` (keys masked)."""
    out = dataclasses.asdict(settings)
    for section in ("sglang", "voyage"):
        if hide_secrets and out[section].get("api_key"):
            out[section]["api_key"] = "***"
    out["index_dir"] = str(settings.index_dir) if settings.index_dir else None
    return out


# --- internals -------------------------------------------------------------------------

_ENV_MAP: dict[str, tuple[str, ...]] = {
    "CODEFIND_BACKEND": ("backend",),
    "CODEFIND_DIM": ("dim",),
    "CODEFIND_MODE": ("mode",),
    "CODEFIND_INDEX_DIR": ("index_dir",),
    "CODEFIND_SGLANG_URL": ("sglang", "url"),
    "CODEFIND_SGLANG_MODEL": ("sglang", "model"),
    "CODEFIND_SGLANG_API_KEY": ("sglang", "api_key"),
    "CODEFIND_SGLANG_INSTRUCTION": ("sglang", "instruction"),
    "CODEFIND_SGLANG_RERANK_URL": ("sglang", "rerank_url"),
    "CODEFIND_VOYAGE_MODEL": ("voyage", "model"),
    "CODEFIND_VOYAGE_URL": ("voyage", "url"),
    "VOYAGE_API_KEY": ("voyage", "api_key"),
    "CODEFIND_LOCAL_MODEL": ("local", "model"),
}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, keys in _ENV_MAP.items():
        value = env.get(name)
        if value:
            _merge(data, _nest(keys, value))
    if env.get("CODEFIND_MODEL"):
        # CODEFIND_MODEL names the model of whichever backend is chosen; resolved in _build.
        data["model"] = env["CODEFIND_MODEL"]
    return data


def _nest(keys: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        out = {key: out}
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = dict(value)
        else:
            base[key] = value


def _build(data: Mapping[str, Any]) -> Settings:
    data = dict(data)
    model = data.pop("model", None)
    try:
        sections: dict[str, Any] = {
            "local": LocalSettings(**_section(data, "local")),
            "sglang": SGLangSettings(**_section(data, "sglang")),
            "voyage": VoyageSettings(**_section(data, "voyage")),
        }
        top = {k: v for k, v in data.items() if k not in sections}
        settings = Settings(**top, **sections)
    except TypeError as exc:
        raise ConfigError(f"Unknown setting: {exc}.") from exc
    settings = replace(
        settings,
        backend=_check_backend(str(settings.backend)),
        dim=_as_int("dim", settings.dim) if settings.dim not in (None, "", 0, "0") else None,
        mode=_check_mode(str(settings.mode)),
        limit=_as_int("limit", settings.limit),
        max_file_bytes=_as_int("max_file_bytes", settings.max_file_bytes),
        index_dir=Path(settings.index_dir).expanduser() if settings.index_dir else None,
        local=replace(settings.local, threads=_as_int("local.threads", settings.local.threads)),
        sglang=replace(settings.sglang, **_retry_fields("sglang", settings.sglang)),
        voyage=replace(settings.voyage, **_retry_fields("voyage", settings.voyage)),
    )
    return settings.with_model(str(model)) if model else settings


def _retry_fields(name: str, section: SGLangSettings | VoyageSettings) -> dict[str, Any]:
    attempts = _as_int(f"{name}.attempts", section.attempts)
    try:
        delay = float(section.retry_delay)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting '{name}.retry_delay' must be a number of seconds.") from None
    if attempts < 1 or delay < 0:
        raise ConfigError(f"Settings '{name}.attempts' must be >= 1 and '{name}.retry_delay' >= 0.")
    waits = {}
    for key in ("timeout", "query_timeout"):
        try:
            waits[key] = float(getattr(section, key))
        except (TypeError, ValueError):
            waits[key] = -1.0
        if not waits[key] > 0:
            raise ConfigError(f"Setting '{name}.{key}' must be a positive number of seconds.")
    return {"attempts": attempts, "retry_delay": delay, **waits}


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"Setting {name!r} must be a table of values.")
    return dict(value)


def _check_backend(value: str) -> str:
    if value not in BACKENDS:
        raise ConfigError(f"Unknown backend {value!r}; choose one of: {', '.join(BACKENDS)}.")
    return value


def _check_mode(value: str) -> SearchMode:
    for mode in SEARCH_MODES:
        if value == mode:
            return mode
    raise ConfigError(f"Unknown mode {value!r}; choose one of: {', '.join(SEARCH_MODES)}.")


def _as_int(name: str, value: Any) -> int:
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting {name!r} must be a whole number, not {value!r}.") from None
    if result < 0:
        raise ConfigError(f"Setting {name!r} must not be negative.")
    return result


def _holds_key(data: Mapping[str, Any]) -> bool:
    return any(
        isinstance(section, Mapping) and bool(section.get("api_key")) for section in data.values()
    )


def _parse_scalar(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value


def _dump_toml(data: Mapping[str, Any]) -> str:
    """A minimal TOML writer for the flat tables codefind's config uses."""

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{text}"'

    lines = [f"{k} = {scalar(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for name, table in data.items():
        if isinstance(table, Mapping):
            lines.append(f"\n[{name}]")
            for key, value in table.items():
                if isinstance(value, Mapping):
                    inner = ", ".join(f'"{k}" = {scalar(v)}' for k, v in value.items())
                    lines.append(f"{key} = {{ {inner} }}")
                else:
                    lines.append(f"{key} = {scalar(value)}")
    return "\n".join(lines) + "\n"
