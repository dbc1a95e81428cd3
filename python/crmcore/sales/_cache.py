"""Columns from a store's column cache as the sales kernels take them.

``Store.cached_columns`` hands whole numbers and times as (values, valid
mask or None), reals with NaN for missing and text as (codes, labels): no
Python object per record. These turn the (values, valid) pairs into what
pandas or a kernel expects, copying only when something is missing.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def valid_or(column: "tuple[np.ndarray, np.ndarray | None]", missing: int) -> np.ndarray:
    """A cached int column with ``missing`` where it holds no value.

    >>> valid_or((np.array([4, 0, 6]), np.array([1, 0, 1], dtype=np.uint8)), -1).tolist()
    [4, -1, 6]
    """
    values, valid = column
    return values if valid is None else np.where(valid.astype(bool), values, missing)


def masked(column: "tuple[np.ndarray, np.ndarray | None]") -> Any:
    """A cached int column as pandas holds ids: the values themselves,
    wrapped with a missing mask where some are missing.

    >>> masked((np.array([4, 0]), np.array([1, 0], dtype=np.uint8))).tolist()
    [4, <NA>]
    """
    values, valid = column
    return values if valid is None else pd.arrays.IntegerArray(values, ~valid.astype(bool))
