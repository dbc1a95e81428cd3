"""Turning DataFrame columns into the plain arrays the C++ kernels take, and
their results back into frames indexed by the user's ids."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._core import ValidationError

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9


def column(frame: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in frame.columns:
        if frame.index.name == name:
            return frame.index.to_series()
        raise ValidationError(f"no {role} column {name!r} (columns: {', '.join(map(str, frame.columns))})")
    return frame[name]


class Keys:
    """Ids as int64 codes for the kernels. Integer ids pass through as they
    are; anything else (SKU strings, ...) is factorized in sorted order, so
    the kernels' ascending-code output is also ascending by label."""

    def __init__(self, values: Any, role: str):
        s = pd.Series(values) if not isinstance(values, (pd.Series, pd.Index)) else values
        if s.isna().any():
            row = int(np.flatnonzero(pd.isna(np.asarray(s, dtype=object)))[0])
            raise ValidationError(f"{role} row {row}: the id is missing")
        self.name = getattr(s, "name", None)
        if pd.api.types.is_integer_dtype(s.dtype):
            self.codes = np.asarray(s, dtype=np.int64)
            self.labels = None
        else:
            codes, self.labels = pd.factorize(np.asarray(s, dtype=object), sort=True)
            self.codes = codes.astype(np.int64)

    def index(self, codes: np.ndarray, name: str | None = None) -> pd.Index:
        values = codes if self.labels is None else np.asarray(self.labels)[codes]
        return pd.Index(values, name=name if name is not None else self.name)


def times_ns(values: Any, role: str = "date") -> np.ndarray:
    """Datetimes (any unit, naive or tz-aware) as int64 nanoseconds; NaT stays
    int64 min, which the kernels reject with the row."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        try:
            s = pd.to_datetime(s)
        except (ValueError, TypeError) as e:
            raise ValidationError(f"the {role} column is not made of dates: {e}") from None
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


def floats(values: Any) -> np.ndarray:
    return np.ascontiguousarray(pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan))


def as_of_ns(as_of: Any) -> int | None:
    if as_of is None:
        return None
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.as_unit("ns").value)


def timestamps(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype=np.int64).view("datetime64[ns]")


def transactions(tx: pd.DataFrame, customer: str, date: str, amount: str | None = None):
    """The (customer keys, date ns, amount) columns of a transactions frame."""
    keys = Keys(column(tx, customer, "customer"), "transactions")
    keys.name = customer
    ns = times_ns(column(tx, date, "date"))
    amt = floats(column(tx, amount, "amount")) if amount is not None else None
    return keys, ns, amt
