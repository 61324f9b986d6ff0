"""``codefind serve`` and ``codefind mcp``, and the service side of ``codefind search``.

The service and the MCP server live in ``codefind.service`` and ``codefind.mcp_server``;
this module turns flags into calls and prints what happened (results on stdout, the rest on
stderr through ``main.say``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codefind.cli.paths import relative_to_root
from codefind.config import Settings
from codefind.service.client import (
    Endpoint,
    ServiceResult,
    Unavailable,
    endpoint,
    search,
    status,
    stop,
)
from codefind.service.launch import service_use, start_detached

WAIT_FOR_CURRENT = 10.0
"""Seconds ``codefind search`` lets the service finish indexing changes it has seen."""

Say = Callable[[str], None]


def add_serve_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``serve`` and ``mcp`` sub-commands."""
    serve = sub.add_parser("serve", help="keep a warm search service for a repository")
    serve.add_argument("path", nargs="?", default=".")
    what = serve.add_mutually_exclusive_group()
    what.add_argument("--detach", action="store_true", help="run in the background")
    what.add_argument("--status", action="store_true", help="say whether one runs, and how")
    what.add_argument("--stop", action="store_true", help="stop the running one")
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this long without a request (default 1800; 0: never)",
    )
    common(serve)
    mcp = sub.add_parser("mcp", help="an MCP server (stdio) for coding agents")
    mcp.add_argument("path", nargs="?", default=".")
    common(mcp)


def run_serve(args: argparse.Namespace, settings: Settings, say: Say) -> int:
    """``codefind serve``: run, start in the background, report or stop the service."""
    from codefind.service.protocol import IDLE_TIMEOUT, runtime_dir
    from codefind.service.server import AlreadyRunning, serve

    path = Path(args.path)
    idle = IDLE_TIMEOUT if args.idle_timeout is None else args.idle_timeout
    if args.status or args.stop:
        try:
            where = endpoint(path, settings)
            if args.stop:
                say(f"asked the service (pid {stop(where)}) to stop.")
            else:
                print(_describe(status(where)))
        except Unavailable as exc:
            say(f"no service is running for this repository{_why(exc)}.")
            return 1
        return 0
    if args.detach:
        runtime_dir(create=True)
        where = endpoint(path, settings)
        info = start_detached(where, _flags(args, idle))
        say(f"service ready for {where.root} (pid {info.get('pid')}, socket {where.socket}).")
        return 0

    def ready(where: Endpoint, _service: object) -> None:
        say(f"serving {where.root} on {where.socket} (pid {_pid()}); Ctrl-C stops.")

    try:
        return serve(path, settings, idle_timeout=idle, on_ready=ready)
    except AlreadyRunning as exc:
        say(f"{exc.message} Socket: {exc.socket}.")
        return 0


def run_mcp(args: argparse.Namespace, settings: Settings) -> int:
    """``codefind mcp``: an MCP server on stdin/stdout until the client closes it."""
    from codefind.mcp_server import run_stdio

    run_stdio(Path(args.path), settings)
    return 0


def search_by_service(
    args: argparse.Namespace, settings: Settings, target: Path, say: Say
) -> tuple[ServiceResult, Path] | None:
    """The running service's answer to ``codefind search`` and the repository's root, or
    ``None`` to search in-process.

    ``--rerank`` is answered in-process (the service keeps no reranker).
    """
    use = service_use()
    if use == "off" or settings.rerank:
        return None
    try:
        where = endpoint(target if target.is_dir() else target.parent, settings)
        paths = (relative_to_root(where.root, target),) if args.path else ()
        result = search(
            where,
            args.query,
            limit=settings.limit,
            mode=settings.mode,
            scope=args.scope,
            paths=paths,
            globs=tuple(args.glob),
            languages=tuple(lang.lower() for lang in args.lang),
            wait=0.0 if args.no_update else WAIT_FOR_CURRENT,
        )
    except Unavailable as exc:
        if settings.debug and exc.reason:
            say(f"service not used: {exc.reason}")
        return None
    if settings.debug:
        say(f"answered by the service (pid {result.pid}, {where.socket})")
    return result, where.root


def start_on_demand(args: argparse.Namespace, settings: Settings, target: Path) -> None:
    """With ``CODEFIND_SERVICE=auto``, start a service after an in-process search."""
    if service_use() != "auto":
        return
    from codefind.service.launch import spawn
    from codefind.service.protocol import runtime_dir

    try:
        runtime_dir(create=True)
        where = endpoint(target if target.is_dir() else target.parent, settings)
    except Exception:  # starting a service is a convenience: never fail a search over it
        return
    spawn(where.root, _flags(args, None), where.socket.with_suffix(".log"))


def _flags(args: argparse.Namespace, idle: float | None) -> list[str]:
    flags = []
    for name in ("backend", "model", "dim"):
        value = getattr(args, name, None)
        if value is not None:
            flags += [f"--{name}", str(value)]
    if getattr(args, "yes", None):
        flags.append("--yes")
    if idle is not None:
        flags += ["--idle-timeout", str(idle)]
    return flags


def _why(exc: Unavailable) -> str:
    return f" ({exc.reason})" if exc.reason else ""


def _pid() -> int:
    return os.getpid()


def _describe(info: dict[str, Any]) -> str:
    index = info.get("index") or {}
    state = "current" if index.get("current") else "updating" if index.get("updating") else "stale"
    if index.get("error"):
        state = f"update failed: {index['error']}"
    return (
        f"pid {info.get('pid')} · {info.get('root')} · {info.get('backend')} "
        f"{info.get('model')} · index {state} · {index.get('updates', 0)} updates"
        + ("" if index.get("watching") else " · not watching")
    )
