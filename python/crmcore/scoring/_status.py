"""What an order's status and a deal's stage mean: one table that every
analysis reads, so RFM, profit, roll-ups, lifetime value, lifecycle, product
affinity and cross-selling agree on what a purchase is.

The store keeps ``orders.status`` and ``deals.stage`` as free text, in any
language. A label is looked up case-insensitively, with ``_``, ``-`` and runs
of spaces read as one space ("Closed_Won" is "closed won"). An order is a
**purchase** unless its status means **cancelled** or **returned** (refunded
counts as returned); a missing or unknown status is a purchase, since the
order was placed. A deal is **won** or **lost** when its stage says so, else
**open**. To teach crmcore a label of your own, add it to the table
(``crm.scoring.ORDER_STATUS["storno"] = "cancelled"``): every analysis then
reads it the same way.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CANCELLED", "DEAL_STAGE", "LOST", "OPEN", "ORDER_STATUS", "PURCHASE", "RETURNED", "WON",
           "deal_outcome", "order_meaning", "purchases"]

PURCHASE, CANCELLED, RETURNED = "purchase", "cancelled", "returned"
OPEN, WON, LOST = "open", "won", "lost"


def _table(**meanings: tuple) -> dict:
    return {label: meaning for meaning, labels in meanings.items() for label in labels}


# Order status label -> meaning. Labels not listed are purchases too; the
# purchase labels are listed so that the table documents them.
ORDER_STATUS: dict[str, str] = _table(
    purchase=("completed", "complete", "paid", "shipped", "delivered", "fulfilled", "invoiced", "confirmed",
              "pending", "processing", "open",
              "已完成", "完成", "已付款", "已支付", "已发货", "已發貨", "已收货", "已收貨", "已签收", "已簽收",
              "待发货", "待發貨", "处理中", "處理中", "已确认", "已確認"),
    cancelled=("cancelled", "canceled", "cancel", "void", "voided",
               "已取消", "取消", "已作废", "作废", "已作廢", "作廢", "已撤销", "已撤銷", "キャンセル",
               "storniert", "annulé", "annulée", "cancelado", "cancelada", "anulado", "anulada"),
    returned=("returned", "return", "refunded", "refund",
              "已退货", "退货", "已退貨", "退貨", "已退款", "退款", "返品", "返金",
              "zurückgegeben", "erstattet", "retourné", "retournée", "remboursé", "devuelto", "devuelta",
              "reembolsado"),
)

# Deal stage label -> outcome; every other stage (potential, proposal, 洽谈, ...) is open.
DEAL_STAGE: dict[str, str] = _table(
    won=("won", "closed won", "win", "赢单", "贏單", "成交", "已成交", "签约", "已签约", "簽約", "已簽約",
         "gewonnen", "gagné", "ganado"),
    lost=("lost", "closed lost", "lose", "输单", "輸單", "丢单", "丟單", "失败", "失敗", "已失败", "已失敗",
          "verloren", "perdu", "perdido"),
)


def _normalized(labels: pd.Series) -> pd.Series:
    return labels.astype("string").str.strip().str.casefold().str.replace(r"[\s_\-]+", " ", regex=True)


def _meanings(values: Any, table: dict, default: str) -> np.ndarray:
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    keys = {" ".join(k.casefold().replace("_", " ").replace("-", " ").split()): v for k, v in table.items()}
    # Normalize and look up each distinct label once: a million orders carry a
    # handful of statuses (normalizing every row first cost most of an analysis).
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    normal = _normalized(pd.Series(uniques, dtype=object)).tolist()
    looked_up = np.array([keys.get(u, default) for u in normal] + [default], dtype=object)
    return looked_up[codes]  # code -1 (missing) picks the default at the end


def order_meaning(status: Any) -> np.ndarray:
    """What each order status means: "purchase", "cancelled" or "returned".

    >>> order_meaning(["Completed", "已取消", "退货", None, "on hold"]).tolist()
    ['purchase', 'cancelled', 'returned', 'purchase', 'purchase']
    """
    return _meanings(status, ORDER_STATUS, PURCHASE)


def deal_outcome(stage: Any) -> np.ndarray:
    """What each deal stage means: "won", "lost" or "open".

    >>> deal_outcome(["Closed_Won", "已成交", "proposal", "lost"]).tolist()
    ['won', 'won', 'open', 'lost']
    """
    return _meanings(stage, DEAL_STAGE, OPEN)


def purchases(orders: pd.DataFrame, status: str = "status") -> pd.DataFrame:
    """The rows of an orders frame that are purchases by :data:`ORDER_STATUS`
    (all of them when it has no ``status`` column). How many were left out,
    by meaning, is in ``result.attrs["excluded_orders"]``.

    >>> orders = pd.DataFrame({"amount": [5.0, 7.0, 9.0], "status": ["paid", "已取消", "refunded"]})
    >>> kept = purchases(orders)
    >>> kept["amount"].tolist(), kept.attrs["excluded_orders"]
    ([5.0], {'cancelled': 1, 'returned': 1})
    """
    if status not in orders.columns:
        out = orders.copy()
        out.attrs["excluded_orders"] = {CANCELLED: 0, RETURNED: 0}
        return out
    meaning = order_meaning(orders[status])
    out = orders[meaning == PURCHASE]
    out.attrs["excluded_orders"] = {m: int((meaning == m).sum()) for m in (CANCELLED, RETURNED)}
    return out
