"""Sales operations, grouped on ``db.sales`` the way pandas groups ``.str``.

Pipelines are data (kinds ``pipelines`` and ``pipeline_stages``); the store's
write path applies the stage rules to every write of a deal's stage, so
:meth:`SalesMethods.move` is a convenience, not the only way to move a deal.
"""
from __future__ import annotations

from typing import Any


class SalesMethods:
    """The sales side of a store: ``db.sales.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> deal = db.add("deals", customer_id=db.add("customers", name="Acme"), stage="lead", amount=500.0)
    >>> db.sales.move(deal, "赢单", reason="price")
    >>> db.get("deals", deal)["stage"], db.get("deals", deal)["probability"]
    ('won', 1.0)
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<sales of {self._db!r}>"

    def move(self, deal: int, stage: str, reason: str | None = None, at: Any = None,
             by: int | None = None) -> None:
        """Move `deal` to `stage` (its name or a label such as 谈判): the
        store writes the deal_stages row (from, to, when, by whom, why); won
        and lost also set closed_at and probability 1 or 0. `at` is when the
        change happened (default now), `by` the staff id who made it. A stage
        the deal's pipeline lacks raises ValidationError listing its stages.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> deal = db.add("deals", customer_id=db.add("customers", name="Acme"), stage="lead")
        >>> db.sales.move(deal, "proposal", at="2024-03-01")
        >>> db.frame("deal_stages")["stage"].tolist()
        ['lead', 'proposal']
        """
        self._db.update("deals", deal, stage=stage, stage_reason=reason, stage_changed_at=at,
                        stage_changed_by=by)
