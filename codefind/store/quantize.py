"""int8 vectors: how the vector indexes and the embedding cache hold a vector (one byte a
dimension, a quarter of float32).

Search only ever compares vectors by cosine, which does not depend on a vector's length, so
each vector is scaled on its own until its largest component is ±127 and then rounded: every
vector uses the whole int8 range, whatever its components' size, and no scale needs to be
kept. Decoding gives the unit vector back (``dequantize``). At 384 dimensions a round trip
keeps a cosine of about 0.99997 with the original.

USearch would cast float32 to int8 itself, but as ``trunc(127 * x / |x|)`` (docs/API_NOTES.md):
a unit vector's components at 384 dimensions are about 0.05, so that keeps a few levels per
component and a cosine of about 0.998. codefind therefore hands USearch int8 rows it has
quantized here, for the vectors it stores and for the query alike.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

LIMIT = 127
"""The largest component of every quantized vector, in absolute value (-128 is never used)."""

Vectors = npt.NDArray[np.float32]
Int8s = npt.NDArray[np.int8]


def quantize(vectors: npt.NDArray[np.floating]) -> Int8s:
    """Rows as int8, each scaled so that its largest component is ±127 (a zero or non-finite
    row becomes a zero row: it has no direction to keep)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    peak = np.max(np.abs(matrix), axis=-1, keepdims=True, initial=0.0)
    usable = np.isfinite(peak) & (peak > 0)
    scale = np.divide(LIMIT, peak, out=np.zeros_like(peak), where=usable)
    scaled = np.multiply(matrix, scale, out=np.zeros_like(matrix), where=usable)
    rows: Int8s = np.rint(scaled).astype(np.int8)
    return rows


def dequantize(rows: npt.NDArray[np.integer]) -> Vectors:
    """int8 rows as float32 unit vectors (zero rows stay zero)."""
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = matrix / norms
    return unit


def is_quantized(row: npt.NDArray[np.int8]) -> bool:
    """Whether ``row`` is something ``quantize`` makes of a vector: its largest component is
    exactly ±127 (the check a stored row must pass, as a float row must be of unit length)."""
    return len(row) > 0 and int(np.max(np.abs(row.astype(np.int16)))) == LIMIT
