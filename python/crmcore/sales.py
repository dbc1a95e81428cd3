"""Sales operations, grouped on ``db.sales`` the way pandas groups ``.str``.

Pipelines are data (kinds ``pipelines`` and ``pipeline_stages``); the store's
write path applies the stage rules to every write of a deal's stage, so
:meth:`SalesMethods.move` is a convenience, not the only way to move a deal.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _core


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

    def funnel(self, pipeline: "int | str | None" = None) -> pd.DataFrame:
        """Stage-to-stage conversion: for each open stage of the pipeline, in
        order, then won, how many deals reached it (or a later stage), and the
        share of those that went on to the next. Lost is off the funnel.
        Counted in C++ over the deal_stages history of the pipeline's deals.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> a, b = db.add("deals", customer_id=c, stage="lead"), db.add("deals", customer_id=c, stage="lead")
        >>> db.sales.move(a, "proposal"); db.sales.move(a, "won"); db.sales.move(b, "lost")
        >>> db.sales.funnel()["deals"].tolist()
        [2, 1, 1, 1, 1]
        """
        stages, pid = self._stages(pipeline)
        steps = stages[stages.category != "lost"]
        deals = self._db.frame("deals", columns=["pipeline_id"])
        ids = deals.index[deals.pipeline_id == pid].to_numpy()
        hist = self._db.frame("deal_stages", columns=["deal_id", "stage"])
        hist = hist[np.isin(hist.deal_id.to_numpy(), ids)]
        code = np.searchsorted(ids, hist.deal_id.to_numpy())
        step = pd.Index(steps.name).get_indexer(hist.stage).astype(np.int32)
        reached = _core.funnel_reached(code.astype(np.int64), step, len(ids), len(steps))
        out = pd.DataFrame({"deals": reached}, index=pd.Index(steps.name.to_numpy(), name="stage"))
        nxt = np.append(reached[1:], np.nan).astype(float)
        out["to_next"] = np.divide(nxt, reached, out=np.full(len(reached), np.nan), where=reached > 0)
        return out

    def _stages(self, pipeline: "int | str | None") -> "tuple[pd.DataFrame, int]":
        """The pipeline's stages in order, and its id (default: the default pipeline)."""
        p = self._db.frame("pipelines", columns=["name", "is_default"])
        if pipeline is None:
            flagged = p.index[p.is_default.fillna(False).astype(bool)]
            pid = int(flagged[0] if len(flagged) else p.index[0])
        elif isinstance(pipeline, str):
            named = p.index[p.name == pipeline]
            if not len(named):
                raise _core.NotFound(f"no pipeline named {pipeline!r} (pipelines: {', '.join(p.name)})")
            pid = int(named[0])
        else:
            pid = int(pipeline)
        s = self._db.frame("pipeline_stages", columns=["pipeline_id", "name", "position", "probability", "category"])
        s = s[s.pipeline_id == pid].sort_values(["position"], kind="stable")
        return s, pid

