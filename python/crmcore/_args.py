"""Checking the arguments callers pass to the graph, scoring and
lifetime-value APIs, so that a bad one is refused with a
:class:`crmcore.ValidationError` naming it, never cast into something else
(a pybind11 TypeError, a truncated float, a silently meaningless result).

Node ids are int64 record ids. Anything that is not exactly one (1.9, NaN,
2**64, "a", a boolean mask) is refused with its position: truncating or
casting it would silently merge distinct nodes.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._core import ValidationError

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_SIMILARITY_METHODS = ("jaccard", "adamic_adar")


def _invalid(where, field, reason):
    """The error for a bad argument, worded like the core's (kind, field: reason)
    and carrying the same attributes: ``where`` as ``kind``, ``field`` and
    ``reason`` (``row`` and ``record_id`` stay None: an argument is no row)."""
    error = ValidationError(f"{where}, field '{field}': {reason}")
    error.kind, error.field, error.reason = where, field, reason
    return error


def _id_problem(v, noun="node id"):
    """Why ``v`` cannot be a node id (or the ``noun`` given: "record id"), or
    None when ``int(v)`` is one."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (bool, np.bool_)):
        return f"is a boolean, not a {noun}"
    if isinstance(v, numbers.Integral):
        return None if _INT64_MIN <= int(v) <= _INT64_MAX else f"is outside the int64 range of {noun}s"
    if isinstance(v, numbers.Real):
        f = float(v)
        if math.isnan(f):
            return "is missing"
        if not math.isfinite(f) or f != math.floor(f):
            return f"is not an integer {noun}"
        return None if -(2.0**63) <= f < 2.0**63 else f"is outside the int64 range of {noun}s"
    if v is None or v is pd.NA or v is pd.NaT:
        return "is missing"
    return f"is not an integer {noun}"


def _node_ids(values, where, field, hint="", noun="node id"):
    """Node ids as a contiguous int64 array; refuses the first value that is
    not an integer in the int64 range, naming its position."""
    listed = not isinstance(values, (np.ndarray, pd.Series, pd.Index))
    if isinstance(values, (pd.Series, pd.Index)):
        if values.hasnans:
            arr = np.asarray(values, dtype=object)  # the element check names the first missing one
        elif pd.api.types.is_integer_dtype(values.dtype):
            arr = values.to_numpy(dtype=np.int64 if values.dtype.kind != "u" else np.uint64)
        else:
            arr = values.to_numpy()
    else:
        arr = np.asarray(values)
    arr = arr.reshape(-1)
    kind = arr.dtype.kind
    if listed and (kind not in "iu" or (isinstance(values, (list, tuple))
                                        and any(isinstance(v, (bool, np.bool_)) for v in values))):
        # NumPy turned the list into floats (ints beyond 2**53 lost digits)
        # or strings (1 became '1'), or a True among ints into 1: check the
        # elements as they were given.
        kind = "O"
        arr = np.asarray(values, dtype=object).reshape(-1)
    if kind == "i":
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind == "u":
        bad = np.flatnonzero(arr > np.uint64(_INT64_MAX))
    elif kind == "f":
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(arr) & (arr == np.floor(arr)) & (arr >= -(2.0**63)) & (arr < 2.0**63)
        bad = np.flatnonzero(~ok)
    elif kind == "b":
        bad = np.arange(min(len(arr), 1))
    else:  # Python objects, one at a time
        arr = arr.astype(object)
        first = next((i for i, v in enumerate(arr) if _id_problem(v, noun) is not None), None)
        if first is None:
            return np.array([int(v) for v in arr], dtype=np.int64)
        bad = [first]
    if len(bad):
        pos = int(bad[0])
        v = arr[pos].item() if isinstance(arr[pos], np.generic) else arr[pos]
        raise _invalid(where, field, f"{v!r} at position {pos} {_id_problem(v, noun)}{hint}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _node(value, where, field, noun="node id"):
    """One node id as an int, refused like :func:`_node_ids` refuses arrays."""
    problem = _id_problem(value, noun)
    if problem is not None:
        raise _invalid(where, field, f"{value!r} {problem}")
    return int(value)


def _record_id(value, kind, field="id"):
    """A record id argument as an int: ``int()`` would make 1.9 record 1 and
    wrap NumPy's uint64; refused naming the kind and argument instead."""
    return _node(value, kind, field, noun="record id")


def _record_ids(values, kind, field="ids"):
    """Record ids as an int64 array, refused as :func:`_record_id` refuses one."""
    return _node_ids(values, kind, field, noun="record id")


def _integer(value, where, field, low=None, high=_INT64_MAX, none=False):
    """An integer argument in [low, high] (None passes when ``none``)."""
    if value is None and none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _invalid(where, field, f"must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None and high != _INT64_MAX:
            bounds = f"in [{low}, {high}]"
        else:
            bounds = f">= {low}" if low is not None else f"<= {high}"
        raise _invalid(where, field, f"must be an integer {bounds}, got {value}")
    return value


# The longest span of days an argument may ask for: a century. Longer ones,
# added to a date, pass the times the store keeps (pandas raised a bare
# OutOfBoundsTimedelta for 2**63 days).
MAX_DAYS = 36_525


def _count(value, where, field, low=0, high=MAX_DAYS, none=False):
    """A whole-number argument (a count, a span of whole days) in [low, high]
    as an int: 90.0 passes; NaN, an infinity, a boolean or 1.5 is refused
    naming ``field`` (None passes when ``none``).

    >>> _count(90.0, "dso", "days", low=1)
    90
    """
    if value is None and none:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    rule = f"must be a whole number in [{low}, {high}], got {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _invalid(where, field, rule)
    if not isinstance(value, numbers.Integral):
        f = float(value)
        if not math.isfinite(f) or f != math.floor(f):
            raise _invalid(where, field, rule)
    if not low <= value <= high:
        raise _invalid(where, field, rule)
    return int(value)


def _period(value, where, field="period", words=None):
    """A period of time to group by, as a pandas period alias ("M", "Q",
    "Y", "W", "2M", ...; with ``words`` also the names it maps to aliases,
    such as "month"). Checked before any work, so that a bad one is refused
    naming ``field`` whether or not there are rows to group, never pandas'
    "Invalid frequency" ValueError or "Argument 'freq'" TypeError.

    >>> _period("quarter", "funnel", words={"quarter": "Q"}), _period("2M", "win_rate")
    ('Q', '2M')
    """
    alias = (words or {}).get(value, value) if isinstance(value, str) else None
    if alias:
        try:
            pd.Period("2000-01-01", freq=alias)
            return alias
        except (ValueError, TypeError, AttributeError):
            pass
    named = f"{', '.join(map(repr, words))} or " if words else ""
    raise _invalid(where, field, f"must be a period ({named}a pandas period alias such as 'M', 'Q' or 'Y'), "
                                 f"got {value!r}")


def _days(value, where, field, low=0.0):
    """A span of days that may be fractional, in [low, :data:`MAX_DAYS`], as a float.

    >>> _days(7.5, "not_contacted", "days")
    7.5
    """
    return _number(value, where, field, low=low, high=MAX_DAYS)


def _real(value, where, field, positive=False):
    """A real-number argument as a float; ``positive`` also asks for finite and > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _invalid(where, field, f"must be a number, got {value!r}")
    value = float(value)
    if positive and not (math.isfinite(value) and value > 0):
        raise _invalid(where, field, f"must be a finite number > 0, got {value!r}")
    return value


def _number(value, where, field, low=None, high=None, low_open=False, high_open=False, none=False):
    """A real-number argument within [low, high] (either end open or absent)
    as a float; NaN is refused, and so is an infinity unless both ends are
    given. With ``none``, None (the setting left unset) is kept: NaN never
    stands for it, as the store would keep NaN as missing and a default
    would be used in its place.

    >>> _number(0.5, "rfm", "x", low=0, high=1)
    0.5
    """
    if none and value is None:
        return None
    parts = [f"{'>' if low_open else '>='} {low:g}" if low is not None else "",
             f"{'<' if high_open else '<='} {high:g}" if high is not None else ""]
    rule = "a number " + " and ".join(p for p in parts if p) if any(parts) else "a finite number"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _invalid(where, field, f"must be {rule}, got {value!r}")
    x = float(value)
    outside = math.isnan(x) or ((low is None or high is None) and math.isinf(x))
    outside |= low is not None and (x < low or (low_open and x == low))
    outside |= high is not None and (x > high or (high_open and x == high))
    if outside:
        raise _invalid(where, field, f"must be {rule}, got {value!r}")
    return x


def _weights(value, where, field, known):
    """Weights by component name (None: none given): known names, each a number >= 0.

    >>> _weights({"value": 2}, "health", "weights", ["value", "loyalty"])
    {'value': 2.0}
    """
    if value is None:
        return {}
    names = list(known)
    if not isinstance(value, Mapping):
        raise _invalid(where, field, f"must map component names ({', '.join(names)}) to weights, got {value!r}")
    out = {}
    for key, w in value.items():
        if key not in names:
            raise _invalid(where, field, f"{key!r} is not a component (known: {', '.join(names)})")
        out[key] = _number(w, where, f"{field}[{key!r}]", low=0)
    return out


def _top(value, where, field="top"):
    """How many results to keep: None keeps all (0 for the core), else >= 1."""
    return 0 if value is None else _integer(value, where, field, low=1)


def _method(method, where):
    """A similarity method name, checked before any work (and before an empty answer)."""
    if method not in _SIMILARITY_METHODS:
        raise _invalid(where, "method", f"{method!r} is not one of 'jaccard', 'adamic_adar'")
    return method


def _float64(values, what):
    """Per-edge numbers of from_edges as a float64 array, every one finite."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise _invalid("from_edges", what, "must be numbers, one per edge") from None
    finite = np.isfinite(arr)
    if not finite.all():
        pos = int(np.flatnonzero(~finite)[0])
        raise _invalid("from_edges", what, f"edge {pos}: {arr[pos].item()!r} is not a finite number")
    return np.ascontiguousarray(arr)
