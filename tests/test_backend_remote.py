"""The pieces both HTTP backends share: token estimates, cuts, batch plans, retries."""

from __future__ import annotations

import email.utils
import functools
from collections.abc import Iterator

import pytest

from codefind.embeddings._remote import (
    Failure,
    RequestSlots,
    RetryPolicy,
    call_with_retries,
    cut_to_bytes,
    cut_to_tokens,
    estimate_tokens,
    parse_retry_after,
    plan_batches,
    scrub,
)
from codefind.errors import BackendError


def test_the_estimate_counts_ascii_by_length_and_digits_and_cjk_one_each() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1
    assert estimate_tokens("a" * 300) == 100
    assert estimate_tokens("1234567890") == 10
    assert estimate_tokens("保存索引") == 4
    assert estimate_tokens("😀😀😀") >= 3


def test_a_cut_is_the_longest_prefix_within_the_estimate() -> None:
    text = "word " * 1000 + "中文" * 500
    for limit in (1, 50, 1000, 1800):
        cut = cut_to_tokens(text, limit)
        assert text.startswith(cut)
        assert estimate_tokens(cut) <= limit < estimate_tokens(text[: len(cut) + 1])
    assert cut_to_tokens("short", 100) == "short"


def test_a_byte_cut_never_splits_a_character() -> None:
    text = "ab中文字"  # 2 + 3 * 3 bytes
    assert cut_to_bytes(text, 5) == "ab中"
    assert cut_to_bytes(text, 7) == "ab中"
    assert cut_to_bytes(text, 4) == "ab"
    assert cut_to_bytes(text, 100) == text


def test_batches_respect_both_limits_and_keep_order() -> None:
    costs = [10, 10, 10, 50, 5, 5, 200, 1]
    batches = plan_batches(costs, max_items=3, max_tokens=60)
    assert [list(b) for b in batches] == [[0, 1, 2], [3, 4, 5], [6], [7]]
    assert plan_batches([], 3, 10) == []


def test_retry_after_in_seconds_milliseconds_and_http_dates() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"Retry-After": when}, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    assert 0.5 <= policy.backoff(1) <= 1.0
    assert 1.0 <= policy.backoff(2) <= 2.0
    assert 2.0 <= policy.backoff(10) <= 4.0


def test_unknown_failures_are_final_and_keep_the_backends_message() -> None:
    calls: list[int] = []

    def call() -> int:
        calls.append(1)
        raise RuntimeError("boom")

    def classify(exc: Exception) -> Failure:
        return Failure(BackendError(f"The server failed: {exc}"))

    with pytest.raises(BackendError, match="The server failed: boom") as caught:
        call_with_retries(call, classify, RetryPolicy(), sleep=lambda s: None)
    assert len(calls) == 1
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_a_success_after_retries_returns_the_value() -> None:
    answers: Iterator[int | Exception] = iter([ValueError("bad"), ValueError("bad"), 42])
    waits: list[float] = []

    def call() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = call_with_retries(
        call,
        lambda exc: Failure(BackendError("malformed"), retryable=True),
        RetryPolicy(base_delay=0.01),
        sleep=waits.append,
    )
    assert result == 42 and len(waits) == 2


def test_secrets_are_scrubbed() -> None:
    assert scrub("key pa-123456 refused", "pa-123456") == "key *** refused"
    assert scrub("nothing here", None) == "nothing here"


def test_slots_run_everything_in_order() -> None:
    slots = RequestSlots(2)
    try:
        squares = [functools.partial(pow, i, 2) for i in range(10)]
        assert slots.run_all(squares) == [i * i for i in range(10)]
        with pytest.raises(ValueError, match="third"):
            slots.run_all([lambda: 1, lambda: 2, _raise_third])
    finally:
        slots.close()


def _raise_third() -> int:
    raise ValueError("third")
