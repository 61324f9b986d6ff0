"""Contract tests against the real services: opt-in, never part of the default run.

The stand-ins in ``tests/fakeservers.py`` speak the exact wire formats, but they answer a
``dimensions`` request with the same arithmetic codefind uses (cut, then L2-normalise), so a
test against them cannot show that the real services do the same. These tests ask the real
ones. They are marked ``online`` and deselected by default (``addopts`` in pyproject.toml);
run them with::

    CODEFIND_ONLINE_SGLANG_URL=http://gpu-host:30000/v1 \\
    CODEFIND_ONLINE_VOYAGE_KEY=pa-... python -m pytest -m online tests/test_online_contracts.py

The SGLang server must be launched as the README says (Qwen3-Embedding, ``--is-embedding``,
``is_matryoshka``); ``CODEFIND_ONLINE_SGLANG_MODEL`` names its model if it is not the 4B.
Each test is skipped when its variable is not set. (The usual ``VOYAGE_API_KEY`` is not
read: every test runs with the user's keys removed, so none is spent by accident.)
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import pytest

from codefind.config import DEFAULT_SGLANG_MODEL, Settings, SGLangSettings, VoyageSettings
from codefind.embeddings import create_embedder
from codefind.embeddings.base import truncate

pytestmark = pytest.mark.online

SGLANG_URL = os.environ.get("CODEFIND_ONLINE_SGLANG_URL", "")
SGLANG_MODEL = os.environ.get("CODEFIND_ONLINE_SGLANG_MODEL", DEFAULT_SGLANG_MODEL)
VOYAGE_KEY = os.environ.get("CODEFIND_ONLINE_VOYAGE_KEY", "")
TEXT = "def save_index(path): write the vectors to a temporary file, fsync it and rename it"
MIN_COSINE = 0.999
"""Cut-and-renormalise against the service's own reduced vector. Not exact equality: the
server computes in bfloat16 (SGLang) or may quantise (Voyage); a different method (a
separate projection per size) would give cosines far below this."""


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.skipif(not SGLANG_URL, reason="set CODEFIND_ONLINE_SGLANG_URL to a real server")
def test_sglang_dimensions_are_the_native_vector_cut_and_renormalised() -> None:
    import openai

    settings = Settings(backend="sglang", sglang=SGLangSettings(url=SGLANG_URL, model=SGLANG_MODEL))
    embedder = create_embedder(settings)
    try:
        native = embedder.embed_documents([TEXT])[0]
        assert native.shape == (embedder.dimensions.native,)
        client = openai.OpenAI(base_url=SGLANG_URL, api_key="EMPTY", max_retries=1)
        for dim in (1024, 256, 64):
            served = client.embeddings.create(model=SGLANG_MODEL, input=[TEXT], dimensions=dim)
            server_side = np.asarray(served.data[0].embedding, dtype=np.float32)
            assert server_side.shape == (dim,)
            assert cosine(truncate(native, dim), server_side) >= MIN_COSINE, dim
    finally:
        embedder.close()


@pytest.mark.skipif(not VOYAGE_KEY, reason="set CODEFIND_ONLINE_VOYAGE_KEY to a Voyage API key")
def test_voyage_output_dimension_is_the_native_vector_cut_and_renormalised() -> None:
    import voyageai

    settings = Settings(backend="voyage", voyage=VoyageSettings(api_key=VOYAGE_KEY))
    embedder = create_embedder(settings)
    try:
        native = embedder.embed_documents([TEXT])[0]
        assert native.shape == (2048,)
        client = voyageai.client.Client(api_key=VOYAGE_KEY, max_retries=1)
        for dim in (1024, 512, 256):
            served = client.embed(
                [TEXT], model="voyage-code-3", input_type="document", output_dimension=dim
            )
            server_side = np.asarray(served.embeddings[0], dtype=np.float32)
            assert cosine(truncate(native, dim), server_side) >= MIN_COSINE, dim
    finally:
        embedder.close()
