"""The built-in model, for real: it embeds real code and queries, and guards its own files.

These tests load the shipped ONNX model (a fraction of a second) and embed a few texts; speed
is measured in benchmarks/bench_model.py, never here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from codefind.config import LocalSettings, Settings
from codefind.embeddings import create_embedder, known_models, model_dimensions
from codefind.embeddings.local import (
    BUILTIN_DIR,
    KNOWN_MODELS,
    LocalBackend,
    LocalEmbedder,
    default_threads,
    dimensions_for,
    discover_models,
    read_manifest,
    verify_files,
)
from codefind.errors import ConfigError, ModelFilesError

MODEL = "all-MiniLM-L6-v2"

FUNCTIONS = {
    "read_text": '''def read_text(path):
    """Return the whole content of a file as a string."""
    with open(path, encoding="utf-8") as handle:
        return handle.read()
''',
    "md5_of": """def md5_of(data: bytes) -> str:
    import hashlib
    digest = hashlib.md5()
    digest.update(data)
    return digest.hexdigest()
""",
    "fetch_json": """def fetch_json(url, timeout=10):
    import json
    import urllib.request
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))
""",
    "sort_users_by_age": """def sort_users_by_age(users):
    return sorted(users, key=lambda user: user["age"])
""",
    "reverse_words": """def reverse_words(sentence):
    return " ".join(reversed(sentence.split()))
""",
    "send_email": """def send_email(host, sender, recipient, body):
    import smtplib
    with smtplib.SMTP(host) as server:
        server.sendmail(sender, [recipient], body)
""",
}


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    """The shipped model, loaded once for the module."""
    model = LocalEmbedder(MODEL)
    model.load()
    return model


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A private copy of the shipped model folder that a test may damage."""
    target = tmp_path / MODEL
    shutil.copytree(BUILTIN_DIR / MODEL, target)
    return target


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- what ships ---------------------------------------------------------------------------


def test_shipped_model_is_listed_with_its_manifest_facts() -> None:
    assert MODEL in KNOWN_MODELS
    assert known_models("local") == KNOWN_MODELS
    manifest = read_manifest(BUILTIN_DIR / MODEL)
    assert (manifest.dims, manifest.max_tokens) == (384, 256)
    assert (manifest.pooling, manifest.normalize) == ("mean", True)
    verify_files(BUILTIN_DIR / MODEL, manifest)  # the shipped files match their sha256


def test_a_second_model_folder_is_discovered_and_stray_folders_are_not(tmp_path: Path) -> None:
    shutil.copytree(BUILTIN_DIR / MODEL, tmp_path / "code-model-v2")
    (tmp_path / "not-a-model").mkdir()
    assert discover_models(tmp_path) == ("code-model-v2",)
    assert discover_models(tmp_path / "missing") == ()


def test_dimensions_are_native_only_and_read_without_loading() -> None:
    dims = dimensions_for(MODEL)
    assert dims.native == 384
    assert model_dimensions("local", MODEL) == dims
    assert not dims.is_valid(256)
    with pytest.raises(ConfigError, match="384 only"):
        dims.check(256, MODEL)


def test_unknown_model_is_refused_naming_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match=re.escape(MODEL)) as info:
        LocalBackend().create(Settings(local=LocalSettings(model="no-such-model")))
    assert "no-such-model" in info.value.message


def test_create_uses_the_settings_and_loads_nothing() -> None:
    embedder = create_embedder(Settings(local=LocalSettings(model=MODEL, threads=1)))
    assert isinstance(embedder, LocalEmbedder)
    assert embedder.threads == 1
    assert not embedder.loaded
    assert embedder.backend == "local"
    digest = read_manifest(BUILTIN_DIR / MODEL).files["model.onnx"].sha256
    assert embedder.model_id == f"local:{MODEL}:{digest[:12]}"
    assert embedder.max_tokens == 256


def test_default_threads_is_within_the_cpus_this_process_may_use() -> None:
    assert 1 <= default_threads() <= len(os.sched_getaffinity(0))
    assert LocalEmbedder(MODEL).threads == default_threads()


# --- embedding real code ------------------------------------------------------------------


def test_code_and_query_become_unit_vectors(embedder: LocalEmbedder) -> None:
    docs = embedder.embed_documents(list(FUNCTIONS.values()))
    assert docs.shape == (len(FUNCTIONS), 384)
    assert docs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query("read a file into a string")
    assert query.shape == (384,)
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    assert len({tuple(np.round(row, 4)) for row in docs}) == len(FUNCTIONS)  # all distinct


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("load the contents of a text file", "read_text"),
        ("compute the md5 checksum of some bytes", "md5_of"),
        ("download and decode json from a web address", "fetch_json"),
        ("order people by how old they are", "sort_users_by_age"),
        ("flip the order of the words in a string", "reverse_words"),
        ("mail a message through an smtp server", "send_email"),
    ],
)
def test_the_right_function_ranks_first(embedder: LocalEmbedder, query: str, expected: str) -> None:
    names = list(FUNCTIONS)
    docs = embedder.embed_documents(list(FUNCTIONS.values()))
    scores = docs @ embedder.embed_query(query)
    assert names[int(np.argmax(scores))] == expected, dict(zip(names, scores.round(3), strict=True))


def test_batch_order_is_restored_after_sorting_by_length(embedder: LocalEmbedder) -> None:
    texts = [
        FUNCTIONS["sort_users_by_age"],
        FUNCTIONS["fetch_json"] * 3,
        "x = 1",
        FUNCTIONS["md5_of"],
    ]
    batched = embedder.embed_documents(texts)
    for row, text in zip(batched, texts, strict=True):
        alone = embedder.embed_documents([text])[0]
        # Each text runs alone (int8 activations are quantized per call), so a row is its
        # text's vector bit for bit, whatever its batch-mates.
        assert np.array_equal(row, alone)


def test_blank_inputs_give_zero_vectors_without_loading_the_model() -> None:
    fresh = LocalEmbedder(MODEL)
    vectors = fresh.embed_documents(["", "   \n\t  "])
    assert vectors.shape == (2, 384)
    assert not vectors.any()
    assert not fresh.embed_query("  ").any()
    assert not fresh.loaded


def test_blank_inputs_mixed_with_code(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed_documents(["", FUNCTIONS["read_text"], " \n"])
    assert not vectors[0].any() and not vectors[2].any()
    assert abs(float(np.linalg.norm(vectors[1])) - 1.0) < 1e-5
    assert embedder.count_tokens(["", " \t", "def f(): pass"])[:2] == [0, 0]


def test_long_inputs_are_truncated_counted_and_still_embedded() -> None:
    embedder = LocalEmbedder(MODEL)
    head = " ".join(f"value_{i} = compute(value_{i - 1})" for i in range(1, 200))
    first, second = head + "\nprint('one')", head + "\nraise SystemExit('two')"
    assert embedder.count_tokens([first])[0] > 256
    vectors = embedder.embed_documents([first, second, "x = 1"])
    assert embedder.truncated == 2
    # Only the first 256 tokens count: texts that differ after them embed the same.
    assert cosine(vectors[0], vectors[1]) > 0.9999
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5
    assert embedder.estimate_tokens([first, "x = 1"]) == 256 + embedder.count_tokens(["x = 1"])[0]


def test_token_counts_come_from_the_real_tokenizer(embedder: LocalEmbedder) -> None:
    # [CLS] def add ( a , b ) : return a + b [SEP]
    assert embedder.count_tokens(["def add(a, b): return a + b"]) == [14]
    assert embedder.estimate_tokens(["def add(a, b): return a + b", ""]) == 14


def test_embedding_from_many_threads_at_once_loads_once_and_agrees() -> None:
    embedder = LocalEmbedder(MODEL)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(embedder.embed_query("parse a json file"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 6
    for vector in results[1:]:
        np.testing.assert_allclose(vector, results[0], atol=1e-6)


# --- the sha256 guard ---------------------------------------------------------------------


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_copied_model_folder_loads_and_embeds(model_copy: Path) -> None:
    embedder = LocalEmbedder(MODEL, model_dir=model_copy)
    assert embedder.embed_query("open a socket").shape == (384,)


def test_tampered_onnx_file_is_refused_with_a_clear_error(model_copy: Path) -> None:
    _flip_a_byte(model_copy / "model.onnx")
    embedder = LocalEmbedder(MODEL, model_dir=model_copy)
    with pytest.raises(ModelFilesError) as info:
        embedder.embed_query("open a socket")
    message = info.value.message
    assert "model.onnx" in message
    assert "Reinstall codefind" in message
    assert not embedder.loaded


def test_tampered_tokenizer_is_refused(model_copy: Path) -> None:
    tokenizer = model_copy / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8").replace("[UNK]", "[UNX]", 1))
    with pytest.raises(ModelFilesError, match=r"tokenizer\.json"):
        LocalEmbedder(MODEL, model_dir=model_copy).load()


def test_file_changed_after_a_successful_load_is_checked_again(model_copy: Path) -> None:
    LocalEmbedder(MODEL, model_dir=model_copy).load()
    _flip_a_byte(model_copy / "LICENSE")
    with pytest.raises(ModelFilesError, match="LICENSE"):
        LocalEmbedder(MODEL, model_dir=model_copy).load()


def test_missing_file_is_refused(model_copy: Path) -> None:
    (model_copy / "model.onnx").unlink()
    with pytest.raises(ModelFilesError, match=r"model\.onnx is missing"):
        LocalEmbedder(MODEL, model_dir=model_copy).load()


def test_missing_or_broken_manifest_is_refused(model_copy: Path) -> None:
    manifest = model_copy / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    del data["dims"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelFilesError, match="manifest"):
        LocalEmbedder(MODEL, model_dir=model_copy)
    manifest.unlink()
    with pytest.raises(ModelFilesError, match="missing"):
        LocalEmbedder(MODEL, model_dir=model_copy)


# --- import cost --------------------------------------------------------------------------


def test_importing_codefind_does_not_load_the_model_runtime() -> None:
    code = (
        "import sys\n"
        "import codefind, codefind.embeddings, codefind.embeddings.local\n"
        "from codefind.config import Settings\n"
        "from codefind.embeddings import create_embedder, model_dimensions\n"
        "embedder = create_embedder(Settings())\n"
        "model_dimensions('local', embedder.model)\n"
        "print(sorted(m for m in ('onnxruntime', 'tokenizers') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.stdout.strip() == "[]"
