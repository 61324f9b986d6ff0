"""The quality table: ``codefind eval`` on every public set and on repo-mined pairs.

For each evaluation set in ``--eval-dir`` (default: ``CODEFIND_EVAL_DIR``, see ``benchmarks/_results.py``) and for pairs mined from
real projects (the sources of ``rich``, ``click`` and ``sqlalchemy`` from PyPI, each copied
into a git repository), this runs ``codefind.evaluation.evaluate`` — the same code as
``codefind eval`` — for every backend that can run here, in hybrid, semantic and lexical
mode, and writes the table to RESULTS.md's ``quality`` section with the machine, the date and
the versions. Backends that cannot run here (SGLang needs a GPU server, Voyage a key) are
listed with the command that fills their rows in.

Run: ``python benchmarks/quality.py`` (``--sets cosqa_dev odex_en`` to restrict,
``--models all-MiniLM-L6-v2 ...`` to compare built-in models, ``--backend sglang`` with
``CODEFIND_SGLANG_URL`` set to add a server's rows).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import EVAL_DIR, machine_info, stamp, write_section
from benchmarks._trees import MINED_PACKAGES, package_repo
from codefind.config import Settings, load_settings
from codefind.evaluation import EvalReport, EvalSet, evaluate, load_eval_set, mined_eval_set
from codefind.repo import Repository

WORK = ROOT / "benchmarks" / ".work" / "quality"
MODES = ("hybrid", "semantic", "lexical")


def public_sets(eval_dir: Path, names: list[str] | None) -> list[EvalSet]:
    """The sets under ``eval_dir`` (all, or those named)."""
    folders = sorted(p for p in eval_dir.iterdir() if (p / "corpus.jsonl").exists())
    return [
        load_eval_set(f / "corpus.jsonl", f / "queries.jsonl", f.name)
        for f in folders
        if names is None or f.name in names
    ]


def mined_sets(names: list[str] | None) -> list[EvalSet]:
    """Pairs mined from real packages' sources (downloaded from PyPI once, then cached)."""
    out = []
    for name, requirement in MINED_PACKAGES.items():
        if names is not None and f"repo:{name}" not in names:
            continue
        repo = package_repo(name, requirement, WORK)
        mined = mined_eval_set(Repository.discover(repo))
        out.append(replace(mined, name=f"repo:{name}"))
    return out


def run(eval_set: EvalSet, settings: Settings) -> EvalReport:
    """One evaluation, printed as it finishes."""
    report = evaluate(eval_set, settings)
    print(json.dumps({"set": eval_set.name, **report.to_json()}), flush=True)
    return report


def table(rows: list[tuple[str, str, EvalReport]]) -> list[str]:
    """Markdown rows: set, model, mode, R@1, R@5, R@10, MRR@10, p50/p95 ms."""
    lines = [
        "| set | queries | model | dim | mode | R@1 | R@5 | R@10 | MRR@10 | query ms p50 / p95 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, model, r in rows:
        lines.append(
            f"| {name} | {r.queries} | {model} | {r.dim} | {r.mode} | {r.recall_at_1:.3f} | "
            f"{r.recall_at_5:.3f} | {r.recall_at_10:.3f} | **{r.mrr_at_10:.3f}** | "
            f"{r.query_ms_p50:.1f} / {r.query_ms_p95:.1f} |"
        )
    return lines


def versions() -> str:
    names = ("codefind", "onnxruntime", "usearch", "tokenizers", "numpy")
    found = []
    for n in names:
        try:
            found.append(f"{n} {metadata.version(n)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--sets", nargs="*", help="set names (and repo:rich etc.); default all")
    parser.add_argument(
        "--models", nargs="*", help="built-in models to compare (default: the default one)"
    )
    parser.add_argument("--backend", default="local", choices=("local", "sglang", "voyage"))
    parser.add_argument("--modes", nargs="*", default=list(MODES))
    parser.add_argument("--section", default="quality", help="RESULTS.md section to write")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--yes", action="store_true", help="consent to uploading corpora (Voyage)")
    parser.add_argument(
        "--no-translate", action="store_true", help="queries as typed (the zh/ja 'before' rows)"
    )
    args = parser.parse_args()

    sets = public_sets(args.eval_dir, args.sets) + mined_sets(args.sets)
    base = load_settings({"backend": args.backend, "yes": args.yes or None})
    models = args.models or [base.model]
    rows: list[tuple[str, str, EvalReport]] = []
    for eval_set in sets:
        for model in models:
            for mode in args.modes:
                settings = replace(
                    base.with_model(model), mode=mode, translate=not args.no_translate
                )
                label = model + (" (no query translation)" if args.no_translate else "")
                rows.append((eval_set.name, label, run(eval_set, settings)))

    text = "\n".join(
        [
            f"## Retrieval quality (`benchmarks/quality.py{' --no-translate' if args.no_translate else ''}"
            + (f" --sets {' '.join(args.sets)}" if args.sets else "")
            + "`)",
            "",
            f"Machine: {machine_info()}. Run: {stamp()}. Versions: {versions()}.",
            f"Backend: {args.backend}. Sets: the public evaluation sets (tests/data/README.md) and pairs mined from "
            "the rich, click and SQLAlchemy sources (docstring -> function with the doc removed; "
            "docstrings are not real queries, so these rows favour lexical matching).",
            "",
            *table(rows),
            "",
            "Rows that cannot run on this machine (no GPU, no Voyage key), with the commands that fill them in:",
            "",
            "- SGLang + Qwen3-Embedding-4B: start a server on a GPU machine "
            "(`codefind server start` or the command in the README), then "
            "`CODEFIND_SGLANG_URL=http://HOST:30000/v1 python benchmarks/quality.py --backend sglang --section quality-sglang`.",
            "- Voyage voyage-code-3: `VOYAGE_API_KEY=... python benchmarks/quality.py --backend voyage --section quality-voyage` "
            "(`--yes` consents to uploading the corpora; the cost estimate is printed first).",
        ]
    )
    if not args.no_write:
        write_section(args.section, text)
    print(text)


if __name__ == "__main__":
    main()
