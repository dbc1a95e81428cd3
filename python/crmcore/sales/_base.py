"""What the parts of ``db.sales`` share: the store and two readers that
:class:`crmcore.sales.SalesMethods` provides."""
from __future__ import annotations

from typing import Any

import pandas as pd


class SalesPart:
    """A part of ``db.sales`` (targets, ledger, projects); SalesMethods joins them."""

    _db: Any

    def _as_of(self, as_of: Any, where: str | None = None) -> int:
        """``as_of`` in nanoseconds, the end of the data when None."""
        raise NotImplementedError

    def _deals(self, by: str | None, cut: int | None = None) -> pd.DataFrame:
        """Every deal with its stage's category and probability, and ``by``
        (as the deals stood at ``cut``, ns, when given)."""
        raise NotImplementedError
