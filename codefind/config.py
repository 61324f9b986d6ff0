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
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from codefind import plugins
from codefind.atomic import atomic_write_bytes
from codefind.errors import ConfigError, remember_secret
from codefind.models import SEARCH_MODES, SearchMode

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
MAX_CONFIG_BYTES = 1_000_000
"""A config file is a few lines; anything bigger (``/dev/zero``) is refused, not read."""
MAX_THREADS = 1024
"""``local.threads`` above this is a typo, not a machine; values above the CPU count are
lowered to it (more threads than CPUs only adds memory and contention)."""


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
    urls: str = ""
    """More servers of the same model (base URLs, separated by commas or spaces): indexing
    batches go to whichever of ``url`` and these has the fewest in flight."""
    max_concurrency: int = 4
    """Indexing batches in flight at once, over all servers (about 2-4 per GPU)."""


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
class OpenAISettings:
    """Any server that speaks the OpenAI embeddings API (vLLM, TEI, Ollama, llama.cpp, ...)."""

    url: str = ""
    """The API's base URL, e.g. ``http://127.0.0.1:11434/v1`` (Ollama)."""
    model: str = ""
    """The model name the server expects in requests."""
    api_key: str | None = field(default=None, repr=False)
    query_prefix: str = ""
    """Text put before every query, verbatim: the instruction some models want (``search_query:
    `` for nomic-embed-text, ``query: `` for E5, ``Instruct: ...\\nQuery:`` for Qwen3)."""
    matryoshka_min_dim: int = 0
    """The smallest dimension the model was Matryoshka-trained for; 0 = it was not, and only
    its native dimension is offered (cutting another model's vectors ruins them)."""
    multilingual: bool = True
    """Whether the model reads queries in other languages (false: Chinese and Japanese queries
    are translated to English keywords first, as for the built-in model)."""
    batch_size: int = 32
    """Texts per request; lowered for the run when the server says its limit is smaller."""
    max_tokens: int = 8192
    """Inputs are cut to about this many tokens; lowered when the server states its limit."""
    attempts: int = 5
    """Tries per request before giving up (429, 5xx); 1 = no retry. Timeouts are not retried."""
    retry_delay: float = 0.5
    """First backoff between tries, in seconds; it doubles on each retry."""
    timeout: float = 30.0
    """Seconds to wait for the answer to one indexing batch."""
    query_timeout: float = 5.0
    """Seconds to wait for a search query's vector before searching lexically."""


ServerSettings = SGLangSettings | VoyageSettings | OpenAISettings
SECTIONS: tuple[str, ...] = ("local", "sglang", "voyage", "openai")
"""The config tables of codefind's own backends (a plug-in's table is in ``Settings.plugins``)."""


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
    include_data: bool = False
    """Index data files too (CSV, snapshots, test inputs: ``codefind.categories``); without
    it they are skipped unless a ``.codefindignore`` negation names them."""
    yes: bool = False
    """Consent given up front for sending code to a remote backend (``--yes``)."""
    debug: bool = False
    translate: bool = True
    """Chinese/Japanese queries become English keywords (off only to measure what it adds)."""
    local: LocalSettings = field(default_factory=LocalSettings)
    sglang: SGLangSettings = field(default_factory=SGLangSettings)
    voyage: VoyageSettings = field(default_factory=VoyageSettings)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    plugins: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Plug-in backends' config tables as written; each backend parses its own
    (``Backend.options``)."""
    keys: Mapping[str, str] = field(default_factory=dict)
    """The app's key map, binding id -> keys (the ``[keys]`` table, e.g. ``open = "ctrl+o"``);
    the app checks the ids."""

    @property
    def model(self) -> str:
        """The model of the chosen backend ("" when a plug-in's table names none)."""
        return str(self.section_value(self.backend, "model") or "")

    def with_model(self, model: str) -> Settings:
        """A copy whose chosen backend uses ``model``."""
        return self.with_section_value(self.backend, "model", model)

    def with_backend(self, backend: str, dim: int | None = None) -> Settings:
        """A copy that uses ``backend`` at ``dim`` (native when ``None``)."""
        return replace(self, backend=plugins.check(backend), dim=dim)

    def section_value(self, backend: str, key: str) -> Any:
        """The value of ``key`` in ``backend``'s config table (``None`` when a plug-in's
        table does not set it)."""
        if backend in SECTIONS:
            return getattr(getattr(self, backend), key)
        return self.plugins.get(backend, {}).get(key)

    def with_section_value(self, backend: str, key: str, value: Any) -> Settings:
        """A copy with ``key`` of ``backend``'s config table set to ``value``."""
        if backend in SECTIONS:
            section = getattr(self, backend)
            return replace(self, **{backend: replace(section, **{key: value})})
        table = {**self.plugins.get(backend, {}), key: value}
        return replace(self, plugins={**self.plugins, backend: table})


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
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    _check_types(given, "the command line")
    _merge(data, given)
    return _build(data)


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file as a dict ({} when it does not exist), every value type-checked.

    Opened without blocking and read only when it is a regular file of at most
    ``MAX_CONFIG_BYTES``: ``CODEFIND_CONFIG`` pointing at a FIFO must not hang and one at
    ``/dev/zero`` must not fill the memory.

    Raises:
        ConfigError: Unreadable, not a regular file, too large, not TOML, a value of the wrong
            type, or an API key in a file that other users can read.
    """
    raw, mode = _read_regular(path)
    if raw is None:
        return {}
    import tomllib  # only when a config file exists: it is not free at start-up

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from exc
    _check_types(data, f"the config file {path}")
    if _holds_key(data) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"The config file {path} holds an API key and other users can read it. "
            f"Run: chmod 600 {path}"
        )
    return data


def _read_regular(path: Path) -> tuple[bytes | None, int]:
    """The bytes and mode of the config file (``None`` when it does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None, 0
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"The config file {path} is not a regular file.")
        try:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"The config file {path} is over {MAX_CONFIG_BYTES:,} bytes; it is not a codefind "
            "config file."
        )
    return raw, mode


def write_config_value(key: str, value: str, path: Path | None = None) -> Path:
    """Set ``key`` (``backend`` or ``section.field``) in the config file, atomically, mode 0600.

    The file is edited with tomlkit, so a hand-written file keeps its comments, order and
    layout; the result is parsed back with ``tomllib`` and checked like any config file
    before it replaces the old one, so ``config set`` can never write a file that later
    commands refuse to read. ``dim native`` removes ``dim`` (the model's native dimension).

    Raises:
        ConfigError: An unknown key (the message lists the known ones), a value of the wrong
            type or out of range, or a current file that is not valid.
    """
    import tomllib

    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = path or config_path()
    read_config_file(path)  # the file as it is must be valid, and its key private
    raw, _ = _read_regular(path)
    parts = tuple(key.split("."))
    kind = _FIELDS.get(parts)
    if kind is None or kind in ("table", "prices"):
        raise ConfigError(f"Unknown setting {key!r}. Settings: {', '.join(setting_names())}.")
    try:
        doc = tomlkit.parse(raw.decode("utf-8")) if raw else tomlkit.document()
    except TOMLKitError as exc:  # tomllib read it, but tomlkit cannot edit it
        raise ConfigError(f"The config file {path} cannot be edited: {exc}.") from exc
    table: Any = doc
    if len(parts) == 2:
        if parts[0] not in doc:
            doc.add(parts[0], tomlkit.table())
        table = doc[parts[0]]
    if parts == ("dim",) and value.strip().lower() == "native":
        table.pop("dim", None)
    else:
        parsed = _parse_text(key, kind, value)
        if parts == ("dim",) and parsed < 1:
            raise ConfigError(
                "dim must be a positive number of dimensions (or `native` for the model's own)."
            )
        table[parts[-1]] = parsed
    text = tomlkit.dumps(doc)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # a tomlkit bug; never write what cannot be read
        raise ConfigError(f"{key} = {value!r} cannot be written as TOML: {exc}.") from exc
    _check_types(data, "the new value")
    _build(data)  # ranges, backend and mode names
    atomic_write_bytes(path, text.encode("utf-8"), mode=0o600)
    return path


def setting_names() -> list[str]:
    """The keys ``codefind config set`` accepts, as dotted names."""
    return [".".join(k) for k, kind in _FIELDS.items() if kind not in ("table", "prices")]


def settings_as_dict(settings: Settings, *, hide_secrets: bool = True) -> dict[str, Any]:
    """Settings as a plain dict for ``codefind config show`` (keys masked)."""
    out = dataclasses.asdict(settings)
    tables = out.pop("plugins")
    out.update({name: dict(table) for name, table in tables.items()})
    for name in (*SECTIONS, *tables):
        if hide_secrets and out[name].get("api_key"):
            out[name]["api_key"] = "***"
    out["keys"] = dict(settings.keys)
    out["index_dir"] = str(settings.index_dir) if settings.index_dir else None
    return out


def plugin_section(settings: Settings, name: str, kind: type[_T]) -> _T:
    """Plug-in ``name``'s config table as an instance of the dataclass ``kind``.

    Values are checked against the fields' annotations (``str``, ``int``, ``float``, ``bool``,
    optionally ``| None``); unset fields keep their defaults.

    Raises:
        ConfigError: A key the dataclass does not have, or a value of the wrong type.
    """
    import typing

    table = dict(settings.plugins.get(name, {}))
    hints = typing.get_type_hints(kind)
    fields = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(
                f"Unknown setting '{name}.{key}'; the {name} backend reads: "
                f"{', '.join(sorted(fields))}."
            )
        expected = _kind_of(hints[key])
        if expected is None or not _is_kind(expected, value):
            wanted = _EXPECTED[expected] if expected else f"a {hints[key]}"
            raise ConfigError(f"Setting '{name}.{key}' must be {wanted}, not {_describe(value)}.")
    section = kind(**table)
    remember_secret(getattr(section, "api_key", None))
    return section


# --- internals -------------------------------------------------------------------------

_N = TypeVar("_N", int, float)
_T = TypeVar("_T")

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
    "CODEFIND_OPENAI_URL": ("openai", "url"),
    "CODEFIND_OPENAI_MODEL": ("openai", "model"),
    "CODEFIND_OPENAI_API_KEY": ("openai", "api_key"),
    "CODEFIND_OPENAI_QUERY_PREFIX": ("openai", "query_prefix"),
}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``CODEFIND_*`` variables as settings; numbers are parsed, naming the variable."""
    data: dict[str, Any] = {}
    for name, keys in _ENV_MAP.items():
        value = env.get(name)
        if value:
            _merge(data, _nest(keys, _parse_text(name, _FIELDS[keys], value)))
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
    """Settings from type-checked ``data``; ranges are checked here."""
    data = dict(data)
    model = data.pop("model", None)
    sections: dict[str, Any] = {
        "local": LocalSettings(**_section(data, "local")),
        "sglang": SGLangSettings(**_section(data, "sglang")),
        "voyage": VoyageSettings(**_section(data, "voyage")),
        "openai": OpenAISettings(**_section(data, "openai")),
        "keys": dict(_section(data, "keys")),
    }
    top = {k: v for k, v in data.items() if k in _TOP_LEVEL and k not in sections}
    tables = {k: dict(v) for k, v in data.items() if k not in _TOP_LEVEL}
    settings = Settings(**top, **sections, plugins=tables)
    settings = replace(
        settings,
        backend=plugins.check(settings.backend),
        dim=_in_range("dim", settings.dim or 0, 0, 1 << 16) or None,
        mode=_check_mode(settings.mode),
        limit=_in_range("limit", settings.limit, 0, 100_000),
        max_file_bytes=_in_range("max_file_bytes", settings.max_file_bytes, 0, 1 << 30),
        index_dir=_absolute(settings.index_dir),
        local=replace(settings.local, threads=_threads(settings.local.threads)),
        sglang=replace(
            settings.sglang,
            max_concurrency=_in_range(
                "sglang.max_concurrency", settings.sglang.max_concurrency, 1, 1024
            ),
            **_retry_fields("sglang", settings.sglang),
        ),
        voyage=replace(settings.voyage, **_retry_fields("voyage", settings.voyage)),
        openai=_openai_fields(settings.openai),
    )
    for section in (settings.sglang, settings.voyage, settings.openai):
        remember_secret(section.api_key)  # so that no message or traceback shows them
    for table in settings.plugins.values():
        remember_secret(table.get("api_key"))
    return settings.with_model(model) if model else settings


def _absolute(index_dir: Path | str | None) -> Path | None:
    """``CODEFIND_INDEX_DIR`` made absolute once, against the current folder, at load time.

    Later code runs git and opens files from other folders; a relative value resolved there
    would land inside the work tree, and codefind would index its own index.
    """
    if not index_dir:
        return None
    return Path(os.path.abspath(Path(index_dir).expanduser()))


def _threads(value: int) -> int:
    """``local.threads``: absurd values refused, more than the CPUs lowered to their number."""
    threads = _in_range("local.threads", value, 0, MAX_THREADS)
    return min(threads, os.cpu_count() or 1)


def _openai_fields(section: OpenAISettings) -> OpenAISettings:
    return replace(
        section,
        matryoshka_min_dim=_in_range(
            "openai.matryoshka_min_dim", section.matryoshka_min_dim, 0, 1 << 16
        ),
        batch_size=_in_range("openai.batch_size", section.batch_size, 1, 100_000),
        max_tokens=_in_range("openai.max_tokens", section.max_tokens, 16, 100_000_000),
        **_retry_fields("openai", section),
    )


def _retry_fields(name: str, section: ServerSettings) -> dict[str, Any]:
    attempts = _in_range(f"{name}.attempts", section.attempts, 1, 100)
    delay = _in_range(f"{name}.retry_delay", float(section.retry_delay), 0.0, 3600.0)
    if isinstance(section, VoyageSettings):
        for model, price in section.price_per_million_tokens.items():
            _in_range(f"voyage.price_per_million_tokens.{model}", float(price), 0.0, 1e6)
    waits = {}
    for key in ("timeout", "query_timeout"):
        value = float(getattr(section, key))
        if not value > 0:
            raise ConfigError(f"Setting '{name}.{key}' must be a positive number of seconds.")
        waits[key] = _in_range(f"{name}.{key}", value, 0.0, 86400.0)
    return {"attempts": attempts, "retry_delay": delay, **waits}


def _section(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"Setting {name!r} must be a table of values.")
    return dict(value)


def _check_mode(value: str) -> SearchMode:
    for mode in SEARCH_MODES:
        if value == mode:
            return mode
    raise ConfigError(f"Unknown mode {value!r}; choose one of: {', '.join(SEARCH_MODES)}.")


def _in_range(name: str, value: _N, low: _N, high: _N) -> _N:
    if value < low:
        raise ConfigError(
            f"Setting {name!r} must not be negative." if low == 0 else
            f"Setting {name!r} must be at least {low}, not {value}."
        )  # fmt: skip
    if value > high:
        raise ConfigError(f"Setting {name!r} must be at most {high:,}, not {value:,}.")
    return value


# --- the type of every setting -------------------------------------------------------------

_Kind = Literal["str", "int", "float", "bool", "table", "prices", "keymap", "plugin"]

_FIELDS: dict[tuple[str, ...], _Kind] = {
    ("backend",): "str", ("model",): "str", ("dim",): "int", ("mode",): "str",
    ("limit",): "int", ("rerank",): "bool", ("index_dir",): "str",
    ("max_file_bytes",): "int", ("include_data",): "bool", ("yes",): "bool", ("debug",): "bool", ("translate",): "bool",
    ("local",): "table", ("local", "model"): "str", ("local", "threads"): "int",
    ("sglang",): "table", ("sglang", "url"): "str", ("sglang", "model"): "str",
    ("sglang", "api_key"): "str", ("sglang", "instruction"): "str",
    ("sglang", "rerank_url"): "str", ("sglang", "rerank_model"): "str",
    ("sglang", "attempts"): "int", ("sglang", "retry_delay"): "float",
    ("sglang", "timeout"): "float", ("sglang", "query_timeout"): "float",
    ("sglang", "urls"): "str", ("sglang", "max_concurrency"): "int",
    ("voyage",): "table", ("voyage", "model"): "str", ("voyage", "url"): "str",
    ("voyage", "api_key"): "str", ("voyage", "rerank_model"): "str",
    ("voyage", "price_per_million_tokens"): "prices", ("voyage", "attempts"): "int",
    ("voyage", "retry_delay"): "float", ("voyage", "timeout"): "float",
    ("voyage", "query_timeout"): "float",
    ("openai",): "table", ("openai", "url"): "str", ("openai", "model"): "str",
    ("openai", "api_key"): "str", ("openai", "query_prefix"): "str",
    ("openai", "matryoshka_min_dim"): "int", ("openai", "multilingual"): "bool",
    ("openai", "batch_size"): "int", ("openai", "max_tokens"): "int",
    ("openai", "attempts"): "int", ("openai", "retry_delay"): "float",
    ("openai", "timeout"): "float", ("openai", "query_timeout"): "float",
    ("keys",): "keymap",
}  # fmt: skip
"""Every key codefind reads, and the TOML type its value must have. A plug-in backend's table
(``[name]``, for a backend an installed package provides) is accepted as a table of plain
values, and checked by the plug-in (``plugin_section``)."""
_TOP_LEVEL = {key[0] for key in _FIELDS}

_EXPECTED: dict[_Kind, str] = {
    "str": "a string",
    "int": "a whole number",
    "float": "a finite number",
    "bool": "true or false (a TOML boolean, not a string)",
    "table": "a table of values",
    "prices": "a table of model names to finite numbers",
    "keymap": "a table of binding ids to keys (strings)",
    "plugin": "a table of strings, numbers and booleans",
}


def _check_types(data: Mapping[str, Any], origin: str, prefix: tuple[str, ...] = ()) -> None:
    """Refuse unknown keys and values of the wrong type, naming ``origin`` and the key.

    Raises:
        ConfigError: E.g. ``yes = "no"`` (a string is not consent), ``dim = true`` (a bool is
            not 1) or ``retry_delay = 1e400`` (infinite).
    """
    for key, value in data.items():
        path = (*prefix, str(key))
        name = ".".join(path)
        kind = _FIELDS.get(path)
        if kind is None and not prefix and plugins.is_plugin(str(key)):
            kind = "plugin"
        if kind is None:
            raise ConfigError(
                f"Unknown setting {name!r} in {origin}. Run `codefind config show` for the names."
            )
        if not _is_kind(kind, value):
            raise ConfigError(
                f"Setting {name!r} in {origin} must be {_EXPECTED[kind]}, not {_describe(value)}."
            )
        if kind == "table":
            _check_types(value, origin, path)


def _is_kind(kind: _Kind, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return _finite(value)
    if kind == "str":
        return isinstance(value, str | Path)
    if kind == "prices":
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and _finite(v) for k, v in value.items()
        )
    if kind == "keymap":
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    if kind == "plugin":
        return isinstance(value, Mapping) and all(
            isinstance(v, str | bool | int) or _finite(v) for v in value.values()
        )
    return isinstance(value, Mapping)


def _kind_of(annotation: Any) -> _Kind | None:
    """The kind of a plug-in settings field from its type (``str``, ``int | None``, ...)."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    kinds: dict[Any, _Kind] = {str: "str", int: "int", float: "float", bool: "bool"}
    return kinds.get(annotation)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _describe(value: Any) -> str:
    kinds = {bool: "the boolean", int: "the number", float: "the number", str: "the string"}
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"{kinds.get(type(value), 'a ' + type(value).__name__)} {shown}"


def _parse_text(name: str, kind: _Kind, text: str) -> Any:
    """A value typed as text (an environment variable, ``config set``) as its setting's type.

    Raises:
        ConfigError: The text is not a value of that type.
    """
    if kind == "str":
        return text
    lowered = text.strip().lower()
    if kind == "bool" and lowered in ("true", "false"):
        return lowered == "true"
    try:
        if kind == "int":
            return int(text)
        if kind == "float" and math.isfinite(number := float(text)):
            return number
    except ValueError:
        pass
    raise ConfigError(f"{name} must be {_EXPECTED[kind]}, not {text!r}.")


def _holds_key(data: Mapping[str, Any]) -> bool:
    return any(
        isinstance(section, Mapping) and bool(section.get("api_key")) for section in data.values()
    )
