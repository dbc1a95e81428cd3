"""Customer-value scoring: RFM, profitability, classification and lifecycle,
satisfaction, loyalty, churn and health, product affinity.

Every function takes plain DataFrames (a transactions frame with column-name
parameters) and returns DataFrames indexed by customer (or product, staff)
id; the store's Database has the same analyses as ``db.`` methods
(:class:`ScoringMethods`). The work runs in C++ over columns.

The store's analyses cover every stored customer (those without purchases
get the values of :data:`NO_PURCHASE`), carry each customer's name, and take
``by=`` to run per group of a business dimension (region, channel, product
category, owner, team, B2B / B2C, custom fields): see
:mod:`crmcore.scoring.dimensions`.

Time and status follow one rule. Every analysis takes ``as_of`` and by
default describes the end of its data (midnight after the latest purchase;
on the store, :meth:`ScoringMethods.default_as_of`), reads nothing after it,
and reports the point and the window it read in ``result.attrs["as_of"]``
and ``result.attrs["window"]``. What an order status or deal stage means
(purchase, cancelled, returned; open, won, lost), in any language, comes
from one table, :data:`ORDER_STATUS` and :data:`DEAL_STAGE`.

Totals of amounts beyond the range of a double (only data errors get there)
never fail a whole analysis: they follow one rule, described at
:class:`TotalOverflowWarning`.

>>> import crmcore as crm
>>> import pandas as pd
>>> tx = pd.DataFrame({"customer_id": [1, 2], "date": pd.to_datetime(["2024-01-01", "2024-02-01"]),
...                    "amount": [10.0, 20.0]})
>>> crm.scoring.rfm(tx)["r_score"].tolist()
[1, 5]
"""
from ._columns import TotalOverflowWarning
from ._status import DEAL_STAGE, ORDER_STATUS, deal_outcome, order_meaning, purchases
from .affinity import frequent_itemsets, product_affinity
from .dimensions import CUSTOMER_DIMENSIONS, NO_PURCHASE, NONE, ORDER_DIMENSIONS
from .health import DEFAULT_HEALTH_WEIGHTS, churn_risk, health, loyalty, satisfaction
from .lifecycle import BUYER_TYPES, STAGES, classify, deal_quadrants, deal_summary, lifecycle, rhythm
from .sales import campaign_effect, cohort_retention, performance, pipeline_funnel
from .profit import product_profit, profit, profit_by_period, profit_tiers, staff_performance
from .rfm import DEFAULT_SEGMENTS, rfm, segment
from .store import ScoringMethods

__all__ = [
    "BUYER_TYPES",
    "CUSTOMER_DIMENSIONS",
    "NONE",
    "NO_PURCHASE",
    "ORDER_DIMENSIONS",
    "DEAL_STAGE",
    "DEFAULT_HEALTH_WEIGHTS",
    "DEFAULT_SEGMENTS",
    "ORDER_STATUS",
    "STAGES",
    "ScoringMethods",
    "TotalOverflowWarning",
    "churn_risk",
    "campaign_effect",
    "classify",
    "cohort_retention",
    "deal_outcome",
    "deal_quadrants",
    "deal_summary",
    "frequent_itemsets",
    "health",
    "lifecycle",
    "loyalty",
    "order_meaning",
    "performance",
    "pipeline_funnel",
    "product_affinity",
    "product_profit",
    "profit",
    "profit_by_period",
    "profit_tiers",
    "purchases",
    "rfm",
    "rhythm",
    "satisfaction",
    "segment",
    "staff_performance",
]
