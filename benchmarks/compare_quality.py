"""Does a change cost retrieval quality? Every MRR@10 before and after, on the same data.

    python benchmarks/compare_quality.py --before 8200fea        # after: this checkout
    python benchmarks/compare_quality.py --before 8200fea --sets cosqa_dev odex_en --splits tune

Made for changes to what the index stores (int8 vectors): neither side embeds anything, and
each gets its own copy of the data, because a newer codefind converts what it opens and the
conversion is one way (an int8 cache cannot become float16 again). The copies: the evaluation
corpora's indexes and embedding cache (``$XDG_CACHE_HOME/codefind``, or ``--eval-cache``) and
the relevance projects' indexes (``benchmarks/.work/relevance/LABEL``, built by
``bench_relevance.py`` in this checkout). The before side is the commit's tree exported with
``git archive``; each side runs this checkout's benchmark scripts with its own ``codefind``
package imported first. The data must be as the before side left it (the after side converts
its copy): for a format change, indexes and a cache that the before commit built or used. Then ``quality.py`` (every set and mode) and ``bench_relevance.py``
(each half, every mode; hybrid by kind of question and by project) run on both, and every
MRR@10 is compared against ``--limit`` (the index-size issue accepts at most -0.003).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_relevance import NAMED, Outcome, load_outcomes, load_questions, summarize
from benchmarks.bench_relevance import WORK as RELEVANCE

WORK = ROOT / "benchmarks" / ".work" / "compare"
PINNED = (
    "import runpy, sys\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "import codefind  # this side's package, whatever the script puts first on sys.path\n"
    "sys.argv = sys.argv[2:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def export(commit: str, folder: Path) -> Path:
    """The tree of ``commit`` in ``folder`` (once)."""
    if not (folder / "codefind").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def fresh_copy(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` (nothing when there is no source)."""
    if target.exists():
        shutil.rmtree(target)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)


def run(source: Path, script: str, args: Sequence[str], env: dict[str, str]) -> str:
    """One benchmark script of this checkout with ``source``'s codefind; its stdout."""
    argv = [sys.executable, "-c", PINNED, str(source), str(ROOT / "benchmarks" / script), *args]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{script} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def quality(source: Path, env: dict[str, str], sets: Sequence[str] | None) -> dict[str, float]:
    """MRR@10 of every quality row: ``"set mode" -> value``."""
    args = ["--no-write", *(["--sets", *sets] if sets else [])]
    rows = [json.loads(line) for line in run(source, "quality.py", args, env).splitlines()
            if line.startswith("{")]  # fmt: skip
    return {f"{r['set']} {r['mode']}": float(r["mrr@10"]) for r in rows}


def relevance(
    source: Path, env: dict[str, str], label: str, split: str, out: Path
) -> dict[str, float]:
    """MRR@10 of every figure of one half: per mode, and hybrid by kind and by project."""
    run(source, "bench_relevance.py", ["--split", split, "--label", label, "--out", str(out)], env)
    outcomes = load_outcomes(out, load_questions(split, None))
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(f"{split} {o.mode}", []).append(o)
        if o.mode == "hybrid":
            kind = "names" if o.question.kind in NAMED else o.question.kind
            groups.setdefault(f"{split} hybrid, kind {kind}", []).append(o)
            groups.setdefault(f"{split} hybrid, {o.question.project}", []).append(o)
    return {name: summarize(group).mrr for name, group in sorted(groups.items())}


def side(name: str, source: Path, args: argparse.Namespace) -> dict[str, float]:
    """Every MRR@10 of one side, measured on its own copies of the data."""
    home = WORK / name / "xdg"
    for part in ("eval", "dicts"):
        fresh_copy(args.eval_cache / part, home / "codefind" / part)
    label = f"compare-{name}"
    fresh_copy(RELEVANCE / args.relevance_label, RELEVANCE / label)
    env = {**os.environ, "XDG_CACHE_HOME": str(home)}
    found = {f"quality: {k}": v for k, v in quality(source, env, args.sets).items()}
    for split in args.splits:
        out = WORK / name / f"relevance-{split}.jsonl"
        found |= {
            f"relevance: {k}": v for k, v in relevance(source, env, label, split, out).items()
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with")
    parser.add_argument("--sets", nargs="*", help="quality.py sets (default: all)")
    parser.add_argument(
        "--splits", nargs="*", default=["tune", "report"], choices=("tune", "report")
    )
    parser.add_argument("--relevance-label", default="current", help="bench_relevance's indexes")
    parser.add_argument(
        "--eval-cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codefind",
        help="the codefind cache folder holding eval/ (indexes, embedding cache) and dicts/",
    )
    parser.add_argument("--limit", type=float, default=-0.003, help="the largest drop accepted")
    args = parser.parse_args()

    before = side("before", export(args.before, WORK / "before" / "src"), args)
    after = side("after", ROOT, args)
    lines = ["| figure | before | after | change |", "| --- | --- | --- | --- |"]
    changes = []
    for name in before:
        if name in after:
            change = after[name] - before[name]
            changes.append(change)
            lines.append(f"| {name} | {before[name]:.4f} | {after[name]:.4f} | {change:+.4f} |")
    worst = min(changes, default=0.0)
    verdict = "within" if worst >= args.limit else "BEYOND"
    lines += ["", f"{len(changes)} MRR@10 figures; the worst change is {worst:+.4f}, {verdict} "
              f"the limit of {args.limit:+.3f}."]  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    main()
