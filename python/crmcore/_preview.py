"""What a rule would have done (``db.automation.preview``) for the triggers
whose history is not a plain column: field changes, score crossings and
schedules. The records' values at a past moment come from the audit log,
which keeps every update's old and new values: a field's value after a
moment is the new value of its last change by then, else the old value of
its first change after, else its value now. Conditions are judged on those
values here, in pandas, with the query's meaning (a missing value meets
only ``is null``; an ``in`` list holding None matches a missing value).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _core

_TAG_SEPARATOR = "\x1f"


def _field_types(kind: str) -> dict:
    for k in _core.kinds():
        if k["name"] == kind:
            types = {f["name"]: f["type"] for f in k["fields"]}
            types.update(id="integer", created_at="time", updated_at="time", tags="tags")
            return types
    raise _core.NotFound(f"no record kind {kind!r}")


def _stored(value: Any, kind_of_field: str) -> Any:
    """An audit value (as the file keeps it) as a frame shows it."""
    if value is None:
        return None
    if kind_of_field == "time":
        return pd.Timestamp(int(value))
    if kind_of_field == "tags":
        return [t for t in str(value).split(_TAG_SEPARATOR) if t]
    return value


def changes(db: Any, kind: str, fields: list) -> pd.DataFrame:
    """Every audited update of ``fields`` of records of ``kind``:
    record_id, seq, at, field, old, new (values as a frame shows them).
    The changes automation rules made to an insert's rows before they
    landed count too: the insert's entry lists them per record
    (``changes["records"]``), after the values the rows were given; so
    does a large upsert's entry, with each record's old and new values."""
    types = _field_types(kind)
    log = db.audit_log(None)
    log = log[(log["kind"] == kind) & log["changes"].notna()]
    rows = []
    for seq, entry in log.iterrows():
        if entry["op"] == "update" and entry["first_id"] == entry["last_id"]:
            per_record = {int(entry["first_id"]): entry["changes"]}
        elif entry["op"] in ("insert", "update") and isinstance(entry["changes"], dict):
            # An insert's rows as rules changed them; a large upsert's records.
            per_record = {int(i): c for i, c in entry["changes"].get("records", {}).items()}
        else:
            continue
        for record, changed in per_record.items():
            for field in fields:
                if field in changed:
                    old, new = changed[field]
                    rows.append((record, int(seq), entry["at"], field,
                                 _stored(old, types.get(field, "")), _stored(new, types.get(field, ""))))
    out = pd.DataFrame(rows, columns=["record_id", "seq", "at", "field", "old", "new"])
    return out.sort_values("seq", ignore_index=True)


def as_of(db: Any, kind: str, fields: list, ids: np.ndarray, moments: np.ndarray, by: str = "at") -> pd.DataFrame:
    """The values of ``fields`` of each record ``ids[i]`` just after
    ``moments[i]`` (a time, or an audit seq with ``by="seq"``), one row per
    pair; records that did not exist then (created later, or deleted since)
    have missing values and ``exists`` False."""
    ids = np.asarray(ids, dtype=np.int64)
    known = [f for f in fields if f != "id"]
    columns = [f for f in known if f != "created_at"] + ["created_at"]
    # Records deleted since are not in the frame: they count as absent.
    now = db.frame(kind, filters=[("id", "in", np.unique(ids).tolist())], columns=columns) \
        if len(ids) else pd.DataFrame(columns=columns)
    out = now.reindex(ids).reset_index(drop=True)
    out["id"] = ids
    moment = pd.Series(moments)
    out["exists"] = out["created_at"].notna().to_numpy()
    if by == "at":
        out["exists"] &= (out["created_at"] <= moment).to_numpy()
    history = changes(db, kind, known)
    for field in known:
        if field == "created_at":
            continue
        mine = history[history["field"] == field]
        if mine.empty:
            continue
        col = out[field].astype(object).copy()
        for record, group in mine.groupby("record_id"):
            where = np.flatnonzero(ids == record)
            keys = group[by].to_numpy()
            for i in where:
                done = np.flatnonzero(keys <= moments[i])
                col.iat[i] = group["new"].iat[done[-1]] if len(done) else group["old"].iat[0]
        out[field] = col
    return out


def _op_values(value: Any, kind_of_field: str) -> list:
    values = list(value) if isinstance(value, (list, tuple, set)) else [value]
    if kind_of_field == "time":
        return [None if v is None else pd.Timestamp(v) for v in values]
    return values


def _test(values: pd.Series, op: str, given: Any, kind_of_field: str) -> np.ndarray:
    present = values.map(lambda v: v is not None and not (isinstance(v, float) and np.isnan(v))
                         and v is not pd.NaT).to_numpy(bool)
    if kind_of_field == "tags":
        tags = values.map(lambda v: set(v) if isinstance(v, (list, tuple, set)) else set())
        tag_set = set(_op_values(given, "text"))
        if op in ("is null", "not null", "is not null"):
            has = tags.map(bool).to_numpy(bool)
            return ~has if op == "is null" else has
        test = {"any": lambda t: bool(t & tag_set), "all": lambda t: tag_set <= t,
                "none": lambda t: not (t & tag_set)}[op]
        return tags.map(test).to_numpy(bool)
    if op == "is null":
        return ~present
    if op in ("not null", "is not null"):
        return present
    wanted = _op_values(given, kind_of_field)
    if op in ("==", "=", "!=") and wanted[0] is None:
        return ~present if op != "!=" else present
    if op == "in":
        keep = [v for v in wanted if v is not None]
        return (present & values.map(lambda v: v in keep).to_numpy(bool)) | (~present & (None in wanted))
    if op == "not in":
        return present & ~values.map(lambda v: v in wanted).to_numpy(bool)
    if op in ("contains", "icontains", "startswith", "istartswith"):
        blind = op.startswith("i")
        texts = [w.lower() if blind else w for w in map(str, wanted)]
        def hit(v: Any) -> bool:
            s = str(v).lower() if blind else str(v)
            return any((t in s) if op.endswith("contains") else s.startswith(t) for t in texts)
        return present & values.map(lambda v: v is not None and hit(v)).to_numpy(bool)
    compare = {"==": lambda v: v == wanted[0], "=": lambda v: v == wanted[0], "!=": lambda v: v != wanted[0],
               "<": lambda v: v < wanted[0], "<=": lambda v: v <= wanted[0], ">": lambda v: v > wanted[0],
               ">=": lambda v: v >= wanted[0], "between": lambda v: wanted[0] <= v <= wanted[1]}[op]
    return present & values.map(lambda v: v is not None and bool(compare(v))).to_numpy(bool)


def meets(kind: str, values: pd.DataFrame, condition: Any) -> np.ndarray:
    """Which rows of ``values`` (a column per field) meet a rule's condition
    (the ``filters`` form, None for every record)."""
    types = _field_types(kind)
    if not condition:
        return np.ones(len(values), dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    for group in condition:
        ok = np.ones(len(values), dtype=bool)
        for test in group:
            field, op, given = test[0], test[1], (test[2] if len(test) > 2 else None)
            if field.startswith("custom."):
                raise ValueError(f"a condition on {field} cannot be tried on history: custom values are not "
                                 "kept per field in the audit log")
            ok &= _test(values[field], op, given, types[field])
        out |= ok
    return out


def condition_fields(condition: Any) -> list:
    """The fields a condition reads, each once."""
    return list(dict.fromkeys(t[0] for g in (condition or []) for t in g))
