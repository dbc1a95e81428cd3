"""The customer card: one customer on one screen, with their scores from
every analysis, their open deals and latest orders, names beside ids."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ._columns import as_of_timestamp

__all__ = ["CustomerCard", "customer_card"]

# The scores a card shows: (analysis, column, label).
CARD_SCORES = (
    ("rfm", "segment", "RFM segment"), ("rfm", "r_score", "R score"), ("rfm", "f_score", "F score"),
    ("rfm", "m_score", "M score"), ("rfm", "recency", "days since the last purchase"),
    ("profit", "orders", "purchases"), ("profit", "revenue", "revenue"), ("profit", "profit", "profit"),
    ("profit", "abc", "profit class (ABC)"), ("profit_tiers", "tier", "tier (last year)"),
    ("lifecycle", "stage", "lifecycle stage"), ("lifecycle", "reason", "why"),
    ("churn_risk", "churn_risk", "churn risk"), ("health", "health", "health (0-100)"),
    ("loyalty", "loyalty", "loyalty (0-1)"),
)


@dataclass
class CustomerCard:
    """One customer: ``record`` (their fields), ``scores`` (a Series of the
    scores of :data:`CARD_SCORES`, by label), ``open_deals`` (their open
    deals with quadrant, soonest first), ``orders`` (latest orders) and
    ``contacts`` (their contacts with role). Shows as one card in Jupyter.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> card = db.customer_card(db.add("customers", name="Ann"))
    >>> card.scores["lifecycle stage"], len(card.open_deals)
    ('prospect', 0)
    """

    record: Any
    scores: pd.Series
    open_deals: pd.DataFrame
    orders: pd.DataFrame
    contacts: pd.DataFrame
    as_of: pd.Timestamp

    def _repr_html_(self) -> str:
        r = self.record
        fields = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(r.get(k)))}</td></tr>"
                         for k in ("kind", "phone", "email", "region", "industry", "source", "owner", "status")
                         if r.get(k) not in (None, ""))
        scores = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_show(v))}</td></tr>"
                         for k, v in self.scores.items())
        parts = [f"<h3>{html.escape(str(r.get('name')))} <small>(customer #{r.get('id')}, as of "
                 f"{self.as_of.date()})</small></h3>",
                 "<div style='display:flex;gap:24px;flex-wrap:wrap'>",
                 f"<div><h4>Details</h4><table>{fields}</table></div>",
                 f"<div><h4>Scores</h4><table>{scores}</table></div></div>"]
        for title, frame in (("Open deals", self.open_deals), ("Latest orders", self.orders),
                             ("Contacts", self.contacts)):
            parts.append(f"<h4>{title} ({len(frame)})</h4>"
                         + (frame.to_html(na_rep="", float_format=lambda v: f"{v:,.2f}") if len(frame) else ""))
        return "".join(parts)


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}" if v == v else ""
    return str(v)


def customer_card(db: Any, customer: int, as_of: Any = None, orders: int = 5) -> CustomerCard:
    """The card of the stored customer ``customer`` of ``db`` at ``as_of``
    with their latest ``orders``: see :meth:`crmcore.Database.customer_card`.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> customer_card(db, db.add("customers", name="Ann")).record["name"]
    'Ann'
    """
    record = db.get("customers", int(customer))
    point = db.default_as_of() if as_of is None else as_of_timestamp(as_of, where="customer_card")
    results = {name: getattr(db, name)(as_of=point) for name in dict.fromkeys(a for a, _, _ in CARD_SCORES)}
    values = {label: results[a].at[record["id"], column] for a, column, label in CARD_SCORES}
    scores = pd.Series({k: v.item() if hasattr(v, "item") else v for k, v in values.items()},  # plain numbers
                       dtype=object, name=record["name"])
    deals = db.deal_quadrants(as_of=point)
    mine = deals[(deals["customer_id"] == record["id"]) & (deals["status"] == "open")]
    expected = db.frame("deals", ids=mine.index, columns=["expected_close", "probability"])
    open_deals = mine[["name", "stage", "amount", "days_to_close", "quadrant"]].join(expected)
    open_deals = open_deals.sort_values("days_to_close", kind="stable")
    latest = db.find("orders", customer_id=record["id"])
    latest = latest[latest["ordered_at"] <= point].sort_values("ordered_at", ascending=False).head(orders)
    latest = latest[["ordered_at", "amount", "channel", "location", "status"]]
    ties = db.find("customer_contacts", customer_id=record["id"])
    people = db.frame("contacts", ids=ties["contact_id"].to_numpy(), columns=["name", "title", "phone"])
    contacts = people.join(ties.set_index("contact_id")[["role", "is_primary"]])
    return CustomerCard(record=record, scores=scores, open_deals=open_deals, orders=latest, contacts=contacts,
                        as_of=point)
