"""The BM25 index outside FTS5 (``store/lexicon.py``): the scores are FTS5's own, bit for bit,
through inserts, deletes and segment merges; damage is found; an index of many segments
answers as one of a single segment."""

from __future__ import annotations

import random
import sqlite3
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from codefind.chunking import chunk_file
from codefind.errors import IndexCorruptError
from codefind.lexical import query_tokens, tokens
from codefind.models import Chunk, SourceFile
from codefind.store.cache import text_hash
from codefind.store.lexicon import MERGE_FACTOR, TOKENIZER, _decode, _encode
from codefind.store.state import FileUpdate, StateDB

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ["textwrap", "shlex", "fnmatch", "glob", "csv", "gettext", "calendar", "netrc",
           "tabnanny", "pprint", "sched", "colorsys", "bisect", "heapq", "queue", "graphlib"]  # fmt: skip
QUERIES = [
    "wrap text into lines of a given width",
    "split a shell command line",
    "match file names against a pattern",
    "read rows from a csv file",
    "translate messages gettext catalog",
    "leap year calendar month",
    "priority queue heap push pop",
    "topological sort of a graph",
    "return the value",
    "self",
]


def update(name: str, version: int = 0, folder: str = "lib") -> FileUpdate:
    text = (STDLIB / f"{name}.py").read_text(encoding="utf-8")
    if version:
        text += f"\n\ndef added_in_version_{version}():\n    return 'changed {version}'\n"
    chunks: list[Chunk] = chunk_file(f"{folder}/{name}.py", text)
    return FileUpdate(
        SourceFile(f"{folder}/{name}.py", f"{name}-{version}", len(text)),
        [(c, text_hash(c.text)) for c in chunks],
    )


def fts5_reference(db: StateDB) -> sqlite3.Connection:
    """FTS5 over the same chunks, as codefind's state held it before (format 2)."""
    ref = sqlite3.connect(":memory:")
    ref.execute(
        f"CREATE VIRTUAL TABLE fts USING fts5(symbol, path, body, tokenize = '{TOKENIZER}')"
    )
    for stored in db.iter_chunks():
        c = stored.chunk
        ref.execute(
            "INSERT INTO fts (rowid, symbol, path, body) VALUES (?, ?, ?, ?)",
            (stored.id, " ".join(tokens(c.symbol)), " ".join(tokens(c.path)), " ".join(tokens(c.text))),
        )  # fmt: skip
    return ref


def fts5_search(ref: sqlite3.Connection, terms: list[str], limit: int) -> list[tuple[int, float]]:
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
    rows = ref.execute(
        "SELECT rowid, -bm25(fts, 4.0, 1.5, 1.0) AS score FROM fts WHERE fts MATCH ? "
        "ORDER BY score DESC, rowid",
        (match,),
    ).fetchall()
    if len(rows) > limit:
        last = rows[limit - 1][1]
        rows = [row for row in rows if row[1] >= last]
    return [(int(cid), float(score)) for cid, score in rows]


def assert_same_as_fts5(db: StateDB) -> None:
    ref = fts5_reference(db)
    for query in QUERIES:
        terms = db.informative_terms(query_tokens(query))
        assert terms, query
        mine = db.lexical_search(query_tokens(query), 20)
        assert mine == fts5_search(ref, terms, 20), query
        for term in terms:
            count = ref.execute(
                "SELECT COUNT(*) FROM fts WHERE fts MATCH ?", ('"' + term + '"',)
            ).fetchone()[0]
            assert db.document_frequencies([term]) == {term: count}
    ref.close()


def test_scores_equal_fts5_bit_for_bit_through_updates_and_merges(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    for name in MODULES:  # one transaction each: many small segments, merged as they come
        db.apply([update(name)], [])
    assert_same_as_fts5(db)
    rng = random.Random(7)
    for version in range(1, 4):  # files change and go: dead postings, then merges drop them
        changed = rng.sample(MODULES, 5)
        db.apply([update(name, version) for name in changed], [f"lib/{MODULES[version]}.py"])
        assert_same_as_fts5(db)
    segments = db._db.execute("SELECT COUNT(*) FROM lexicon_segments").fetchone()[0]
    assert segments < len(MODULES) + 3, "segments are merged"
    assert db.integrity_problem() is None
    db.close()


def test_many_segments_answer_like_one(tmp_path: Path) -> None:
    together = StateDB(tmp_path / "one.sqlite")
    together.apply([update(name) for name in MODULES], [])
    apart = StateDB(tmp_path / "many.sqlite")
    for name in MODULES:
        apart.apply([update(name)], [])
    assert apart._db.execute("SELECT COUNT(*) FROM lexicon_segments").fetchone()[0] > 1
    assert together._db.execute("SELECT COUNT(*) FROM lexicon_segments").fetchone()[0] == 1
    for query in QUERIES:
        found = [db.lexical_search(query_tokens(query), 20) for db in (together, apart)]
        places = [
            [(db.chunks([cid])[cid].chunk.path, db.chunks([cid])[cid].chunk.start_line, score)
             for cid, score in hits]
            for db, hits in zip((together, apart), found, strict=True)
        ]  # fmt: skip
        assert places[0] == places[1], query


def test_dead_postings_go_once_they_are_half_and_like_sizes_merge(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    for version in (1, 2, 3):  # the same file replaced: the third run finds 2/3 of it dead
        db.apply([update(MODULES[0], version)], [])
    rows = db._db.execute("SELECT segment, postings FROM lexicon_segments").fetchall()
    live = db._db.execute("SELECT SUM(terms) FROM lexicon_docs").fetchone()[0]
    assert len(rows) == 1 and rows[0][1] == live, "one segment, without the replaced chunks"
    assert db.lexical_search(["addedinversion3"], 5)
    assert not db.lexical_search(["addedinversion1"], 5)
    for copy in range(MERGE_FACTOR - 1):  # with the first, four segments of one size: merged
        db.apply([update(MODULES[0], folder=f"copy{copy}")], [])
    assert db._db.execute("SELECT COUNT(*) FROM lexicon_segments").fetchone()[0] == 1


def test_compact_drops_a_quarter_of_dead_postings_and_scores_stay_fts5s(tmp_path: Path) -> None:
    """At the end of a run, dead weight past a fifth is merged away (``maintain`` waits for
    a half): the scores do not move, and the freed pages leave the file."""
    db = StateDB(tmp_path / "state.sqlite")
    db.apply([update(name) for name in MODULES], [])
    replaced = MODULES[: len(MODULES) // 3]  # about a quarter of the postings die
    db.apply([update(name, 1) for name in replaced], [])
    (total,) = db._db.execute("SELECT SUM(postings) FROM lexicon_segments").fetchone()
    (live,) = db._db.execute("SELECT SUM(terms) FROM lexicon_docs").fetchone()
    assert 0.2 < 1 - live / total < 0.5, "between compact's bar and maintain's"
    assert db.compact()
    assert db._db.execute("SELECT SUM(postings) FROM lexicon_segments").fetchone() == (live,)
    assert db._db.execute("PRAGMA freelist_count").fetchone() == (0,)
    assert not db.compact(), "nothing dead is left"
    assert_same_as_fts5(db)
    db.close()


def test_compact_converts_a_file_made_before_auto_vacuum_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    sqlite3.connect(path).executescript("PRAGMA auto_vacuum=NONE; CREATE TABLE t (x);")
    db = StateDB(path)  # an existing file keeps its setting
    assert db._db.execute("PRAGMA auto_vacuum").fetchone() == (0,)
    db.apply([update(name) for name in MODULES], [])
    db.apply([update(name, 1) for name in MODULES[: len(MODULES) // 3]], [])
    assert db.compact()
    assert db._db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    assert db._db.execute("PRAGMA freelist_count").fetchone() == (0,)
    assert_same_as_fts5(db)
    db.close()


def test_damaged_postings_are_found(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    db.apply([update("textwrap")], [])
    db._db.execute("UPDATE lexicon SET weights = x'00' WHERE term = 'wrap'")
    problem = db.integrity_problem()
    assert problem and "damaged" in problem
    db.close()
    reader = StateDB(tmp_path / "state.sqlite", readonly=True)
    with pytest.raises(IndexCorruptError, match=r"lexical index .* is damaged"):
        reader.lexical_search(["wrap"], 5)


# --- postings rows: gaps and doubled weights in the narrowest width ---------------------------


@pytest.mark.parametrize(
    ("ids", "id_width"),
    [
        ([7], 1),  # a single posting
        ([255], 1),
        ([256], 2),
        ([3, 258], 1),  # a gap of 255
        ([3, 259], 2),  # 256
        ([1, 65536], 2),  # 65535
        ([1, 65537], 4),  # 65536
        ([2**32 - 1], 4),
        ([5, 2**32 + 5], 8),
        ([2**63 - 1], 8),  # the largest chunk id SQLite can give
    ],
)
def test_postings_ids_round_trip_in_the_narrowest_width(ids: list[int], id_width: int) -> None:
    weights = np.full(len(ids), 1.5)
    raw_ids, raw_weights = _encode(np.asarray(ids, dtype=np.int64), weights)
    assert raw_ids[0] & 0x0F == id_width and len(raw_ids) == 1 + id_width * len(ids)
    decoded_ids, decoded_weights = _decode(raw_ids, raw_weights)
    assert decoded_ids.dtype == np.int64 and decoded_ids.tolist() == ids
    assert decoded_weights.dtype == np.float64 and decoded_weights.tolist() == weights.tolist()


@pytest.mark.parametrize(
    ("weights", "weight_width"),
    [
        ([1.0, 0.5], 1),
        ([127.5], 1),  # doubled: 255
        ([128.0], 2),  # 256
        ([32767.5, 4.0], 2),  # 65535
        ([32768.0], 4),  # 65536
        ([4.0 * 10**6 + 1.5], 4),  # a name repeated a million times: more than float16 held
    ],
)
def test_postings_weights_round_trip_exactly(weights: list[float], weight_width: int) -> None:
    ids = np.arange(1, len(weights) + 1, dtype=np.int64)
    raw_ids, raw_weights = _encode(ids, np.asarray(weights))
    assert raw_ids[0] >> 4 == weight_width and len(raw_weights) == weight_width * len(weights)
    assert _decode(raw_ids, raw_weights)[1].tolist() == weights


def test_postings_refuse_what_they_cannot_hold_and_damaged_rows() -> None:
    with pytest.raises(ValueError, match="ascending"):
        _encode(np.asarray([5, 3]), np.asarray([1.0, 1.0]))
    with pytest.raises(ValueError, match="multiples of 1/2"):
        _encode(np.asarray([1]), np.asarray([0.25]))
    raw_ids, raw_weights = _encode(np.asarray([1, 300]), np.asarray([1.0, 2.5]))
    for bad_ids, bad_weights in [
        (b"", raw_weights),  # no widths
        (bytes([0x13]) + raw_ids[1:], raw_weights),  # no such width
        (raw_ids[:-1], raw_weights),  # cut in a value
        (raw_ids[:1], b""),  # no postings
        (raw_ids, raw_weights[:-1]),  # fewer weights than ids
    ]:
        with pytest.raises(ValueError):
            _decode(bad_ids, bad_weights)


def test_scores_equal_fts5_with_chunk_ids_far_apart_and_heavy_weights(tmp_path: Path) -> None:
    """Gaps over 255 and 65535 between a term's chunks, and weights over 127.5 (twice a
    weight no longer fits a byte), through the segments and merges of seven runs."""
    db = StateDB(tmp_path / "state.sqlite")
    db.apply([update("textwrap")], [])
    heavy = "def heavy_tokens():\n    " + " ".join(["wrap"] * 300 + ["width"] * 70) + "\n"
    for jump, name in [(300, "shlex"), (70_000, "fnmatch"), (200_000, "csv")]:
        db._db.execute("UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'chunks'", (jump,))
        db.apply([update(name)], [])
        db.apply([FileUpdate(SourceFile(f"heavy{jump}.py", "h", len(heavy)),
                             [(c, text_hash(c.text)) for c in chunk_file(f"heavy{jump}.py", heavy)])],
                 [])  # fmt: skip
    widths = {raw[0] & 0x0F for (raw,) in db._db.execute("SELECT ids FROM lexicon")}
    weight_widths = {raw[0] >> 4 for (raw,) in db._db.execute("SELECT ids FROM lexicon")}
    assert widths == {1, 2, 4} and weight_widths == {1, 2}
    ref = fts5_reference(db)
    for query in [*QUERIES[:4], "wrap width", "heavy tokens", "return the value", "self"]:
        terms = db.informative_terms(query_tokens(query))
        assert terms, query
        assert db.lexical_search(query_tokens(query), 20) == fts5_search(ref, terms, 20), query
    ref.close()
    assert db.integrity_problem() is None
