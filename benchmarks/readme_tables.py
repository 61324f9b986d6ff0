"""The README's tables of results, generated from ``benchmarks/RESULTS.md``: one source of truth.

    python benchmarks/readme_tables.py           # rewrite the tables in README.md
    python benchmarks/readme_tables.py --check   # exit 1 when README.md disagrees

Each table in the README sits between ``<!-- generated:NAME -->`` and ``<!-- /generated -->``
and is rebuilt here from the sections the benchmark scripts write; nothing in those tables is
typed by hand. ``tests/test_readme.py`` runs the check, so a figure that changes in
RESULTS.md without the README (or the other way round) fails the test suite. A section whose
layout changed makes this script fail loudly rather than print a wrong figure.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"

_SECTION = re.compile(r"<!-- ([\w-]+):start -->\n(.*?)\n<!-- \1:end -->", re.DOTALL)
_GENERATED = re.compile(r"(<!-- generated:([\w-]+) -->\n)(.*?)(<!-- /generated -->)", re.DOTALL)


class LayoutError(Exception):
    """RESULTS.md does not say what a table needs (a section or a row is missing)."""


def sections(results: str) -> dict[str, str]:
    """Section name -> its text."""
    return {m.group(1): m.group(2) for m in _SECTION.finditer(results)}


def table(text: str, first_column: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``text`` whose header starts with
    ``first_column``, as header -> cell (``**`` removed)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = _cells(line)
        if cells and cells[0] == first_column and i + 1 < len(lines) and "---" in lines[i + 1]:
            rows = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(cells, _cells(row), strict=False)))
            return rows
    raise LayoutError(f"no table starting with {first_column!r}")


def _cells(line: str) -> list[str]:
    if not line.startswith("|"):
        return []
    return [c.strip().replace("**", "") for c in line.strip().strip("|").split("|")]


def find(text: str, pattern: str, what: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise LayoutError(f"{what}: {pattern!r} not found")
    return match


# --- the tables ---------------------------------------------------------------------------

QUALITY_ROWS: list[tuple[str, str, list[str]]] = [
    ("CoSQA dev (web queries -> Python)", "quality", ["cosqa_dev"]),
    ("ODEX English", "quality", ["odex_en"]),
    ("HumanEval-XL Python, English", "quality", ["humanevalxl_python_en"]),
    ("HumanEval-XL Python, Chinese", "quality", ["humanevalxl_python_zh"]),
    ("ODEX Japanese (`codefind[ja]`)", "quality", ["odex_ja"]),
    ("ODEX Russian / Spanish", "quality", ["odex_ru", "odex_es"]),
    (
        "pairs mined from rich / click / SQLAlchemy",
        "quality",
        ["repo:rich", "repo:click", "repo:sqlalchemy"],
    ),
]
"""README row label, the RESULTS.md section it is read from, and the sets it shows."""


def quality(found: dict[str, str]) -> str:
    """MRR@10 per set and mode; the best mode of each set in bold."""
    out = [
        "| set | queries | hybrid (default) | semantic | lexical (BM25) |",
        "| --- | --- | --- | --- | --- |",
    ]
    used = []
    for label, section, sets in QUALITY_ROWS:
        if section not in found:
            raise LayoutError(f"section {section!r} is missing")
        used.append(section)
        rows = table(found[section], "set")
        counts, cells = [], {m: [] for m in ("hybrid", "semantic", "lexical")}
        for name in sets:
            mrr = {r["mode"]: r["MRR@10"] for r in rows if r["set"] == name}
            if set(mrr) != set(cells):
                raise LayoutError(f"{section}: {name} lacks a mode ({sorted(mrr)})")
            best = max(mrr.values(), key=float)
            for mode in cells:
                cells[mode].append(f"**{mrr[mode]}**" if mrr[mode] == best else mrr[mode])
            counts.append(next(r["queries"] for r in rows if r["set"] == name))
        out.append(
            f"| {label} | {' / '.join(counts)} | "
            + " | ".join(" / ".join(cells[m]) for m in ("hybrid", "semantic", "lexical"))
            + " |"
        )
    dates = []
    for section in dict.fromkeys(used):
        run = find(found[section], r"Run: (\d{4}-\d\d-\d\d)", f"{section} run date").group(1)
        dates.append(f"`{section}` ({run})")
    out += [
        "",
        f"From RESULTS.md sections {', '.join(dates)}; each row is one run of all three modes.",
    ]
    return "\n".join(out)


def speed(found: dict[str, str]) -> str:
    """The budgets and what was measured, from the app, index, model and rg benchmarks."""
    app, quick, full, rg = (found.get(k, "") for k in ("bench_app", "bench_index_quick", "bench_index", "vs-rg"))  # fmt: skip
    for name, text in (("bench_app", app), ("bench_index_quick", quick), ("bench_index", full), ("vs-rg", rg)):  # fmt: skip
        if not text:
            raise LayoutError(f"section {name!r} is missing")

    def service(text: str) -> tuple[str, str, str]:
        chunks = find(text, r"(\d+) chunks", "chunks").group(1)
        row = find(text, r"\| hybrid \| ([\d.]+) \| ([\d.]+) \|", "hybrid latency")
        return f"{int(chunks) / 1000:.1f}k", row.group(1), row.group(2)

    def process(text: str) -> str:
        return find(text, r"whole process \(\d+ queries\): p50 (\d+) ms", "process").group(1)

    def app_row(label: str) -> str:
        return find(app, r"\| " + re.escape(label) + r" \|[^|]*\| ([^|]+?) \|", label).group(1)

    qk, qp50, qp95 = service(quick)
    fk, fp50, fp95 = service(full)
    cold = find(full, r"\| cold index \| [\d.]+ s: [\d.]+ chunks/s, ([\d,]+) tokens/s", "cold")
    carried = re.search(r"\(measured (\d{4}-\d\d-\d\d) [^)]*\); this run reused", full)
    cold_when = f"whole stdlib, measured {carried.group(1)}" if carried else f"{fk} chunks"
    nochange = find(full, r"\| re-index, nothing changed \| ([\d.]+) s", "re-index")
    one = find(full, r"\| re-index, one file changed \| ([\d.]+) s", "one file")
    files = find(full, r"\((\d+) files", "files").group(1)
    rss_index = find(full, r"\| peak RSS: (cold index|first index run)[^|]*, in this process \| (\d+) MB", "rss")  # fmt: skip
    indexing = "cold indexing" if rss_index.group(1) == "cold index" else "an index update (no cold run this time)"  # fmt: skip
    rss_search = find(full, r"\| peak RSS: one `codefind search` process \| (\d+) MB", "rss")
    keystroke = re.sub(r" \(n=\d+\)", "", app_row("keystroke -> results (<= 50 rows)"))
    preview = re.sub(r" \(n=\d+\)", "", app_row("selection -> preview (~60 lines)"))
    rg_rows = table(rg, "project")
    ratio_key = next(k for k in rg_rows[0] if k.startswith("ratio"))
    cf_key = next(k for k in rg_rows[0] if k.startswith("`codefind search`"))
    rg_key = next(k for k in rg_rows[0] if k.startswith("`rg"))
    vs_rg = "; ".join(
        f"{r['project']}: {r[cf_key].split(' / ')[0]} ms vs {r[rg_key].split(' / ')[0]} ms, "
        f"**{r[ratio_key]}**"
        for r in rg_rows
    )
    served = _served(found)
    rt = "real-time priority" in app
    runs = []
    for name, text in (("bench_index_quick", quick), ("bench_index", full), ("vs-rg", rg), ("bench_app", app), ("bench_service", found["bench_service"]), ("cold-index", found["cold-index"])):  # fmt: skip
        date = find(text, r"(\d{4}-\d\d-\d\d) \d\d:\d\d UTC", f"{name} date").group(1)
        load = re.search(r"[Ll]oad average at start:? (\d+(?:\.\d+)?)", text)
        runs.append(f"`{name}` ({date}" + (f", load average {load.group(1)}" if load else "") + ")")
    out = [
        "| what | budget | measured |",
        "| --- | --- | --- |",
        f"| search in a running service (embed query + ANN + BM25 + fusion), {qk} chunks | p50 <= 10 ms, p95 <= 25 ms | hybrid {qp50} / {qp95} ms ({fk} chunks: {fp50} / {fp95} ms) |",
        f"| `codefind search` as a whole process, warm | <= 0.6 s | {int(process(quick)) / 1000:.2f} s p50 at {qk} chunks, {int(process(full)) / 1000:.2f} s at {fk} |",
        f"| `codefind search` against `rg -i -F` of the question's keyword, each a whole process, same tree (p50) | | {vs_rg} |",
        served,
        f"| `codefind` to first frame | <= 0.4 s | {app_row('first frame')} |",
        f"| keystroke to the first repaint (lexical hits) | p95 <= 50 ms | {keystroke} |",
        f"| keystroke to the semantic hits merged in | | {app_row('keystroke -> semantic hits merged')} |",
        f"| preview repaint on moving the selection | p95 <= 30 ms | {preview} |",
        f"| cold indexing, real tokens | >= 6,000 tokens/s | {cold.group(1)} tokens/s ({cold_when}) |",
        _cold_projects(found),
        f"| re-index with nothing changed, {int(files):,} files | <= 1 s | {nochange.group(1)} s (one file changed: {one.group(1)} s) |",
        f"| memory | <= 500 MB at 100k chunks | at {fk} chunks: {indexing} {rss_index.group(2)} MB, one search process {rss_search.group(1)} MB |",
    ]
    out += [
        "",
        f"From RESULTS.md sections {', '.join(runs)}: separate runs, each on a shared 2-core machine.",
    ]
    if rt:
        out[-1] += (
            " The app's figures (first frame, keystroke, preview) were measured at real-time "
            "priority (`chrt -f 10`), so that other jobs did not take its cores; at normal "
            "priority on a busy host they are higher."
        )
    if "real-time priority" in rg:
        out[-1] += " So was the comparison with rg."
    return "\n".join(out)


def _cold_projects(found: dict[str, str]) -> str:
    """The row for cold indexing of the relevance projects (bench_cold_index)."""
    text = found.get("cold-index", "")
    if not text:
        raise LayoutError("section 'cold-index' is missing")
    rows = table(text, "project")
    try:
        cells = "; ".join(f"{r['project']} {r['code searchable']} / {r['all done']}" for r in rows)
        rates = sorted(int(r["tokens/s"].replace(",", "")) for r in rows)
    except KeyError:
        raise LayoutError("cold-index: a column is missing") from None
    return (
        "| cold indexing of real projects: implementation code searchable / all done | | "
        f"{cells} ({rates[0]:,}-{rates[-1]:,} tokens/s) |"
    )


def _served(found: dict[str, str]) -> str:
    """The row for ``codefind search`` answered by ``codefind serve`` (bench_service)."""
    text = found.get("bench_service", "")
    if not text:
        raise LayoutError("section 'bench_service' is missing")
    rows = {r["command (whole process)"]: r for r in table(text, "command (whole process)")}
    try:
        rg = next(r for k, r in rows.items() if k.startswith("`rg"))
        service = rows["`codefind search` (service)"]
        local = rows["`codefind search` (in-process)"]
    except (KeyError, StopIteration):
        raise LayoutError("bench_service: a row is missing") from None
    ratio = float(service["p50 / rg"].rstrip("x"))
    verdict = "met" if ratio <= 5 else "**missed**"
    return (
        "| `codefind search` answered by `codefind serve` (flask, whole process) | about 0.1 s "
        f"(5x `rg`) | {verdict}: {service['p50']} p50, {service['p50 / rg']} `rg -i -F` "
        f"({rg['p50']}); in-process {local['p50']}, {local['p50 / rg']} |"
    )


def translation(found: dict[str, str]) -> str:
    """Chinese and Japanese against English on the relevance benchmark's report half."""
    out = [
        "| | mode | English R@5 / MRR@10 | before (first sense) | after (ranked senses) | gap before → after (R@5 / MRR@10) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for lang, modes in (("zh", ("hybrid", "semantic", "lexical")), ("ja", ("hybrid",))):
        section = f"translation-gap-{lang}"
        if section not in found:
            raise LayoutError(f"section {section!r} is missing")
        rows = {r["mode"]: r for r in table(found[section], "mode")}
        for i, mode in enumerate(modes):
            r = rows[mode]
            before = r["gap before (R@5 / MRR@10)"].replace("+", "")
            after = r["gap after (R@5 / MRR@10)"].replace("+", "")
            label = f"{lang}, {r['questions']} questions" if i == 0 else ""
            after = f"**{after}**" if lang == "zh" else after
            out.append(
                f"| {label} | {mode} | {r['en R@5 / MRR@10']} | {r['before R@5 / MRR@10']} "
                f"| {r['after R@5 / MRR@10']} | {before} → {after} |"
            )
    return "\n".join(out)


TABLES: dict[str, Callable[[dict[str, str]], str]] = {
    "quality": quality,
    "speed": speed,
    "translation": translation,
}


def render(readme: str, results: str) -> str:
    """``readme`` with every generated table rebuilt from ``results``."""
    found = sections(results)
    names = [m.group(2) for m in _GENERATED.finditer(readme)]
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise LayoutError(f"README.md has unknown generated tables: {unknown}")

    def rebuild(match: re.Match[str]) -> str:
        return f"{match.group(1)}{TABLES[match.group(2)](found)}\n{match.group(4)}"

    return _GENERATED.sub(rebuild, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether README agrees")
    args = parser.parse_args(argv)
    readme = README.read_text(encoding="utf-8")
    new = render(readme, RESULTS.read_text(encoding="utf-8"))
    if args.check:
        if new != readme:
            print("README.md's tables differ from RESULTS.md: run python benchmarks/readme_tables.py", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
