"""Candidate duplicate records: ``db.duplicates(kind)`` and ``crm.find_duplicates(df)``.

The search runs in the C++ core over whole columns. Records are compared by
their normalized phone numbers and e-mail addresses and by their names:
equal after folding (full/half width, case, punctuation, legal suffixes such
as 有限公司 or "Co., Ltd.", a leading city such as 上海 / 北京市), within a
small edit distance (typos, in any script), or spelling the same pinyin
(王芳, "Wang Fang" and "Fang Wang"). Each pair gets a score in [0, 1] and
its reasons; pairs above the threshold join into clusters, the records that
are probably one party.

Pinyin readings come from pypinyin's character table (Unicode's Unihan
kMandarin / kHanyuPinyin data), read once per process.
"""
from __future__ import annotations

import functools
import unicodedata
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _core
from ._args import _count

__all__ = ["DuplicateMethods", "clusters", "find_duplicates"]

# The fields a duplicate search reads, where a kind has them.
_FIELDS = ("name", "phone", "email")


def find_duplicates(df: pd.DataFrame, threshold: float = 0.5, *, name: str = "name",
                    phone: str | None = "phone", email: str | None = "email", max_typos: int = 2,
                    pinyin: bool = True) -> pd.DataFrame:
    """Candidate duplicate rows of a DataFrame, one row per pair.

    ``df`` is indexed by record id (as ``db.frame`` returns it); ``name``,
    ``phone`` and ``email`` name its columns (``None``, or a column that is
    not there, leaves one out). Phones and e-mails may hold several values
    separated by ``;``. Returns the pairs scoring at least ``threshold``:
    ``id_a`` and ``id_b`` (the earlier row first), ``name_a``, ``name_b``,
    ``score``, ``reasons`` (e.g. "same phone, similar name") and
    ``cluster``, the smallest id of the connected group of records the pair
    belongs to. Sorted by cluster, then by score (highest first).

    The threshold must be above the score of a pair that shares nothing but
    a common name (about 0.06). ``max_typos`` (0, 1 or 2) is the edit distance allowed in
    long names (one typo from 4 characters, two from 10); ``pinyin=False``
    does not compare Han names with their pinyin spellings.

    >>> import pandas as pd
    >>> import crmcore as crm
    >>> people = pd.DataFrame({"name": ["王芳", "Wang Fang", "李雷"],
    ...                        "phone": ["138 0013 8000", "+86 138-0013-8000", "139 0000 0000"]},
    ...                       index=[11, 12, 13])
    >>> pairs = crm.find_duplicates(people)
    >>> pairs[["id_a", "id_b", "reasons"]].values.tolist()
    [[11, 12, 'same phone, same pinyin']]
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"find_duplicates takes a pandas DataFrame, not {type(df).__name__}")
    if name not in df.columns:
        raise _core.NotFound(f"no column {name!r} of names (columns: {', '.join(map(str, df.columns))})")
    names = _texts(df[name])
    empty = np.full(len(df), None, dtype=object)
    phones = _texts(df[phone]) if phone is not None and phone in df.columns else empty
    emails = _texts(df[email]) if email is not None and email in df.columns else empty
    found = _core.find_duplicates(names, phones, emails, _pinyin_table() if pinyin else None,
                                  float(threshold), int(max_typos))
    a, b = found["a"], found["b"]
    ids = df.index.to_numpy()
    pairs = pd.DataFrame({
        "id_a": ids[a], "id_b": ids[b], "name_a": names[a], "name_b": names[b],
        "score": found["score"], "reasons": _reason_texts(found["reasons"]),
    })
    # A cluster is named by its smallest id (its rows' order need not be the ids').
    component = pd.Series(found["cluster"])
    smallest = pd.concat([pd.Series(pairs["id_a"].to_numpy()), pd.Series(pairs["id_b"].to_numpy())]).groupby(
        pd.concat([component, component])).min()
    pairs["cluster"] = component.map(smallest).to_numpy()
    return pairs.sort_values(["cluster", "score", "id_a", "id_b"], ascending=[True, False, True, True],
                             ignore_index=True)


def clusters(pairs: pd.DataFrame) -> pd.DataFrame:
    """The records of each cluster of a ``find_duplicates`` result: one row per
    record, ``cluster`` and ``id``, sorted by both.

    >>> import pandas as pd
    >>> pairs = pd.DataFrame({"id_a": [1, 2, 7], "id_b": [2, 3, 9], "cluster": [1, 1, 7]})
    >>> clusters(pairs).values.tolist()
    [[1, 1], [1, 2], [1, 3], [7, 7], [7, 9]]
    """
    members = pd.DataFrame({
        "cluster": np.concatenate([pairs["cluster"].to_numpy(), pairs["cluster"].to_numpy()]),
        "id": np.concatenate([pairs["id_a"].to_numpy(), pairs["id_b"].to_numpy()]),
    })
    return members.drop_duplicates().sort_values(["cluster", "id"], ignore_index=True)


class DuplicateMethods:
    """The duplicate search that the store's Database gains: ``db.duplicates(kind)``."""

    if TYPE_CHECKING:  # what the mixin uses of the Database it is part of
        def frame(self, kind: str, ids: Any = None, columns: Any = None) -> pd.DataFrame: ...

    def duplicates(self, kind: str, threshold: float = 0.5, *, max_typos: int = 2,
                   pinyin: bool = True) -> pd.DataFrame:
        """Candidate duplicate records of a kind (customers, contacts, ...), one row per pair.

        Reads the kind's name, phone and e-mail fields (those it has) and
        returns what :func:`crmcore.find_duplicates` returns: ``id_a``,
        ``id_b``, ``name_a``, ``name_b``, ``score``, ``reasons`` and
        ``cluster`` (the smallest id of the pair's group of records).

        >>> import crmcore as crm
        >>> db = crm.open()
        >>> a = db.add("customers", name="上海华创科技有限公司", phone="021-6552 1234")
        >>> b = db.add("customers", name="华创科技（上海）有限公司", phone="+86 21 6552 1234")
        >>> pairs = db.duplicates("customers")
        >>> pairs[["id_a", "id_b", "reasons"]].values.tolist() == [[a, b, "same phone, same name"]]
        True
        """
        max_typos = _count(max_typos, "duplicates", "max_typos", low=0, high=2)
        fields = _fields_of(kind)
        if "name" not in fields:
            raise _core.ValidationError(f"{kind}: records of this kind have no name to compare")
        columns = [f for f in _FIELDS if f in fields]
        return find_duplicates(self.frame(kind, columns=columns), threshold, max_typos=max_typos, pinyin=pinyin)


def _fields_of(kind: str) -> set:
    for k in _core.kinds():
        if k["name"] == kind:
            return {f["name"] for f in k["fields"]}
    raise _core.NotFound(f"no record kind {kind!r}")


def _texts(column: pd.Series) -> np.ndarray:
    """A text column as an object array with None where missing; no loop over rows."""
    return column.astype(object).where(column.notna(), None).to_numpy(dtype=object)


def _reason_texts(bits: np.ndarray) -> np.ndarray:
    """Reason bit masks as text, e.g. "same phone, similar name"; each distinct mask spelled once."""
    names = _core.duplicate_reasons()
    masks, codes = np.unique(bits, return_inverse=True)
    spelled = np.array([", ".join(n for k, n in enumerate(names) if int(m) >> k & 1) for m in masks], dtype=object)
    return spelled[codes.reshape(-1)] if len(bits) else np.array([], dtype=object)


@functools.lru_cache(maxsize=None)
def _toneless(reading: str) -> str:
    """'lǚ' -> 'lv', 'wáng' -> 'wang': pinyin in plain ASCII, ü written v.
    (Cached: 42,000 characters share about 1,500 readings.)"""
    decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1)
def _pinyin_table() -> "_core.PinyinTable":
    """pypinyin's readings of every character it knows, toneless; ü also as u
    (people write 吕 "Lv" and "Lu")."""
    from pypinyin.pinyin_dict import pinyin_dict

    characters, readings = [], []
    for code, text in pinyin_dict.items():
        # In pypinyin's order, the most common reading first: the search
        # tries a name's likeliest spellings first. (dict, not set: ordered.)
        toneless = dict.fromkeys(_toneless(r) for r in text.split(","))
        spellings = dict.fromkeys(s for r in toneless for s in (r, r.replace("v", "u")))
        for spelling in spellings:
            if spelling.isascii() and spelling.isalpha():
                characters.append(code)
                readings.append(spelling)
    return _core.PinyinTable(np.asarray(characters, dtype=np.int64), np.asarray(readings, dtype=object))
