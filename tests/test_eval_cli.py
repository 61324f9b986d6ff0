"""``codefind eval`` end to end: a public set, a mined repository, and the output files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cliutil import codefind
from tests.gitutil import make_repo

SMALL_SET = Path(__file__).resolve().parent / "data" / "humanevalxl_python_en"
"""A public set kept in the repository (tests/data/README.md), so this test always runs."""


def write_set(folder: Path) -> tuple[Path, Path]:
    """A tiny evaluation set of real functions with hand-written queries."""
    corpus = [
        {"id": "c1", "code": "def add(a, b):\n    return a + b\n", "language": "python"},
        {
            "id": "c2",
            "code": "def read_lines(path):\n    with open(path) as f:\n        return f.read().splitlines()\n",
            "language": "python",
        },
        {
            "id": "c3",
            "code": "def is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n",
            "language": "python",
        },
        {
            "id": "c4",
            "code": "function reverse(s) {\n  return s.split('').reverse().join('');\n}\n",
            "language": "javascript",
        },
    ]
    queries = [
        {"id": "q1", "query": "sum of two numbers", "relevant": ["c1"], "nl": "en"},
        {
            "id": "q2",
            "query": "read a text file into a list of lines",
            "relevant": ["c2"],
            "nl": "en",
        },
        {
            "id": "q3",
            "query": "check whether a number is prime",
            "relevant": ["c3", "c1"],
            "nl": "en",
        },
        {"id": "q4", "query": "reverse a string", "relevant": ["c4"], "nl": "en"},
    ]
    folder.mkdir(parents=True)
    c, q = folder / "corpus.jsonl", folder / "queries.jsonl"
    c.write_text("".join(json.dumps(r) + "\n" for r in corpus))
    q.write_text("".join(json.dumps(r) + "\n" for r in queries))
    return c, q


def test_eval_json_on_a_small_set(tmp_path: Path) -> None:
    corpus, queries = write_set(tmp_path / "tiny")
    out = tmp_path / "ranks.jsonl"
    result = codefind(
        "eval",
        "--corpus",
        str(corpus),
        "--queries",
        str(queries),
        "--json",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = {"queries", "corpus", "recall@1", "recall@5", "recall@10", "mrr@10", "query_ms_p50", "query_ms_p95",
                "index_seconds", "backend", "model", "dim", "mode", "rerank"}  # fmt: skip
    assert set(report) == expected
    assert (report["queries"], report["corpus"], report["mode"], report["dim"]) == (
        4,
        4,
        "hybrid",
        384,
    )
    assert report["recall@5"] == 1.0, "four snippets: every answer is in the top 5"
    assert (
        0.5 <= report["mrr@10"] <= 1.0
        and report["recall@1"] <= report["recall@5"] <= report["recall@10"]
    )
    assert 0 < report["query_ms_p50"] <= report["query_ms_p95"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4"]
    assert all(r["rank"] is not None and r["top"] for r in rows)
    mrr = sum(1 / r["rank"] for r in rows if r["rank"] <= 10) / 4
    assert abs(mrr - report["mrr@10"]) < 1e-3, "the summary agrees with the per-query ranks"

    again = json.loads(
        codefind(
            "eval",
            "--corpus",
            str(corpus),
            "--queries",
            str(queries),
            "--json",
            "--mode",
            "lexical",
            cwd=tmp_path,
        ).stdout
    )
    assert again["mode"] == "lexical" and again["index_seconds"] < report["index_seconds"] + 5


def test_eval_readable_table_and_limit(tmp_path: Path) -> None:
    corpus, queries = write_set(tmp_path / "tiny")
    result = codefind(
        "eval", "--corpus", str(corpus), "--queries", str(queries), "--limit", "2", cwd=tmp_path
    )
    assert result.returncode == 0
    assert "recall@5" in result.stdout and "MRR@10" in result.stdout and "2 / 4" in result.stdout


def test_eval_on_a_public_set(tmp_path: Path) -> None:
    result = codefind(
        "eval",
        "--corpus",
        str(SMALL_SET / "corpus.jsonl"),
        "--queries",
        str(SMALL_SET / "queries.jsonl"),
        "--json",
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    assert report["queries"] == 80 and report["corpus"] == 80
    assert report["recall@5"] >= 0.9, "HumanEval-XL English is easy for any embedder"


def test_eval_on_a_mined_repository(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "repo",
        {
            "geometry.py": 'def circle_area(radius):\n    """Compute the area of a circle from its radius."""\n    squared = radius * radius\n    return 3.14159 * squared\n\n\n'
            'def distance(a, b):\n    """Return the Euclidean distance between two points."""\n    dx = a[0] - b[0]\n    dy = a[1] - b[1]\n    return (dx * dx + dy * dy) ** 0.5\n',
            "strings.go": "package strs\n\n// Reverse returns the string with its characters in reverse order.\nfunc Reverse(s string) string {\n\tr := []rune(s)\n\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n\t\tr[i], r[j] = r[j], r[i]\n\t}\n\treturn string(r)\n}\n",
            "util.js": "/**\n * Remove duplicate values from an array, keeping the first of each.\n */\nfunction unique(items) {\n  const seen = new Set();\n  return items.filter((x) => !seen.has(x) && seen.add(x));\n}\n",
        },
    )
    out = tmp_path / "mined.jsonl"
    result = codefind("eval", "--repo", str(repo), "--json", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["queries"] == 4 and report["corpus"] == 4
    queries = {json.loads(line)["query"] for line in out.read_text().splitlines()}
    assert "Compute the area of a circle from its radius" in queries
    assert any(q.startswith("returns the string") or "reverse order" in q for q in queries)
    assert report["recall@5"] == 1.0

    bare = make_repo(tmp_path / "bare", {"a.py": "x = 1\n"})
    nothing = codefind("eval", "--repo", str(bare), cwd=tmp_path)
    assert nothing.returncode == 2 and "No documented functions" in nothing.stderr
