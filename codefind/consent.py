"""Asking before code leaves the machine: the estimate, the question, and the record of a yes.

Why a service of its own: the CLI asks on the terminal, the app in a dialog, scripts pass
``--yes``; the rule is the same for all of them and lives here, free of any front end. The
front end passes ``ask`` (a function that shows the text and returns the answer) or ``None``
when nobody can be asked (no TTY), in which case codefind refuses with exit status 2 unless
``--yes`` was given.

Which servers need a yes (each backend declares it: ``Backend.consent``): code that stays on
this machine needs none; code that leaves it does. Voyage AI is always elsewhere. An embedding
server (SGLang, or any OpenAI-compatible one) is on this machine when its URL names a loopback
address, ``localhost``, or an address of this host (``is_this_machine``); any other server
gets the same question as Voyage, without a cost estimate but saying where the code goes. An
embedder says the outcome in ``Embedder.remote`` and where the code goes in ``endpoint``.

A yes is recorded per index folder (one per repository checkout) and model, and for a server
also per host (``consent.json``, written atomically), so a repository is asked about once per
remote model and server, not on every incremental upload. The record holds counts and a
timestamp only: never code, never keys.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from codefind.atomic import atomic_write_bytes
from codefind.errors import ConsentError

CONSENT_FILE = "consent.json"


@dataclass(frozen=True)
class UploadEstimate:
    """What the first upload of a repository to a remote backend would send and cost.

    Attributes:
        files: Files whose chunks would be sent.
        chunks: Chunks (texts) that would be sent.
        tokens: Estimated tokens (a local estimate, not the provider's tokenizer); ``None``
            for a server with no price.
        cost_usd: Estimated cost in US dollars at list price; ``None`` for a server with no
            price.
        model: The model, e.g. ``voyage-code-3``.
        price_date: When the price was checked (``YYYY-MM-DD``).
        price_per_million: USD per million tokens used for ``cost_usd``.
        provider: Who receives the code, in words (for a server: its address).
    """

    files: int
    chunks: int
    tokens: int | None
    cost_usd: float | None
    model: str
    price_date: str = ""
    price_per_million: float = 0.0
    provider: str = "Voyage AI"


@runtime_checkable
class PricedEmbedder(Protocol):
    """An embedder that can estimate its own tokens and cost (the Voyage backend)."""

    backend: str
    model: str
    provider: str
    """Who receives the code, in words (``Voyage AI``)."""
    consent_key: str
    """What a yes is recorded under (the model; and the host of a proxy in between)."""
    price_date: str
    price_per_million_tokens: float

    def estimate_tokens(self, texts: Sequence[str]) -> int:
        """Estimated tokens for ``texts``."""
        ...

    def estimate_cost(self, tokens: int) -> float:
        """Estimated USD for ``tokens``."""
        ...


def estimate_upload(
    embedder: PricedEmbedder, *, files: int, texts: Sequence[str]
) -> UploadEstimate:
    """The estimate for sending ``texts`` (from ``files`` files) to ``embedder``'s service."""
    tokens = embedder.estimate_tokens(texts)
    return UploadEstimate(
        files=files,
        chunks=sum(1 for t in texts if t.strip()),
        tokens=tokens,
        cost_usd=embedder.estimate_cost(tokens),
        model=embedder.model,
        price_date=embedder.price_date,
        price_per_million=embedder.price_per_million_tokens,
        provider=embedder.provider,
    )


def estimate_server_upload(
    url: str, model: str, *, files: int, texts: Sequence[str]
) -> UploadEstimate:
    """What sending ``texts`` to the embedding server at ``url`` means (no price to show)."""
    return UploadEstimate(
        files=files,
        chunks=sum(1 for t in texts if t.strip()),
        tokens=None,
        cost_usd=None,
        model=model,
        provider=f"the embedding server at {server_address(url)} (not this machine)",
    )


def server_consent_key(model_id: str, url: str) -> str:
    """The record key of a yes for ``model_id`` on the server at ``url`` (per host).

    ``url`` may list several servers (``"http://a/v1, http://b/v1"``): the yes is for that set
    of hosts, so adding a server elsewhere asks again.
    """
    hosts = sorted({server_address(u) for u in url.replace(",", " ").split()} or {"?"})
    return f"{model_id}@{','.join(hosts)}"


def server_address(url: str) -> str:
    """``host:port`` of ``url``, without the user name or password it may carry."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def is_this_machine(url: str) -> bool:
    """Whether the server at ``url`` runs on this machine, so code sent to it stays here.

    True for ``localhost``, loopback and unspecified addresses, and addresses of this host's
    interfaces (found by binding to them, which succeeds only for a local address). A host
    name counts when every address it resolves to is local; a name that does not resolve
    counts as elsewhere, so the answer errs towards asking.
    """
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    return _host_is_local(host)


@functools.lru_cache(maxsize=32)
def _host_is_local(host: str) -> bool:
    try:
        addresses = [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        addresses = _resolve(host)
    return bool(addresses) and all(_is_local_address(a) for a in addresses)


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    found = []
    for info in infos:
        try:
            found.append(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
        except ValueError:
            return []
    return found


def _is_local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((str(address), 0))
    except OSError:
        return False
    return True


def format_estimate(estimate: UploadEstimate) -> str:
    """The text shown before the first upload: what goes where, and the estimated cost."""
    if estimate.tokens is None or estimate.cost_usd is None:
        return (
            f"codefind will send this repository's code to {estimate.provider} "
            f"({estimate.model}) to embed it:\n"
            f"  {estimate.files:,} files, {estimate.chunks:,} chunks"
        )
    price = (
        f" at ${estimate.price_per_million:.2f} per million tokens"
        if estimate.price_per_million
        else ""
    )
    return (
        f"codefind will send this repository's code to {estimate.provider} "
        f"({estimate.model}) to embed it:\n"
        f"  {estimate.files:,} files, {estimate.chunks:,} chunks, about {estimate.tokens:,} "
        "tokens (estimate)\n"
        f"  estimated cost: {_dollars(estimate.cost_usd)}{price} "
        f"(list price as of {estimate.price_date}; free-tier tokens not deducted)"
    )


def require_consent(
    estimate: UploadEstimate, *, yes: bool, ask: Callable[[str], bool] | None
) -> None:
    """Return if the upload may go ahead; raise ``ConsentError`` (exit status 2) if not.

    Args:
        estimate: What would be sent.
        yes: Consent given up front (``--yes``).
        ask: Shows its argument and returns the user's answer; ``None`` when nobody can be
            asked (stdin is not a terminal).

    Raises:
        ConsentError: Declined, or no way to ask and no ``--yes``.
    """
    if yes:
        return
    _ask_or_refuse(
        format_estimate(estimate),
        estimate.provider,
        question="Send it?",
        instead="use --backend local to keep the code on this machine",
        after_decline=" Use --backend local to search without sending code anywhere.",
        ask=ask,
    )


def require_rerank_consent(
    destination: str,
    model: str,
    depth: int,
    *,
    yes: bool,
    ask: Callable[[str], bool] | None,
) -> None:
    """Return if queries and their top hits may go to a reranker elsewhere; else raise.

    Raises:
        ConsentError: Declined, or no way to ask and no ``--yes``.
    """
    if yes:
        return
    _ask_or_refuse(
        f"--rerank sends each query and the code of its top {depth} hits to {destination} "
        f"({model}) to re-score them.",
        destination,
        question="Send them?",
        instead="leave out --rerank",
        after_decline="",
        ask=ask,
    )


def _ask_or_refuse(
    text: str,
    destination: str,
    *,
    question: str,
    instead: str,
    after_decline: str,
    ask: Callable[[str], bool] | None,
) -> None:
    """Show ``text`` and ask; raise ``ConsentError`` on a no, or when nobody can be asked.

    The one rule for every question before code leaves the machine: without a terminal
    nothing is sent unless ``--yes`` was given, and the refusal says what to do instead.
    """
    if ask is None:
        raise ConsentError(
            f"{text}\nNothing was sent: codefind needs your consent and cannot ask without a "
            f"terminal. Run again with --yes to agree, or {instead}."
        )
    if not ask(f"{text}\n{question}"):
        raise ConsentError(f"Nothing was sent to {destination}: you declined.{after_decline}")


def rerank_consent_key(model: str, destination: str) -> str:
    """The record key of a yes for reranking with ``model`` at ``destination``."""
    return f"rerank:{model}@{destination}"


def has_consent(directory: Path, model_id: str) -> bool:
    """Whether a yes for ``model_id`` is recorded in ``directory`` (an unreadable record: no)."""
    return model_id in _read_records(directory)


def record_consent(directory: Path, model_id: str, estimate: UploadEstimate) -> None:
    """Record, atomically, that the user agreed to send this repository to ``model_id``."""
    records = _read_records(directory)
    records[model_id] = {
        "given_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **{
            k: v
            for k, v in asdict(estimate).items()
            if k in ("files", "chunks", "tokens") and v is not None
        },
    }
    data = json.dumps(records, indent=2, sort_keys=True).encode("utf-8")
    atomic_write_bytes(directory / CONSENT_FILE, data)


def _read_records(directory: Path) -> dict[str, object]:
    try:
        records = json.loads((directory / CONSENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _dollars(amount: float) -> str:
    if amount == 0:
        return "$0.00"
    if amount < 0.01:
        return "less than $0.01"
    return f"${amount:,.2f}"
