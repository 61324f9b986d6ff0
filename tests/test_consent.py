"""Asking before code leaves the machine: the estimate shown, the answers, and the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from codefind.config import SGLangSettings, VoyageSettings
from codefind.consent import (
    CONSENT_FILE,
    PricedEmbedder,
    UploadEstimate,
    estimate_upload,
    format_estimate,
    has_consent,
    record_consent,
    require_consent,
)
from codefind.embeddings.sglang import SGLangEmbedder
from codefind.embeddings.voyage import PRICE_DATE, VoyageEmbedder
from codefind.errors import ConsentError

ESTIMATE = UploadEstimate(
    files=1234,
    chunks=5678,
    tokens=2_345_678,
    cost_usd=0.42,
    model="voyage-code-3",
    price_date="2026-11-29",
    price_per_million=0.18,
)


class Asker:
    """Stands in for the terminal or the app's dialog: records the question, gives an answer."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[str] = []

    def __call__(self, text: str) -> bool:
        self.questions.append(text)
        return self.answer


def test_the_estimate_shows_counts_tokens_as_an_estimate_and_dated_cost() -> None:
    text = format_estimate(ESTIMATE)
    assert "Voyage AI" in text and "voyage-code-3" in text
    assert "1,234 files" in text and "5,678 chunks" in text
    assert "2,345,678 tokens (estimate)" in text
    assert "$0.42" in text and "$0.18 per million tokens" in text
    assert "2026-11-29" in text


def test_tiny_costs_are_not_shown_as_zero() -> None:
    tiny = UploadEstimate(1, 1, 10, 0.0000018, "voyage-code-3", "2026-11-29", 0.18)
    assert "less than $0.01" in format_estimate(tiny)


def test_yes_skips_the_question() -> None:
    asker = Asker(False)
    require_consent(ESTIMATE, yes=True, ask=asker)
    require_consent(ESTIMATE, yes=True, ask=None)
    assert asker.questions == []


def test_agreeing_lets_the_upload_go_ahead() -> None:
    asker = Asker(True)
    require_consent(ESTIMATE, yes=False, ask=asker)
    (question,) = asker.questions
    assert format_estimate(ESTIMATE) in question


def test_declining_is_a_consent_error_with_exit_status_2() -> None:
    with pytest.raises(ConsentError) as caught:
        require_consent(ESTIMATE, yes=False, ask=Asker(False))
    assert caught.value.exit_code == 2
    assert "declined" in caught.value.message and "--backend local" in caught.value.message


def test_without_a_terminal_and_without_yes_it_refuses_and_says_why() -> None:
    with pytest.raises(ConsentError) as caught:
        require_consent(ESTIMATE, yes=False, ask=None)
    assert caught.value.exit_code == 2
    message = caught.value.message
    assert "--yes" in message and "5,678 chunks" in message and "(estimate" in message


def test_the_estimate_is_built_from_the_voyage_embedders_own_numbers() -> None:
    embedder = VoyageEmbedder(VoyageSettings(price_per_million_tokens={"voyage-code-3": 2.0}))
    assert isinstance(embedder, PricedEmbedder)
    texts = ["def a(): pass", "   ", "class B:\n    x = 1"]
    estimate = estimate_upload(embedder, files=2, texts=texts)
    assert estimate.files == 2 and estimate.chunks == 2
    assert estimate.tokens == embedder.estimate_tokens(texts) > 0
    assert estimate.cost_usd == pytest.approx(estimate.tokens * 2.0 / 1e6)
    assert estimate.price_per_million == 2.0 and estimate.price_date == PRICE_DATE
    assert estimate.provider == "Voyage AI" and estimate.model == "voyage-code-3"


def test_a_local_server_backend_has_no_price() -> None:
    assert not isinstance(SGLangEmbedder(SGLangSettings()), PricedEmbedder)


def test_consent_is_recorded_per_model(tmp_path: Path) -> None:
    assert not has_consent(tmp_path, "voyage:voyage-code-3")
    record_consent(tmp_path, "voyage:voyage-code-3", ESTIMATE)
    assert has_consent(tmp_path, "voyage:voyage-code-3")
    assert not has_consent(tmp_path, "voyage:voyage-code-2")
    record_consent(tmp_path, "voyage:voyage-code-2", ESTIMATE)
    assert has_consent(tmp_path, "voyage:voyage-code-3")  # the first record is kept
    assert [p.name for p in tmp_path.iterdir()] == [CONSENT_FILE]  # no temporary files left


def test_a_damaged_record_means_asking_again(tmp_path: Path) -> None:
    (tmp_path / CONSENT_FILE).write_text("{not json")
    assert not has_consent(tmp_path, "voyage:voyage-code-3")
    record_consent(tmp_path, "voyage:voyage-code-3", ESTIMATE)
    assert has_consent(tmp_path, "voyage:voyage-code-3")
