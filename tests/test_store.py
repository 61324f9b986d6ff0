"""The store's three parts on real files: state (SQLite+FTS5), vectors (USearch), cache."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from codefind.errors import IndexFormatError, IndexLockedError, IndexStoreError
from codefind.lexical import query_tokens
from codefind.models import Chunk, SourceFile
from codefind.store import (
    EmbeddingCache,
    FileUpdate,
    IndexLocation,
    StateDB,
    Store,
    VectorIndex,
    VectorWriter,
    lock_holder,
    open_vector_index,
    text_hash,
    write_lock,
)
from codefind.store.quantize import dequantize, quantize


def hashes_of(first: int, end: int) -> list[bytes]:
    """Text hashes for the keys ``first`` to ``end - 1`` (a vector file names each one's)."""
    return [text_hash(f"text {key}") for key in range(first, end)]


def chunk(path: str, symbol: str, text: str, start: int = 1) -> Chunk:
    return Chunk(path, "python", start, start + text.count("\n"), symbol, "function", text)


def update(path: str, *chunks: Chunk, content_id: str = "c1") -> FileUpdate:
    return FileUpdate(SourceFile(path, content_id, 10), [(c, text_hash(c.text)) for c in chunks])


def unit(rows: int, dim: int, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    unit_rows: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return unit_rows


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """What the cache and the vector index give back of these vectors (int8, as unit rows)."""
    return dequantize(quantize(vectors))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row cosine similarity."""
    found: np.ndarray = np.sum(a * b, axis=-1) / (
        np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    )
    return found


# --- state ----------------------------------------------------------------------------------


def test_state_replaces_chunks_and_bumps_generation(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    assert db.generation == 0
    ids, dropped = db.apply(
        [update("a.py", chunk("a.py", "load_config", "def load_config(): pass"))], []
    )
    assert len(ids) == 1 and dropped == 0 and db.generation == 1
    new_ids, dropped = db.apply(
        [update("a.py", chunk("a.py", "save", "def save(): pass"), content_id="c2")], []
    )
    assert dropped == 1 and db.generation == 2
    assert new_ids[0] > ids[0], "chunk ids are never reused"
    assert db.counts() == (1, 1)
    _, dropped = db.apply([], ["a.py"])
    assert dropped == 1 and db.counts() == (0, 0)
    assert db.generation == 3


def test_state_records_skipped_files_without_chunks(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    db.apply([FileUpdate(SourceFile("logo.png", "x", 5), skip="binary")], [])
    assert db.skip_counts() == {"binary": 1}
    assert db.counts() == (0, 0)
    assert db.files()["logo.png"].skip == "binary"


def test_lexical_search_matches_split_identifiers_and_weights_names(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    db.apply(
        [
            update(
                "net.py",
                chunk("net.py", "parseHTTPResponse", "def parseHTTPResponse(raw):\n    return raw"),
            ),
            update(
                "util.py",
                chunk(
                    "util.py", "helper", "def helper():\n    # parse the response of http\n    pass"
                ),
            ),
            update("other.py", chunk("other.py", "unrelated", "def unrelated():\n    return 42")),
        ],
        [],
    )
    found = db.lexical_search(query_tokens("parse http response"), 10)
    paths = [db.chunks([cid])[cid].chunk.path for cid, _ in found]
    assert paths == ["net.py", "util.py"], "the name match ranks first; unrelated code is absent"
    assert all(score > 0 for _, score in found)
    only_util = db.chunk_ids_where(["util.py"], None)
    assert [
        cid for cid, _ in db.lexical_search(query_tokens("parse http"), 10, only_util)
    ] == only_util


def test_lexical_search_leaves_out_tokens_that_are_everywhere(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    files = [
        update(f"m{i}.py", chunk(f"m{i}.py", f"f{i}", f"def f{i}(value):\n    return value + {i}"))
        for i in range(300)
    ]
    files.append(
        update("z.py", chunk("z.py", "scale", "def scale(value):\n    return value * ratio"))
    )
    db.apply(files, [])
    assert db.informative_terms(["value", "ratio", "nowhere"]) == ["ratio"]
    found = db.lexical_search(["value", "ratio"], 10)
    assert [db.chunks([cid])[cid].chunk.path for cid, _ in found] == ["z.py"]
    # Only common tokens: the rarest ones are still searched, so the query finds something.
    assert db.informative_terms(["return", "value"]) == ["return", "value"]
    assert len(db.lexical_search(["value"], 10)) >= 10
    # The cached frequencies follow the index: once "ratio" is everywhere, it is common too.
    db.apply([update(f"r{i}.py", chunk(f"r{i}.py", "g", "ratio = value")) for i in range(300)], [])
    assert db.informative_terms(["ratio", "scale"]) == ["scale"]


def test_lexical_search_keeps_every_chunk_that_ties_at_the_cut(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.sqlite")
    same = "def walk(tree):\n    return tree"
    db.apply([update(f"{name}.py", chunk(f"{name}.py", "walk", same)) for name in "abcde"], [])
    db.apply(
        [update("best.py", chunk("best.py", "walk_tree", "def walk_tree(tree): walk(tree)"))], []
    )
    found = db.lexical_search(["walk", "tree"], 2)
    paths = [db.chunks([cid])[cid].chunk.path for cid, _ in found]
    assert paths[0] == "best.py" and sorted(paths[1:]) == [f"{n}.py" for n in "abcde"]
    assert len({score for _, score in found[1:]}) == 1


def test_lexical_search_reads_every_token_literally(tmp_path: Path) -> None:
    """Tokens that are FTS5 syntax when bare (operators, a call of NEAR, a column filter)
    find the chunks holding those words: each token is quoted, never parsed as a query."""
    db = StateDB(tmp_path / "state.sqlite")
    gate = "def gate(): pass  # keep NEAR the AND gate, OR else NOT: body(x)"
    db.apply(
        [
            update("gate.py", chunk("gate.py", "gate", gate)),
            update("other.py", chunk("other.py", "f", "def f(): return 1")),
        ],
        [],
    )
    gate_id = next(cid for cid, s in db.chunks(range(1, 10)).items() if s.chunk.path == "gate.py")
    for odd in ["AND", "OR", "NOT", "NEAR", "near(", "body:", "gate)", '"gate"', "gate^"]:
        found = db.lexical_search([odd], 5)
        assert [cid for cid, _ in found] == [gate_id], odd
    for nothing in ['"', "*", "💥", "(", ""]:
        assert db.lexical_search([nothing], 5) == [], nothing
    assert db.lexical_search(query_tokens("AND OR NOT gate"), 5)[0][0] == gate_id


def test_state_from_a_newer_format_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    db = StateDB(path)
    db._db.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    db._db.commit()
    db.close()
    with pytest.raises(IndexFormatError) as info:
        StateDB(path)
    assert info.value.newer and "Upgrade codefind" in info.value.message


def test_damaged_state_is_rebuilt_by_a_writer(tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index", tmp_path / "cache")
    location.index_dir.mkdir()
    (location.index_dir / "state.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexStoreError):
        Store.open(location)
    notes: list[str] = []
    store = Store.open_for_writing(location, notes)
    assert store.state.counts() == (0, 0)
    assert notes and "damaged" in notes[0]


# --- vectors --------------------------------------------------------------------------------


def test_vector_index_round_trip_and_incremental_update(tmp_path: Path) -> None:
    vectors = unit(50, 32)
    writer = VectorWriter(tmp_path, "m", 32, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 51, dtype=np.uint64), vectors, hashes_of(1, 51))
    manifest = writer.save(generation=7)
    assert manifest.count == 50 and manifest.dtype == "i8"
    index = open_vector_index(tmp_path, "m", 32, verify=True)
    keys, sims = index.search(vectors[9], 3)
    assert keys[0] == 10 and sims[0] == pytest.approx(1.0, abs=2e-3)
    assert index.generation == 7

    writer = VectorWriter(tmp_path, "m", 32, index, state_id="s")
    writer.remove(np.array([10], dtype=np.uint64))
    writer.save(generation=8)
    updated = open_vector_index(tmp_path, "m", 32)
    assert updated.count == 49 and 10 not in updated.keys().tolist()
    assert index.search(vectors[9], 1)[0][0] == 10, "an old reader keeps its view"
    files = sorted(p.name for p in (tmp_path / "vectors").iterdir())
    assert files == ["m-32.2.hashes", "m-32.2.usearch", "m-32.json"], "older files are removed"


def test_a_large_index_searches_its_graph_deep_enough_to_find_the_true_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``EXACT_SEARCH_LIMIT`` search walks the HNSW graph. At USearch's default depth
    (64 candidates) it missed about a third of the true top 10 of these random vectors (and
    9% on real code at 21.6k chunks): hits silently lost. The depth codefind sets keeps them.
    A small index's sparse graph (never walked) is rebuilt when the index grows past the limit;
    with the sparse one, recall here was 0.29."""
    import codefind.store.vectors as vectors_module

    monkeypatch.setattr(vectors_module, "EXACT_SEARCH_LIMIT", 1000 * 384)
    vectors = unit(3000, 384)
    writer = VectorWriter(tmp_path, "m", 384, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 801, dtype=np.uint64), vectors[:800], hashes_of(1, 801))
    writer.save(generation=1)
    small = open_vector_index(tmp_path, "m", 384)
    assert small.connectivity == vectors_module.SMALL_CONNECTIVITY  # never walked
    writer.add(np.arange(801, 3001, dtype=np.uint64), vectors[800:], hashes_of(801, 3001))
    writer.save(generation=2)  # past the limit: the graph is rebuilt to be walked
    index = open_vector_index(tmp_path, "m", 384)
    assert index.connectivity == vectors_module.FULL_CONNECTIVITY
    assert index.text_hashes() == dict(zip(range(1, 3001), hashes_of(1, 3001), strict=True))
    told = VectorWriter(
        tmp_path / "b", "m", 384, VectorIndex(None, None), state_id="s", expected=3000
    )
    told.add(np.arange(1, 11, dtype=np.uint64), vectors[:10], hashes_of(1, 11))
    told.save(generation=1)  # small for now, but told what is coming: built full from the start
    assert open_vector_index(tmp_path / "b", "m", 384).connectivity == 16
    queries = unit(40, 384, seed=1)
    exact = [set((np.argsort(-(vectors @ q))[:10] + 1).tolist()) for q in queries]
    graph = [set(index.search(q, 10)[0].tolist()) for q in queries]
    recall = np.mean([len(e & g) / 10 for e, g in zip(exact, graph, strict=True)])
    assert recall >= 0.95


def test_vectors_for_keys_returns_only_present_ones(tmp_path: Path) -> None:
    writer = VectorWriter(tmp_path, "m", 16, VectorIndex(None, None), state_id="s")
    matrix = unit(5, 16)
    writer.add(np.arange(1, 6, dtype=np.uint64), matrix, hashes_of(1, 6))
    writer.save(generation=1)
    keys, rows = open_vector_index(tmp_path, "m", 16).vectors([2, 4, 99])
    assert keys.tolist() == [2, 4]
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6), "unit rows"
    assert (cosines(rows, matrix[[1, 3]]) > 0.999).all()


def test_int8_vectors_keep_their_direction_through_the_cache_and_the_index(
    tmp_path: Path,
) -> None:
    """A vector goes from the model to the cache and from the cache to the index as int8;
    what comes back (and what the query is compared with) is within 0.001 of the cosine."""
    vectors = unit(200, 384, seed=3)
    keys = [text_hash(f"t{i}") for i in range(200)]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    cache.put_many("m", dict(zip(keys, vectors, strict=True)))
    cached = np.vstack([cache.get_many("m", keys)[k] for k in keys])
    assert (cosines(cached, vectors) > 0.999).all()
    writer = VectorWriter(tmp_path, "m", 384, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 201, dtype=np.uint64), cached, hashes_of(1, 201))
    writer.save(generation=1)
    index = open_vector_index(tmp_path, "m", 384, verify=True)
    ids, rows = index.vectors(np.arange(1, 201, dtype=np.uint64))
    assert ids.tolist() == list(range(1, 201))
    assert np.array_equal(quantize(rows), quantize(cached)), "the index holds the cache's rows"
    assert (cosines(rows, vectors) > 0.999).all()
    query = vectors[41] + 0.5 * unit(1, 384, seed=4)[0]
    query /= np.linalg.norm(query)
    found, sims = index.search(query, 10)
    exact = vectors @ query
    assert found[0] == 42 and sims[0] > 0.8
    assert np.allclose(sims, exact[found.astype(np.int64) - 1], atol=1e-3), "the query is int8 too"


def test_a_matryoshka_dimension_comes_from_an_int8_cache_row(tmp_path: Path) -> None:
    from codefind.embeddings.base import truncate

    vectors = unit(50, 1024, seed=5)
    keys = [text_hash(f"t{i}") for i in range(50)]
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    cache.put_many("m", dict(zip(keys, vectors, strict=True)))
    cached = np.vstack([cache.get_many("m", keys)[k] for k in keys])
    for dim in (64, 256):
        small = truncate(cached, dim)
        assert np.allclose(np.linalg.norm(small, axis=1), 1.0, atol=1e-6)
        assert (cosines(small, truncate(vectors, dim)) > 0.999).all(), dim
        writer = VectorWriter(tmp_path, "m", dim, VectorIndex(None, None), state_id="s")
        writer.add(np.arange(1, 51, dtype=np.uint64), small, hashes_of(1, 51))
        writer.save(generation=1)
        _, rows = open_vector_index(tmp_path, "m", dim).vectors(np.arange(1, 51, dtype=np.uint64))
        assert (cosines(rows, truncate(vectors, dim)) > 0.999).all(), dim


def test_usearch_casts_float32_to_int8_too_coarsely_for_codefind_to_let_it(
    tmp_path: Path,
) -> None:
    """docs/API_NOTES.md: USearch's own cast is trunc(127 * x / |x|), a few levels per
    component of a 384-dimension unit vector; codefind hands it int8 rows it quantized."""
    from usearch.index import Index

    vectors = unit(20, 384, seed=6)
    index = Index(ndim=384, metric="cos", dtype="i8")
    index.add(np.arange(20, dtype=np.uint64), vectors)
    got = index.get(np.arange(20, dtype=np.uint64), dtype="i8")
    assert isinstance(got, tuple)
    cast = np.vstack([np.asarray(row) for row in got])
    assert np.array_equal(cast, np.trunc(127 * vectors).astype(np.int8))
    assert cosines(cast.astype(np.float32), vectors).mean() < 0.999
    assert cosines(as_stored(vectors), vectors).min() > 0.9999


def test_missing_vector_index_is_empty(tmp_path: Path) -> None:
    index = open_vector_index(tmp_path, "m", 8)
    assert index.count == 0 and index.generation == -1
    assert index.search(unit(1, 8)[0], 5)[0].size == 0


@pytest.mark.parametrize("damage", ["truncate", "flip", "zero"])
def test_damaged_vector_file_is_detected(tmp_path: Path, damage: str) -> None:
    writer = VectorWriter(tmp_path, "m", 16, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 41, dtype=np.uint64), unit(40, 16), hashes_of(1, 41))
    manifest = writer.save(generation=1)
    data = tmp_path / "vectors" / manifest.file
    raw = bytearray(data.read_bytes())
    if damage == "truncate":
        data.write_bytes(raw[: len(raw) // 2])
    elif damage == "zero":
        data.write_bytes(b"")
    else:
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    with pytest.raises(IndexStoreError):
        open_vector_index(tmp_path, "m", 16, verify=True)


def test_manifest_of_another_model_is_refused(tmp_path: Path) -> None:
    writer = VectorWriter(tmp_path, "model-a", 16, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 3, dtype=np.uint64), unit(2, 16), hashes_of(1, 3))
    writer.save(generation=1)
    manifest = next((tmp_path / "vectors").glob("*.json"))
    manifest.write_text(manifest.read_text().replace('"model-a"', '"model-b"'))
    with pytest.raises(IndexStoreError, match="another model"):
        open_vector_index(tmp_path, "model-a", 16)


# --- cache ----------------------------------------------------------------------------------


def test_cache_is_keyed_by_model_and_text(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    a, b = text_hash("def a(): pass"), text_hash("def b(): pass")
    vec = unit(1, 8)[0]
    cache.put_many("m1", {a: vec})
    assert set(cache.get_many("m1", [a, b])) == {a}
    assert cache.get_many("m2", [a]) == {}
    assert cache.missing("m1", [b, a, b]) == [b]
    assert np.array_equal(cache.get_many("m1", [a])[a], as_stored(vec))
    reopened = EmbeddingCache(tmp_path / "cache.sqlite")
    assert reopened.count("m1") == 1


def test_cache_in_the_first_layout_is_moved_over_and_shrinks(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "cache.sqlite"
    vectors = unit(400, 384)
    keys = [text_hash(f"def f{i}(): pass") for i in range(400)]
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE vectors (model TEXT NOT NULL, text_hash BLOB NOT NULL, dim INTEGER NOT NULL,"
        " vector BLOB NOT NULL, PRIMARY KEY (model, text_hash)) WITHOUT ROWID"
    )
    old.executemany(
        "INSERT INTO vectors VALUES ('m', ?, 384, ?)",
        [(k, v.astype(np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)],
    )
    old.commit()
    old.close()
    old_size = path.stat().st_size
    cache = EmbeddingCache(path)
    found = cache.get_many("m", keys)
    assert len(found) == 400
    assert np.array_equal(found[keys[7]], as_stored(vectors[7]))
    cache.close()
    size = path.stat().st_size
    assert size < 600 * 400 < 4 * 600 * 400 < old_size, (old_size, size)
    assert EmbeddingCache(path).count("m") == 400, "opening again changes nothing"


@pytest.mark.parametrize(
    ("older", "layout", "shrinks_to"),
    [(np.float32, 0, 0.35), (np.float16, 1, 0.6)],  # as codefind wrote them, and their layout
)
def test_a_float_cache_becomes_int8_on_open_and_bad_rows_stay_bad(
    tmp_path: Path, older: type[np.floating], layout: int, shrinks_to: float
) -> None:
    import sqlite3
    import zlib

    path = tmp_path / "cache.sqlite"
    vectors = unit(400, 384).astype(older)
    keys = [text_hash(f"def f{i}(): pass") for i in range(400)]
    EmbeddingCache(path).close()  # today's layout, then rows as an older codefind wrote them
    old = sqlite3.connect(path)
    old.execute(f"PRAGMA user_version = {layout}")
    rows = []
    for key, vec in zip(keys, vectors, strict=True):
        blob = vec.tobytes()
        rows.append((key, blob, zlib.crc32(blob, zlib.crc32(key, zlib.crc32(b"m")))))
    rows[5] = (rows[5][0], rows[5][1], rows[5][2] ^ 1)  # its checksum fails: a rotten row
    old.executemany("INSERT INTO embeddings (model, text_hash, dim, vector, crc) "
                    "VALUES ('m', ?, 384, ?, ?)", rows)  # fmt: skip
    old.commit()
    old.close()
    old_size = path.stat().st_size

    cache = EmbeddingCache(path)
    found = cache.get_many("m", keys)
    cache.close()
    assert len(found) == 399 and keys[5] not in found, "the rotten row is still rejected"
    for i in (0, 7, 399):
        assert np.array_equal(found[keys[i]], as_stored(vectors[i]))
    assert (cosines(np.vstack([found[k] for k in keys if k in found]), np.delete(vectors, 5, 0))
            > 0.999).all()  # fmt: skip
    db = sqlite3.connect(path)
    widths = dict(db.execute("SELECT length(vector), COUNT(*) FROM embeddings GROUP BY 1"))
    db.close()
    assert widths == {384: 399, np.dtype(older).itemsize * 384: 1}
    assert path.stat().st_size < shrinks_to * old_size, (old_size, path.stat().st_size)
    again = EmbeddingCache(path)
    assert again.count("m") == 400 and len(again.get_many("m", keys)) == 399


def test_a_float16_row_written_by_an_older_codefind_after_the_conversion_is_read(
    tmp_path: Path,
) -> None:
    """Worktrees share the cache, and one of them may still run an older codefind."""
    import sqlite3
    import zlib

    path = tmp_path / "cache.sqlite"
    EmbeddingCache(path).close()
    key, vec = text_hash("def f(): pass"), unit(1, 384)[0]
    blob = vec.astype(np.float16).tobytes()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO embeddings (model, text_hash, dim, vector, crc) VALUES ('m', ?, 384, ?, ?)",
        (key, blob, zlib.crc32(blob, zlib.crc32(key, zlib.crc32(b"m")))),
    )
    db.commit()
    db.close()
    found = EmbeddingCache(path).get_many("m", [key])
    assert np.array_equal(found[key], vec.astype(np.float16).astype(np.float32))


def test_the_cache_returns_what_it_stored_and_the_indexer_uses_that(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    keys = [text_hash("a"), text_hash("b")]
    vectors = unit(2, 384).astype(np.float32)
    stored = cache.put_many("m", dict(zip(keys, vectors, strict=True)))
    read = cache.get_many("m", keys)
    for key in keys:
        assert stored[key].dtype == np.float32 and np.array_equal(stored[key], read[key])
        assert not np.array_equal(stored[key], vectors[keys.index(key)]), "quantized"
        assert float(cosines(stored[key], vectors[keys.index(key)])) > 0.999


def test_the_hashes_file_names_each_keys_text_and_damage_to_it_is_found(tmp_path: Path) -> None:
    """Writers read which text each vector is for from ``.hashes`` (and check it); search
    never reads it, so a damaged one costs a writer a rebuild and a reader nothing."""
    from codefind.errors import IndexCorruptError

    writer = VectorWriter(tmp_path, "m", 16, VectorIndex(None, None), state_id="s")
    keys = np.asarray([3, 4, 5, 90, 1_000_000], dtype=np.uint64)  # gaps large and small
    digests = [text_hash(f"text {k}") for k in keys.tolist()]
    writer.add(keys, unit(5, 16), digests)
    writer.save(generation=1)
    index = open_vector_index(tmp_path, "m", 16, verify=True)
    assert index.text_hashes() == dict(zip(keys.tolist(), digests, strict=True))
    assert index.keys_by_hash()[digests[3]] == 90
    hashes = next((tmp_path / "vectors").glob("*.hashes"))
    raw = bytearray(hashes.read_bytes())
    raw[-3] ^= 0x01
    hashes.write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptError, match="truncated or damaged"):
        open_vector_index(tmp_path, "m", 16, verify=True)
    assert open_vector_index(tmp_path, "m", 16).search(unit(5, 16)[0], 1)[0].tolist() == [3]


def test_a_reader_that_read_an_old_manifest_follows_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codefind.store import vectors as vector_module

    writer = VectorWriter(tmp_path, "m", 16, VectorIndex(None, None), state_id="s")
    writer.add(np.arange(1, 6, dtype=np.uint64), unit(5, 16), hashes_of(1, 6))
    stale = writer.save(generation=1)
    writer.add(np.arange(6, 9, dtype=np.uint64), unit(3, 16), hashes_of(6, 9))
    writer.save(generation=2)
    assert not (tmp_path / "vectors" / stale.file).exists(), "the writer removed it at once"
    real = vector_module.read_manifest
    answers = iter([stale])  # the manifest as read just before the writer replaced it

    def racing(folder: Path, model_id: str, dim: int) -> object:
        return next(answers, None) or real(folder, model_id, dim)

    monkeypatch.setattr(vector_module, "read_manifest", racing)
    index = vector_module.open_vector_index(tmp_path, "m", 16)
    assert index.count == 8 and index.generation == 2


# --- lock -----------------------------------------------------------------------------------


def _hold_lock(folder: str, seconds: float) -> None:
    with write_lock(Path(folder)):
        time.sleep(seconds)


def test_second_writer_is_refused_and_a_dead_holder_releases(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), 30.0))
    holder.start()
    try:
        deadline = time.monotonic() + 20
        # -1 for an instant: the holder has the lock and has not written its pid yet.
        while lock_holder(tmp_path) in (None, -1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_holder(tmp_path) == holder.pid
        with pytest.raises(IndexLockedError, match=f"process {holder.pid}"), write_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.join()
    with write_lock(tmp_path):  # the kernel released the dead process's lock
        assert lock_holder(tmp_path) == os.getpid()


# --- the lexical index: deletes, and no second copy of the text ----------------------------------


def test_deleted_chunks_leave_the_lexical_index_and_it_stays_sound(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "state.sqlite"
    db = StateDB(path)
    db.apply(
        [
            update("a.py", chunk("a.py", "parse_header", "def parse_header(raw): split lines")),
            update("b.py", chunk("b.py", "render", "def render(page): template html")),
        ],
        [],
    )
    assert db.lexical_search(["header"], 5) != []
    db.apply([update("a.py", chunk("a.py", "emit", "def emit(event): send"), content_id="c2")], [])
    db.apply([], ["b.py"])
    assert db.lexical_search(["header"], 5) == [] and db.lexical_search(["html"], 5) == []
    assert db.document_frequencies(["header", "html", "emit"]) == {
        "header": 0,
        "html": 0,
        "emit": 1,
    }
    [(cid, _)] = db.lexical_search(["event"], 5)
    assert db.chunks([cid])[cid].chunk.symbol == "emit"
    assert db.integrity_problem() is None
    db.close()
    raw = sqlite3.connect(path)
    tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    raw.close()
    assert not any(name.startswith("chunks_fts") for name in tables), "no FTS5 copy of the text"


def test_a_state_made_by_another_tokenizer_is_refused_to_writers_only(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    db = StateDB(path)
    db._db.execute("UPDATE meta SET value = 'other' WHERE key = 'tokens'")
    db.close()
    with pytest.raises(IndexFormatError) as info:
        StateDB(path)
    assert not info.value.newer and "another tokenizer" in info.value.message
    StateDB(path, readonly=True).close()  # searching it as it is stays possible


# --- chunk texts: one compressed stream per file ------------------------------------------------


def texts_by_path(db: StateDB) -> dict[str, list[str]]:
    """Every stored chunk text, by file, in chunk order (read through ``iter_chunks``)."""
    found: dict[str, list[str]] = {}
    for stored in db.iter_chunks():
        found.setdefault(stored.chunk.path, []).append(stored.chunk.text)
    return found


def test_chunk_texts_come_back_exactly_through_updates_and_removals(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    db = StateDB(path)
    odd = [
        "def größe():\n    return '日本語のテキスト 💥'",
        "x = 'e\u0301'  # a combining accent\r\n\ttabbed\n",
        "",  # an empty chunk text still has its place
        "🚀" * 3000,  # past one zlib window
    ]
    expected: dict[str, list[str]] = {
        f"pkg/m{i}.py": [f"def f{i}_{j}():\n    return {j}\n" * (j + 1) for j in range(i % 5 + 1)]
        for i in range(40)
    }
    expected["odd.py"] = odd
    db.apply(
        [update(p, *(chunk(p, f"s{j}", t) for j, t in enumerate(texts))) for p, texts in expected.items()]
        + [update("empty.py")],  # a file with no chunks has no texts
        [],
    )  # fmt: skip
    assert texts_by_path(db) == expected
    expected["pkg/m3.py"] = ["def replaced():\n    pass\n"]  # fewer chunks than before
    del expected["pkg/m7.py"]
    db.apply(
        [update("pkg/m3.py", chunk("pkg/m3.py", "replaced", "def replaced():\n    pass\n"))],
        ["pkg/m7.py"],
    )
    assert texts_by_path(db) == expected
    ids = [stored.id for stored in db.iter_chunks() if stored.chunk.path == "odd.py"]
    assert [db.chunks(ids)[i].chunk.text for i in ids] == odd
    assert {s.chunk.text for s in db.chunks(ids, text=False).values()} == {""}
    assert [db.embedding_facts(ids)[i][2] for i in ids] == [len(t) for t in odd]
    assert db.chunk_ids_where(["odd.py", "nowhere.py"], None) == ids
    assert db.integrity_problem() is None
    db.close()
    reader = StateDB(path, readonly=True)
    assert texts_by_path(reader) == expected
    reader.close()


def test_a_reader_reads_the_new_texts_of_a_file_changed_since_it_last_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.sqlite"
    writer = StateDB(path)
    writer.apply([update("a.py", chunk("a.py", "f", "def f(): return 1"))], [])
    reader = StateDB(path, readonly=True)
    assert texts_by_path(reader) == {"a.py": ["def f(): return 1"]}
    writer.apply([update("a.py", chunk("a.py", "f", "def f(): return 2"), content_id="c2")], [])
    assert texts_by_path(reader) == {"a.py": ["def f(): return 2"]}


def test_chunk_texts_are_stored_compressed(tmp_path: Path) -> None:
    """Repetitive source (chunks of a typical size, 400-odd bytes) costs less on disk than
    the source itself, state database whole: not so when every chunk kept its text."""
    import sqlite3

    path = tmp_path / "state.sqlite"
    db = StateDB(path)
    files = []
    for i in range(60):
        name = f"handlers/h{i}.py"
        texts = [
            f"def handle_{i}_{j}(request, response):\n"
            f'    """Handle request {j} of group {i}: read the value, answer with the next."""\n'
            "    value = request.get('value', 0)\n"
            "    if value is None:\n"
            "        response.set_status(400)\n"
            "        response.write('no value was given')\n"
            "        return response\n"
            "    response.set_header('content-type', 'text/plain')\n"
            "    response.write(str(value + 1))\n"
            "    return response\n"
            for j in range(20)
        ]
        files.append(
            update(name, *(chunk(name, f"handle_{i}_{j}", t) for j, t in enumerate(texts)))
        )
    db.apply(files, [])
    source = sum(len(c.text.encode()) for f in files for c, _ in f.chunks)
    db.close()  # the last connection folds the WAL into the file
    raw = sqlite3.connect(path)
    stored_texts = raw.execute("SELECT SUM(length(texts)) FROM texts").fetchone()[0]
    raw.close()
    assert stored_texts < source / 5, "a file's chunk texts are compressed together"
    assert path.stat().st_size < source, "the whole state is smaller than the source"


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE texts SET texts = x'789c00'",  # not a whole zlib stream
        "UPDATE texts SET texts = x'789c2b2e2d2a28ca2c4e05000ffd037e'",  # another text
        "DELETE FROM texts",
    ],
)
def test_damaged_chunk_texts_are_found_and_reported_as_damage(tmp_path: Path, damage: str) -> None:
    from codefind.errors import IndexCorruptError

    path = tmp_path / "state.sqlite"
    db = StateDB(path)
    db.apply([update("a.py", chunk("a.py", "f", "def f(): return 1"))], [])
    db._db.execute(damage)
    assert "chunk texts of 1 files are damaged" in (db.integrity_problem() or "")
    if "DELETE" in damage or "'789c00'" in damage:  # reading the text fails too
        reader = StateDB(path, readonly=True)
        with pytest.raises(IndexCorruptError, match=r"damaged \(the chunk texts of a\.py"):
            reader.chunks(reader.chunk_ids())
        assert reader.chunks(reader.chunk_ids(), text=False), "places still read"
