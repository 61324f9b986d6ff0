"""Several embedding servers of one model driven as one: batches spread over them, the least
busy first, with a bound on the batches in flight; configured by ``sglang.urls`` and
``sglang.max_concurrency``; consent covers every host the code goes to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codefind.config import SGLangSettings, load_settings
from codefind.consent import server_consent_key
from codefind.embeddings._remote import RetryPolicy
from codefind.embeddings.sglang import SGLangEmbedder
from codefind.errors import ConfigError
from codefind.workspace import Workspace
from tests.cliutil import codefind
from tests.fakeservers import GpuTiming, SGLangServer, fake_embedding
from tests.gitutil import helper_modules

FAST = RetryPolicy(attempts=2, connect_attempts=1, base_delay=0.01, max_delay=0.02)
FILES = helper_modules(8, 6)


def embedder(*servers: SGLangServer, concurrency: int, batch_size: int = 2) -> SGLangEmbedder:
    urls = ", ".join(s.url for s in servers[1:])
    settings = SGLangSettings(url=servers[0].url, urls=urls, max_concurrency=concurrency)
    return SGLangEmbedder(settings, retry=FAST, batch_size=batch_size)


def test_batches_are_spread_over_the_servers_within_the_bound() -> None:
    timing = GpuTiming(overhead=0.05)  # requests overlap, so the bound is what limits them
    with SGLangServer(timing=timing) as one, SGLangServer(timing=timing) as two:
        emb = embedder(one, two, concurrency=4)
        texts = [f"parse header number {i}" for i in range(40)]
        vectors = emb.embed_documents(texts)
        emb.close()
        counts = [len(s.posts("/v1/embeddings")) for s in (one, two)]
        assert sum(counts) == 20 and min(counts) >= 5, counts
        assert one.max_in_flight <= 2 and two.max_in_flight <= 2, "4 in flight over 2 servers"
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_allclose(vector, fake_embedding(text, 2560), atol=1e-6)


def test_the_least_busy_server_gets_the_next_batch() -> None:
    with (
        SGLangServer(timing=GpuTiming(overhead=0.5)) as slow,
        SGLangServer() as fast,
    ):
        emb = embedder(slow, fast, concurrency=2)
        emb.embed_documents([f"render page {i}" for i in range(24)])
        emb.close()
        to_slow, to_fast = (len(s.posts("/v1/embeddings")) for s in (slow, fast))
    assert to_slow + to_fast == 12
    assert to_fast >= 8, (to_slow, to_fast)


def test_an_index_built_over_two_servers_equals_one_built_on_one(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = git_repo(FILES)
    found = []
    with SGLangServer() as one, SGLangServer() as two:
        for urls, folder in (("", "single"), (two.url, "double")):
            settings = load_settings({"backend": "sglang", "index_dir": str(tmp_path / folder)})
            settings = settings.with_section_value("sglang", "url", one.url)
            settings = settings.with_section_value("sglang", "urls", urls)
            workspace = Workspace.for_repository(repo, settings)
            try:
                report = workspace.indexer().run()
                hits = workspace.search_service().search("turn a value into text").hits
                found.append([(h.path, h.start_line, round(h.score, 5)) for h in hits])
            finally:
                workspace.close()
            assert report.embedded == report.chunks == 48
        assert len(two.posts("/v1/embeddings")) >= 1, "the second server took batches"
    assert found[0] == found[1] and found[0]


def test_settings_and_consent_cover_every_server(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(
        '[sglang]\nurl = "http://127.0.0.1:30000/v1"\n'
        'urls = "http://127.0.0.1:30001/v1, http://gpu-2.invalid:30000/v1/"\n'
        "max_concurrency = 12\n"
    )
    monkeypatch.setenv("CODEFIND_CONFIG", str(config))
    settings = load_settings({})
    emb = SGLangEmbedder(settings.sglang)
    assert emb.urls == (
        "http://127.0.0.1:30000/v1",
        "http://127.0.0.1:30001/v1",
        "http://gpu-2.invalid:30000/v1",
    )
    assert emb.max_concurrency == 12
    assert emb.remote, "one server is elsewhere: the code leaves this machine"
    key = server_consent_key(emb.model_id, emb.endpoint or "")
    assert key.endswith("@127.0.0.1:30000,127.0.0.1:30001,gpu-2.invalid:30000")
    alone = SGLangEmbedder(SGLangSettings(url="http://127.0.0.1:30000/v1"))
    assert not alone.remote and alone.urls == ("http://127.0.0.1:30000/v1",)
    config.write_text("[sglang]\nmax_concurrency = 0\n")
    with pytest.raises(ConfigError, match="max_concurrency"):
        load_settings({})


def test_config_set_takes_the_new_keys(tmp_path: Path) -> None:
    env = {"CODEFIND_CONFIG": str(tmp_path / "c.toml")}
    import os

    env = {**os.environ, **env}
    codefind("config", "set", "sglang.urls", "http://a:1/v1,http://b:2/v1", cwd=tmp_path, env=env, check=True)  # fmt: skip
    codefind("config", "set", "sglang.max_concurrency", "16", cwd=tmp_path, env=env, check=True)
    shown = codefind("config", "show", cwd=tmp_path, env=env, check=True).stdout
    assert "http://a:1/v1,http://b:2/v1" in shown and "16" in shown
