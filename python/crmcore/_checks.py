"""Checks of the parameters the analyses take, so that nonsense (a negative
horizon, a support of 2, ``bins=2.5``) is refused with a crmcore error that
names the function, the parameter and the allowed range, instead of a
pybind11 TypeError, a numpy IndexError or a silently meaningless result."""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Mapping

import numpy as np

from ._core import ValidationError

__all__ = ["number", "whole", "weights"]


def _fail(where: str, name: str, rule: str, value: Any) -> ValidationError:
    return ValidationError(f"{where}: {name} must be {rule}, not {value!r}")


def _real(where: str, name: str, value: Any, rule: str) -> float:
    # bool is an int to Python, but True as a horizon is a mistake.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _fail(where, name, rule, value)
    x = float(value)
    if math.isnan(x):
        raise _fail(where, name, rule, value)
    return x


def number(where: str, name: str, value: Any, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a float within [lo, hi] (either end open or absent).

    >>> number("rfm", "x", 0.5, lo=0, hi=1)
    0.5
    """
    left = "" if lo is None else f"{'>' if lo_open else '>='} {lo:g}"
    right = "" if hi is None else f"{'<' if hi_open else '<='} {hi:g}"
    rule = "a number" + (" " + " and ".join(p for p in (left, right) if p) if left or right else "")
    x = _real(where, name, value, rule)
    finite_needed = lo is None or hi is None
    if (finite_needed and math.isinf(x)) or (lo is not None and (x < lo or (lo_open and x == lo))) or (
            hi is not None and (x > hi or (hi_open and x == hi))):
        raise _fail(where, name, rule, value)
    return x


def whole(where: str, name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an int within [lo, hi]; whole floats (5.0) are accepted.

    >>> whole("rfm", "bins", 5.0, lo=1, hi=100)
    5
    """
    span = (f" from {lo} to {hi}" if hi is not None else f" >= {lo}") if lo is not None else (
        f" <= {hi}" if hi is not None else "")
    rule = "a whole number" + span
    x = _real(where, name, value, rule)
    if not math.isfinite(x) or x != math.floor(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        raise _fail(where, name, rule, value)
    return int(x)


def weights(where: str, name: str, value: Mapping | None, known: Iterable[str]) -> dict:
    """Weights by component name: known names, finite and >= 0, not all zero.

    >>> weights("health", "weights", {"value": 2}, ["value", "loyalty"])
    {'value': 2.0}
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(where, name, "a mapping of component name to weight", value)
    names = list(known)
    out = {}
    for key, w in value.items():
        if key not in names:
            raise ValidationError(f"{where}: {name} has an unknown component {key!r} (known: {', '.join(names)})")
        out[key] = number(where, f"{name}[{key!r}]", w, lo=0)
    return out
