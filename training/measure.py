"""Measure exported models on every evaluation set, through codefind's own eval pipeline.

``codefind eval --model NAME`` only knows the models shipped in ``codefind/builtin_models/``;
a candidate must be measured *before* it may be shipped. This script runs the same code as
``codefind eval`` (``CorpusSource``, ``Workspace``, indexer, ``run_queries``, ``summarize``:
chunking, embedding text, store, fusion, query translation) with one difference: the local
embedder is built from an export folder (``LocalEmbedder(model_dir=...)``). Indexes go under
``training/.work/evalcache`` (``XDG_CACHE_HOME``), apart from the user's.

Usage (project venv):

    .venv/bin/python training/measure.py --model base=training/.work/models/base-int8 \
        --model code=training/.work/models/code-int8 --out training/.work/results.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

TRAINING = Path(__file__).resolve().parent
sys.path.insert(0, str(TRAINING.parent))

# The quality table's repo-mined rows: never trained on, built the same way (in
# training/.work/evalrepos).
from benchmarks._trees import MINED_PACKAGES, package_repo

if TYPE_CHECKING:
    from codefind.evaluation import EvalSet

WORK = TRAINING / ".work"
EVAL_DIR = TRAINING.parent.parent / "shared" / "eval"
SETS = (
    "odex_en",
    "cosqa_dev",
    "humanevalxl_python_en",
    "humanevalxl_python_zh",
    "odex_es",
    "odex_ja",
    "odex_ru",
    "mconala_es",
    "mconala_ja",
    "mconala_ru",
)


def main(argv: list[str] | None = None) -> int:
    """Evaluate each model on each set in semantic and hybrid mode; append JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        help="LABEL=EXPORT_DIR (a folder written by export_builtin_model.py)",
    )
    parser.add_argument(
        "--sets", nargs="*", help="set names (default: all eval sets and the held-out package sets)"
    )
    parser.add_argument("--modes", nargs="*", default=["semantic", "hybrid"])
    parser.add_argument("--out", default=str(WORK / "results.jsonl"))
    args = parser.parse_args(argv)
    os.environ.setdefault("XDG_CACHE_HOME", str(WORK / "evalcache"))
    # The heavy process of this folder at the moment: a benchmark may pause it like training.
    (WORK / "train.pid").write_text(f"{os.getpid()}\n")

    from codefind.config import Settings
    from codefind.embeddings.local import LocalEmbedder
    from codefind.evaluation import (
        CorpusSource,
        eval_location,
        load_eval_set,
        run_queries,
        summarize,
    )
    from codefind.workspace import Workspace

    folders = {name: EVAL_DIR / name for name in SETS}
    folders |= {
        f"heldout_{p.name}": p
        for p in sorted((WORK / "heldout").glob("*"))
        if (p / "queries.jsonl").is_file() and (p / "queries.jsonl").stat().st_size
    }
    heldout = [n for n in folders if n.startswith("heldout_")]
    chosen = args.sets or [*SETS[:2], *heldout, *(f"repo_{n}" for n in MINED_PACKAGES), *SETS[2:]]
    with open(args.out, "a", encoding="utf-8") as out:
        for set_name in chosen:  # set by set, every model: partial results compare
            if set_name.startswith("repo_"):
                eval_set = repo_set(set_name.removeprefix("repo_"))
            else:
                eval_set = load_eval_set(
                    folders[set_name] / "corpus.jsonl",
                    folders[set_name] / "queries.jsonl",
                    set_name,
                )
            for spec in args.model:
                label, folder = spec.split("=", 1)
                for mode in args.modes:
                    settings = Settings(mode=mode)
                    source = CorpusSource(eval_set, Path("/codefind-eval") / set_name)
                    workspace = Workspace(source, eval_location(eval_set), settings)
                    workspace._embedder = LocalEmbedder(label, model_dir=Path(folder))
                    try:
                        started = time.monotonic()
                        workspace.indexer().run()
                        seconds = time.monotonic() - started
                        outcomes = run_queries(
                            workspace.search_service(),
                            eval_set,
                            source.id_of_path(),
                            mode=settings.mode,
                        )
                        report = summarize(
                            outcomes,
                            corpus=len(eval_set.corpus),
                            index_seconds=seconds,
                            settings=settings,
                            model=label,
                            dim=workspace.dim,
                            mode=mode,
                        )
                    finally:
                        workspace.close()
                    row = {"set": set_name, **report.to_json()}
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(
                        f"{label:8} {set_name:24} {mode:8} MRR@10 {row['mrr@10']:.3f} "
                        f"R@1 {row['recall@1']:.3f} R@5 {row['recall@5']:.3f}",
                        file=sys.stderr,
                        flush=True,
                    )
    return 0


def repo_set(name: str) -> EvalSet:
    """Pairs mined from a package's sources in a git repository (``codefind eval --repo``)."""
    from codefind.evaluation import mined_eval_set
    from codefind.repo import Repository

    repo = package_repo(name, MINED_PACKAGES[name], WORK / "evalrepos")
    mined = mined_eval_set(Repository.discover(repo))
    from codefind.evaluation import EvalSet

    return EvalSet(f"repo_{name}", mined.corpus, mined.queries)


if __name__ == "__main__":
    sys.exit(main())
