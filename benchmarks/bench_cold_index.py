"""Cold indexing of real projects: when is the implementation code searchable, and when is all?

    python benchmarks/bench_cold_index.py                     # flask and cobra
    python benchmarks/bench_cold_index.py --projects zod httpie --section cold-index

Each project of the relevance benchmark (benchmarks/relevance/) is indexed from nothing (a
fresh index folder and embedding cache) with the built-in model, as a user's first
``codefind index`` would. The indexer embeds implementation code first and saves the vector
index as soon as that is done; this script records that moment ("code searchable"), the
total, the chunk counts by category and the throughput in chunks/s, and writes a section of
RESULTS.md with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks.relevance.fetch import fetch, projects

WORK = ROOT / "benchmarks" / ".work" / "cold-index"


def cold_index(name: str) -> dict[str, object]:
    """Index one project from nothing; the times of its milestones."""
    from codefind.config import load_settings
    from codefind.indexer import IndexProgress
    from codefind.store import Store
    from codefind.workspace import Workspace

    project = next(p for p in projects() if p.name == name)
    repo = fetch(project)
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    os.environ["CODEFIND_INDEX_DIR"] = str(folder)
    workspace = Workspace.for_repository(repo, load_settings({"backend": "local"}))
    workspace.embedder.embed_query("load the model before the clock starts")
    marks: dict[str, float] = {}
    code_total: list[int] = []
    started = time.monotonic()

    def progress(p: IndexProgress) -> None:
        if p.phase == "embed" and not code_total:
            marks["chunked"] = time.monotonic() - started
            state = Store.open(workspace.location).state
            outlines = state.chunks(state.chunk_ids(), text=False)
            code_total.append(sum(1 for s in outlines.values() if s.chunk.category == "code"))
        if p.phase == "embed" and code_total and p.embedded >= code_total[0]:
            marks.setdefault("code", time.monotonic() - started)

    report = workspace.indexer(on_progress=progress).run()
    total = time.monotonic() - started
    state = Store.open(workspace.location).state
    categories = Counter(
        s.chunk.category for s in state.chunks(state.chunk_ids(), text=False).values()
    )
    tokens = embedded_tokens(workspace)
    embedding_s = max(total - marks.get("chunked", 0.0), 1e-9)
    return {
        "project": name,
        "tokens_per_s": tokens / embedding_s,
        "files": report.files,
        "chunks": report.chunks,
        "categories": dict(categories),
        "chunked_s": marks.get("chunked", 0.0),
        "code_s": marks.get("code", total),
        "total_s": total,
        "rate": report.embedded / embedding_s,
    }


def embedded_tokens(workspace: object) -> int:
    """Real tokens the model ran over: each distinct embedded text's count, capped at the
    model's input window (as ``bench_index.count_tokens``)."""
    from codefind.chunking import embedding_text
    from codefind.store import Store

    embedder = workspace.embedder  # type: ignore[attr-defined]
    state = Store.open(workspace.location).state  # type: ignore[attr-defined]
    texts = list({embedding_text(s.chunk) for s in state.iter_chunks()})
    counter = getattr(embedder, "count_tokens", None)
    total = 0
    for start in range(0, len(texts), 1000):
        part = texts[start : start + 1000]
        total += (
            sum(min(n, embedder.max_tokens) for n in counter(part))
            if counter
            else embedder.estimate_tokens(part)
        )
    return int(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", nargs="*", default=["flask", "cobra"])
    parser.add_argument("--section", help="write the table to this section of RESULTS.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [cold_index(name) for name in args.projects]
    lines = [
        "| project | files | chunks (code / other) | chunked | code searchable | all done | "
        "chunks/s | tokens/s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cats = r["categories"]
        assert isinstance(cats, dict)
        code = cats.get("code", 0)
        lines.append(
            f"| {r['project']} | {r['files']} | {r['chunks']} ({code} / {int(str(r['chunks'])) - code}) "
            f"| {r['chunked_s']:.0f} s | **{r['code_s']:.0f} s** | {r['total_s']:.0f} s | "
            f"{r['rate']:.0f} | {r['tokens_per_s']:,.0f} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.section:
        write_section(
            args.section,
            f"## Cold indexing of real projects: implementation code first\n\n"
            f"`python benchmarks/bench_cold_index.py --projects {' '.join(args.projects)}`; "
            f"{stamp()}; {machine_info()}; load average {load:.1f} at the start; built-in "
            f'model, fresh index and cache. "code searchable" is when every implementation '
            f"chunk has its vector in the saved index (the indexer saves it then); search "
            f"works throughout (lexically from the first chunked batch).\n\n{text}",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
