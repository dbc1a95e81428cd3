"""The scoring analyses as methods of the store's Database (``db.rfm()``, ...),
fed from its record frames."""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

__all__ = ["ScoringMethods"]

# Orders in these states are not purchases.
NOT_PURCHASES = ("cancelled", "canceled", "refunded", "void")


class ScoringMethods:
    """Methods that the store's Database gains from the scoring part."""

    def _purchases(self, exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        orders = self.frame("orders")
        if "status" in orders.columns and exclude_status:
            orders = orders[~orders["status"].isin(list(exclude_status)).fillna(False).astype(bool)]
        return orders

    def rfm(self, as_of: Any = None, bins: int = 5, segments: Sequence | None = None, ties: str = "first",
            exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.rfm` over the stored orders (customer_id,
        ordered_at, amount), leaving out orders whose status is in
        ``exclude_status``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=9.5)
        >>> db.rfm().loc[cid, "monetary"]
        np.float64(9.5)
        """
        from .rfm import rfm

        return rfm(self._purchases(exclude_status), "customer_id", "ordered_at", "amount", as_of, bins, segments, ties)
