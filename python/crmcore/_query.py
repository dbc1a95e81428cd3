"""Conditions for `db.find`, `db.frame` and `db.ids`, in the form of pyarrow's and
``pandas.read_parquet``'s ``filters=``, turned into what the core's query reads.

A predicate is a tuple ``(field, op, value)``; a list of predicates must all
hold; a list of such lists is an OR of them. The core checks fields, operators
and values (and names the field when one is wrong); this module only gives
the values the shape of a column, without a Python loop over them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection, Iterable, Mapping

if TYPE_CHECKING:
    from typing_extensions import TypeGuard

import numpy as np
import pandas as pd

from . import _core
from ._args import _integer

# Operators whose value is a list (a lone text is one item of it for tags and texts).
_LIST_OPS = {"in", "not in", "any", "all", "none", "contains", "icontains", "startswith", "istartswith"}
_TEXT_OR_LIST_OPS = {"any", "all", "none", "contains", "icontains", "startswith", "istartswith"}
_NO_VALUE_OPS = {"is null", "not null", "is not null"}


def _refuse(kind: str, field: Any, reason: str) -> _core.ValidationError:
    """The core's ValidationError, with the attributes it has when the core raises it."""
    # Shown as text that can be printed, as the core shows what it quotes.
    field = (field if isinstance(field, str) else repr(field)).encode("utf-8", "backslashreplace").decode("utf-8")
    error = _core.ValidationError(f"{kind}, field '{field}': {reason}" if field else f"{kind}: {reason}")
    error.kind, error.row, error.field, error.reason, error.record_id = kind, None, field or None, reason, None
    return error


def _name(kind: str, text: Any, what: str = "a field", field: Any = None) -> str:
    """A field name (or the operator of `field`) the core can read: text that is valid UTF-8."""
    field = text if field is None else field
    if not isinstance(text, str):
        raise _refuse(kind, field, f"{what} is named by text, not {text!r}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(kind, field, f"{what} is not valid text (it holds a lone surrogate)") from None
    return text


def operand(kind: str, field: str, values: Any) -> tuple:
    """One column of values for the core, as imports pass columns: numbers,
    flags and datetimes keep their type, anything else goes as text (which the
    core converts with the field's type), None/NaN/NaT are missing.

    A lone value and lists of plain numbers or text are made without pandas,
    whose Series alone costs more than an indexed query takes in the store."""
    custom = field.startswith("custom.")
    items = None
    if isinstance(values, pd.Series):
        column = _column_of_series(kind, values)
    elif isinstance(values, (np.ndarray, pd.Index, pd.api.extensions.ExtensionArray)):
        plain = isinstance(values, np.ndarray) and values.dtype.kind in "biufU"
        column = ("value", values.astype(object) if values.dtype.kind == "U" else values, None, None) if plain \
            else _column_of_series(kind, _series(values.tolist()) if values.dtype == object else pd.Series(values))
    else:
        items = list(values)
        if len(items) == 1:
            from ._convert import _record_columns

            column = _record_columns(kind, {"value": items[0]})[0]
        else:
            try:
                array = np.asarray(items) if items else np.empty(0, dtype=object)
            except ValueError:  # ragged: lists among the values
                array = np.array(items + [None], dtype=object)[:-1]
            if array.dtype.kind in "biuf" or (array.dtype.kind == "U" and not custom):
                column = ("value", array.astype(object) if array.dtype.kind == "U" else array, None, None)
            else:  # missing values, datetimes, text among numbers: as pandas reads them
                column = _column_of_series(kind, _series(items))
    array, valid = column[1], column[2]
    # A column has one type, and a custom key has none of its own to convert
    # text to: [3, "3"] would be read as ["3", "3"].
    if custom and array.dtype == object:
        present = array if valid is None else array[valid.astype(bool)]
        if not all(isinstance(v, str) for v in present):
            raise _refuse(kind, field, "custom values compare like with like: give numbers, text or true/false, one "
                                       f"kind to a list (an OR of two conditions asks for either); got {values!r}")
    return column


def _series(items: list) -> pd.Series:
    """Values as pandas reads numbers, flags and datetimes among missing
    ones; text stays Python objects: pandas 3 with pyarrow keeps text as
    UTF-8 and raises on a lone surrogate, which the core names instead."""
    if pd.api.types.infer_dtype(items, skipna=True) in ("integer", "floating", "mixed-integer-float", "boolean",
                                                        "datetime", "datetime64"):
        return pd.Series(items)
    return pd.Series(items, dtype=object)


def _column_of_series(kind: str, s: pd.Series) -> tuple:
    """Values of any type pandas infers (None/NaN/NaT among them), as an
    import's column of them."""
    from ._convert import _columns

    return _columns(kind, pd.DataFrame({"value": s.reset_index(drop=True)}))[0]


def _many(value: Any) -> TypeGuard[Collection[Any]]:
    return isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series, pd.Index))


def _predicate(kind: str, p: Any) -> tuple:
    if not isinstance(p, tuple) or len(p) not in (2, 3):
        raise _refuse(kind, "", f"a condition is a tuple (field, op, value), or (field, 'is null'); got {p!r}")
    field = _name(kind, p[0])
    value = p[2] if len(p) == 3 else None
    op = " ".join(_name(kind, p[1], "an operator (such as '==' or 'in')", field).lower().split())
    if op in _NO_VALUE_OPS:
        if value is not None:
            raise _refuse(kind, field, f"{op!r} takes no value, not {value!r}")
        return (field, op, None)
    if len(p) == 2:
        raise _refuse(kind, field, f"{op!r} needs a value: (field, op, value)")
    if op in _LIST_OPS:
        if isinstance(value, str) and op in _TEXT_OR_LIST_OPS:
            value = [value]
        elif isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(value, Mapping):
            raise _refuse(kind, field, f"{op!r} takes a list of values, not {value!r}")
        return (field, op, operand(kind, field, value))
    if op == "between":
        if not _many(value) or len(value) != 2:
            raise _refuse(kind, field, f"'between' takes two values (low, high), not {value!r}")
        return (field, op, operand(kind, field, list(value)))
    return (field, op, operand(kind, field, [value]))


def groups(kind: str, filters: Any, criteria: Mapping[str, Any], ids: Any = None) -> list:
    """The core's OR of AND-groups for ``filters`` (pyarrow's form) ANDed with
    keyword criteria (find's rules) and, when given, the ids."""
    if isinstance(filters, tuple):
        filters = [filters]
    elif isinstance(filters, (str, bytes, Mapping)):
        raise _refuse(kind, "", f"filters are tuples (field, op, value) in a list, not {filters!r}")
    filters = [] if filters is None else list(filters)
    if all(isinstance(g, list) for g in filters):
        dnf = [[_predicate(kind, p) for p in g] for g in filters]
    elif any(isinstance(g, list) for g in filters):
        raise _refuse(kind, "", "filters are a list of tuples (all must hold) or a list of lists of tuples "
                                "(any list must hold), not a mix")
    else:
        dnf = [[_predicate(kind, p) for p in filters]]
    extra: list[tuple[str, str | None, Any]] = []
    for field, value in criteria.items():
        extra.append((_name(kind, field), None, operand(kind, field, value if _many(value) else [value])))
    if ids is not None:
        extra.append(("id", "in", operand(kind, "id", np.asarray(ids if isinstance(ids, np.ndarray) else list(ids),
                                                                 dtype=np.int64))))
    if not any(dnf) and not extra:
        return []
    return [g + extra for g in (dnf if any(dnf) else [[]])]


def order(kind: str, order_by: Any) -> list:
    """[(field, descending)] from "field", "-field" (descending) or a list of them."""
    if order_by is None:
        return []
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    out = []
    for item in items:
        if not isinstance(item, str) or not item.lstrip("-"):
            raise _refuse(kind, "", f"order_by takes field names ('-name' for descending), not {item!r}")
        _name(kind, item)
        out.append((item[1:], True) if item.startswith("-") else (item, False))
    return out


def window(limit: Any, offset: Any, where: str) -> tuple[int, int]:
    """(limit, offset) for the core: -1 for no limit. Refused as ``audit_log``
    refuses its limit (one rule: a whole number in [0, 2**63-1]), with a
    ValidationError naming ``where`` (the function) and the argument."""
    return ((-1 if limit is None else _integer(limit, where, "limit", low=0)),
            (0 if offset is None else _integer(offset, where, "offset", low=0)))
