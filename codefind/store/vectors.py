"""One USearch vector index per (model, dimension), with a manifest that says what it holds.

Layout inside the index folder::

    vectors/<slug>.json            manifest: model id, dim, metric, dtype, count, generation,
                                   state id, the current data file's name, its size and CRC-32
    vectors/<slug>.<n>.usearch     the data file of version n
    vectors/<slug>.<n>.hashes      which text each of its vectors is for (key, text hash)

A new version is written to a new data file (temp file, fsync, rename), then the manifest is
replaced; the manifest rename is the commit point. Readers follow the manifest and memory-map
the file it names, so a reader never sees a half-written index, and a process that still has
an older file mapped keeps working (its file is unlinked, not rewritten: USearch's own
in-place ``save`` would crash such a reader with SIGBUS). The previous data file is removed
as soon as the new manifest is in place: a reader that read the old manifest and then finds
its file gone reads the manifest again (``open_vector_index``). Keeping it for such readers,
as codefind once did, doubled the vectors on disk between runs.

Keys are chunk ids from the state database, so an index is only valid for the database it was
built for: the manifest records that database's random ``state_id``. ``generation`` records
which state generation the index was last brought up to date with, so an unchanged repository
costs no work at all.

The ``.hashes`` file beside each data file names the text hash (``cache.text_hash``) of every
key. Searching never reads it; writers do: it makes the vectors findable by text, so the file
is itself the cache of the texts it holds (the embedding cache keeps only the others, see
``Indexer``), and a state database that is rebuilt, or whose format changes, takes its vectors
from here by text instead of embedding them again.

Below ``EXACT_SEARCH_LIMIT`` search is brute force and never walks the HNSW graph, so a small
index is built with a graph of ``SMALL_CONNECTIVITY`` (about 100 bytes a vector less than
USearch's default); a writer that takes it past the limit rebuilds it with the full graph.

Vectors are int8, quantized by codefind (``store.quantize``: each vector scaled to use the
whole int8 range), and so is the query; USearch's cosine on int8 rows is scale-invariant, and
``vectors`` gives unit rows back. A file of an older format (format 1 held float16, format 2
had no ``.hashes``) is rebuilt by the next writer, which takes its vectors from it by text
(``open_older_vector_index``); a newer format's file is never read as what it is not.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from codefind.atomic import atomic_path, atomic_write_bytes
from codefind.errors import IndexCorruptError, IndexFormatError, IndexStoreError
from codefind.store.failures import free_bytes, no_space, os_failure
from codefind.store.quantize import dequantize, quantize

VECTOR_FORMAT = 3
"""1: float16 vectors; 2: int8 vectors (quantized by ``store.quantize``); 3: and a ``.hashes``
file naming each vector's text."""
DTYPE = "i8"  # pinned: USearch would otherwise pick bf16/f16/f32 by CPU
METRIC = "cos"
EXPANSION_ADD = (
    64  # measured: ~30% faster builds than USearch's 128, recall kept by exact search below
)
EXPANSION_SEARCH = 256
"""Candidates USearch's graph search keeps (its default is 64). Measured with
``benchmarks/bench_hnsw.py`` on the 21.6k-chunk stdlib index: recall of the exact top 10
0.911 at 64, 0.98 at 256 (top 100, which fusion reads: 0.86 -> 0.96), for about 1.3 ms more
per search at 98k chunks. Only indexes above ``EXACT_SEARCH_LIMIT`` search the graph."""
EXACT_SEARCH_LIMIT = 8_000_000  # count * dim up to which search is brute force (~4 ms at 20k x 384)
SMALL_CONNECTIVITY = 2
"""HNSW neighbours per vector in an index searched by brute force (its graph is never walked):
428 bytes a vector at 384 dimensions against 532 at USearch's default of 16."""
FULL_CONNECTIVITY = 16  # USearch's default, for an index whose graph is searched
HASH_BYTES = 16  # a text hash, ``cache.text_hash``
OPEN_ATTEMPTS = 5
"""Manifests a reader follows when each names a file that a writer has just replaced."""

Keys = npt.NDArray[np.uint64]
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class VectorManifest:
    """What a vector index holds."""

    model_id: str
    dim: int
    count: int
    generation: int
    file: str
    size: int
    crc32: int
    metric: str = METRIC
    dtype: str = DTYPE
    format: int = VECTOR_FORMAT
    state_id: str = ""
    """The state database this index was built for (``StateDB.state_id``; empty: unknown)."""
    hashes_crc32: int = 0
    """CRC-32 of the ``.hashes`` file (its name: the data file's, with ``.hashes``)."""


def slug(model_id: str, dim: int) -> str:
    """A file-name-safe name for (model, dim): ``local-all-MiniLM-L6-v2-3f2a...-384``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-") + f"-{dim}"


class VectorIndex:
    """A read-only, memory-mapped view of one vector index (or an empty one)."""

    def __init__(
        self, manifest: VectorManifest | None, index: Any | None, folder: Path | None = None
    ) -> None:
        self.manifest = manifest
        self._index = index
        self._folder = folder
        self._text_hashes: dict[int, bytes] | None = None
        self._keys_by_hash: dict[bytes, int] | None = None

    @property
    def count(self) -> int:
        """Number of vectors."""
        return 0 if self._index is None else len(self._index)

    @property
    def connectivity(self) -> int:
        """HNSW neighbours per vector (``SMALL_CONNECTIVITY`` below the brute-force limit)."""
        return 0 if self._index is None else int(self._index.connectivity)

    @property
    def generation(self) -> int:
        """The state generation this index is up to date with (-1 when empty)."""
        return -1 if self.manifest is None else self.manifest.generation

    def keys(self) -> Keys:
        """All chunk ids in the index."""
        if self._index is None:
            return np.zeros(0, dtype=np.uint64)
        return np.asarray(self._index.keys, dtype=np.uint64)

    def text_hashes(self) -> dict[int, bytes]:
        """The text hash of each key, from the ``.hashes`` file (read on first use; only
        writers ask).

        Raises:
            IndexCorruptError: The file is missing, damaged or does not match the index.
        """
        if self._text_hashes is None:
            if self.manifest is None or self._folder is None:
                self._text_hashes = {}
            else:
                self._text_hashes = _read_hashes(self._folder / "vectors", self.manifest)
        return self._text_hashes

    def keys_by_hash(self) -> dict[bytes, int]:
        """One key for each text hash the index holds (``text_hashes`` turned around)."""
        if self._keys_by_hash is None:
            self._keys_by_hash = {digest: key for key, digest in self.text_hashes().items()}
        return self._keys_by_hash

    def search(self, query: Floats, k: int) -> tuple[Keys, Floats]:
        """The ``k`` nearest chunk ids and their cosine similarities, best first."""
        if self._index is None or len(self._index) == 0 or k <= 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32)
        exact = len(self._index) * self._index.ndim <= EXACT_SEARCH_LIMIT
        matches = self._index.search(quantize(query), min(k, len(self._index)), exact=exact)
        keys = np.asarray(matches.keys, dtype=np.uint64)
        sims = 1.0 - np.asarray(matches.distances, dtype=np.float32)
        return keys, sims

    def vectors(self, keys: Sequence[int] | Keys) -> tuple[Keys, Floats]:
        """The stored vectors of those ``keys`` that are present (as float32 unit rows)."""
        if self._index is None or len(keys) == 0:
            return np.zeros(0, dtype=np.uint64), np.zeros((0, 0), dtype=np.float32)
        wanted = np.asarray(keys, dtype=np.uint64)
        present = wanted[
            np.fromiter((self._index.contains(int(k)) for k in wanted), bool, len(wanted))
        ]
        if len(present) == 0:
            return present, np.zeros((0, self._index.ndim), dtype=np.float32)
        stored = np.int8 if self.manifest is None or self.manifest.dtype == DTYPE else np.float32
        rows = _rows(self._index, present, stored)  # an older file's float16: as floats
        return present, dequantize(rows)


def open_vector_index(
    folder: Path, model_id: str, dim: int, *, verify: bool = False
) -> VectorIndex:
    """The current vector index for (model, dim), memory-mapped; empty if there is none.

    A data file that is missing or does not match its manifest may just have been replaced
    by a writer between our reading the manifest and opening the file: then the manifest is
    read again and its new file opened. Only a manifest that stays the same is an error.

    Args:
        verify: Also check the data file's CRC-32 (reads the whole file; writers do this).

    Raises:
        IndexCorruptError: The manifest or data file is damaged or belongs to another model.
        IndexFormatError: Another codefind's format (rebuilt from the cache by a writer).
        IndexStoreError: It cannot be read (an I/O error): nothing to rebuild.
    """
    manifest = read_manifest(folder, model_id, dim)
    if verify and manifest is not None:
        _remove_old_files(folder / "vectors", slug(model_id, dim), keep={manifest.file})
    for _ in range(OPEN_ATTEMPTS):
        if manifest is None:
            return VectorIndex(None, None)
        try:
            index = _open_data_file(folder, manifest, verify=verify)
            opened = VectorIndex(manifest, index, folder)
            if verify:
                opened.text_hashes()
            return opened
        except IndexCorruptError:
            newer = read_manifest(folder, model_id, dim)
            if newer == manifest:
                raise
            manifest = newer
    raise IndexStoreError(
        f"The vector index in {folder / 'vectors'} kept changing while it was opened."
    )


def open_older_vector_index(
    folder: Path, model_id: str, dim: int, text_hashes: Callable[[str], dict[int, bytes] | None]
) -> VectorIndex | None:
    """The vector file an older codefind wrote for (model, dim), to take its vectors from by
    text while it is rebuilt; ``None`` when there is none, or it cannot be read for sure.

    A file of format 2 has no ``.hashes``: ``text_hashes(state_id)`` gives its keys' text
    hashes from the state database it was built for, or ``None`` when that is not the one
    open (then its keys mean nothing). A newer format is never read: what it holds is unknown.
    """
    path = folder / "vectors" / f"{slug(model_id, dim)}.json"
    try:
        manifest = VectorManifest(**json.loads(path.read_text(encoding="utf-8")))
        if not 1 <= manifest.format < VECTOR_FORMAT or (manifest.model_id, manifest.dim) != (
            model_id,
            dim,
        ):
            return None
        hashes = text_hashes(manifest.state_id)
        if hashes is None:
            return None
        older = VectorIndex(manifest, _open_data_file(folder, manifest, verify=True), folder)
    except (OSError, ValueError, TypeError, IndexStoreError):
        return None
    older._text_hashes = {key: hashes[key] for key in older.keys().tolist() if key in hashes}
    return older


def _open_data_file(folder: Path, manifest: VectorManifest, *, verify: bool) -> Any:
    data = folder / "vectors" / manifest.file
    _check_data_file(data, manifest, verify=verify)
    from usearch.index import Index  # deferred: usearch loads a native library

    try:
        index = Index.restore(str(data), view=True)
        if index is not None:
            index.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]  # per open, not saved
    except Exception as exc:  # USearch raises bare RuntimeError/ValueError on bad files
        raise _damaged(f"The vector index {data} cannot be opened ({exc}).", data) from exc
    if index is None or index.ndim != manifest.dim or len(index) != manifest.count:
        raise _damaged(f"The vector index {data} does not match its manifest.", data)
    return index


def read_manifest(folder: Path, model_id: str, dim: int) -> VectorManifest | None:
    """The manifest of (model, dim), or ``None`` when that index was never built."""
    path = folder / "vectors" / f"{slug(model_id, dim)}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        manifest = VectorManifest(**raw)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_failure(exc, path.parent, "reading the vector index") from exc
    except (ValueError, TypeError) as exc:
        raise _damaged(f"The vector manifest {path} is damaged ({exc}).", path) from exc
    if manifest.format != VECTOR_FORMAT:
        raise IndexFormatError(
            f"The vector index {path.name} has format {manifest.format}; this codefind "
            f"reads format {VECTOR_FORMAT}."
            + (" Upgrade codefind to use it." if manifest.format > VECTOR_FORMAT else ""),
            newer=manifest.format > VECTOR_FORMAT,
        )
    if manifest.model_id != model_id or manifest.dim != dim:
        message = f"The vector manifest {path} describes another model or dimension."
        raise _damaged(message, path)
    return manifest


class VectorWriter:
    """Builds the next version of (model, dim) in memory and commits it with ``save``.

    Starts from a copy of ``base`` (the current version); ``save`` may be called several
    times (checkpoints during a long run), each writing a complete, consistent version.
    ``state_id`` names the state database whose chunk ids are the keys.
    """

    def __init__(
        self,
        folder: Path,
        model_id: str,
        dim: int,
        base: VectorIndex,
        *,
        state_id: str,
        expected: int = 0,
    ) -> None:
        """``expected``: how many vectors the index will hold (an index that will be searched
        by its graph gets the full one from the start, not rebuilt at ``save``)."""
        self.folder = folder
        self.model_id = model_id
        self.dim = dim
        self.state_id = state_id
        walked = expected * dim > EXACT_SEARCH_LIMIT
        self._index = _new_index(dim, FULL_CONNECTIVITY if walked else SMALL_CONNECTIVITY)
        self._hashes: dict[int, bytes] = {}
        if base.manifest is not None:
            self._index.load(str(folder / "vectors" / base.manifest.file))
            self._hashes = dict(base.text_hashes())

    @property
    def count(self) -> int:
        """Vectors in the version being built."""
        return len(self._index)

    def remove(self, keys: Keys) -> None:
        """Drop these chunk ids (absent ones are ignored)."""
        if len(keys):
            self._index.remove(np.asarray(keys, dtype=np.uint64))
            for key in np.asarray(keys, dtype=np.uint64).tolist():
                self._hashes.pop(key, None)

    def add(self, keys: Keys, vectors: Floats, hashes: Sequence[bytes]) -> None:
        """Add (or replace) vectors, already at this index's dimension, of the texts whose
        hashes (``cache.text_hash``) are ``hashes``."""
        if not len(keys):
            return
        keys = np.asarray(keys, dtype=np.uint64)
        if len(hashes) != len(keys) or any(len(h) != HASH_BYTES for h in hashes):
            raise ValueError("each vector needs the 16-byte hash of its text")
        present = np.fromiter((self._index.contains(int(k)) for k in keys), bool, len(keys))
        if present.any():
            self._index.remove(keys[present])
        self._index.add(keys, quantize(vectors), threads=0)
        self._hashes.update(zip(keys.tolist(), hashes, strict=True))

    def save(self, generation: int) -> VectorManifest:
        """Write this version and make it current (the files of every other version go).

        Raises:
            IndexStoreError: The disk is full ("no space left on device: <folder>"), the
                folder cannot be written, or the write failed; the current version stays.
        """
        vector_dir = self.folder / "vectors"
        try:
            return self._save(vector_dir, generation)
        except OSError as exc:
            raise os_failure(exc, vector_dir, "writing the vector index") from exc

    def _save(self, vector_dir: Path, generation: int) -> VectorManifest:
        vector_dir.mkdir(parents=True, exist_ok=True)
        name = slug(self.model_id, self.dim)
        data = vector_dir / f"{name}.{_next_number(vector_dir, name)}.usearch"
        self._connect_for_graph_search()
        with atomic_path(data) as tmp:
            self._write_data(tmp)
        hashes = _hashes_bytes(self._index.keys, self._hashes)
        atomic_write_bytes(_hashes_file(data), hashes)
        manifest = VectorManifest(
            model_id=self.model_id,
            dim=self.dim,
            count=len(self._index),
            generation=generation,
            file=data.name,
            size=data.stat().st_size,
            crc32=_crc32(data),
            state_id=self.state_id,
            hashes_crc32=zlib.crc32(hashes),
        )
        payload = json.dumps(asdict(manifest), indent=1).encode()
        atomic_write_bytes(vector_dir / f"{name}.json", payload)
        _remove_old_files(vector_dir, name, keep={data.name})
        return manifest

    def _connect_for_graph_search(self) -> None:
        """Give an index that grew past ``EXACT_SEARCH_LIMIT`` its full graph (it was built with
        ``SMALL_CONNECTIVITY``, fine for brute force, too sparse to walk)."""
        index = self._index
        if index.connectivity >= FULL_CONNECTIVITY or len(index) * self.dim <= EXACT_SEARCH_LIMIT:
            return
        keys = np.asarray(index.keys, dtype=np.uint64)
        full = _new_index(self.dim, FULL_CONNECTIVITY)
        for start in range(0, len(keys), 8192):  # one slice of vectors in memory at a time
            part = keys[start : start + 8192]
            full.add(part, _rows(index, part, np.int8), threads=0)
        self._index = full

    def _write_data(self, path: Path) -> None:
        """USearch's ``save`` to ``path``, with a full disk reported as such.

        USearch turns every write error into "Failed to serialize into stream", so the space
        is claimed first (``posix_fallocate`` fails with ENOSPC where it is short), and a
        failed save is explained by the free space left where it can be.
        """
        needed = int(self._index.serialized_length)
        _reserve(path, needed)
        try:
            self._index.save(str(path))
        except RuntimeError as exc:
            if free_bytes(path.parent) < needed:
                raise no_space(path.parent) from exc
            raise IndexStoreError(
                f"Writing the vector index {path.parent} failed ({exc})."
            ) from exc


def _rows(index: Any, keys: Keys, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """USearch's stored rows of ``keys`` (all present) as one matrix (``get`` may answer a
    tuple of rows for several keys: docs/API_NOTES.md)."""
    rows = index.get(keys, dtype=dtype)
    matrix = np.vstack(rows) if isinstance(rows, tuple) else np.asarray(rows)
    return matrix.reshape(len(keys), -1)


def _new_index(dim: int, connectivity: int) -> Any:
    from usearch.index import Index  # deferred: usearch loads a native library

    return Index(
        ndim=dim, metric=METRIC, dtype=DTYPE, expansion_add=EXPANSION_ADD, connectivity=connectivity
    )


def _hashes_file(data: Path) -> Path:
    """The ``.hashes`` file that belongs to the data file ``data``."""
    return data.with_suffix(".hashes")


def _hashes_bytes(keys: Any, hashes: dict[int, bytes]) -> bytes:
    """The ``.hashes`` file of an index with these keys: the keys in order, as zlib-compressed
    gaps (chunk ids are nearly consecutive: a fraction of a byte each, not 8) after their
    length (uint32, little-endian), then each key's 16-byte text hash in the same order."""
    ordered = np.sort(np.asarray(keys, dtype="<u8"))
    missing = [int(k) for k in ordered if int(k) not in hashes]
    if missing:
        raise ValueError(f"vectors without a text hash: {missing[:5]}")
    gaps = zlib.compress(np.diff(ordered, prepend=np.uint64(0)).astype("<u8").tobytes())
    digests = b"".join(hashes[int(k)] for k in ordered)
    return len(gaps).to_bytes(4, "little") + gaps + digests


def _read_hashes(vector_dir: Path, manifest: VectorManifest) -> dict[int, bytes]:
    path = _hashes_file(vector_dir / manifest.file)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _damaged(f"The vector index file {path} is missing.", path) from None
    except OSError as exc:
        raise os_failure(exc, vector_dir, "reading the vector index") from exc
    count = manifest.count
    size = int.from_bytes(raw[:4], "little")
    start = 4 + size
    try:
        if zlib.crc32(raw) != manifest.hashes_crc32 or len(raw) != start + count * HASH_BYTES:
            raise ValueError("size or checksum")
        gaps = np.frombuffer(zlib.decompress(raw[4:start]), dtype="<u8")
        if len(gaps) != count:
            raise ValueError("key count")
    except (ValueError, zlib.error):
        raise _damaged(f"The vector index file {path} is truncated or damaged.", path) from None
    keys = np.cumsum(gaps, dtype=np.uint64).tolist()
    return {
        key: raw[start + HASH_BYTES * i : start + HASH_BYTES * (i + 1)]
        for i, key in enumerate(keys)
    }


def drop_vector_index(folder: Path, model_id: str, dim: int) -> None:
    """Delete the manifest and data files of (model, dim) (used when they are damaged)."""
    vector_dir = folder / "vectors"
    name = slug(model_id, dim)
    with contextlib.suppress(FileNotFoundError):
        (vector_dir / f"{name}.json").unlink()
    _remove_old_files(vector_dir, name, keep=set())


def _reserve(path: Path, size: int) -> None:
    """Claim ``size`` bytes for ``path`` now, so that a full disk fails here, with ENOSPC."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, max(1, size))
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def _check_data_file(path: Path, manifest: VectorManifest, *, verify: bool) -> None:
    try:
        size = path.stat().st_size
        crc = _crc32(path) if verify and size == manifest.size else manifest.crc32
    except FileNotFoundError:
        raise _damaged(f"The vector index file {path} is missing.", path) from None
    except OSError as exc:
        raise os_failure(exc, path.parent, "reading the vector index") from exc
    if size != manifest.size:
        raise _damaged(f"The vector index file {path} is truncated or damaged.", path)
    if crc != manifest.crc32:
        raise _damaged(f"The vector index file {path} is damaged (checksum mismatch).", path)


def _damaged(message: str, path: Path) -> IndexCorruptError:
    return IndexCorruptError(message, path=str(path))


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc


def _next_number(vector_dir: Path, name: str) -> int:
    numbers = [
        int(match.group(1))
        for p in vector_dir.glob(f"{name}.*.usearch")
        if (match := re.fullmatch(re.escape(name) + r"\.(\d+)\.usearch", p.name))
    ]
    return max(numbers, default=0) + 1


def _remove_old_files(vector_dir: Path, name: str, keep: set[str]) -> None:
    for path in vector_dir.glob(f"{name}.*.usearch"):
        if path.name not in keep:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    for path in vector_dir.glob(f"{name}.*.hashes"):
        if path.with_suffix(".usearch").name not in keep:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    for path in vector_dir.glob(f".{name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
