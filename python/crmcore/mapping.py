"""Import mappings: other systems' exports read under the store's names.

A :class:`Mapping` says how a file's columns become a kind's fields: which
column is which field, which values mean which (``企业`` is
``organization``), which columns hold Excel serial dates or amounts in
units of 10,000, and what to do with columns the kind has no field for.
It is saved as a small JSON file, so that a script that imports the same
export every week reuses it::

    m = crm.Mapping(columns={"客户名称": "name", "客户类型": "kind"},
                    values={"kind": {"企业": "organization", "个人": "person"}},
                    unknown="custom")
    m.save("customers.mapping.json")
    db.import_csv("customers", "export.csv", mapping="customers.mapping.json")

The mapping only renames, replaces and converts, column by column with
pandas; every value still goes through the core's checks, which also read
the usual spellings of dates, amounts and yes/no without help (see the
README). A value the mapping cannot convert is a problem of its row, named
by the file's column as well as the field, so that ``on_error="skip"``
rejects that row only and a dry run (``db.check_frame``) lists it.
"""
from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _core
from ._convert import _custom_text, _field_name, _json_scalar
from ._text_file import undecodable

__all__ = ["Mapping"]

#: The version of the mapping file's layout, written into every file.
FILE_VERSION = 1
UNKNOWN_MODES = ("error", "custom", "ignore")
# Day 0 of Excel's two date systems. In the 1900 system (Windows) serial 1
# is 1900-01-01 and serial 60 the 29 February 1900 that never was (a bug
# kept from Lotus 1-2-3), so serials from 61 on count from 1899-12-30 and
# those below 60 from 1899-12-31. The 1904 system (old Macs) has no such day.
_EXCEL_EPOCHS = {"excel": pd.Timestamp("1899-12-30"), "excel1904": pd.Timestamp("1904-01-01")}
_EXCEL_LEAP_BUG = 60
_MS_PER_DAY = 86_400_000
_FORMAT_KEYS = ("format", "multiply")
# Columns every kind takes besides its fields; "id" names the record to
# write in an update, which the store decides on.
_EXTRA_COLUMNS = ("tags", "custom", "id")
# Rows of the dry run's report.
REPORT_COLUMNS = ["row", "column", "field", "value", "reason"]


def _invalid(message: str, **attrs: Any) -> "_core.ValidationError":
    """A crm.ValidationError with the attributes the core's errors carry."""
    error = _core.ValidationError(message)
    for name in ("kind", "row", "field", "reason", "record_id", "column"):
        setattr(error, name, attrs.get(name))
    if error.reason is None:
        error.reason = message
    return error


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: "list[tuple[str, Any]]") -> dict:
    """A JSON object's members as a dict, refusing a key given twice."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


@dataclass
class Mapping:
    """How the columns of another system's export become a kind's fields.

    ``columns`` renames the file's columns to fields (``{"客户名称": "name"}``;
    ``None`` drops a column). ``values`` replaces values per field
    (``{"kind": {"企业": "organization"}}``), matched on their text with
    spaces trimmed; values not listed are kept for the store to check (a
    column kept as a custom field may have a value map too).
    ``formats`` says how to read a field's column: ``{"format": "excel"}``
    (Excel serial dates; ``"excel1904"`` for the Mac's date system), a
    ``strftime`` format such as ``{"format": "%d/%m/%Y"}`` for dates that
    are not year first, or ``{"multiply": 10000}`` for amounts in units of
    10,000 (multiplied as pandas multiplies). ``unknown`` says what happens to
    columns that name no field: ``"error"`` (the error names every one),
    ``"custom"`` (kept as custom fields under the file's column name) or
    ``"ignore"``. ``kind``, when given, is the only kind the mapping is for.
    Keys of ``values`` and ``formats`` may name the field or the file's column.

    >>> m = Mapping(columns={"客户名称": "name", "类型": "kind"},
    ...             values={"kind": {"企业": "organization", "个人": "person"}})
    >>> m.apply("customers", pd.DataFrame({"客户名称": ["甲公司"], "类型": ["企业"]})).to_dict("records")
    [{'name': '甲公司', 'kind': 'organization'}]
    """

    columns: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    unknown: str = "error"
    kind: "str | None" = None

    def __post_init__(self) -> None:
        def text_keys(obj, what):
            if not isinstance(obj, dict):
                raise _invalid(f"mapping: {what} must be a dict, not {type(obj).__name__}")
            for key in obj:
                if not isinstance(key, str):
                    raise _invalid(f"mapping: {what} has the key {key!r}; keys are column or field names (text)")
            return dict(obj)

        self.columns = text_keys(self.columns, "columns")
        for source, target in self.columns.items():
            if target is not None and not isinstance(target, str):
                raise _invalid(f"mapping: columns[{source!r}] must be a field name or None, not {target!r}")
        self.values = text_keys(self.values, "values")
        for name, replace in self.values.items():
            if not isinstance(replace, dict) or any(isinstance(k, bool) or not isinstance(k, (str, int))
                                                    for k in replace):
                raise _invalid(f"mapping: values[{name!r}] must be a dict from values (text or whole numbers) "
                               f"to what they mean, not {replace!r}")
            # Matched on text, so keys are kept as text (as a JSON file keeps
            # them), trimmed: two keys that read the same there must agree.
            trimmed: dict = {}
            given: dict = {}
            for k, v in replace.items():
                text = str(k).strip()
                if text in trimmed and trimmed[text] != v:
                    raise _invalid(f"mapping: values[{name!r}] has the keys {given[text]!r} and {k!r}, which read "
                                   f"the same ({text!r}, spaces trimmed) but mean {trimmed[text]!r} and {v!r}")
                trimmed.setdefault(text, v)
                given.setdefault(text, k)
            self.values[name] = trimmed
            for key, v in self.values[name].items():
                if v is not None and not isinstance(v, (str, numbers.Real)):
                    raise _invalid(f"mapping: values[{name!r}][{key!r}] must be text, a number, true/false or "
                                   f"None, not {type(v).__name__}")
        self.formats = text_keys(self.formats, "formats")
        for name, spec in self.formats.items():
            spec = self.formats[name] = text_keys(spec, f"formats[{name!r}]")
            unknown = [k for k in spec if k not in _FORMAT_KEYS]
            if unknown or not spec:
                raise _invalid(f"mapping: formats[{name!r}] takes 'format' or 'multiply', not {unknown or 'nothing'}")
            if "format" in spec and "multiply" in spec:
                raise _invalid(f"mapping: formats[{name!r}] is either a date format or a multiplier, not both")
            fmt = spec.get("format")
            if fmt is not None and not (isinstance(fmt, str) and (fmt in _EXCEL_EPOCHS or "%" in fmt)):
                raise _invalid(f"mapping: formats[{name!r}]['format'] must be 'excel', 'excel1904' or a strftime "
                               f"format such as '%d/%m/%Y', not {fmt!r}")
            factor = spec.get("multiply")
            if "multiply" in spec and (isinstance(factor, bool) or not isinstance(factor, numbers.Real)
                                       or not math.isfinite(factor) or factor == 0):
                raise _invalid(f"mapping: formats[{name!r}]['multiply'] must be a finite number other than 0, "
                               f"not {factor!r}")
        if self.unknown not in UNKNOWN_MODES:
            raise _invalid(f"mapping: unknown must be one of {', '.join(map(repr, UNKNOWN_MODES))}, "
                           f"not {self.unknown!r}")
        if self.kind is not None:
            _kind_fields(self.kind)

    # -- files ----------------------------------------------------------------
    def to_dict(self) -> dict:
        """The mapping as the JSON file holds it."""
        out: dict[str, Any] = {"crmcore_mapping": FILE_VERSION}
        if self.kind is not None:
            out["kind"] = self.kind
        out.update(columns=self.columns, values=self.values, formats=self.formats, unknown=self.unknown)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Mapping":
        """A mapping from the dict a mapping file holds (``crmcore_mapping`` may be left out).

        >>> Mapping.from_dict({"columns": {"客户名称": "name"}}).columns
        {'客户名称': 'name'}
        """
        if not isinstance(data, dict):
            raise _invalid(f"a mapping is a dict with columns, values, formats and unknown, "
                           f"not {type(data).__name__}")
        data = dict(data)
        version = data.pop("crmcore_mapping", FILE_VERSION)
        if version != FILE_VERSION:
            raise _invalid(f"mapping: version {version!r} is not one this crmcore reads ({FILE_VERSION})")
        unknown = [k for k in data if k not in ("columns", "values", "formats", "unknown", "kind")]
        if unknown:
            raise _invalid(f"mapping: unknown keys {', '.join(map(repr, unknown))} (a mapping has columns, values, "
                           "formats, unknown and kind; renames go under 'columns', e.g. {'columns': {'客户名称': "
                           "'name'}})")
        return cls(**data)

    def save(self, path: "str | os.PathLike") -> None:
        """Writes the mapping as a JSON file (UTF-8, readable and editable by hand).

        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.json"
        >>> Mapping(columns={"客户名称": "name"}).save(path)
        >>> Mapping.load(path) == Mapping(columns={"客户名称": "name"})
        True
        """
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "Mapping":
        """Reads a mapping file written by :meth:`save` (or by hand)."""
        where = f"mapping file '{os.fspath(path)}'"
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError as e:
            raise _invalid(f"mapping file {undecodable(path, e, csv=False)}") from None
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            raise _invalid(f"{where} is not JSON: {e}") from None
        except _RepeatedKey as e:  # json.loads would keep the last silently
            raise _invalid(f"{where}: the key {e.args[0]!r} appears twice in one object") from None
        except RecursionError:
            raise _invalid(f"{where} is nested too deeply to be a mapping") from None
        return cls.from_dict(data)

    @classmethod
    def of(cls, mapping: "Mapping | dict | str | os.PathLike | None") -> "Mapping | None":
        """A Mapping from what ``import_frame(mapping=...)`` takes: a Mapping,
        a dict as in a mapping file, or the path of a mapping file."""
        if mapping is None or isinstance(mapping, Mapping):
            return mapping
        if isinstance(mapping, dict):
            return cls.from_dict(mapping)
        if isinstance(mapping, (str, os.PathLike)):
            return cls.load(mapping)
        raise TypeError(f"mapping must be a Mapping, a dict or the path of a mapping file, "
                        f"not {type(mapping).__name__}")

    # -- use ------------------------------------------------------------------
    def apply(self, kind: str, df: pd.DataFrame) -> pd.DataFrame:
        """The frame as the store receives it: renamed, values replaced, dates
        and amounts converted. Values the mapping cannot convert are missing
        here; an import names them (see :meth:`crmcore.Database.check_frame`).
        """
        return prepare(kind, df, self).frame


def _kind_fields(kind: str) -> dict:
    from ._convert import _fields
    return _fields(kind)


@dataclass
class Prepared:
    """A frame made ready for the core by a mapping, and what is needed to
    say the file's column in each error."""

    kind: str
    original: pd.DataFrame
    frame: pd.DataFrame
    # field -> [(row, reason)]: values the mapping could not convert
    problems: dict = field(default_factory=dict)
    # field -> the file's column it came from (None: a mapping without renames)
    source: "dict | None" = None
    # problems of the file as a whole (unknown columns), for a dry run
    file_problems: list = field(default_factory=list)
    # the kind's fields, by name
    fields: dict = field(default_factory=dict)
    # whether the frame's custom column holds the unknown columns, as JSON text
    packed_custom: bool = False

    def core_columns(self, to_columns: Callable[[pd.DataFrame], list], frame: "pd.DataFrame | None" = None,
                     problems: "dict | None" = None) -> list:
        """The core's (name, values, valid, problems) columns of ``frame``
        (made by ``to_columns``), with the mapping's problems added."""
        frame = self.frame if frame is None else frame
        problems_of = self.problems if problems is None else problems
        columns = to_columns(frame.drop(columns="custom") if self.packed_custom else frame)
        if self.packed_custom:  # JSON text made here: nothing for to_columns to convert
            valid = frame["custom"].notna().to_numpy()
            columns.append(("custom", frame["custom"].to_numpy(dtype=object), None if valid.all() else valid, None))
        out = []
        for name, values, valid, problems in columns:
            extra = problems_of.get(name)
            if extra:
                problems = (problems or []) + extra
            out.append((name, values, valid, problems))
        return out

    def column_of(self, field_name: "str | None") -> "str | None":
        if not field_name:
            return None
        return field_name if self.source is None else self.source.get(field_name)

    @contextlib.contextmanager
    def naming_columns(self):
        """Re-raises the core's ValidationError naming the file's column too."""
        try:
            yield
        except _core.ValidationError as e:
            column = self.column_of(getattr(e, "field", None))
            if column is None or column == e.field or hasattr(e, "column"):
                raise
            row = f" row {e.row}" if e.row is not None else ""
            message = f"{e.kind}{row}, column {column!r} (field {e.field!r}): {e.reason}"
            raise _invalid(message, kind=e.kind, row=e.row, field=e.field, reason=e.reason,
                           record_id=e.record_id, column=column) from None

    def label(self, result: Any) -> Any:
        """An import's result with the file's column beside each error's field."""
        if self.source is None or not hasattr(result, "errors"):
            return result
        result.errors.insert(0, "column", result.errors["field"].map(self.column_of))
        return result

    def check(self, dry_run: Callable[[list], list], to_columns: Callable[[pd.DataFrame], list],
              keys: "list[str] | tuple" = ()) -> pd.DataFrame:
        """Every problem of the frame, found by dry runs of the core
        (``dry_run(columns)`` returns its errors as (row, field, reason)).

        The core stops at a row's first bad field. So the bad cells it names
        are then set aside (given a value another row holds; none for a
        unique field or one of the ``keys`` an upsert names records by, which
        another row's value would make a duplicate) and the frame is checked
        again, until a run names no new problem; what a set-aside cell itself
        causes is not reported.
        """
        frame = self.frame.copy()
        problems = {f: list(rows) for f, rows in self.problems.items()}
        found: dict[tuple[int, str], str] = {}
        set_aside: set[tuple[int, str]] = set()
        for _ in range(len(frame.columns) + 1):  # each run sets aside at least one column's cells
            new = [(int(row), str(f), reason) for row, f, reason in dry_run(self.core_columns(to_columns, frame,
                                                                                             problems))
                   if (int(row), str(f)) not in set_aside and (int(row), str(f)) not in found]
            for row, f, reason in new:
                found[(row, f)] = reason
            cells: dict[Any, Any] = {}
            for row, f, _ in new:
                if f in frame.columns:
                    cells.setdefault(f, []).append(row)
            if not cells:
                break
            bad_rows = np.fromiter((row for row, _ in found), dtype=np.int64)
            for f, rows in cells.items():
                at = frame.columns.get_loc(f)
                distinct = f in keys or self.fields.get(f, {}).get("unique")
                value = None if distinct else _good_value(frame.iloc[:, at], bad_rows)
                if value is None and frame.dtypes.iloc[at] == bool:  # numpy's bool holds no missing value
                    frame.isetitem(at, frame.iloc[:, at].astype("boolean"))
                frame.iloc[rows, at] = value
                aside = set(rows)
                problems[f] = [p for p in problems.get(f, []) if p[0] not in aside]
                set_aside.update((row, f) for row in rows)
        return self.report([(row, f, reason) for (row, f), reason in found.items()])

    def report(self, errors: list) -> pd.DataFrame:
        """A dry run's problems as a DataFrame: the core's, and every value
        the mapping could not convert."""
        found = {(int(row), str(f)): reason for row, f, reason in errors}
        for f, rows in self.problems.items():
            for row, reason in rows:
                found.setdefault((int(row), f), reason)
        rows = [(row, self.column_of(f), f or None, reason) for (row, f), reason in found.items()]
        df = pd.DataFrame(rows, columns=["row", "column", "field", "reason"])
        # The file's values as they are (of any type): object, as pandas'
        # text would refuse the lone surrogate a dry run is there to report.
        df["value"] = pd.Series(np.full(len(df), None, dtype=object) if self.original is None
                                else _values_at(self.original, df["row"].to_numpy(), df["column"].to_numpy()),
                                index=df.index, dtype=object)
        if self.file_problems:
            df = pd.concat([pd.DataFrame(self.file_problems, columns=REPORT_COLUMNS).astype({"value": object}), df],
                           ignore_index=True)
        df["row"] = df["row"].astype("Int64")
        return df.sort_values("row", kind="stable", na_position="first").reset_index(drop=True)[REPORT_COLUMNS]


def _good_value(column: pd.Series, bad_rows: np.ndarray) -> Any:
    """A value of ``column`` from a row with no problem found, or None."""
    good = column.notna().to_numpy(copy=True)
    good[bad_rows[bad_rows < len(good)]] = False
    first = np.flatnonzero(good)
    return column.iloc[first[0]] if len(first) else None


def _values_at(df: pd.DataFrame, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The file's value at each (row, column); None where the column is not one of the file's."""
    out = np.full(len(rows), None, dtype=object)
    for column in pd.unique(columns):
        if column is None or column not in df.columns:
            continue
        at = np.flatnonzero(columns == column)
        values = df[column].iloc[rows[at]].astype(object)
        out[at] = values.where(values.notna(), None).to_numpy()
    return out


def prepare(kind: str, df: pd.DataFrame, mapping: Any, dry_run: bool = False) -> Prepared:
    """The frame an import hands to the core, made with ``mapping`` (a
    :class:`Mapping`, dict or path; None for none). A dry run lists unknown
    columns as problems instead of raising."""
    m = Mapping.of(mapping)
    if m is None and not dry_run:
        return Prepared(kind, df, df)  # the plain import, as without mappings
    m = m or Mapping()
    fields = _kind_fields(kind)
    if m.kind is not None and m.kind != kind:
        raise _invalid(f"the mapping is for {m.kind}, not {kind}", kind=kind)
    if df.columns.has_duplicates:
        twice = sorted(set(map(str, df.columns[df.columns.duplicated()])))
        raise _invalid(f"{kind}: the file has the columns {', '.join(map(repr, twice))} more than once", kind=kind)

    # 1. Rename. A file's header may carry stray spaces ("客户名称 ").
    renames = {k.strip(): v for k, v in m.columns.items()}
    source: dict[str, Any] = {}
    dropped: list[Any] = []
    for column in df.columns:
        name = str(column)
        target = m.columns[name] if name in m.columns else renames.get(name.strip(), name)
        if target is None:
            dropped.append(column)
            continue
        if target in source:
            raise _invalid(f"{kind}: the columns {source[target]!r} and {name!r} both become the field {target!r}",
                           kind=kind, field=target)
        source[target] = column
    known = set(fields) | set(_EXTRA_COLUMNS)
    unknown = {target: column for target, column in source.items() if target not in known}
    # Where each field came from in the file (filled in as columns are added).
    origin = {t: c for t, c in source.items() if t in known}
    prepared = Prepared(kind, df, df, source=origin, fields=fields)

    # The mapping's values and formats must name what they are for.
    def target_of(key):
        return key if key in known else m.columns.get(key, key)

    renamed_to = set(m.columns.values())
    for what, specs in (("values", m.values), ("formats", m.formats)):
        for key, spec in specs.items():
            target = target_of(key)
            # Values may also be for a column kept as a custom field.
            custom = what == "values" and m.unknown == "custom" and (target in unknown or target in renamed_to)
            if target not in known and not custom:
                raise _invalid(f"mapping: {what}[{key!r}] names no field of {kind} and no column the mapping "
                               f"renames", kind=kind, field=key)
            ftype = fields.get(target, {}).get("type")
            if what == "formats" and "format" in spec and ftype != "time":
                raise _invalid(f"mapping: formats[{key!r}]: a date format for {target!r}, which is not a date "
                               f"field of {kind}", kind=kind, field=target)
            if what == "formats" and "multiply" in spec and ftype not in ("real", "integer"):
                raise _invalid(f"mapping: formats[{key!r}]: a multiplier for {target!r}, which is not a number "
                               f"field of {kind}", kind=kind, field=target)

    # 2. Columns the kind has no field for.
    # By position: pandas makes a list of labels text, which a lone surrogate breaks.
    gone = set(dropped) | set(unknown.values())
    frame = df.iloc[:, [i for i, c in enumerate(df.columns) if c not in gone]]
    frame = frame.rename(columns={c: t for t, c in origin.items()})
    if unknown and m.unknown == "error":
        named = [repr(str(c)) + ("" if str(c) == t else f" (as {t!r})") for t, c in unknown.items()]
        fields_are = f"fields of {kind} (fields: {', '.join(fields)}, tags, custom)"
        choices = "unknown='custom' (kept as custom fields) or 'ignore'"
        if not dry_run:
            raise _invalid(f"{kind}: the file's columns {', '.join(named)} are not {fields_are}; map them to "
                           f"fields in the mapping's columns, or choose {choices}", kind=kind,
                           column=[str(c) for c in unknown.values()], reason="unknown columns")
        # A column's name that is no valid text (a lone surrogate) shown escaped, as the core shows it.
        prepared.file_problems = [
            (None, _field_name(c), None, None, ("" if str(c) == t else f"as {t!r}, ") + f"is not one of the "
             f"{fields_are}; map it to a field in the mapping's columns, or choose {choices}")
            for t, c in unknown.items()]
    elif unknown and m.unknown == "custom":
        if "custom" in frame.columns:
            raise _invalid(f"{kind}: the file has a custom column and columns that are not fields "
                           f"({', '.join(map(repr, map(str, unknown.values())))}); unknown='custom' cannot merge "
                           "them", kind=kind, field="custom")
        # Kept under the name the mapping gives them, or the file's.
        extra = df[list(unknown.values())].set_axis(list(unknown), axis=1)
        for key, replace in m.values.items():
            if target_of(key) in extra.columns:
                extra[target_of(key)] = _replace(extra[target_of(key)], replace)
        frame["custom"], problems = _custom_objects(extra)
        if problems:
            prepared.problems["custom"] = problems
        prepared.packed_custom = True
        origin["custom"] = ", ".join(map(str, unknown.values()))

    # 3. Values and formats, field by field.
    for key, replace in m.values.items():
        if target_of(key) in known and target_of(key) in frame.columns:
            frame[target_of(key)] = _replace(frame[target_of(key)], replace)
    for key, spec in m.formats.items():
        target = target_of(key)
        if target not in frame.columns:
            continue
        if "multiply" in spec:
            frame[target], problems = _multiplied(frame[target], spec["multiply"])
        elif spec["format"] in _EXCEL_EPOCHS:
            frame[target], problems = _excel_dates(frame[target], spec["format"])
        else:
            frame[target], problems = _formatted_dates(frame[target], spec["format"])
        if problems:
            prepared.problems[target] = problems
    prepared.frame = frame
    return prepared


def _as_text(s: pd.Series) -> pd.Series:
    """The values as text (pandas' string dtype), missing ones missing."""
    return s.astype("string")


def _replace(s: pd.Series, replace: dict) -> pd.Series:
    """``s`` with the values ``replace`` lists replaced, matched on their trimmed text.

    A column a value map is for holds few distinct values: they are found
    once (``pd.factorize``), matched, and taken back to every row.
    """
    codes, distinct = pd.factorize(s, use_na_sentinel=True)
    text = _as_text(pd.Series(distinct, dtype=object)).str.strip()
    # One more slot, for the code of a missing value (-1).
    hit = np.append(text.isin(list(replace)).to_numpy(dtype=bool, na_value=False), False)
    mapped = np.append(text.astype(object).map(replace).to_numpy(dtype=object), np.array([None], dtype=object))
    return s.astype(object).where(~hit[codes], pd.Series(mapped[codes], index=s.index, dtype=object))


def _problems(s: pd.Series, bad: np.ndarray, why: str) -> list:
    """(row, reason) for the rows where ``bad``: the value as the store quotes it, then why."""
    return [(int(row), f"{_quote(s.iloc[row])} {why}") for row in np.flatnonzero(bad)]


def _quote(value: Any) -> str:
    text = str(value)
    return repr(text[:60] + "..." if len(text) > 60 else text)


def _multiplied(s: pd.Series, factor: float) -> "tuple[pd.Series, list]":
    """Numbers times ``factor``; text read by the core's amount reader first
    (so "1,200", "¥1,200" and "1.2万" are numbers here as everywhere)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64") * factor, []
    text = _as_text(s)
    present = text.notna().to_numpy()
    numbers_read, ok = _core.parse_amounts(text[present].tolist())
    values = np.full(len(s), np.nan)
    values[present] = np.where(ok.astype(bool), numbers_read, np.nan)
    bad = np.zeros(len(s), dtype=bool)
    bad[present] = ~ok.astype(bool)
    return pd.Series(values * factor, index=s.index), _problems(s, bad, "is not a number")


def _excel_dates(s: pd.Series, system: str) -> "tuple[pd.Series, list]":
    """Excel serial day numbers (with the time of day as their fraction) as
    dates; text that is no number is left for the core to read as a date."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        serial = s.astype("float64").to_numpy(copy=True)
    else:
        serial = pd.to_numeric(s.astype(object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
        # Eight digits are a date written YYYYMMDD (as a serial it would be
        # past the year 29,000): left for the core, which reads that form.
        with np.errstate(invalid="ignore"):
            serial[(serial >= 1e7) & (serial < 1e8) & (serial == np.floor(serial))] = np.nan
    epoch_ms = _EXCEL_EPOCHS[system].as_unit("ns").value // 1_000_000
    is_serial = ~np.isnan(serial)
    latest = (pd.Timestamp.max.value // 1_000_000 - epoch_ms) // _MS_PER_DAY  # the store keeps dates to 2262
    first = 1 if system == "excel" else 0
    with np.errstate(invalid="ignore"):
        in_range = (serial >= first) & (serial < latest)
        if system == "excel":
            in_range &= np.floor(serial) != _EXCEL_LEAP_BUG
    bad = is_serial & ~in_range
    good = is_serial & in_range
    # Serials hold times to Excel's millisecond; rounding there keeps 9:40 from
    # becoming 9:39:59.999999.
    millis = epoch_ms + np.round(np.where(good, serial, 0) * _MS_PER_DAY).astype(np.int64)
    if system == "excel":
        millis = np.where(serial < _EXCEL_LEAP_BUG, millis + _MS_PER_DAY, millis)
    nanos = np.where(good, millis * 1_000_000, np.iinfo(np.int64).min)  # NaT elsewhere
    dates = pd.Series(nanos.view("datetime64[ns]"), index=s.index)
    problems = _problems(s, bad, f"is not an Excel serial date ({system}: from {first}"
                                 f"{', without 60, the 29 February 1900 Excel invents' if system == 'excel' else ''})")
    if not (~is_serial & s.notna().to_numpy()).any():
        return dates.where(good), problems
    # Text and serials in one column: the serials become text the core reads.
    out = s.to_numpy(dtype=object, copy=True)
    out[good] = np.datetime_as_string(nanos[good].view("datetime64[ns]"), unit="ms")
    out[bad] = None
    return pd.Series(out, index=s.index, dtype=object), problems


def _formatted_dates(s: pd.Series, fmt: str) -> "tuple[pd.Series, list]":
    """Dates read with a strftime format; values that do not match it are problems of their rows."""
    text = _as_text(s).str.strip()
    dates = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = (text.notna() & dates.isna()).to_numpy(dtype=bool, na_value=False)
    return dates, _problems(s, bad, f"does not match the date format {fmt!r}")


# How _custom_text writes a custom dict, without its depth check: for values that cannot nest.
_encode_custom = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_json_scalar).encode


def _custom_objects(unknown: pd.DataFrame) -> "tuple[pd.Series, list]":
    """Each row's values of the unknown columns as one JSON object (custom
    fields under the file's column names), leaving out missing values, and
    the (row, reason) problems of the rows JSON cannot hold.

    Each object is written as a custom dict of an import is (``_custom_text``):
    numbers exactly (pandas' ``to_json`` keeps 15 digits), times as ISO text,
    and inf, a lone surrogate, bytes and the like refused by row, naming the
    column. Rows are grouped by which columns they have values in, so that
    each group's values are read column by column.
    """
    out = np.full(len(unknown), None, dtype=object)
    problems: list = []
    names = [str(c) for c in unknown.columns]
    present = unknown.notna().to_numpy()
    if present.shape[1] < 63:  # each row's pattern as the bits of one number: a fast unique
        bits = present.astype(np.int64) @ (np.int64(1) << np.arange(present.shape[1], dtype=np.int64))
        codes, group = np.unique(bits, return_inverse=True)
        patterns = (codes[:, None] >> np.arange(present.shape[1])) & 1 == 1
    else:
        patterns, group = np.unique(present, axis=0, return_inverse=True)
    group = group.reshape(-1)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(patterns) + 1))
    for g, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        rows = order[bounds[g]:bounds[g + 1]]
        at = np.flatnonzero(pattern)
        keys = [names[i] for i in at]
        part = unknown.iloc[rows, at]
        # Python values column by column (numbers as Python numbers, times as Timestamps).
        values = [part.iloc[:, i].tolist() for i in range(len(keys))]
        if not (part.dtypes == object).any():
            # Numbers, text, flags and times only: nothing nests, so the
            # objects are written by json's C encoder, one call a row; a value
            # it refuses (inf) sends the group the slow way, to name its rows.
            try:
                out[rows] = list(map(_encode_custom, (dict(zip(keys, row)) for row in zip(*values))))
                continue
            except ValueError:
                pass
        for n, row in enumerate(rows):
            text, why = _custom_text({key: column[n] for key, column in zip(keys, values)})
            if why is None:
                out[row] = text
                continue
            # Named by the column whose value JSON cannot hold.
            for key, column in zip(keys, values):
                if _custom_text({key: column[n]})[1] is not None:
                    why = f"the column {key!r}, kept as a custom field: {_quote(column[n])} {why}"
                    break
            problems.append((int(row), why))
    return pd.Series(out, index=unknown.index, dtype=object), problems
