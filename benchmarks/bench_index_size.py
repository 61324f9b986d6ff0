"""What an index costs on disk, part by part, per chunk and against the source it indexes.

    python benchmarks/bench_index_size.py                      # the relevance projects + stdlib
    python benchmarks/bench_index_size.py --work /other/benchmarks/.work --label current
    python benchmarks/bench_index_size.py --no-write           # print only
    python benchmarks/bench_index_size.py --build --fresh-state --title "..."  # as published

It measures indexes that exist: those ``bench_relevance.py`` built under
``benchmarks/.work/relevance/LABEL/NAME`` and the one ``bench_index.py --quick`` built under
``benchmarks/.work/index-quick`` (run those first; ``--build`` indexes what is missing, or
brings an index made by an older codefind to this one's formats, with the built-in model).
Each part is measured as SQLite stores it (the ``dbstat`` table: pages per table and index),
so "texts", "lexical index" and "symbols" are the state database's own shares. Source bytes are the
indexed files' sizes as the state records them; "tracked" is every file git tracks.

The issue's goal: the whole index (state + vectors + embedding cache) under 3x the source.
Measure indexes as they stand between runs: a writer removes the previous vector file when it
saves, so "vectors (previous file)" is only non-zero for an index a run is writing now.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section
from benchmarks.relevance.fetch import fetch, projects

WORK = ROOT / "benchmarks" / ".work"
PARTS = (
    "chunk texts + columns",
    "lexical index",
    "symbols",
    "files + meta",
    "vectors (current file)",
    "vectors (previous file)",
    "vector text hashes",
    "embedding cache",
)


@dataclass(frozen=True)
class Sizes:
    """One index's bytes by part, its chunks, and the source it indexes."""

    name: str
    chunks: int
    parts: dict[str, int]
    source: int
    tracked: int

    @property
    def total(self) -> int:
        return sum(self.parts.values())


def _table_part(name: str) -> str:
    if name.startswith(("chunks_fts", "lexicon")):  # FTS5 (format 2) or postings (3)
        return "lexical index"
    if name.startswith("symbols"):
        return "symbols"
    if name.startswith(("chunks", "texts")) or name == "sqlite_autoindex_chunks_1":
        return "chunk texts + columns"  # texts: each file's chunk texts, compressed (format 4)
    return "files + meta"


def measure(name: str, index_dir: Path, repo: Path) -> Sizes:
    """The parts of the index in ``index_dir`` (one checkout's folder) for ``repo``."""
    parts: dict[str, int] = defaultdict(int)
    state = index_dir / "state.sqlite"
    db = sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True)
    try:
        for table, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            parts[_table_part(str(table))] += int(size)
        chunks = int(db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
        source = int(db.execute("SELECT SUM(size) FROM files WHERE skip IS NULL").fetchone()[0])
    finally:
        db.close()
    # Free pages and the WAL count too: they are on the disk.
    on_disk = sum(p.stat().st_size for p in index_dir.glob("state.sqlite*"))
    parts["files + meta"] += max(0, on_disk - sum(parts.values()))
    for manifest in (index_dir / "vectors").glob("*.json"):
        current = json.loads(manifest.read_text())["file"]
        stem = manifest.name.removesuffix(".json")
        for data in (index_dir / "vectors").glob(f"{stem}.*.usearch"):
            key = "vectors (current file)" if data.name == current else "vectors (previous file)"
            parts[key] += data.stat().st_size
        for hashes in (index_dir / "vectors").glob(f"{stem}.*.hashes"):
            parts["vector text hashes"] += hashes.stat().st_size
    cache = index_dir / "cache"
    parts["embedding cache"] = sum(p.stat().st_size for p in cache.glob("embeddings.sqlite*"))
    return Sizes(name, chunks, {p: parts.get(p, 0) for p in PARTS}, source, tracked_bytes(repo))


def tracked_bytes(repo: Path) -> int:
    """Bytes of every file git tracks in ``repo``."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout
    names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
    return sum((repo / n).stat().st_size for n in names if (repo / n).is_file())


def checkout_dir(folder: Path) -> Path | None:
    """The one checkout folder that ``CODEFIND_INDEX_DIR=folder`` holds (``NAME-<hash>``)."""
    found = (
        [p for p in folder.glob("*") if (p / "state.sqlite").exists()] if folder.is_dir() else []
    )
    return found[0] if len(found) == 1 else None


def build(repo: Path, folder: Path) -> None:
    """Index ``repo`` into ``folder`` (or bring it up to date) with the built-in model."""
    from codefind.config import load_settings
    from codefind.workspace import Workspace

    os.environ["CODEFIND_INDEX_DIR"] = str(folder)
    workspace = Workspace.for_repository(repo, load_settings({"backend": "local"}))
    try:
        report = workspace.indexer().run()
    finally:
        workspace.close()
    print(f"{repo.name}: {report.chunks} chunks, embedded {report.embedded}", file=sys.stderr)


def table(rows: list[Sizes]) -> list[str]:
    lines = [
        "| index | chunks | " + " | ".join(PARTS) + " | whole index | source (indexed) | "
        "index / source | index / tracked |",
        "| --- " * (len(PARTS) + 6) + "|",
    ]
    for s in rows:
        per_chunk = [f"{s.parts[p] / max(s.chunks, 1):,.0f}" for p in PARTS]
        lines.append(
            f"| {s.name} | {s.chunks:,} | " + " | ".join(per_chunk) + f" | {s.total / 1e6:.1f} MB "
            f"({s.total / max(s.chunks, 1):,.0f}) | {s.source / 1e6:.2f} MB | "
            f"{s.total / s.source:.2f}x | {s.total / s.tracked:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=WORK, help="the benchmarks' .work folder")
    parser.add_argument("--label", default="current", help="bench_relevance's index label")
    parser.add_argument("--build", action="store_true", help="index (or update) first")
    parser.add_argument(
        "--fresh-state",
        action="store_true",
        help="with --build: delete each state database first, so it is measured as a new "
        "index writes it (the vectors are taken from the vector file by text: no embedding)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--section", default="bench_index_size")
    parser.add_argument("--title", default="", help="what these indexes are, for the heading")
    args = parser.parse_args()

    rows: list[Sizes] = []
    targets = [
        (p.name, fetch(p), args.work / "relevance" / args.label / p.name) for p in projects()
    ]
    targets.append(("stdlib (400 files)", args.work / "stdlib-quick", args.work / "index-quick"))
    for name, repo, folder in targets:
        if args.build and repo.is_dir():
            if args.fresh_state and (found := checkout_dir(folder)) is not None:
                for part in found.glob("state.sqlite*"):
                    part.unlink()
            build(repo, folder)
        found = checkout_dir(folder)
        if found is None:
            print(f"{name}: no index in {folder}; skipped", file=sys.stderr)
            continue
        rows.append(measure(name, found, repo))
    everything = Sizes(
        "all of the above",
        sum(s.chunks for s in rows),
        {p: sum(s.parts[p] for s in rows) for p in PARTS},
        sum(s.source for s in rows),
        sum(s.tracked for s in rows),
    )
    text = "\n".join(
        [
            f"Machine: {machine_info()}. Run: {stamp()}.",
            "",
            "Bytes per chunk of each part (the whole index in MB, and per chunk); built-in "
            "model, 384 dimensions:",
            "",
            *table([*rows, everything]),
        ]
    )
    print(text)
    if not args.no_write:
        title = f": {args.title}" if args.title else ""
        heading = f"## Index size on disk{title} (`benchmarks/{Path(__file__).name}`)"
        write_section(args.section, f"{heading}\n\n{text}")


if __name__ == "__main__":
    main()
