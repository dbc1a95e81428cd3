"""The customer timeline (``db.service.timeline``): one frame of events per
kind, each built with whole-column operations, then one stable sort."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["time", "kind", "id", "summary", "who"]


def _text(s: pd.Series, missing: str = "") -> pd.Series:
    return s.astype(object).where(s.notna(), missing).astype(str)


def _money(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "?" if pd.isna(v) else f"{v:.2f}").astype(str)


def _events(kind: str, frame: pd.DataFrame, time: str, summary: pd.Series, who: Any = None) -> pd.DataFrame:
    return pd.DataFrame({"time": frame[time], "kind": kind, "id": frame.index.to_numpy(),
                         "summary": summary.to_numpy(dtype=object),
                         "who": (who if who is not None else pd.Series(np.nan, index=frame.index)).to_numpy()})


def _find(db: Any, kind: str, **criteria: Any) -> pd.DataFrame:
    # An empty list of ids matches nothing; find would need at least one value.
    if any(isinstance(v, list) and not v for v in criteria.values()):
        return db.frame(kind).iloc[:0]
    return db.find(kind, **criteria)


def customer_events(db: Any, customer: int) -> pd.DataFrame:
    db.get("customers", customer)  # NotFound for an unknown customer, not an empty timeline
    parts = []
    orders = _find(db, "orders", customer_id=customer)
    parts.append(_events("order", orders, "ordered_at",
                         "order " + _money(orders.amount) + " (" + _text(orders.status, "no status") + ")",
                         orders.staff_id))
    pays = _find(db, "payments", customer_id=customer)
    parts.append(_events("payment", pays, "paid_at",
                         "payment " + _money(pays.amount) + " by " + _text(pays.method, "?")))
    talks = _find(db, "interactions", customer_id=customer)
    kind = np.where(talks.channel == "note", "note", "interaction")
    parts.append(_events("interaction", talks, "occurred_at",
                         _text(talks.channel) + ": " + _text(talks.summary, "(no summary)"),
                         talks.staff_id).assign(kind=kind))
    tickets = _find(db, "tickets", customer_id=customer)
    parts.append(_events("ticket", tickets, "opened_at",
                         "ticket opened: " + _text(tickets.subject.fillna(tickets.category), "no subject") +
                         " [" + _text(tickets.severity, "no severity") + "]"))
    events = _find(db, "ticket_events", ticket_id=tickets.index.tolist())
    moved = events[events.from_status.notna()]  # the first row is the opening, already listed
    parts.append(_events("ticket_status", moved, "changed_at",
                         "ticket " + moved.ticket_id.astype(str) + ": " + _text(moved.from_status) + " → " +
                         _text(moved.status) + (" (" + _text(moved.reason) + ")").where(moved.reason.notna(), ""),
                         moved.by_id))
    deals = _find(db, "deals", customer_id=customer)
    stages = _find(db, "deal_stages", deal_id=deals.index.tolist())
    parts.append(_events("deal_stage", stages, "changed_at",
                         "deal " + stages.deal_id.map(deals.name).pipe(_text, "") + " → " + _text(stages.stage),
                         stages.by_id))
    members = _find(db, "campaign_members", customer_id=customer)
    if len(members):
        campaigns = db.frame("campaigns", ids=members.campaign_id.unique().tolist())
        name = _text(members.campaign_id.map(campaigns.name))
        touched = members.touched_at.fillna(members.campaign_id.map(campaigns.started_at))
        touches = members.assign(touched_at=touched)[touched.notna()]
        parts.append(_events("campaign_touch", touches, "touched_at",
                             "campaign " + name[touched.notna()] + " reached the customer"))
        responses = members[members.responded_at.notna()]
        parts.append(_events("campaign_response", responses, "responded_at",
                             "responded to campaign " + name[members.responded_at.notna()] + ": " +
                             _text(responses.response, "yes")))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    staff_ids = out.who.dropna().astype(np.int64).unique().tolist()
    names = db.frame("staff", ids=staff_ids).name if staff_ids else pd.Series(dtype=object)
    out["who"] = out.who.map(lambda v: names.get(int(v)) if pd.notna(v) else None)
    out["time"] = pd.to_datetime(out.time)
    return out.sort_values(["time", "kind"], kind="stable").reset_index(drop=True)[COLUMNS]
