"""How much weight BM25 gets in hybrid search: a sweep, to check the choice in fusion.py.

For each evaluation set (indexed as ``codefind eval`` does, reusing its cached index), every
query is searched in hybrid mode at several lexical weights (0 = semantic alone plus the
name boost), and MRR@10 is reported per weight, next to lexical and semantic alone. The
chosen ``fusion.LEXICAL_WEIGHT`` should be at least as good as the better part on every
English set; this script is how that is shown.

Run: ``python benchmarks/tune_fusion.py --sets cosqa_dev odex_en`` (``--write`` to put the
table in RESULTS.md's ``tune_fusion`` section).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from codefind.config import Settings
from codefind.evaluation import (
    CorpusSource,
    collapse,
    eval_location,
    first_relevant_rank,
    load_eval_set,
    mrr_at,
)
from codefind.fusion import LEXICAL_WEIGHT
from codefind.search import SearchService
from codefind.workspace import Workspace

EVAL_DIR = ROOT.parent / "shared" / "eval"
WEIGHTS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)


def sweep(name: str, eval_dir: Path) -> dict[str, float]:
    """MRR@10 per weight (and for the two parts alone) on one set."""
    eval_set = load_eval_set(
        eval_dir / name / "corpus.jsonl", eval_dir / name / "queries.jsonl", name
    )
    source = CorpusSource(eval_set, Path("/codefind-eval") / name)
    workspace = Workspace(source, eval_location(eval_set), Settings())
    workspace.indexer().run()
    id_of = source.id_of_path()
    ranks: dict[str, list[int | None]] = {f"w={w}": [] for w in WEIGHTS}
    ranks["semantic"], ranks["lexical"] = [], []
    services = {
        w: SearchService(workspace.store(), workspace.embedder, workspace.dim, lexical_weight=w)
        for w in WEIGHTS
    }
    for q in eval_set.queries:
        for w, service in services.items():
            hits = service.search(q.query, limit=50, mode="hybrid").hits
            ranks[f"w={w}"].append(
                first_relevant_rank(collapse((h.path for h in hits), id_of), q.relevant)
            )
        for mode in ("semantic", "lexical"):
            hits = services[0.0].search(q.query, limit=50, mode=mode).hits
            ranks[mode].append(
                first_relevant_rank(collapse((h.path for h in hits), id_of), q.relevant)
            )
    workspace.close()
    return {k: mrr_at(v, 10) for k, v in ranks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sets", nargs="*", default=["cosqa_dev", "odex_en", "humanevalxl_python_en"]
    )
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    results = {name: sweep(name, args.eval_dir) for name in args.sets}
    columns = ["semantic", "lexical", *(f"w={w}" for w in WEIGHTS)]
    lines = [
        "## Fusion weight sweep (`benchmarks/tune_fusion.py`)",
        "",
        f"Machine: {machine_info()}. Run: {stamp()}. Built-in model, hybrid mode; MRR@10. "
        f"Shipped weight: {LEXICAL_WEIGHT}.",
        "",
        "| set | " + " | ".join(columns) + " |",
        "| --- | " + " | ".join("---" for _ in columns) + " |",
    ]
    for name, row in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("tune_fusion", text)


if __name__ == "__main__":
    main()
