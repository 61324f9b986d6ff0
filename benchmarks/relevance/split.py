"""Assign every question to the tune half or the report half, once (``split`` field).

    python benchmarks/relevance/split.py

Run once, after the questions were written and before anything was tuned on them; it never
moves a question that already has a split. Within each (project, kind) the questions are
ordered by a hash of their id and alternate between the halves, so both halves have every
project and every kind in the same proportions. Weights, priors and thresholds are chosen on
``tune``; published figures come from ``report``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SALT = "codefind-relevance-2026-12"


def main() -> int:
    for path in sorted((HERE / "questions").glob("*.jsonl")):
        questions = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        groups: dict[str, list[dict[str, object]]] = defaultdict(list)
        for q in questions:
            if "split" not in q:
                groups[str(q["kind"])].append(q)
        for kind_questions in groups.values():
            kind_questions.sort(
                key=lambda q: hashlib.sha256(f"{SALT}:{q['id']}".encode()).hexdigest()
            )
            for i, q in enumerate(kind_questions):
                q["split"] = "tune" if i % 2 == 0 else "report"
        path.write_text(
            "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8"
        )
        counts = defaultdict(int)
        for q in questions:
            counts[q["split"]] += 1
        print(f"{path.name}: {dict(counts)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
