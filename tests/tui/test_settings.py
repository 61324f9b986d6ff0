"""The settings dialog: valid choices only, applying switches the backend, failures keep it.

The remote backend is a real HTTP server on 127.0.0.1 speaking SGLang's wire format
(``tests/fakeservers.py``), reached through the real ``openai`` client.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Select

from codefind.config import Settings, config_path, load_settings
from codefind.errors import ConfigError
from codefind.tui.app import CodefindApp
from codefind.tui.screens.confirm import ConfirmScreen
from codefind.tui.screens.settings import SettingsScreen
from codefind.tui.settings_form import (
    NATIVE,
    FormValues,
    backend_choices,
    changed_keys,
    dimension_choices,
    model_choices,
)
from tests.compatservers import CompatServer
from tests.fakeservers import SGLangServer, VoyageServer, dead_url
from tests.tui.conftest import build_index, pilot_wait
from tests.tui.test_app import Recorder, index_idle

QWEN = "Qwen/Qwen3-Embedding-4B"


def test_dimension_choices_follow_the_model() -> None:
    qwen, selected, error = dimension_choices("sglang", QWEN, None)
    values = [v for _, v in qwen]
    assert error is None and selected == 2560
    assert qwen[0] == ("2560 (native)", 2560)
    assert 32 in values and 1024 in values and values == sorted(values, reverse=True)
    voyage3, _, _ = dimension_choices("voyage", "voyage-code-3", 1024)
    assert [label for label, _ in voyage3] == ["2048 (native)", "1024", "512", "256"]
    voyage2, _, _ = dimension_choices("voyage", "voyage-code-2", None)
    assert voyage2 == [("1536 (native)", 1536)]
    builtin, _, _ = dimension_choices("local", "all-MiniLM-L6-v2", None)
    assert builtin == [("384 (native)", 384)]


def test_a_configured_dimension_outside_the_presets_is_offered_and_selected() -> None:
    choices, selected, _ = dimension_choices("sglang", QWEN, 300)
    assert selected == 300 and ("300", 300) in choices


def test_an_unknown_model_gives_native_only_and_the_reason() -> None:
    choices, selected, error = dimension_choices("sglang", "bert-base", None)
    assert choices == [("native", NATIVE)] and selected == NATIVE
    assert error is not None and "Qwen3-Embedding" in error


def test_model_choices_include_the_configured_model() -> None:
    settings = Settings().with_backend("sglang").with_model("/models/Qwen3-Embedding-8B")
    values = [v for _, v in model_choices(settings, "sglang")]
    assert values[0] == "/models/Qwen3-Embedding-8B" and QWEN in values


def test_form_values_become_settings_and_are_checked() -> None:
    base = Settings()
    form = FormValues("sglang", QWEN, "http://gpu:30000/v1", 1024, "semantic", "Find code")
    new = form.settings(base)
    assert (new.backend, new.model, new.dim, new.mode) == ("sglang", QWEN, 1024, "semantic")
    assert new.sglang.url == "http://gpu:30000/v1" and new.sglang.instruction == "Find code"
    assert changed_keys(base, new) == {
        "backend": "sglang",
        "dim": "1024",
        "mode": "semantic",
        "sglang.url": "http://gpu:30000/v1",
        "sglang.instruction": "Find code",
    }
    with pytest.raises(ConfigError, match="http"):
        FormValues("sglang", QWEN, "gpu:30000", NATIVE, "hybrid", "x").settings(base)
    with pytest.raises(ConfigError, match="cannot produce"):
        FormValues("voyage", "voyage-code-3", "https://x/v1", 300, "hybrid", "").settings(base)


def test_changing_nothing_changes_no_key() -> None:
    base = load_settings()
    form = FormValues("local", base.model, "", NATIVE, base.mode, base.sglang.instruction)
    assert changed_keys(base, form.settings(base)) == {}
    native = FormValues("local", base.model, "", 384, base.mode, base.sglang.instruction)
    assert native.settings(base).dim is None


async def open_settings(app: CodefindApp, pilot: object) -> SettingsScreen:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await pilot.press("ctrl+s")
    await pilot_wait(pilot, lambda: isinstance(app.screen, SettingsScreen))
    screen = app.screen
    assert isinstance(screen, SettingsScreen)
    return screen


async def test_switching_to_sglang_at_1024_updates_the_status_and_the_config(
    indexed_repo: Path,
) -> None:
    with SGLangServer(model=QWEN, dim=2560) as server:
        app = CodefindApp(indexed_repo, load_settings())
        rec = Recorder()
        async with app.run_test(size=(120, 40), message_hook=rec) as pilot:
            await pilot_wait(pilot, lambda: index_idle(app))
            screen = await open_settings(app, pilot)
            screen.query_one("#backend", Select).value = "sglang"
            await pilot.pause()
            assert screen.query_one("#model", Select).value == QWEN
            dims = screen.query_one("#dim", Select)
            assert not dims.disabled
            screen.query_one("#endpoint", Input).value = server.url
            dims.value = 1024
            await pilot.pause()
            await pilot.click("#apply")
            await pilot_wait(
                pilot,
                lambda: app.session is not None and app.session.settings.backend == "sglang",
                what="the new session",
            )
            assert app.screen is app.search_screen
            status = app.search_screen.status
            assert status._backend == "sglang"
            assert status._details[:2] == (QWEN, "1024d")
            await pilot_wait(pilot, lambda: index_idle(app), what="indexing with sglang")
            assert server.posts("/v1/embeddings"), "the documents went to the server"
            await pilot.press(*"http retries")
            await pilot_wait(pilot, lambda: rec.final("http retries"))
            assert app.search_screen.results.hits[0].path == "net/http_client.py"
        saved = tomllib.loads(config_path().read_text())
        assert saved["backend"] == "sglang" and saved["dim"] == 1024
        assert saved["sglang"]["url"] == server.url


async def test_an_unreachable_backend_is_explained_and_the_old_one_keeps_working(
    indexed_repo: Path,
) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    rec = Recorder()
    async with app.run_test(size=(120, 40), message_hook=rec) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app))
        before = app.session
        screen = await open_settings(app, pilot)
        screen.query_one("#backend", Select).value = "sglang"
        await pilot.pause()
        screen.query_one("#endpoint", Input).value = dead_url()
        await pilot.click("#apply")
        error = screen.query_one("#settings-error")
        await pilot_wait(
            pilot, lambda: "Not applied" in str(error.render()), timeout=90, what="the error"
        )
        assert not screen.query_one("#apply", Button).disabled
        assert app.session is before
        await pilot.press("escape")
        assert app.screen is app.search_screen
        assert app.search_screen.status._backend == "local"
        await pilot.press(*"invoice")
        await pilot_wait(pilot, lambda: rec.final("invoice"))
        assert app.search_screen.results.hits[0].path == "billing/invoice.py"
    assert not config_path().exists()


async def test_changing_only_the_mode_keeps_the_session(indexed_repo: Path) -> None:
    app = CodefindApp(indexed_repo, load_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot_wait(pilot, lambda: index_idle(app))
        before = app.session
        screen = await open_settings(app, pilot)
        screen.query_one("#mode", Select).value = "lexical"
        await pilot.pause()
        await pilot.click("#apply")
        await pilot_wait(pilot, lambda: app.screen is app.search_screen)
        assert app.session is before
        assert app.search_screen.mode == "lexical"
    assert tomllib.loads(config_path().read_text()) == {"mode": "lexical"}


async def test_a_late_semantic_answer_never_replaces_a_newer_query(indexed_repo: Path) -> None:
    with SGLangServer(model=QWEN, dim=2560) as server:
        settings = load_settings().with_backend("sglang")
        settings = replace(settings, sglang=replace(settings.sglang, url=server.url))
        build_index(indexed_repo, settings)
        app = CodefindApp(indexed_repo, settings)
        rec = Recorder()
        async with app.run_test(size=(120, 40), message_hook=rec) as pilot:
            await pilot_wait(pilot, lambda: index_idle(app) and not warming_up(app))
            # Every query embedding now takes 3 s: the answers for "c", "ca", ... "cache" all
            # arrive after the user has typed on, and must all be dropped.
            server.delay_next(3.0, times=40, path="/v1/embeddings")
            sent = len(server.posts("/v1/embeddings"))
            await pilot.press(*"cache")
            await pilot_wait(pilot, lambda: len(server.posts("/v1/embeddings")) > sent)
            await pilot.press("space", *"evicting")
            await pilot_wait(pilot, lambda: rec.final("cache evicting"), timeout=60)
            assert not rec.final("cache"), "the stale semantic answer was shown"
            assert rec.shown[-1].query == "cache evicting"
            generations = [m.generation for m in rec.shown]
            assert generations == sorted(generations)
            assert app.search_screen.results.hits[0].path == "storage/lru.py"


def warming_up(app: CodefindApp) -> bool:
    """Whether the model warm-up (a first query embedding) is still running."""
    return any(w.group == "warm-up" and w.is_running for w in app.workers)


@pytest.mark.parametrize("agree", [False, True])
async def test_voyage_asks_before_any_code_is_sent(indexed_repo: Path, agree: bool) -> None:
    with VoyageServer(api_key="test-key") as server:
        settings = load_settings().with_backend("voyage")
        voyage = replace(settings.voyage, url=server.url, api_key="test-key")
        app = CodefindApp(indexed_repo, replace(settings, voyage=voyage))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot_wait(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="asking")
            question = str(app.screen.query_one("#confirm-question").render())
            assert "Voyage AI" in question and "5 files" in question
            documents = [
                r for r in server.posts("/v1/embeddings") if r.body.get("input_type") == "document"
            ]
            assert documents == []
            await pilot.press("y" if agree else "n")
            await pilot_wait(pilot, lambda: index_idle(app), what="indexing to end")
            documents = [
                r for r in server.posts("/v1/embeddings") if r.body.get("input_type") == "document"
            ]
            assert bool(documents) is agree
            if not agree:
                assert any("declined" in n.message for n in app._notifications)
            else:
                assert app.search_screen.index_files == 5


# --- backends from the registry --------------------------------------------------------------


def test_the_backend_choices_are_the_registrys() -> None:
    from codefind import plugins

    assert [name for _, name in backend_choices()] == list(plugins.names())
    assert dict((n, label) for label, n in backend_choices())["openai"].startswith("OpenAI")


def test_the_openai_backend_takes_url_model_and_query_prefix() -> None:
    base = Settings()
    form = FormValues("openai", "nomic-embed-text", "http://gpu:11434/v1", NATIVE, "hybrid",
                      "search_query: ")  # fmt: skip
    new = form.settings(base)
    assert (new.backend, new.openai.model, new.openai.url) == (
        "openai", "nomic-embed-text", "http://gpu:11434/v1"
    )  # fmt: skip
    assert new.openai.query_prefix == "search_query: " and new.sglang == base.sglang
    assert changed_keys(base, new) == {
        "backend": "openai",
        "openai.model": "nomic-embed-text",
        "openai.url": "http://gpu:11434/v1",
        "openai.query_prefix": "search_query: ",
    }
    choices, selected, error = dimension_choices("openai", "nomic-embed-text", None, new)
    assert selected == NATIVE
    assert choices == [("native (learnt from the server)", NATIVE)] and error is None
    with pytest.raises(ConfigError, match="learnt from the server"):
        replace(form, dim=256).settings(base)


async def test_switching_to_an_ollama_server_by_typing_its_model(indexed_repo: Path) -> None:
    with CompatServer("ollama", model="nomic-embed-text", dim=768) as server:
        app = CodefindApp(indexed_repo, load_settings())
        rec = Recorder()
        async with app.run_test(size=(120, 40), message_hook=rec) as pilot:
            await pilot_wait(pilot, lambda: index_idle(app))
            screen = await open_settings(app, pilot)
            screen.query_one("#backend", Select).value = "openai"
            await pilot.pause()
            model_name = screen.query_one("#model-name", Input)
            assert model_name.display and not screen.query_one("#model", Select).display
            model_name.value = "nomic-embed-text"
            screen.query_one("#endpoint", Input).value = server.url
            await pilot.pause()
            await pilot.click("#apply")
            await pilot_wait(
                pilot,
                lambda: app.session is not None and app.session.settings.backend == "openai",
                what="the new session",
            )
            status = app.search_screen.status
            assert status._backend == "openai"
            assert status._details[:2] == ("nomic-embed-text", "768d")
            await pilot_wait(pilot, lambda: index_idle(app), what="indexing with openai")
            assert len(server.posts("/v1/embeddings")) > 2, "the documents went to the server"
            await pilot.press(*"http retries")
            await pilot_wait(pilot, lambda: rec.final("http retries"))
            assert app.search_screen.results.hits[0].path == "net/http_client.py"
        saved = tomllib.loads(config_path().read_text())
        assert saved["backend"] == "openai"
        assert saved["openai"] == {"model": "nomic-embed-text", "url": server.url}
