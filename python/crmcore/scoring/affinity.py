"""Product affinity: products bought together, for cross-selling."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import _core
from .._args import _integer, _number
from ._columns import Keys, column

__all__ = ["frequent_itemsets", "product_affinity"]


def _mine(lines: pd.DataFrame, order: str, product: str, min_support: float, max_len: int | None,
          min_confidence: float, where: str) -> tuple[dict, Keys]:
    min_support = _number(min_support, where, "min_support", low=0, high=1, low_open=True)
    max_len = 0 if max_len is None else _integer(max_len, where, "max_len", low=1, high=1000)
    known = column(lines, product, "product").notna().to_numpy()
    baskets = Keys(column(lines, order, "order")[known], "order_lines")
    items = Keys(column(lines, product, "product")[known], "order_lines")
    r = _core.affinity(baskets.codes, items.codes, min_support, max_len, float(min_confidence))
    return r, items


def _sets(items: Keys, flat: np.ndarray, offset: np.ndarray) -> list:
    labels = items.index(flat).tolist()
    return [tuple(labels[a:b]) for a, b in zip(offset[:-1].tolist(), offset[1:].tolist())]


def frequent_itemsets(
    lines: pd.DataFrame,
    order: str = "order_id",
    product: str = "product_id",
    min_support: float = 0.01,
    max_len: int | None = None,
) -> pd.DataFrame:
    """Sets of products that appear together in at least ``min_support`` of
    the orders (baskets).

    Each row of ``lines`` is one product in one order; a product listed twice
    in an order counts once. Returns ``itemset`` (a tuple of product ids,
    ascending), ``size``, ``count`` (orders holding all of them) and
    ``support`` (count / orders), ordered by size then items; the number of
    orders is in ``result.attrs["baskets"]``. ``max_len`` caps the set size.

    >>> lines = pd.DataFrame({"order_id": [1, 1, 2, 2, 3], "product_id": [10, 20, 10, 20, 10]})
    >>> frequent_itemsets(lines, min_support=0.5)["itemset"].tolist()
    [(10,), (20,), (10, 20)]
    """
    # No rules are wanted: an infinite confidence bar skips them.
    r, items = _mine(lines, order, product, min_support, max_len, np.inf, "frequent_itemsets")
    sets = _sets(items, r["item"], r["offset"])
    out = pd.DataFrame(
        {
            "itemset": pd.Series(sets, dtype=object),
            "size": np.diff(r["offset"]).astype(np.int64),
            "count": r["count"],
            "support": r["count"] / max(r["baskets"], 1),
        }
    )
    out.attrs["baskets"] = int(r["baskets"])
    return out


def product_affinity(
    lines: pd.DataFrame,
    order: str = "order_id",
    product: str = "product_id",
    min_support: float = 0.01,
    min_confidence: float = 0.0,
    max_len: int | None = None,
) -> pd.DataFrame:
    """Association rules "who buys these also buys those", for cross-selling.

    Every frequent itemset (see :func:`frequent_itemsets`) of two or more
    products is split every way into an ``antecedent`` and a ``consequent``
    (tuples of product ids). ``support`` = share of orders with all of them,
    ``confidence`` = support / antecedent support (how often buyers of the
    antecedent also buy the consequent), ``lift`` = confidence / consequent
    support (> 1: bought together more than by chance), the same definitions
    as mlxtend's ``association_rules``. Rules below ``min_confidence`` are
    dropped; the rest are sorted by lift, then confidence, descending.

    >>> lines = pd.DataFrame({"order_id": [1, 1, 2, 2, 3], "product_id": [10, 20, 10, 20, 10]})
    >>> rules = product_affinity(lines, min_support=0.5)
    >>> rules.loc[0, "antecedent"], rules.loc[0, "consequent"], float(rules.loc[0, "confidence"])
    ((20,), (10,), 1.0)
    """
    min_confidence = _number(min_confidence, "product_affinity", "min_confidence", low=0, high=1)
    r, items = _mine(lines, order, product, min_support, max_len, min_confidence, "product_affinity")
    return rules_frame(r, items)


def rules_frame(r: dict, items: Keys | None = None) -> pd.DataFrame:
    """The rules of the affinity kernel's result ``r`` as the frame
    :func:`product_affinity` returns (``items`` turns the kernel's codes
    into the products' labels; None: the codes are the ids), best first."""
    def sets(flat: np.ndarray, offset: np.ndarray) -> list:
        if items is not None:
            return _sets(items, flat, offset)
        ids = flat.tolist()
        return [tuple(ids[a:b]) for a, b in zip(offset[:-1].tolist(), offset[1:].tolist())]

    out = pd.DataFrame(
        {
            "antecedent": pd.Series(sets(r["antecedent"], r["antecedent_offset"]), dtype=object),
            "consequent": pd.Series(sets(r["consequent"], r["consequent_offset"]), dtype=object),
            "antecedent_support": r["antecedent_support"],
            "consequent_support": r["consequent_support"],
            "support": r["support"],
            "confidence": r["confidence"],
            "lift": r["lift"],
        }
    )
    out = out.sort_values(["lift", "confidence"], ascending=False, kind="stable", ignore_index=True)
    out.attrs["baskets"] = int(r["baskets"])
    return out
