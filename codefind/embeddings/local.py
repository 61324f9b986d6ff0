"""The ``local`` backend: the built-in embedding model, run in process with onnxruntime.

codefind must search well straight after ``pip install`` on a machine with no GPU, no network
and no API key, so its default model (all-MiniLM-L6-v2, exported by
``scripts/export_builtin_model.py``) ships inside the package, in
``codefind/builtin_models/<name>/``, with a ``manifest.json`` that records every file's
sha256. Nothing is ever downloaded.

Why it looks the way it does:

- Lazy: importing this module costs nothing heavy; onnxruntime and the tokenizer are loaded
  on the first embedding (or ``load()``), once, under a lock, since the app embeds from
  worker threads.
- Verified: every shipped file is checked against the manifest's sha256 at load, so a damaged
  install fails with a clear message instead of producing wrong vectors. A verified file's
  (size, mtime) stamp is remembered per process, so a second embedder does not hash again.
- Identified by its weights: ``model_id`` carries the first 12 hex digits of the ONNX file's
  sha256, so vectors of a different build never mix with cached ones.
- A function of the text alone: each text runs through the model on its own, so a chunk's
  vector is the same bit for bit whatever else is embedded with it (an incremental run and a
  fresh one rank alike). Batching changes vectors for two reasons: padding, and the int8
  graph's dynamically quantised matmuls, which compute one scale over the whole input tensor,
  i.e. over every text in the batch (cosine of a text batched vs alone: 0.994, even with no
  padding at all). One text per call costs ~10% of throughput on two cores (measured with
  benchmarks/bench_model.py's mix: ~10,400 -> ~9,300 tokens/s), well within the 6,000 tokens/s
  budget. Pooling and normalisation run inside the ONNX graph.
- Honest about length: inputs longer than the model's window are cut to ``max_tokens``
  (counting [CLS] and [SEP]) and counted in ``truncated``; no input is ever dropped.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codefind.config import DEFAULT_LOCAL_MODEL
from codefind.embeddings.base import Backend, Dimensions, Embedder, Vectors
from codefind.errors import BackendError, ConfigError, ModelFilesError

if TYPE_CHECKING:
    from codefind.config import Settings

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "builtin_models"
"""Where shipped models live: one folder per model, each with a ``manifest.json``."""

MANIFEST_NAME = "manifest.json"
MAX_DEFAULT_THREADS = 8
"""More intra-op threads than this buys little for a 22M-parameter encoder."""
SUB_BATCH_TOKENS = 0
"""Padded tokens per onnxruntime call; 0 = one text per call, which codefind always uses (see
the module docstring). Benchmarks may set a budget (e.g. 512: texts sorted by length, padded
per call) to measure what batching would gain; vectors then depend on their batch-mates."""
MAX_SUB_BATCH = 64
DEFAULT_BATCH_SIZE = 64
"""Texts per ``embed_documents`` call the indexer makes (several sub-batches, one sort)."""
CHARS_PER_TOKEN_CAP = 64
"""Text beyond ``max_tokens * 64`` characters is never tokenized: no code token is that long,
so the cut cannot change the first ``max_tokens`` tokens of a real chunk."""

_REINSTALL = "Reinstall codefind (pip install --force-reinstall codefind) to restore it."


def discover_models(folder: Path = BUILTIN_DIR) -> tuple[str, ...]:
    """Names of the model folders in ``folder`` (those holding a manifest), sorted."""
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.name for p in folder.iterdir() if (p / MANIFEST_NAME).is_file()))


KNOWN_MODELS: tuple[str, ...] = discover_models()
"""The models shipped inside the package, found by listing ``builtin_models/``."""


@dataclass(frozen=True)
class ShippedFile:
    """One file of a shipped model, as the manifest records it."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelManifest:
    """What ``manifest.json`` says about a shipped model (written by the export script)."""

    name: str
    dims: int
    max_tokens: int
    pooling: str
    normalize: bool
    quantization: str
    files: Mapping[str, ShippedFile]

    @property
    def onnx_sha256(self) -> str:
        """The sha256 of the ONNX graph: the identity of the weights."""
        return self.files["model.onnx"].sha256


def read_manifest(model_dir: Path) -> ModelManifest:
    """Parse ``model_dir/manifest.json``.

    Raises:
        ModelFilesError: The manifest is missing, unreadable or lacks a required field.
    """
    path = model_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = {
            name: ShippedFile(name, str(entry["sha256"]), int(entry["size"]))
            for name, entry in data["files"].items()
        }
        manifest = ModelManifest(
            name=str(data["name"]),
            dims=int(data["dims"]),
            max_tokens=int(data["max_tokens"]),
            pooling=str(data["pooling"]),
            normalize=bool(data["normalize"]),
            quantization=str(data.get("quantization", "none")),
            files=files,
        )
    except FileNotFoundError:
        raise ModelFilesError(
            f"The built-in model's manifest {path} is missing. {_REINSTALL}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFilesError(
            f"The built-in model's manifest {path} cannot be read ({exc}). {_REINSTALL}"
        ) from exc
    for required in ("model.onnx", "tokenizer.json"):
        if required not in files:
            raise ModelFilesError(f"The manifest {path} does not list {required}. {_REINSTALL}")
    return manifest


def model_dir_for(model: str) -> Path:
    """The folder of the shipped model ``model``.

    Raises:
        ConfigError: No model of that name ships with codefind.
    """
    if model in KNOWN_MODELS:
        return BUILTIN_DIR / model
    shipped = ", ".join(KNOWN_MODELS) or "none (the installation is incomplete)"
    raise ConfigError(f"Unknown built-in model {model!r}. The local backend ships: {shipped}.")


def dimensions_for(model: str) -> Dimensions:
    """The dimensions ``model`` offers (native only: MiniLM is not Matryoshka-trained).

    Reads the manifest; does not load the model.

    Raises:
        ConfigError: Unknown model.
        ModelFilesError: Its manifest is missing or broken.
    """
    return Dimensions(native=read_manifest(model_dir_for(model)).dims)


class LocalBackend(Backend):
    """The built-in model: in this process, offline, nothing sent anywhere."""

    name = "local"
    label = "Built-in model (local, offline)"
    known_models = KNOWN_MODELS

    def create(self, settings: Settings) -> Embedder:
        """The local embedder for ``settings.local`` (model and threads); loads nothing yet.

        Raises:
            ConfigError: ``settings.local.model`` is not a shipped model.
        """
        return LocalEmbedder(settings.local.model, threads=settings.local.threads)

    def dimensions(self, settings: Settings, model: str) -> Dimensions:
        """Native only, read from the model's manifest (see ``dimensions_for``)."""
        return dimensions_for(model)


def default_threads() -> int:
    """onnxruntime intra-op threads: one per physical core this process may use.

    Counts distinct (package, core) pairs among the CPUs in the affinity mask (SMT siblings
    share a core's matrix units, so a second thread per core only adds contention), bounded
    by a cgroup CPU quota when there is one, and at most ``MAX_DEFAULT_THREADS``.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cpus:
        cpus = list(range(os.cpu_count() or 1))
    cores = {_physical_core(cpu) for cpu in cpus}
    return max(1, min(len(cores), _cgroup_cpu_limit() or len(cores), MAX_DEFAULT_THREADS))


def _physical_core(cpu: int) -> tuple[str, str] | int:
    topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
    try:
        package = (topology / "physical_package_id").read_text().strip()
        core = (topology / "core_id").read_text().strip()
    except OSError:
        return cpu
    return (package, core)


def _cgroup_cpu_limit() -> int | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


# Files verified in this process: path -> (size, mtime_ns, sha256). Hashing the ONNX file
# costs ~15-30 ms; a second embedder (or a reload after settings change) skips it.
_VERIFIED: dict[str, tuple[int, int, str]] = {}
_VERIFIED_LOCK = threading.Lock()


def verify_files(model_dir: Path, manifest: ModelManifest) -> None:
    """Check every file the manifest lists against its size and sha256.

    Raises:
        ModelFilesError: A file is missing, unreadable, or its content differs; the message
            names the file and says to reinstall.
    """
    for entry in manifest.files.values():
        _verify_file(model_dir / entry.name, entry)


def _verify_file(path: Path, entry: ShippedFile) -> None:
    try:
        stat = path.stat()
    except OSError:
        raise ModelFilesError(
            f"The built-in model file {entry.name} is missing from {path.parent}. {_REINSTALL}"
        ) from None
    key = str(path)
    with _VERIFIED_LOCK:
        known = _VERIFIED.get(key)
    if known == (stat.st_size, stat.st_mtime_ns, entry.sha256):
        return
    digest = _sha256_file(path) if stat.st_size == entry.size else "(size differs)"
    if digest != entry.sha256:
        raise ModelFilesError(
            f"The built-in model file {entry.name} in {path.parent} is damaged or was changed: "
            f"its sha256 is {digest[:16]}…, the manifest expects {entry.sha256[:16]}…. "
            f"{_REINSTALL}"
        )
    with _VERIFIED_LOCK:
        _VERIFIED[key] = (stat.st_size, stat.st_mtime_ns, entry.sha256)


def _sha256_file(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return sha256(handle.read()).hexdigest()
    except OSError as exc:
        raise ModelFilesError(
            f"The built-in model file {path.name} cannot be read: {exc.strerror}. {_REINSTALL}"
        ) from exc


@dataclass(frozen=True)
class _Runtime:
    """The loaded model: tokenizer, onnxruntime session, and the ids it needs."""

    tokenizer: Any
    session: Any
    sep_id: int
    pad_id: int


class LocalEmbedder(Embedder):
    """The built-in model behind the ``Embedder`` interface.

    Attributes:
        truncated: How many inputs were longer than ``max_tokens`` and cut (never dropped);
            the indexer can report it.
        threads: onnxruntime intra-op threads (0 at construction = one per physical core).
    """

    backend = "local"

    def __init__(
        self,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        threads: int = 0,
        model_dir: Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        sub_batch_tokens: int = SUB_BATCH_TOKENS,
    ) -> None:
        """Describe the model from its manifest; nothing heavy is loaded until first use.

        Args:
            model: A shipped model name (see ``KNOWN_MODELS``).
            threads: Intra-op threads; 0 means one per physical core (``default_threads``).
            model_dir: Load from this folder instead of the shipped one (a copy for tests,
                or an fp32 export for benchmarks); it must hold a manifest.
            batch_size: Texts per ``embed_documents`` call the indexer should make.
            sub_batch_tokens: 0 (the default): one text per onnxruntime call, so vectors are
                a function of their text alone. Benchmarks only: padded tokens per call (at
                least one text, at most ``MAX_SUB_BATCH``) after sorting by length.

        Raises:
            ConfigError: ``model`` is not shipped (and no ``model_dir`` is given).
            ModelFilesError: The manifest is missing or broken.
        """
        self.model_dir = model_dir if model_dir is not None else model_dir_for(model)
        self.manifest = read_manifest(self.model_dir)
        self.model = model
        self.model_id = f"local:{model}:{self.manifest.onnx_sha256[:12]}"
        self.dimensions = Dimensions(native=self.manifest.dims)
        self.max_tokens = self.manifest.max_tokens
        self.batch_size = batch_size
        self.sub_batch_tokens = max(0, sub_batch_tokens)
        self.threads = threads if threads > 0 else default_threads()
        self.truncated = 0
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    # --- public ---------------------------------------------------------------------------

    def load(self) -> None:
        """Verify and load the model now (the app calls this in a worker to warm up).

        Raises:
            ModelFilesError: A shipped file is missing or does not match the manifest.
            BackendError: onnxruntime or tokenizers is missing or cannot run the model.
        """
        self._loaded()

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._runtime is not None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Each text's token count with [CLS] and [SEP], before truncation to ``max_tokens``.

        Blank texts count 0 (they are never sent to the model). Loads the model if needed.
        """
        runtime = self._loaded()
        counts = [0] * len(texts)
        keep = [i for i, text in enumerate(texts) if text.strip()]
        encodings = runtime.tokenizer.encode_batch([self._clip(texts[i]) for i in keep])
        for index, encoding in zip(keep, encodings, strict=True):
            counts[index] = len(encoding.ids)
        return counts

    def estimate_tokens(self, texts: Sequence[str]) -> int:
        """The tokens ``texts`` would cost, counted by the real tokenizer (after truncation)."""
        return sum(min(n, self.max_tokens) for n in self.count_tokens(texts))

    def close(self) -> None:
        """Drop the loaded model; the next embedding loads it again."""
        with self._lock:
            self._runtime = None

    # --- embedding ------------------------------------------------------------------------

    def _embed(self, texts: list[str], *, query: bool) -> Vectors:
        runtime = self._loaded()
        ids = self._token_ids(runtime, texts)
        out = np.empty((len(texts), self.dimensions.native), dtype=np.float32)
        if self.sub_batch_tokens > 0:
            self._embed_batched(runtime, ids, out)
            return out
        for row, text_ids in enumerate(ids):  # each alone: see the module docstring
            out[row] = self._run(runtime, [text_ids])[0]
        return out

    def _embed_batched(self, runtime: _Runtime, ids: list[list[int]], out: Vectors) -> None:
        """Benchmarks only: texts sorted by length, several per call (vectors then depend on
        their batch-mates, see ``SUB_BATCH_TOKENS``)."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        start = 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest left: sorted descending
            count = min(MAX_SUB_BATCH, max(1, self.sub_batch_tokens // width))
            rows = order[start : start + count]
            out[rows] = self._run(runtime, [ids[i] for i in rows])
            start += count

    def _token_ids(self, runtime: _Runtime, texts: list[str]) -> list[list[int]]:
        if len(texts) == 1:  # a query: skip the batch machinery's thread hand-off
            encodings = [runtime.tokenizer.encode(self._clip(texts[0]))]
        else:
            encodings = runtime.tokenizer.encode_batch([self._clip(t) for t in texts])
        result: list[list[int]] = []
        cut = 0
        for encoding in encodings:
            ids: list[int] = encoding.ids
            if len(ids) > self.max_tokens:  # keep [CLS] + the first tokens, end with [SEP]
                ids = [*ids[: self.max_tokens - 1], runtime.sep_id]
                cut += 1
            result.append(ids)
        if cut:
            with self._lock:
                self.truncated += cut
        return result

    def _clip(self, text: str) -> str:
        return text[: self.max_tokens * CHARS_PER_TOKEN_CAP]

    def _run(self, runtime: _Runtime, batch: list[list[int]]) -> Vectors:
        width = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), width), runtime.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        try:
            (vectors,) = runtime.session.run(
                ["embedding"], {"input_ids": input_ids, "attention_mask": mask}
            )
        except Exception as exc:  # onnxruntime raises its own unexported exception types
            raise BackendError(f"The built-in model failed to run: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)

    # --- loading --------------------------------------------------------------------------

    def _loaded(self) -> _Runtime:
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                self._runtime = self._load_runtime()
            return self._runtime

    def _load_runtime(self) -> _Runtime:
        verify_files(self.model_dir, self.manifest)
        # onnxruntime >= 1.32 writes a device id and a telemetry queue under
        # ~/.cache/Microsoft on import; this variable (read at import) stops that.
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise BackendError(
                f"The local backend needs {exc.name}: pip install onnxruntime tokenizers"
            ) from exc
        getattr(ort, "disable_telemetry_events", lambda: None)()  # events too (Windows ETW)
        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_truncation()  # truncation is done here, so it can be counted
        tokenizer.no_padding()
        session = self._session(ort)
        sep_id = tokenizer.token_to_id("[SEP]")
        pad_id = tokenizer.token_to_id("[PAD]")
        if sep_id is None or pad_id is None:
            raise ModelFilesError(
                f"The tokenizer in {self.model_dir} has no [SEP] or [PAD] token. {_REINSTALL}"
            )
        return _Runtime(tokenizer=tokenizer, session=session, sep_id=sep_id, pad_id=pad_id)

    def _session(self, ort: Any) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Worker threads block instead of spinning between calls: on a busy machine (the
        # app's own threads, other processes) spinning cost ~30% of throughput, measured.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(
                str(self.model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own error types are not importable
            raise ModelFilesError(
                f"The built-in model {self.model_dir / 'model.onnx'} cannot be loaded by "
                f"onnxruntime {ort.__version__}: {exc}. {_REINSTALL}"
            ) from exc
