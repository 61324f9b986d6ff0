"""``codefind eval``: the command-line side of evaluation (reading flags, printing the table).

The measuring itself is ``codefind.evaluation``; this module only turns arguments into an
``EvalSet`` and a report into text or JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from codefind.cli.render import ProgressLine, ask_yes_no
from codefind.config import Settings
from codefind.errors import ConfigError
from codefind.evaluation import (
    EvalReport,
    EvalSet,
    evaluate,
    load_eval_set,
    mined_eval_set,
    write_outcomes,
)
from codefind.repo import Repository


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``codefind eval`` with parsed ``args``; returns the exit status."""
    _check_args(args)
    eval_set = _eval_set(args, settings)
    progress = ProgressLine()
    report = evaluate(
        eval_set,
        settings,
        limit=args.limit,
        on_index_progress=progress,
        ask=ask_yes_no if sys.stdin.isatty() else None,
    )
    progress.clear()
    if args.out:
        write_outcomes(args.out, report.outcomes)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(format_report(eval_set.name, report))
    return 0


def format_report(name: str, report: EvalReport) -> str:
    """The readable table of one run."""
    rows = [
        ("set", name),
        ("backend / model", f"{report.backend} / {report.model}"),
        (
            "dimension / mode",
            f"{report.dim} / {report.mode}" + (" + rerank" if report.rerank else ""),
        ),
        ("queries / corpus", f"{report.queries} / {report.corpus}"),
        ("recall@1", f"{report.recall_at_1:.3f}"),
        ("recall@5", f"{report.recall_at_5:.3f}"),
        ("recall@10", f"{report.recall_at_10:.3f}"),
        ("MRR@10", f"{report.mrr_at_10:.3f}"),
        ("query ms p50 / p95", f"{report.query_ms_p50:.1f} / {report.query_ms_p95:.1f}"),
        ("index seconds", f"{report.index_seconds:.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _check_args(args: argparse.Namespace) -> None:
    """Refuse ``--limit`` and ``--out`` values that cannot work, before minutes of indexing.

    Raises:
        ConfigError: ``--limit`` below 1, or ``--out`` a folder or in a folder that does not
            exist or cannot be written.
    """
    import os

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1 (the number of queries), not {args.limit}.")
    out: Path | None = args.out
    if out is None:
        return
    if out.is_dir():
        raise ConfigError(
            f"--out {out} is a folder; give a file name (e.g. {out / 'ranks.jsonl'})."
        )
    folder = out.parent
    if not folder.is_dir():
        raise ConfigError(f"--out {out}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ConfigError(f"--out {out} cannot be written.")


def _eval_set(args: argparse.Namespace, settings: Settings) -> EvalSet:
    if args.repo is not None:
        if args.corpus or args.queries:
            raise ConfigError("Use either --repo or --corpus/--queries, not both.")
        return mined_eval_set(
            Repository.discover(Path(args.repo), max_file_bytes=settings.max_file_bytes)
        )
    if args.corpus is None:
        raise ConfigError("Give --corpus FILE --queries FILE, or --repo [PATH].")
    queries = args.queries or args.corpus.with_name("queries.jsonl")
    return load_eval_set(args.corpus, queries)
