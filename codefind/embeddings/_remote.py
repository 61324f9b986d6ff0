"""What the HTTP backends (SGLang, Voyage) share: token estimates, request planning, retries.

Why codefind retries by itself instead of using the ``openai``/``voyageai`` clients' retries:

- one bounded budget and one message style for both backends ("what failed, where, how to fix
  it"), instead of each library's own exceptions leaking to the user;
- ``Retry-After`` is honoured (voyageai 0.5.0 ignores it and always waits 1-16 s);
- delays are injectable, so tests exercise every retry path without sleeping.

Both clients are therefore built with their own retries off. Everything here is plain Python;
the backend modules classify their library's exceptions into ``Failure`` values.
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from codefind.errors import BackendError

if TYPE_CHECKING:
    from codefind.config import ServerSettings

T = TypeVar("T")

# --- token estimates -----------------------------------------------------------------------

_DIGITS = "0123456789"
ASCII_CHARS_PER_TOKEN = 3.0
"""Code in BPE tokenizers averages 3.5-4.5 ASCII characters per token; 3 over-counts a bit."""


def estimate_tokens(text: str) -> int:
    """A conservative local estimate of how many tokens ``text`` is for a BPE tokenizer.

    Why not characters / 3 for everything: a CJK character is usually one token on its own
    (rare ones two or three), and Qwen's tokenizer splits numbers into single digits, so a
    flat ratio under-counts Chinese comments and numeric tables badly. Here ASCII text counts
    one token per three characters, every digit and every non-ASCII character one token, and
    characters outside the Basic Multilingual Plane (emoji) one per UTF-8 byte triple. It
    runs at C speed (no per-character Python loop), so estimating a whole repository is cheap.
    """
    if not text:
        return 0
    ascii_part = text.encode("ascii", "ignore")
    non_ascii = len(text) - len(ascii_part)
    digits = sum(ascii_part.count(d.encode()) for d in _DIGITS)
    tokens = (len(ascii_part) - digits) / ASCII_CHARS_PER_TOKEN + digits
    if non_ascii:
        non_ascii_bytes = len(text.encode("utf-8", "surrogatepass")) - len(ascii_part)
        tokens += max(non_ascii, non_ascii_bytes / 3)
    return max(1, math.ceil(tokens))


def cut_to_tokens(text: str, max_tokens: int) -> str:
    """``text`` cut at the end so that ``estimate_tokens`` of it is at most ``max_tokens``."""
    if estimate_tokens(text) <= max_tokens:
        return text
    low, high = 0, len(text)
    while low < high:  # longest prefix that fits: O(log n) estimates, each at C speed
        mid = (low + high + 1) // 2
        if estimate_tokens(text[:mid]) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def cut_to_bytes(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (never splitting a character).

    A byte-level BPE token covers at least one byte, so a text of ``n`` bytes is at most ``n``
    tokens (plus special tokens): this is the cut that is guaranteed to fit, used after a
    server has said an input was too long despite the estimate.
    """
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return text
    return data[: max(0, max_bytes)].decode("utf-8", "ignore")


def plan_batches(costs: Sequence[int], max_items: int, max_tokens: int) -> list[range]:
    """Split items (with token ``costs``) into consecutive batches within both limits.

    An item that alone exceeds ``max_tokens`` gets a batch of its own (the caller has already
    cut every item to the model's input limit, which is below the request limit).
    """
    batches: list[range] = []
    start, tokens = 0, 0
    for i, cost in enumerate(costs):
        full = i - start >= max_items or (i > start and tokens + cost > max_tokens)
        if full:
            batches.append(range(start, i))
            start, tokens = i, 0
        tokens += cost
    if start < len(costs):
        batches.append(range(start, len(costs)))
    return batches


# --- answers -------------------------------------------------------------------------------


def in_input_order(items: Sequence[tuple[object, Any]], count: int) -> list[Any] | None:
    """The embeddings of an answer in input order, by each item's ``index`` field.

    ``items`` are (index, embedding) pairs as a server sent them. Both APIs number their
    answers, and a proxy may reorder them, so an answer is matched by index, never by
    position. ``None`` when the indexes are not exactly 0 .. count-1, each once.
    """
    if len(items) != count:
        return None
    ordered: list[Any] = [None] * count
    seen = [False] * count
    for index, embedding in items:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
            return None
        if seen[index]:
            return None
        seen[index] = True
        ordered[index] = embedding
    return ordered


# --- retries -------------------------------------------------------------------------------


class RetryableBackendError(BackendError):
    """A failure found by codefind's own checks of an answer that another attempt may fix
    (a malformed or truncated response from a proxy, say)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a backend tries before it gives up with one clear message.

    Attributes:
        attempts: Tries in all for a failure worth retrying (429, 5xx, malformed answers).
            A timeout is not retried: a server that did not answer in time has had its
            chance, and waiting again would multiply the wait by the attempts.
        connect_attempts: Tries in all when nothing answers at the address (connection
            refused, unknown host): a server that is down rarely comes back within seconds,
            and the user should hear about it quickly.
        base_delay: First backoff in seconds; doubles on each retry, with jitter.
        max_delay: Longest backoff between two tries.
        max_retry_after: Longest ``Retry-After`` codefind waits; a server asking for more
            gets an error that says when to try again.
    """

    attempts: int = 5
    connect_attempts: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, retry: int) -> float:
        """The delay before retry number ``retry`` (1-based), with jitter in [50%, 100%]."""
        delay = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return delay * random.uniform(0.5, 1.0)


def retry_policy(section: ServerSettings) -> RetryPolicy:
    """The retry policy a user configured for a backend (``attempts``, ``retry_delay``)."""
    return RetryPolicy(
        attempts=section.attempts,
        connect_attempts=min(section.attempts, RetryPolicy.connect_attempts),
        base_delay=section.retry_delay,
    )


@dataclass(frozen=True)
class Failure:
    """A backend's reading of one failed attempt.

    Attributes:
        error: What the user is told if this is the last attempt.
        retryable: Whether another attempt may succeed.
        unreachable: Nothing answered at the address (fewer attempts, see ``RetryPolicy``).
        retry_after: Seconds the server asked to wait (``Retry-After``), if it said.
    """

    error: BackendError
    retryable: bool = False
    unreachable: bool = False
    retry_after: float | None = None


def call_with_retries(
    call: Callable[[], T],
    classify: Callable[[Exception], Failure],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` until it succeeds, a failure is final, or the attempts are spent.

    Args:
        call: One attempt (one HTTP request and the check of its answer).
        classify: Turns an exception from ``call`` into a ``Failure``. ``BackendError``s that
            ``call`` raises itself pass through ``classify`` too, so a backend can mark its
            own checks (e.g. a malformed answer) retryable.
        policy: Attempts and delays.
        sleep: Waits between attempts (tests pass a recorder).

    Raises:
        BackendError: The final failure's message, with the number of attempts when more
            than one was made.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:  # classified below; anything unknown is final
            failure = classify(exc)
            limit = policy.connect_attempts if failure.unreachable else policy.attempts
            if not failure.retryable or attempt >= limit:
                raise _final(failure.error, attempt) from exc
            delay = policy.backoff(attempt)
            if failure.retry_after is not None:
                if failure.retry_after > policy.max_retry_after:
                    raise _final(failure.error, attempt, failure.retry_after) from exc
                delay = max(delay, failure.retry_after)
            sleep(delay)


def _final(error: BackendError, attempts: int, retry_after: float | None = None) -> BackendError:
    message = error.message
    if retry_after is not None:
        message += f" The server asks to wait {retry_after:.0f} s before trying again."
    elif attempts > 1:
        message += f" (Gave up after {attempts} attempts.)"
    final = type(error).__new__(type(error))  # same class and attributes, longer message
    final.__dict__.update(error.__dict__)
    final.message = message
    final.args = (message,)
    return final


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (an API key) replaced, in case a server echoed it back."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def shorten(text: str, limit: int = 300) -> str:
    """One line of at most ``limit`` characters, for quoting a server's message."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- bounded concurrency -------------------------------------------------------------------


class RequestSlots:
    """Bounds the requests one embedder has in flight, whoever calls it from whichever thread.

    Single requests run in the caller's thread (a search query pays no thread hop); several
    fan out over one shared pool of ``limit`` workers, and a semaphore keeps the total in
    flight, across concurrent callers, at ``limit``.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._semaphore = threading.BoundedSemaphore(self.limit)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, call: Callable[[], T]) -> T:
        """Run one request once a slot is free."""
        with self._semaphore:
            return call()

    def run_all(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run ``calls`` concurrently (bounded); results in order; the first error wins."""
        if len(calls) <= 1:
            return [self.run(call) for call in calls]
        pool = self._executor()
        futures: list[Future[T]] = [pool.submit(self.run, call) for call in calls]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        """Stop the worker threads (idempotent)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.limit, thread_name_prefix="codefind-embed")
            return self._pool
