"""The command line: parse, call the service layer, print. Bare ``codefind`` opens the app.

The contract (flags, output formats, exit codes) is the README's "The command line";
``tests/test_cli.py`` and ``tests/test_cli_errors.py`` hold it.
Nothing here ranks, filters or stores anything: that is ``Workspace``, ``Indexer`` and
``SearchService``. Heavy modules are imported inside the command that needs them, so
``codefind --help`` and ``codefind config`` start instantly and ``codefind search`` never
imports Textual.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codefind import __version__, plugins
from codefind.cli.paths import existing_path
from codefind.errors import CodefindError, ConfigError, IndexLockedError, Interrupted, redact
from codefind.models import SCOPES, SEARCH_MODES

if TYPE_CHECKING:  # only for annotations; importing these at start-up would cost time
    from codefind.config import Settings
    from codefind.models import Hit, IndexReport
    from codefind.search import SearchResult
    from codefind.service.client import ServiceResult
    from codefind.workspace import Workspace

COMMANDS = ("index", "search", "eval", "server", "config", "serve", "mcp")
EXIT_OK, EXIT_NO_HITS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run codefind with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        return _dispatch(args_list)
    except CodefindError as exc:
        if debug:
            _print_traceback()
        say(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        say("interrupted; work done so far is kept.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `codefind search ... | head`: the reader left; not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug: say so in one line; --debug shows where
        if debug:
            _print_traceback()
        say(f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)")
        return EXIT_ERROR


def say(message: str) -> None:
    """Print a diagnostic on stderr, scrubbed: no secrets, no raw control characters.

    Every message the CLI prints goes through here (or ``_clean``): errors quote server
    answers (which may echo a key), URLs (which may carry a password) and file names (which
    may hold escape sequences).
    """
    print(f"codefind: {_clean(message)}", file=sys.stderr)


def _clean(text: str) -> str:
    from codefind.cli.render import visible

    return visible(redact(text), keep="\n\t")


def _print_traceback() -> None:
    import traceback  # only on --debug: every start-up millisecond counts for the app

    sys.stderr.write(_clean(traceback.format_exc()))


def _dispatch(argv: list[str]) -> int:
    parser = _build_parser()
    if argv and argv[0] in COMMANDS:
        args = parser.parse_args(argv)
    else:
        args = _app_parser().parse_args(argv)
        args.command = None
    if args.command is None:
        if args.version:
            return _print_version(verbose=args.verbose)
        return _run_app(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


# --- parsers ------------------------------------------------------------------------------


class _BackendNames(Sequence[str]):
    """``--backend``'s choices, read from the registry only when argparse looks at them.

    argparse checks a value against ``choices`` only when the flag is given, and lists them
    only for ``--help`` or an error, so a start-up without ``--backend`` never reads the
    installed packages' entry points (``codefind`` must paint its first frame fast).
    """

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and plugins.is_known(name)

    def __iter__(self) -> Iterator[str]:
        return iter(plugins.names())

    def __len__(self) -> int:
        return len(plugins.names())

    def __getitem__(self, index: Any) -> Any:
        return plugins.names()[index]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=_BackendNames(),
        metavar="NAME",
        help="embedding backend: %(choices)s",
    )
    parser.add_argument("--model", help="model of the chosen backend")
    parser.add_argument("--dim", type=int, help="embedding dimension (default: the model's native)")
    parser.add_argument(
        "--yes",
        action="store_true",
        default=None,
        help="consent to sending code to a remote backend",
    )
    parser.add_argument(
        "--debug", action="store_true", default=None, help="show tracebacks and diagnostics"
    )


def _quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress on stderr (by default: a bar on a terminal, else a line every 10 s)",
    )


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codefind",
        description="Find code by meaning. Bare `codefind` opens the app on the repository "
        f"containing PATH. Commands: {', '.join(COMMANDS)} (see `codefind COMMAND --help`).",
    )
    parser.add_argument(
        "path", nargs="?", default=".", help="a folder inside the repository (default .)"
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--verbose", action="store_true", help="with --version: dependencies and data licences"
    )
    _common(parser)
    return parser


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codefind")
    sub = parser.add_subparsers(dest="command")

    index = sub.add_parser("index", help="build or update the index; print a summary")
    index.add_argument("path", nargs="?", default=".")
    index.add_argument("--json", action="store_true", help="print the summary as JSON")
    _quiet(index)
    _common(index)
    index.set_defaults(handler=_cmd_index)

    search = sub.add_parser("search", help="print hits for QUERY")
    search.add_argument("query")
    search.add_argument(
        "path", nargs="?", default=None, help="limit hits to this sub-folder or file"
    )
    search.add_argument("-n", "--limit", type=int, default=None, help="number of hits (default 10)")
    search.add_argument("--mode", choices=SEARCH_MODES, default=None)
    search.add_argument(
        "--scope",
        choices=SCOPES,
        default="auto",
        help="which files: auto (implementation first, unless the query asks for tests or "
        "docs), only code/tests/docs/examples, or all with no preference",
    )
    search.add_argument("--format", choices=("text", "grep", "vimgrep", "json"), default=None)
    search.add_argument(
        "--json", action="store_const", const="json", dest="format", help="= --format json"
    )
    search.add_argument(
        "--glob",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only paths matching (repeatable; !PATTERN excludes)",
    )
    search.add_argument(
        "--lang",
        action="append",
        default=[],
        metavar="NAME",
        help="only this language (repeatable)",
    )
    search.add_argument(
        "--rerank", action="store_true", default=None, help="re-score the top hits with a reranker"
    )
    search.add_argument(
        "--all",
        action="store_true",
        help="also print weak hits (by default only hits with enough evidence are printed)",
    )
    search.add_argument(
        "--no-update",
        action="store_true",
        help="search the index as it is, without updating it first",
    )
    _quiet(search)
    _common(search)
    search.set_defaults(handler=_cmd_search)

    evaluate = sub.add_parser("eval", help="measure retrieval quality")
    evaluate.add_argument("--corpus", type=Path, help="corpus.jsonl")
    evaluate.add_argument("--queries", type=Path, help="queries.jsonl")
    evaluate.add_argument(
        "--repo",
        nargs="?",
        const=".",
        default=None,
        metavar="PATH",
        help="mine (doc -> function) pairs from a repository",
    )
    evaluate.add_argument("--mode", choices=SEARCH_MODES, default=None)
    evaluate.add_argument("--rerank", action="store_true", default=None)
    evaluate.add_argument("--limit", type=int, default=None, help="only the first N queries")
    evaluate.add_argument("--out", type=Path, help="write per-query ranks (JSON Lines) here")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _common(evaluate)
    evaluate.set_defaults(handler=_cmd_eval)

    server = sub.add_parser("server", help="launch or check a local SGLang embedding server")
    server.add_argument("action", choices=("start", "status"))
    server.add_argument("--port", type=int, default=30000)
    server.add_argument("--host", default="127.0.0.1")
    _common(server)
    server.set_defaults(handler=_cmd_server)

    config = sub.add_parser("config", help="show or change settings")
    config.add_argument("action", nargs="?", choices=("show", "set", "path"), default="show")
    config.add_argument("key", nargs="?")
    config.add_argument("value", nargs="?")
    _common(config)
    config.set_defaults(handler=_cmd_config)
    from codefind.cli.serve import add_serve_parser

    add_serve_parser(sub, _common)
    sub.choices["serve"].set_defaults(handler=_cmd_serve)
    sub.choices["mcp"].set_defaults(handler=_cmd_mcp)
    return parser


# --- commands -----------------------------------------------------------------------------


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    from codefind.config import load_settings

    flags = {
        "backend": getattr(args, "backend", None),
        "model": getattr(args, "model", None),
        "dim": getattr(args, "dim", None),
        "yes": getattr(args, "yes", None),
        "debug": getattr(args, "debug", None),
        **extra,
    }
    return load_settings(flags)


def _workspace(path: str | Path, settings: Settings) -> Workspace:
    from codefind.workspace import Workspace

    return Workspace.for_repository(Path(path), settings)


def _cmd_index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    workspace = _workspace(existing_path(args.path), settings)
    report = _run_index(workspace, wait=True, quiet=args.quiet)
    if args.json:
        import json

        print(json.dumps(report.to_json()))
    else:
        from codefind.cli.render import write_report

        write_report(report, sys.stdout)
    return EXIT_OK


def _run_index(workspace: Workspace, *, wait: bool, quiet: bool = False) -> IndexReport:
    """``Workspace.update_index`` with a progress line on stderr; Ctrl-C keeps what was done."""
    import threading

    from codefind.cli.render import ProgressLine, ask_yes_no

    progress = ProgressLine(quiet=quiet)
    cancel = threading.Event()

    def waiting(pid: int | None) -> None:
        progress.clear()
        who = f"process {pid}" if pid else "another process"
        say(f"waiting for {who}, which is updating this index…")

    def interrupt(signum: int, frame: object) -> None:
        # The first Ctrl-C lets the current batch finish and be saved; a second one aborts.
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        progress.clear()
        say("stopping after the current batch (Ctrl-C again to stop now)…")

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        return workspace.update_index(
            on_progress=progress,
            ask=ask_yes_no if sys.stdin.isatty() else None,
            cancel=cancel,
            wait=wait,
            on_lock_wait=waiting,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            "Interrupted; what was indexed so far is kept. Run again to finish."
        ) from None
    finally:
        signal.signal(signal.SIGINT, previous)
        progress.clear()


def _cmd_search(args: argparse.Namespace) -> int:
    from codefind.cli.paths import paths_from_here
    from codefind.cli.render import write_hits
    from codefind.cli.serve import search_by_service, start_on_demand
    from codefind.models import MAX_LIMIT

    languages = _check_search_args(args)
    settings = _settings(args, mode=args.mode, limit=args.limit, rerank=args.rerank)
    target = existing_path(args.path) if args.path else Path.cwd()
    # A backend named on the command line is a requirement, not a preference: if it cannot
    # embed the query, say so and stop rather than print lexical hits as if nothing happened.
    explicit = args.backend is not None and settings.mode != "lexical"
    served = search_by_service(args, settings, target, say)  # a warm service, if one runs
    if served is not None and settings.mode != "lexical" and not served[0].semantic:
        served = None  # in-process, which says why the vectors were not used
    answer: SearchResult | ServiceResult
    if served is None:
        workspace = _workspace(target if target.is_dir() else target.parent, settings)
        answer = _search_in_process(workspace, args, settings, target, languages, explicit)
        root = workspace.root
        start_on_demand(args, settings, target)
    else:
        answer, root = served
    for warning in answer.warnings:
        say(warning)
    if settings.debug:
        _print_debug(answer)
    shown = answer.hits if args.all else answer.strong
    asked = settings.limit if args.limit is not None else None
    _say_why_fewer(args.query, answer.hits, shown, asked, MAX_LIMIT)
    fmt = args.format or ("text" if sys.stdout.isatty() else "grep")
    printed = paths_from_here(
        shown, root, absolute=bool(args.path) and Path(args.path).is_absolute()
    )
    write_hits(printed, fmt, sys.stdout, color=sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    sys.stdout.flush()
    return EXIT_OK if shown else EXIT_NO_HITS


def _search_in_process(
    workspace: Workspace,
    args: argparse.Namespace,
    settings: Settings,
    target: Path,
    languages: tuple[str, ...],
    explicit: bool,
) -> SearchResult:
    """``codefind search`` without a service: update the index, then search it here."""
    from codefind.cli.paths import relative_to_root
    from codefind.search import SearchFilters

    if not args.no_update:
        try:
            _run_index(workspace, wait=False, quiet=args.quiet)
        except IndexLockedError as exc:
            say(f"{exc.message} Searching the index as it is.")
    filters = SearchFilters(
        paths=(relative_to_root(workspace.root, target),) if args.path else (),
        globs=tuple(args.glob),
        languages=languages,
    )
    from codefind.cli.render import ask_yes_no

    service = workspace.search_service(
        rerank=settings.rerank,
        strict=explicit,
        ask=ask_yes_no if sys.stdin.isatty() else None,
    )
    try:
        result = service.search(
            args.query,
            limit=settings.limit,
            mode=settings.mode,
            filters=filters,
            rerank=settings.rerank,
            scope=args.scope,
        )
    finally:
        service.close()
    if settings.mode != "lexical" and not result.semantic:
        _say_why_not_semantic(workspace, explicit=explicit)
    return result


def _say_why_not_semantic(workspace: Workspace, *, explicit: bool) -> None:
    """The backend's vectors were not used: say why, and stop if the backend was required.

    The search service embeds nothing when the index has no vectors for the chosen model
    (never indexed with it, or only ``--no-update`` searches since it was chosen).

    Raises:
        BackendError: ``--backend`` was given and the index has no vectors of it.
    """
    from codefind.errors import BackendError

    status = workspace.status()
    if not status.chunks or status.vectors:
        return
    settings = workspace.settings
    what = f"{settings.backend} ({settings.model}, {workspace.dim} dimensions)"
    fix = f"run `codefind index --backend {settings.backend}` to embed it"
    if explicit:
        raise BackendError(f"The index has no vectors of {what}; {fix}.")
    say(f"The index has no vectors of {what}; showing lexical hits only ({fix}).")


def _say_why_fewer(
    query: str, hits: Sequence[Hit], shown: Sequence[Hit], limit: int | None, cap: int
) -> None:
    """No hits, or fewer than ``-n`` asked for (``limit``): say why on stderr."""
    weak = len(hits) - len(shown)
    if not shown and weak:
        say(f"no good match for {query!r}; {weak} weak hit(s) left out (--all shows them).")
    elif not shown:
        say(f"no match for {query!r}.")
    elif limit is None:
        return
    elif limit > cap:
        say(f"-n is capped at {cap}; showing {len(shown)} hits.")
    elif len(shown) < limit and weak:
        say(f"{len(shown)} good hits; {weak} weak hit(s) left out (--all shows them).")
    elif len(shown) < limit:
        say(f"{len(shown)} hits: no other chunk matches.")


def _check_search_args(args: argparse.Namespace) -> tuple[str, ...]:
    """Refuse unusable search arguments before any indexing work; the ``--lang`` names.

    Raises:
        ConfigError: A query, glob or language that is not UTF-8 (bytes the terminal could not
            decode arrive as surrogates), a glob that is not valid, or a language codefind
            has no name for (the message lists the common ones).
    """
    from codefind.chunking.languages import common_languages, resolve_language
    from codefind.pathfilter import PathFilter

    for what, values in (("query", [args.query]), ("--glob", args.glob), ("--lang", args.lang)):
        for value in values:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ConfigError(
                    f"The {what} {value!r} is not valid UTF-8 text; check the terminal's "
                    "encoding (locale)."
                ) from None
    PathFilter((), tuple(args.glob))
    languages = []
    for name in args.lang:
        language = resolve_language(name)
        if language is None:
            raise ConfigError(
                f"Unknown language {name!r} for --lang. Use one of: "
                f"{', '.join(common_languages())}; a short form (py, rs, golang, js, ts, sh, "
                "...); or any language name Pygments knows."
            )
        languages.append(language)
    return tuple(languages)


def _print_debug(result: Any) -> None:
    if result.translation.changed:
        say(f"query translated: {result.query} -> {result.translation.text}")
        for line in result.translation.explain():
            say(f"  sense: {line}")
        if result.translation.alternatives:
            say(f"  lexical side also: {' '.join(result.translation.alternatives)}")
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in result.timings_ms.items())
    say(f"{result.mode} search, semantic={result.semantic}; {timings}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from codefind.cli.evaluate import run_eval

    settings = _settings(args, mode=args.mode, rerank=args.rerank)
    return run_eval(args, settings)


def _cmd_server(args: argparse.Namespace) -> int:
    from codefind.embeddings.sglang.launcher import server_status, start_server

    settings = _settings(args)
    if args.action == "status":
        status = server_status(settings.sglang.url, api_key=settings.sglang.api_key)
        print(_clean(status.message))
        return EXIT_OK if status.healthy else EXIT_ERROR

    def waiting(seconds: float) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\rcodefind: waiting for SGLang to become healthy… {seconds:.0f} s")
            sys.stderr.flush()

    handle = start_server(settings.sglang.model, port=args.port, host=args.host, on_wait=waiting)
    print(_clean(handle.url))
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    from codefind.cli.serve import run_serve

    return run_serve(args, _settings(args), say)


def _cmd_mcp(args: argparse.Namespace) -> int:
    from codefind.cli.serve import run_mcp

    return run_mcp(args, _settings(args))


def _cmd_config(args: argparse.Namespace) -> int:
    import json

    from codefind.config import config_path, settings_as_dict, write_config_value

    if args.action == "path":
        print(_clean(str(config_path())))
        return EXIT_OK
    if args.action == "set":
        if not args.key or args.value is None:
            raise ConfigError(
                "Usage: codefind config set KEY VALUE (e.g. `codefind config set backend sglang`)."
            )
        path = write_config_value(args.key, args.value)
        print(_clean(f"Set {args.key} in {path}."), file=sys.stderr)
        return EXIT_OK
    print(redact(json.dumps(settings_as_dict(_settings(args)), indent=2)))  # URL passwords too
    return EXIT_OK


def _run_app(args: argparse.Namespace) -> int:
    from codefind.tui import run_app

    settings = _settings(args)
    status: int = run_app(existing_path(args.path), settings)
    return status


def _print_version(*, verbose: bool) -> int:
    print(f"codefind {__version__}")
    if verbose:
        from codefind.about import about_lines

        for line in about_lines():
            print(line)
    return EXIT_OK
