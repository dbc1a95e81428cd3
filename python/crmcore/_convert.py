"""Conversions between pandas and the core's columns: a record's fields, a
DataFrame or a custom value into the columns the core takes, and the core's
columns back into a DataFrame. The store, queries and mappings share them.
"""
from __future__ import annotations

import datetime
import json
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import _core
from ._arrow import arrow_chunks, chunk_buffers

_KINDS = {k["name"]: k for k in _core.kinds()}
#: How deep custom values may nest objects and lists (a documented limit of the core).
MAX_CUSTOM_DEPTH = _core.MAX_CUSTOM_DEPTH
_NAT = np.iinfo(np.int64).min


def _fields(kind: str) -> dict:
    try:
        return {f["name"]: f for f in _KINDS[kind]["fields"]}
    except KeyError:
        raise _core.NotFound(f"no record kind {kind!r} (known kinds: {', '.join(_KINDS)})") from None


def _record_columns(kind: str, fields: Mapping[str, Any]) -> list:
    """The core's columns for one record given as keyword fields.

    The same as ``_columns`` of a one-row DataFrame, made without pandas:
    building that DataFrame took about 350 µs of every ``db.add``.
    """
    out = []
    for name, value in fields.items():
        problems = None
        if name == "custom":
            value, problem = _custom_text(value)
            problems = None if problem is None else [(0, problem)]
        valid = None
        if _is_missing(value):
            value, valid = None, np.zeros(1, dtype=bool)
        if isinstance(value, (bool, np.bool_)):
            values = np.array([value], dtype=bool)  # a flag, which the core keeps apart from numbers
        elif isinstance(value, (int, np.integer)) and -2**63 <= value < 2**63:
            values = np.array([value], dtype=np.int64)
        elif isinstance(value, (float, np.floating)):
            values = np.array([value], dtype=np.float64)
        elif isinstance(value, (datetime.datetime, np.datetime64)):
            values, problems = _nanoseconds(pd.Series([value]))
        else:  # text, a list of tags, and anything the core reads as text (a date, a Decimal, ...) or refuses
            values = np.empty(1, dtype=object)
            values[0] = value
        out.append((_field_name(name), values, valid, problems))
    return out


# The store keeps a time as int64 nanoseconds since 1970, as pandas does:
# from Timestamp.min to Timestamp.max, both rounded inwards to the second.
FIRST_TIME, LAST_TIME = np.datetime64("1677-09-21T00:12:44"), np.datetime64("2262-04-11T23:47:15")
#: The same range as an error message says it (whole days).
TIME_RANGE = "1677-09-22 to 2262-04-11"


def _nanoseconds(s: pd.Series) -> "tuple[np.ndarray, list | None]":
    """Datetimes (of any unit, in any zone: UTC kept) as datetime64[ns], and
    the rows beyond what nanoseconds hold as (row, reason) problems: pandas'
    conversion raised OutOfBoundsDatetime for the whole column, naming no row."""
    if getattr(s.dtype, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    elif s.dtype == object:  # one value given as a datetime or datetime64 (add, update)
        s = pd.Series(s.tolist())
    values = s.to_numpy()
    # Nanoseconds reach a little past the seconds the core reads as text
    # (pd.Timestamp.min is 1677-09-21 00:12:43.15): the same range for both.
    beyond = np.flatnonzero((values < FIRST_TIME) | (values > LAST_TIME))  # NaT compares false
    if values.dtype == np.dtype("datetime64[ns]") and not len(beyond):
        return values, None
    problems = [(int(row), f"{pd.Timestamp(values[row])} is outside the times the store keeps "
                           f"({TIME_RANGE})") for row in beyond]
    values = values.copy()
    values[beyond] = np.datetime64("NaT")
    return values.astype("datetime64[ns]"), problems or None


def _custom_text(value: Any) -> "tuple[Any, str | None]":
    """Custom fields given as a dict (or list of pairs), as JSON text for the
    core, and the reason they cannot be, if so. The depth is checked before
    ``json.dumps`` sees the value: its recursion is the interpreter's stack."""
    if not isinstance(value, Mapping):
        return value, None  # text (checked by the core), or missing
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_CUSTOM_DEPTH:
            return None, f"is nested more than {MAX_CUSTOM_DEPTH} levels deep (the limit for custom values)"
        if isinstance(item, Mapping):
            for key in item:
                if not isinstance(key, str):
                    return None, f"has the key {key!r}: custom field names must be text"
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=_json_scalar), None
    except (TypeError, ValueError) as e:
        return None, f"cannot be written as JSON: {e}"


def _json_scalar(value: Any) -> Any:
    """A custom value that json cannot write itself: a date or time as ISO
    text (a declared time field keeps it in canonical form), a NumPy number
    as a Python one."""
    if isinstance(value, (datetime.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp.tz is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating, np.datetime64)):
        return bool(pd.isna(value))
    return False


def _columns(kind: str, df: pd.DataFrame, arrow_text: bool = False) -> list:
    """(name, values, valid, problems) for the core; no Python loop over rows
    but for custom fields given as dicts. With ``arrow_text``, a column of
    Arrow strings goes as its chunks' buffers (see _arrow.chunk_buffers),
    which the core reads as they are, instead of a Python string per row."""
    fields = _fields(kind)
    out = []
    for name in df.columns:
        s = df[name]
        if isinstance(s, pd.DataFrame):
            raise _core.ValidationError(f"{kind}: column {name!r} appears more than once")
        valid = s.notna().to_numpy()
        valid_or_none = None if valid.all() else valid
        problems = None
        values: Any  # an array, or an Arrow text column's chunk buffers
        dtype = s.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            s = s.astype(object)
            dtype = s.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            values, problems = _nanoseconds(s)
        elif pd.api.types.is_bool_dtype(dtype):
            values = s.to_numpy(dtype=bool, na_value=False)
        elif pd.api.types.is_integer_dtype(dtype):
            values = s.to_numpy(dtype=np.uint64 if dtype.kind == "u" else np.int64, na_value=0)
        elif pd.api.types.is_float_dtype(dtype):
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        elif arrow_text and (chunks := arrow_chunks(s)) is not None:
            # Every value is text or missing, so nothing to convert here either.
            values = [chunk_buffers(chunk) for chunk in chunks]
        else:
            # Text (or nothing) needs no conversion: checking that in C
            # (infer_dtype) spares a Python call per row on large imports.
            plain_text = pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
            # Converted values go straight into object arrays: a Series made
            # of them would let pandas infer pyarrow strings, which refuse
            # lone surrogates before the core can name the row.
            values = s.to_numpy(dtype=object)
            if name == "custom" and not plain_text:
                converted = [_custom_text(v) for v in values]
                values = np.empty(len(converted), dtype=object)
                values[:] = [text for text, _ in converted]
                problems = [(row, why) for row, (_, why) in enumerate(converted) if why is not None] or None
            elif fields.get(name, {}).get("type") == "time" and not plain_text:
                values = np.array([t.isoformat() if hasattr(t, "isoformat") and not isinstance(t, str) else t
                                   for t in values] + [None], dtype=object)[:-1]
        out.append((_field_name(name), values, valid_or_none, problems))
    return out


#: The dtype pandas gives a column of text: ``str`` on pandas 3 (and on
#: pandas 2 with ``future.infer_string``), object before.
TEXT_DTYPE = pd.Series(["text"]).dtype


def text_array(values: Any) -> Any:
    """Text (str, None or NaN for missing) in :data:`TEXT_DTYPE`, whatever
    the values. pandas infers str only from values it sees: text with none
    (no rows, or every row missing) came out object, or float64 from an
    empty list, so a column's dtype depended on its values rather than on
    what it holds. The store's frames make their text here, and so do
    results whose text may have no values. (Not ``astype(str)``, nor
    ``dtype="str"`` on pandas 2: those write a missing value as "nan" or
    "None".)

    >>> [str(text_array(values).dtype) == str(TEXT_DTYPE) for values in ([None, None], [], ["a", None])]
    [True, True, True]
    >>> text_array(["a", None]).isna().tolist()
    [False, True]
    """
    if TEXT_DTYPE == object:
        return pd.array(np.asarray(values, dtype=object), dtype=object)
    return pd.array(values, dtype=TEXT_DTYPE)


def _no_text(n: int) -> Any:
    """`n` missing values in :data:`TEXT_DTYPE`, without reading n Nones."""
    if TEXT_DTYPE == object:
        return np.full(n, None, dtype=object)
    return pd.array([], dtype=TEXT_DTYPE).take(np.full(n, -1, dtype=np.intp), allow_fill=True)


def object_array(values: Any) -> np.ndarray:
    """Python objects (lists, dicts, None), one per item, as a 1-d object
    array: assigned as a column, a list of them gave float64 when it was
    empty, and ``np.array`` makes equal-length lists a 2-d array.

    >>> object_array([[1, 2], [3, 4]]).shape, object_array([]).dtype
    ((2,), dtype('O'))
    """
    return np.fromiter(values, dtype=object)


def empty_frame(dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """A frame with no rows and these columns of these dtypes ("str": text,
    :data:`TEXT_DTYPE`): the result of an analysis whose parts are all
    empty, typed as a full one is.

    >>> empty_frame({"id": "int64", "name": "str"}).dtypes.astype(str).to_dict() == {"id": "int64",
    ...                                                                           "name": str(TEXT_DTYPE)}
    True
    """
    return typed(pd.DataFrame({name: pd.Series(dtype=object) for name in dtypes}), dtypes)


def typed(frame: pd.DataFrame, dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """``frame`` with its columns in these dtypes: those given as "str"
    through :func:`text_array` (missing values stay missing), the others by
    ``astype``.

    >>> out = typed(pd.DataFrame({"id": [1.0], "name": [None]}), {"id": "Int64", "name": "str"})
    >>> out.dtypes.astype(str).to_dict() == {"id": "Int64", "name": str(TEXT_DTYPE)}, out["name"].isna().tolist()
    (True, [True])
    """
    out = frame.astype({name: dtype for name, dtype in dtypes.items() if dtype != "str"})
    for name, dtype in dtypes.items():
        if dtype == "str":
            out[name] = text_array(out[name])
    return out


def _frame(kind: str, columns: list) -> pd.DataFrame:
    fields = _fields(kind)
    data = {}
    index = None
    for name, values, valid in columns:
        missing = None if valid is None else ~valid.astype(bool)
        f = fields.get(name)
        ftype = f["type"] if f else ("time" if name in ("created_at", "updated_at") else None)
        if name == "id":
            index = pd.Index(values, name="id")
            continue
        if ftype == "time":
            if missing is not None:
                values[missing] = _NAT
            col = values.view("datetime64[ns]")
        elif ftype in ("integer", "ref", "anyref"):
            if missing is None and len(values) == 0 and not (f and f["required"]):
                missing = np.zeros(0, dtype=bool)  # nullable as with rows: an empty column's dtype is the same
            col = values if missing is None or (f and f["required"]) else pd.arrays.IntegerArray(values, missing)
        elif ftype == "bool":
            col = pd.arrays.BooleanArray(values.astype(bool), missing if missing is not None
                                         else np.zeros(len(values), dtype=bool))
        elif ftype == "text":  # (tags and custom are no declared fields: they hold lists and dicts, object)
            # A column with no value at all (common: fields nobody fills)
            # made without reading its Nones: a tenth of the time.
            col = _no_text(len(values)) if missing is not None and len(values) and missing.all() \
                else text_array(values)
        else:
            col = values
        data[name] = col
    return pd.DataFrame(data, index=index if index is not None else pd.Index([], name="id", dtype=np.int64))


def _field_name(name: Any) -> str:
    """A field's name as the core reads it. One holding a lone surrogate
    names no field: escaped (no field's name holds a backslash), the core
    refuses it naming it, where pybind11 raised a bare RuntimeError."""
    return str(name).encode("utf-8", "backslashreplace").decode("utf-8")


def _python_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v
