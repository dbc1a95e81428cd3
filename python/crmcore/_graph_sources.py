"""Edges from where a team keeps them, into the C++ graph without pandas:
a table of a PostgreSQL server or a SQLite file (read by the core through its
backend boundary), or a Spark DataFrame (collected as Arrow columns).
:meth:`crmcore.Graph.from_table` and :meth:`crmcore.Graph.from_spark` are the
public names; this module holds their conversions."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._args import _invalid
from .graph import _MAX_TYPES


def read_table(where: str, table: str, src: str, dst: str, weight: str | None, type_: str | None,
               directed: bool) -> tuple[Any, list[str] | None]:
    """The core graph and its type names from a database table."""
    core, names = _core.GraphCore.from_table(str(where), table, src, dst, weight or "", type_ or "", bool(directed))
    return core, (list(names) if type_ else None)


def _refuse_nulls(column: Any, name: str, why: str = "") -> None:
    """Raises naming the first null row of an Arrow column, if it has one."""
    import pyarrow.compute as pc

    if column.null_count:
        row = int(pc.index(pc.is_null(column), True).as_py())
        raise _invalid("from_spark", name, f"row {row} is null{why}")


def _arrow_ids(column: Any, name: str) -> np.ndarray:
    """An Arrow column of node ids as int64, refusing what is not an id."""
    import pyarrow as pa
    import pyarrow.compute as pc

    _refuse_nulls(column, name, "; every edge needs both ends")
    if not pa.types.is_integer(column.type):
        raise _invalid("from_spark", name, f"holds {column.type}, not integer ids; cast it in Spark first")
    if pa.types.is_unsigned_integer(column.type) and len(column) and pc.max(column).as_py() > 2**63 - 1:
        raise _invalid("from_spark", name, "holds ids beyond int64")
    return np.ascontiguousarray(column.to_numpy(), dtype=np.int64)


def read_spark(sdf: Any, src: str, dst: str, weight: str | None, type_: str | None,
               directed: bool) -> tuple[Any, list[str] | None]:
    """The core graph and its type names from a Spark DataFrame's columns."""
    import pyarrow as pa

    names = [src, dst] + [c for c in (weight, type_) if c]
    missing = [c for c in names if c not in sdf.columns]
    if missing:
        raise _invalid("from_spark", missing[0], f"is not a column of the DataFrame (it has {sorted(sdf.columns)})")
    table = sdf.select(*names).toArrow()  # Arrow batches collected on the driver: no pandas rows
    s = _arrow_ids(table.column(src), src)
    d = _arrow_ids(table.column(dst), dst)
    w = None
    if weight:
        col = table.column(weight)
        _refuse_nulls(col, weight)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise _invalid("from_spark", weight, f"holds {col.type}, not numbers")
        w = np.ascontiguousarray(col.to_numpy(), dtype=np.float64)
    codes, type_names = None, None
    if type_:
        col = table.column(type_)
        _refuse_nulls(col, type_)
        encoded = col.cast(pa.string()).combine_chunks().dictionary_encode()
        if len(encoded.dictionary) > _MAX_TYPES:
            raise _invalid("from_spark", type_, f"at most {_MAX_TYPES} distinct edge types are supported")
        codes = np.ascontiguousarray(encoded.indices.to_numpy(), dtype=np.uint8)
        type_names = [str(v) for v in encoded.dictionary.to_pylist()]
    core = _core.GraphCore.from_edges(s, d, w, codes, bool(directed), None)
    return core, type_names
