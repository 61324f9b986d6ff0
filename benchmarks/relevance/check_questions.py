"""Validate question files against the fetched projects (run after ``fetch.py``).

    python benchmarks/relevance/check_questions.py [NAME ...]

Checks the format, that every answer's file exists and its lines are inside the file, and
that a ``name``/``qualified`` answer's line contains the name. Prints problems; exit 1 if any.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from benchmarks.relevance.fetch import projects, repo_path

KINDS = {"name", "qualified", "nl", "nl_test", "nl_docs"}
FIELDS = {"id", "project", "kind", "query", "query_zh", "query_ja", "keyword", "answers", "why"}


def check(name: str) -> list[str]:
    """Problems found in ``questions/NAME.jsonl``."""
    path = HERE / "questions" / f"{name}.jsonl"
    repo = repo_path(next(p for p in projects() if p.name == name))
    problems: list[str] = []
    ids: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            q = json.loads(line)
        except ValueError as exc:
            problems.append(f"{where}: not JSON ({exc})")
            continue
        missing = FIELDS - set(q)
        extra = set(q) - FIELDS - {"split"}
        if missing or extra:
            problems.append(f"{where}: missing {sorted(missing)}, unknown {sorted(extra)}")
            continue
        if q["id"] in ids:
            problems.append(f"{where}: duplicate id {q['id']}")
        ids.add(q["id"])
        if q["project"] != name or q["kind"] not in KINDS:
            problems.append(f"{where}: bad project or kind")
        named = q["kind"] in ("name", "qualified")
        if named and (q["query_zh"] or q["query_ja"]):
            problems.append(f"{where}: name questions have no translations")
        if not named and not q["query_zh"]:
            problems.append(f"{where}: query_zh is missing")
        if not q["answers"]:
            problems.append(f"{where}: no answers")
        for answer in q["answers"]:
            file = repo / answer["path"]
            if not file.is_file():
                problems.append(f"{where}: no file {answer['path']}")
                continue
            lines = file.read_text(encoding="utf-8", errors="replace").split("\n")
            start, end = answer["start"], answer["end"]
            if not (1 <= start <= end <= len(lines)):
                problems.append(f"{where}: lines {start}-{end} outside {answer['path']}")
                continue
            if named:
                last = re.split(r"\.|::|#", q["query"])[-1]
                if start != end or last not in lines[start - 1]:
                    problems.append(
                        f"{where}: line {start} of {answer['path']} does not define {last!r}"
                    )
    return problems


def main(argv: list[str]) -> int:
    names = argv or [
        p.name for p in projects() if (HERE / "questions" / f"{p.name}.jsonl").exists()
    ]
    problems = [problem for name in names for problem in check(name)]
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems in {', '.join(names)}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
