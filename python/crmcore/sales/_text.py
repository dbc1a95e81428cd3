"""Text columns of the store as small integer codes, coded once in C++.

The store's text columns reach pandas as Arrow strings (when pyarrow is
present): :func:`text_codes` hands their buffers to C++ as they are, where
each row is compared with the field's few allowed values (a status, a
pipeline's stage names). Turning those rows into Python strings first, or
hashing them for ``isin``, cost more than the kernels the codes feed.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import _core
from .._arrow import arrow_chunks, chunk_buffers


def text_codes(values: Any, allowed: Sequence[str]) -> np.ndarray:
    """The position of each value in ``allowed`` (int32), -1 for a missing
    value or any other text.

    >>> text_codes(pd.Series(["won", None, "lead", "wo"]), ["lead", "won"]).tolist()
    [1, -1, 0, -1]
    """
    allowed = [str(a) for a in allowed]
    chunks = arrow_chunks(values)
    if chunks is None:
        objects = np.asarray(pd.Series(values, dtype=object).to_numpy(dtype=object), dtype=object)
        return _core.text_codes(objects, allowed)
    parts = []
    for chunk in chunks:
        offsets, data, bits, first, n, large = chunk_buffers(chunk)
        parts.append(_core.arrow_text_codes(offsets, data, bits, first, n, allowed, large))
    if len(parts) == 1:  # the usual single chunk: its codes as they are, not copied by concatenate
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)

