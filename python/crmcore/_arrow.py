"""Arrow string columns handed to C++ as their buffers.

pandas keeps text as Arrow strings when pyarrow is present. Turning each row
into a Python string only for C++ to read its UTF-8 again cost more than
what C++ then did with it (coding a status, importing a frame), so the
chunks' buffers go to C++ as NumPy views instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_STRING_TYPES = ("string", "utf8", "large_string", "large_utf8")


def arrow_chunks(values: Any) -> "list | None":
    """The Arrow chunks of a pyarrow-backed string Series, else None."""
    array = getattr(values, "array", None)
    arrow = getattr(array, "_pa_array", None)  # pandas' ArrowStringArray keeps its ChunkedArray here
    if arrow is None or str(getattr(arrow, "type", "")) not in _STRING_TYPES:
        return None
    return list(arrow.chunks)


def chunk_buffers(chunk: Any) -> tuple:
    """(offsets, data, validity or None, first row, rows, large) of one Arrow
    string chunk, the buffers as NumPy views (no copy); ``large`` when its
    offsets are 64-bit."""
    validity, offsets, data = chunk.buffers()
    large = str(chunk.type) in ("large_string", "large_utf8")
    offsets = np.frombuffer(offsets, dtype=np.int64 if large else np.int32)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    bits = None if validity is None or chunk.null_count == 0 else np.frombuffer(validity, dtype=np.uint8)
    return offsets, data, bits, chunk.offset, len(chunk), large
