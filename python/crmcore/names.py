"""Readable names beside record ids: any record's name and kind by id (ids
are unique across kinds), for graph rankings, plots and reports."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd

__all__ = ["NAMED_KINDS", "NameMethods"]

# The kinds whose records a person knows by a name (tasks by their subject).
NAMED_KINDS = {"customers": "name", "contacts": "name", "staff": "name", "products": "name", "deals": "name",
               "campaigns": "name", "tasks": "subject"}


class NameMethods:
    """``db.names(ids)``: who or what each id is.

    >>> import crmcore as crm
    >>> isinstance(crm.open(":memory:"), NameMethods)
    True
    """

    if TYPE_CHECKING:  # what the mixin uses of the Database it is part of
        def frame(self, kind: str, ids: Any = None, columns: Any = None) -> pd.DataFrame: ...

    def names(self, ids: Iterable[Any] | None = None) -> pd.DataFrame:
        """The name and kind of records given by id (all named records when
        ``ids`` is None).

        Ids are unique across kinds, so graph nodes, link ends and result
        indexes can be read by it. Returns a DataFrame indexed by ``id`` (in
        the order given) with ``name`` and ``kind`` ("customers",
        "contacts", "staff", "products", "deals", "campaigns", "tasks"; the
        task's subject as its name); an id of no such record, or of a kind
        without names, has both missing.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c, p = db.add("customers", name="星海科技"), db.add("contacts", name="Li Lei")
        >>> db.names([p, c, 999]).to_dict("list")
        {'name': ['Li Lei', '星海科技', None], 'kind': ['contacts', 'customers', None]}
        """
        parts = []
        wanted = None if ids is None else np.asarray(list(ids) if not isinstance(ids, (np.ndarray, pd.Index, pd.Series))
                                                     else ids, dtype=np.int64)
        for kind, field in NAMED_KINDS.items():
            frame = self.frame(kind, columns=[field])
            if wanted is not None:
                frame = frame[frame.index.isin(wanted)]
            parts.append(pd.DataFrame({"name": frame[field].array, "kind": kind},  # str as read, with none too
                                      index=frame.index))
        known = pd.concat(parts)
        known.index.name = "id"
        if wanted is None:
            return known.sort_index()
        out = known.reindex(pd.Index(wanted, name="id"))
        return out.astype(object).where(out.notna(), None)
