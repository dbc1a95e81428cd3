"""A store's schema, as the Database describes and extends it.

``db.schema()`` describes every kind (its fields, types, allowed values and
their labels, references, indexes and rules); ``db.declare_custom`` gives a
key of the ``custom`` object a type; ``db.allow`` and ``db.label`` extend the
allowed values and give them other spellings; ``db.add_tags`` / ``db.remove_tags`` change tags without rewriting the lists.
Every check runs in the C++ core, on every write path.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from . import _core
from ._args import _invalid, _record_ids

__all__ = ["SchemaMethods"]

# What each record has besides its kind's fields, as db.frame returns it.
_RECORD_COLUMNS = (
    ("id", "integer", "the record's id, unique across kinds"),
    ("tags", "tags", "a list of text"),
    ("custom", "json", "a JSON object of your own fields"),
    ("created_at", "time", "when the record was added"),
    ("updated_at", "time", "when it last changed"),
)
_CUSTOM_PREFIX = "custom."
_SCHEMA_COLUMNS = ["type", "required", "choices", "closed", "labels", "ref_kind", "lookup", "unique", "indexed",
                   "default", "min", "max", "max_future_days", "rules", "since_version", "written_by_store",
                   "origin"]


class SchemaMethods:
    """Methods that the store's Database gains for its schema."""

    _core: Any  # the Database's C++ store

    def schema(self, kind: str | None = None) -> pd.DataFrame:
        """The fields of a kind (indexed by field), or of every kind (indexed by
        kind and field), as this store has them.

        Columns: ``type``; ``required``; ``choices``, the allowed values (a
        list, or None for any text) and ``closed``, whether only those are
        accepted (statuses are open: their values are those known so far);
        ``labels``, other spellings accepted on input, ``{value: {lang:
        [label, ...]}}``; ``ref_kind``, the kind a reference names;
        ``lookup`` (phone / email, found in any format); ``unique``;
        ``indexed``, whether an index serves conditions on it; ``default``;
        ``min`` / ``max`` of a number; ``max_future_days``, how far after the
        write a time may lie; ``rules``, the rules the field keeps with other
        records; ``since_version``, the file version that added it;
        ``written_by_store``, whether the store's write path fills it (a
        ticket's status times, a deal's probability, an invoice's amount
        from its lines, created_at, ...: a value read back that no write
        gave); and ``origin``: ``"field"`` of the kind, ``"custom"`` (a declared custom
        field, named ``custom.<key>``) or ``"record"`` (id, tags, custom,
        created_at, updated_at, which every record has).

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> s = db.schema("customers")
        >>> s.loc["kind", "choices"], s.loc["kind", "labels"]
        (['organization', 'person'], {'organization': {'zh': ['企业', '公司', '组织']}, 'person': {'zh': ['个人']}})
        >>> float(db.schema().loc[("orders", "amount"), "min"])
        0.0
        """
        if kind is None:
            frames = {name: self.schema(name) for name in (k["name"] for k in _core.kinds())}
            return pd.concat(frames, names=["kind", "field"])
        d = self._core.describe(kind)
        indexed = set(d["indexed"]) | {"id"}
        rules: dict[str, list[str]] = {}
        for rule in d["unique_rules"]:
            for name in rule["fields"] + ([rule["when"]] if rule["when"] else []):
                rules.setdefault(name, []).append(rule["why"])
        rows = {}
        for origin, fields in (("field", d["fields"]), ("custom", d["custom"])):
            for f in fields:
                field_rules = list(rules.get(f["name"], []))
                if f["linked_to"]:
                    field_rules.append(f"linked to {f['linked_to']} (the record it names must be linked to that one)")
                if f["differs_from"]:
                    field_rules.append(f"differs from {f['differs_from']}")
                rows[f["name"]] = {
                    "type": f["type"], "required": f["required"],
                    "choices": list(f["choices"]) or None, "closed": f["closed"],
                    "labels": _labels_by_value(f) or None,
                    "ref_kind": f["ref_kind"] or None, "lookup": f["lookup"] or None,
                    "unique": f["unique"], "indexed": f["name"] in indexed,
                    "default": f["default"] or None, "min": f["min"], "max": f["max"],
                    "max_future_days": f["max_future_days"], "rules": field_rules or None,
                    "since_version": f["since_version"] if origin == "field" else None,
                    "written_by_store": f["written_by_store"], "origin": origin,
                }
        for name, type_, _ in _RECORD_COLUMNS:
            rows[name] = {"type": type_, "required": name != "tags" and name != "custom",
                          "choices": None, "closed": False, "labels": None, "ref_kind": None, "lookup": None,
                          "unique": name == "id", "indexed": name in indexed, "default": None, "min": None,
                          "max": None, "max_future_days": None, "rules": None, "since_version": 1,
                          "written_by_store": name in ("created_at", "updated_at"), "origin": "record"}
        out = pd.DataFrame({column: pd.Series([row[column] for row in rows.values()], index=list(rows), dtype=object)
                            for column in _SCHEMA_COLUMNS})
        out.index.name = "field"
        for name in ("required", "closed", "unique", "indexed", "written_by_store"):
            out[name] = out[name].astype(bool)
        for name in ("min", "max"):
            out[name] = out[name].astype(float)
        for name in ("max_future_days", "since_version"):
            out[name] = out[name].astype("Int64")
        return out

    def labels(self, kind: str | None = None) -> pd.DataFrame:
        """Every label of the allowed values, one row each: kind, field, value,
        lang, label.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> t = db.labels("tickets")
        >>> t[t["value"] == "critical"]["label"].tolist()
        ['紧急']
        """
        kinds = [kind] if kind is not None else [k["name"] for k in _core.kinds()]
        rows: list[tuple] = []
        for name in kinds:
            d = self._core.describe(name)
            for f in d["fields"] + d["custom"]:
                rows.extend((name, f["name"], value, lang, label) for label, value, lang in _in_choice_order(f))
        return pd.DataFrame(rows, columns=["kind", "field", "value", "lang", "label"])

    def declare_custom(self, kind: str, name: str, type: str, choices: Iterable[str] | None = None,
                       required: bool = False, index: bool = False) -> None:
        """Declares a custom field: the key ``name`` of the records' ``custom``
        object gets a type (``"text"``, ``"integer"``, ``"real"``, ``"time"``
        or ``"bool"``) and, for text, a closed list of allowed values.

        From then on every write (add, update, import_frame, import_json,
        upserts) checks the key and keeps its value in canonical form: a time
        as ``"2025-01-05T00:00:00"`` (ISO 8601, UTC, so that text order is time
        order), an integer as a JSON number (``"42"`` becomes 42), a label as
        its value. ``required=True`` refuses a record without it. Values stored
        before are converted too, or the declaration is refused naming the
        first record that does not fit. ``index=True`` makes an index on the
        key (as ``db.create_index(kind, "custom.<name>")`` does), which
        conditions on it (``db.ids``, ``db.frame``) use. Declaring again
        replaces the declaration. The field is ``custom.<name>`` in
        :meth:`schema`, errors, queries, :meth:`allow` and ``create_index``.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> db.declare_custom("customers", "signed", "time")
        >>> cid = db.add("customers", name="Acme", custom={"signed": "2025/01/05"})
        >>> db.get("customers", cid)["custom"]
        {'signed': '2025-01-05T00:00:00'}
        """
        if not isinstance(name, str):
            raise TypeError(f"a custom field's name is text, not {type(name).__name__}")
        key = name[len(_CUSTOM_PREFIX):] if name.startswith(_CUSTOM_PREFIX) else name
        values = [] if choices is None else [choices] if isinstance(choices, str) else list(choices)
        field = _text(kind, "custom", _CUSTOM_PREFIX + key, "the name")
        for text, what in [(str(type), "the type")] + [(v, "the allowed value") for v in values]:
            _text(kind, field, text, what)
        self._core.declare_custom(kind, key, str(type), values, bool(required), bool(index))

    def allow(self, kind: str, field: str, value: str,
              labels: Mapping[str, "str | Iterable[str]"] | None = None) -> None:
        """Adds ``value`` to the allowed values of a text field (``"custom.<key>"``
        for a declared custom field), with optional labels: other spellings,
        by language, accepted on input and stored as ``value``.

        A field with a closed list (customers.kind, interactions.channel,
        tickets.severity, ...) accepts the value from now on; an open one (a
        status, a stage) lists it among its known values and translates its
        labels. The file keeps both, for every handle and process.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> db.allow("orders", "status", "cancelled", labels={"zh": "已取消"})
        >>> cid = db.add("customers", name="Acme")
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2025-01-05", amount=10.0, status="已取消")
        >>> db.get("orders", oid)["status"]
        'cancelled'
        """
        self._core.allow(kind, _text(kind, "", field, "the field"), _text(kind, field, value, "the value"),
                         _label_pairs(labels, kind, field), True)

    def label(self, kind: str, field: str, value: str, labels: Mapping[str, "str | Iterable[str]"]) -> None:
        """Gives an allowed value more labels (by language), accepted on input
        and stored as the value; :meth:`allow` adds a new value.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> db.label("customers", "kind", "organization", {"en": ["company", "Company"]})
        >>> db.get("customers", db.add("customers", name="Acme", kind="Company"))["kind"]
        'organization'
        """
        self._core.allow(kind, _text(kind, "", field, "the field"), _text(kind, field, value, "the value"),
                         _label_pairs(labels, kind, field), False)

    def add_tags(self, kind: str, ids: "int | Iterable[int]", tags: "str | Iterable[str]") -> int:
        """Adds tags to the records ids (one or many) of a kind without
        rewriting their lists (their other tags stay, in order; a tag they have already is not added twice). A text
        is one tag. One transaction through the write path, each changed
        record audited; returns how many records changed.

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a, b = db.add("customers", name="A", tags=["vip"]), db.add("customers", name="B")
        >>> db.add_tags("customers", [a, b], ["key account", "Co., Ltd."])
        2
        >>> db.get("customers", a)["tags"]
        ['vip', 'key account', 'Co., Ltd.']
        """
        return len(self._core.retag(kind, _ids(ids, kind), _tag_list(tags, kind), []))

    def remove_tags(self, kind: str, ids: "int | Iterable[int]", tags: "str | Iterable[str]") -> int:
        """Removes tags from records, keeping their other tags; returns how many
        records changed (see :meth:`add_tags`).

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a = db.add("customers", name="A", tags=["vip", "new"])
        >>> db.remove_tags("customers", a, "new"), db.get("customers", a)["tags"]
        (1, ['vip'])
        """
        return len(self._core.retag(kind, _ids(ids, kind), [], _tag_list(tags, kind)))


def _in_choice_order(field: dict) -> list:
    """A field's (label, value, lang) triples, its values in the order of its
    choices (the core keeps them sorted by label, for lookups)."""
    rank = {value: i for i, value in enumerate(field["choices"])}
    return sorted(field["labels"], key=lambda t: rank.get(t[1], len(rank)))


def _labels_by_value(field: dict) -> dict:
    out: dict[str, dict[str, list[str]]] = {}
    for label, value, lang in _in_choice_order(field):
        out.setdefault(value, {}).setdefault(lang, []).append(label)
    return out


def _label_pairs(labels: Mapping[str, Any] | None, kind: str, field: str) -> list:
    """{lang: label or [labels]} as (lang, label) pairs for the core."""
    if labels is None:
        return []
    if not isinstance(labels, Mapping):
        raise TypeError("labels are a dict of language to label(s), e.g. {'zh': '已取消'}")
    pairs = []
    for lang, given in labels.items():
        for label in [given] if isinstance(given, str) else list(given):
            if not isinstance(label, str) or not isinstance(lang, str):
                raise TypeError(f"a label and its language are text, not {label!r} for {lang!r}")
            pairs.append((_text(kind, field, lang, "the language"), _text(kind, field, label, "the label")))
    return pairs


def _tag_list(tags: "str | Iterable[str]", kind: str) -> list:
    """The tags given to add_tags / remove_tags: a text or texts (a list,
    number or None would be stored as its spelling), refused naming tags."""
    tags = [tags] if isinstance(tags, str) else list(tags)
    for tag in tags:
        if not isinstance(tag, str):
            raise _invalid(kind, "tags", f"each tag is a text, not {tag!r}")
        _text(kind, "tags", tag, "the tag")
    return tags


def _text(kind: str, field: Any, value: Any, what: str) -> Any:
    """``value``, refused naming the field when it is text the core cannot
    read (a lone surrogate: pybind11 would raise a bare TypeError)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            shown = str(field).encode("utf-8", "backslashreplace").decode("utf-8")
            raise _invalid(kind, shown or ascii(value)[1:-1], f"{what} {ascii(value)} is not valid text: it holds a "
                                                              "lone surrogate (a half of a UTF-16 pair)") from None
    return value


def _ids(ids: "int | Iterable[int]", kind: str) -> np.ndarray:
    """Record ids read whole (1.5 is not record 1): one id or many."""
    if isinstance(ids, (np.ndarray, pd.Index, pd.Series)):
        return _record_ids(ids, kind)
    return _record_ids(list(ids) if isinstance(ids, Iterable) and not isinstance(ids, str) else [ids], kind)
