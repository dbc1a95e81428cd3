"""The customer timeline (``db.service.timeline``): one frame of events per
kind, each built with whole-column operations, then one stable sort."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._convert import empty_frame, typed
from .scoring._columns import as_of_timestamp, days_between, utc_now

#: The columns of a timeline and their dtypes, with or without events
#: (``who``, the staff member's name, holds their id until it is named).
EVENT_DTYPES = {"time": "datetime64[ns]", "kind": "str", "id": "int64", "summary": "str", "who": "str"}
COLUMNS = list(EVENT_DTYPES)


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
                         _text(talks.channel) + ": " + _text(talks.summary, "(no summary)") +
                         (" (next contact by " + talks.next_contact_at.dt.date.astype(str) + ")").where(
                             talks.next_contact_at.notna(), ""),
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
        else empty_frame({**EVENT_DTYPES, "who": "float64"})
    staff_ids = out.who.dropna().astype(np.int64).unique().tolist()
    names = db.frame("staff", ids=staff_ids).name if staff_ids else pd.Series(dtype=object)
    out["who"] = out.who.map(lambda v: names.get(int(v)) if pd.notna(v) else None)
    out = typed(out, EVENT_DTYPES)  # a timeline of no staff member's events has who str too
    return out.sort_values(["time", "kind"], kind="stable").reset_index(drop=True)[COLUMNS]


#: The columns of timeline_checks and their dtypes, with or without rows.
CHECK_DTYPES = {"check": "str", "customer_id": "Int64", "kind": "str", "id": "int64", "time": "datetime64[ns]",
                "detail": "str"}
CHECK_COLUMNS = list(CHECK_DTYPES)


def _valid(ties: pd.DataFrame, at: pd.Series) -> np.ndarray:
    """Whether each tie held at `at`: since <= at < until, a missing bound open."""
    since, until = ties["since"], ties["until"]
    return (~(since > at).fillna(False) & ~(until <= at).fillna(False)).to_numpy(bool)


def contacts_not_linked(db: Any, talks: pd.DataFrame) -> pd.DataFrame:
    """Interactions with a customer's contact who was not tied to the customer
    (customer_contacts, or a works_at link) when the interaction happened:
    the tie began after it, ended before it, or has been removed since."""
    talks = talks[talks.customer_id.notna() & talks.contact_id.notna()]
    cc = db.frame("customer_contacts", columns=["customer_id", "contact_id", "since", "until"])
    links = db.frame("links", columns=["src", "dst", "type", "since", "until"])
    works = links[links["type"] == "works_at"].rename(columns={"src": "contact_id", "dst": "customer_id"})
    ties = pd.concat([cc, works[["customer_id", "contact_id", "since", "until"]]], ignore_index=True)
    ties = ties.astype({"customer_id": np.int64, "contact_id": np.int64})
    pairs = pd.DataFrame({"interaction": talks.index.to_numpy(), "customer_id": talks.customer_id.to_numpy(np.int64),
                          "contact_id": talks.contact_id.to_numpy(np.int64), "occurred_at": talks.occurred_at})
    joined = pairs.merge(ties, on=["customer_id", "contact_id"], how="left", indicator=True)
    tied = (joined["_merge"] == "both").to_numpy()
    joined["tied"] = tied
    joined["held"] = tied & _valid(joined, joined.occurred_at)
    verdict = joined.groupby("interaction")[["tied", "held"]].any().reindex(talks.index)
    bad = talks[~verdict.held.to_numpy(bool)]
    why = np.where(verdict.tied[~verdict.held.to_numpy(bool)].to_numpy(bool),
                   "was not tied to the customer at the time", "has no tie to the customer (removed since)")
    return pd.DataFrame({"check": "contact_not_linked", "customer_id": bad.customer_id.to_numpy(np.int64),
                         "kind": "interactions", "id": bad.index.to_numpy(), "time": bad.occurred_at.to_numpy(),
                         "detail": "contact " + bad.contact_id.astype(np.int64).astype(str).to_numpy(dtype=object)
                         + " " + why.astype(object)})


def next_contacts_missed(talks: pd.DataFrame, as_of: pd.Timestamp, grace: pd.Timedelta) -> pd.DataFrame:
    """Interactions that set a next-contact date which passed (with `grace`)
    before the customer was contacted again: no later interaction (notes
    are not contact) by then, or only a late one. Without a customer, the
    contact is the one to be contacted again."""
    # Who is to be contacted: the customer, else the contact (ids are unique
    # across kinds, so one number names either); 0 for neither.
    party = talks.customer_id.fillna(talks.contact_id).fillna(0).to_numpy(np.int64)
    talks = talks.assign(party=party)
    promised = talks[talks.next_contact_at.notna() & (talks.party != 0)]
    if promised.empty:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    contact = talks[(talks.channel != "note") & (talks.party != 0)]
    later = pd.merge_asof(promised.rename_axis("interaction").reset_index().sort_values("occurred_at"),
                          contact[["party", "occurred_at"]].rename(columns={"occurred_at": "next_at"})
                          .sort_values("next_at"),
                          left_on="occurred_at", right_on="next_at", by="party", direction="forward",
                          allow_exact_matches=False)
    deadline = later.next_contact_at + grace
    kept = later.next_at.notna() & (later.next_at <= deadline)
    missed = later[~kept & (deadline < as_of)].sort_values("interaction")
    late_days = _text(pd.Series(np.floor(days_between(missed.next_at, missed.next_contact_at)),
                                 index=missed.index).astype("Int64"))
    promise = "next contact promised by " + _text(missed.next_contact_at.dt.date)
    detail = np.where(missed.next_at.notna(), promise + ", made " + late_days + " days late", promise + ", none since")
    return pd.DataFrame({"check": "next_contact_missed", "customer_id": missed.customer_id.astype("Int64").to_numpy(),
                         "kind": "interactions", "id": missed.interaction.to_numpy(),
                         "time": missed.next_contact_at.to_numpy(), "detail": detail.astype(object)})


def timeline_checks(db: Any, customer: Any, as_of: Any, grace_days: float, threshold: float) -> pd.DataFrame:
    if customer is not None:
        db.get("customers", customer)
    cut = utc_now() if as_of is None else as_of_timestamp(as_of, where="timeline_checks")
    columns = ["customer_id", "contact_id", "channel", "occurred_at", "next_contact_at"]
    talks = db.frame("interactions", columns=columns) if customer is None \
        else _find(db, "interactions", customer_id=customer)[columns]
    prices = db.service.price_changes(customer, threshold=threshold)
    quoted = pd.DataFrame({"check": "price_changed", "customer_id": prices.customer_id.to_numpy(np.int64),
                           "kind": "order_lines", "id": prices.index.to_numpy(), "time": prices.ordered_at.to_numpy(),
                           "detail": "product " + prices.product_id.astype(np.int64).astype(str).to_numpy(dtype=object)
                           + ": " + _money(prices.unit_price).to_numpy(dtype=object) + " after "
                           + _money(prices.previous_price).to_numpy(dtype=object) + " ("
                           + prices.change.map("{:+.0%}".format).to_numpy(dtype=object) + ")"})
    parts = [contacts_not_linked(db, talks), next_contacts_missed(talks, cut, pd.Timedelta(days=grace_days)), quoted]
    out = pd.concat([typed(p, CHECK_DTYPES) for p in parts if len(p)], ignore_index=True) \
        if any(len(p) for p in parts) else empty_frame(CHECK_DTYPES)
    return out.sort_values(["customer_id", "time", "check"], kind="stable").reset_index(drop=True)[CHECK_COLUMNS]


class TimelineView:
    """A customer's timeline for reading in Jupyter: one block per day,
    newest first, each event's time, kind, summary and who; the text form
    for a terminal. ``frame`` holds the events (as ``timeline`` returns)."""

    #: Events shown; a long history shows its latest ones and says so.
    SHOWN = 200
    _COLOURS = {"order": "#e8f4ea", "payment": "#e8f4ea", "interaction": "#e8eef8", "note": "#f4f4f4",
                "ticket": "#fbeaea", "ticket_status": "#fbeaea", "deal_stage": "#fdf3e1",
                "campaign_touch": "#f1e9f7", "campaign_response": "#f1e9f7"}

    def __init__(self, name: str, frame: pd.DataFrame):
        self.name = name
        self.frame = frame

    def _latest(self) -> pd.DataFrame:
        return self.frame.iloc[::-1].head(self.SHOWN)

    def __repr__(self) -> str:
        shown = self._latest()
        lines = [f"{self.name}: {len(self.frame)} events" + (f", latest {len(shown)}" if len(shown) < len(self.frame)
                                                               else "")]
        stamp = shown.time.dt.strftime("%Y-%m-%d %H:%M").fillna("(no time)")
        who = _text(shown.who)
        lines += (stamp + "  " + shown.kind.str.ljust(17) + " " + _text(shown.summary) +
                  who.where(who == "", "  (" + who + ")")).tolist()
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        shown = self._latest()
        day = shown.time.dt.strftime("%Y-%m-%d (%a)").fillna("no time")
        parts = [f"<div><b>{html.escape(self.name)}</b>: {len(self.frame)} events"
                 + (f", the latest {len(shown)} shown" if len(shown) < len(self.frame) else "") +
                 "<table style='border-collapse:collapse'>"]
        previous = None
        for d, t, kind, summary, who in zip(day, shown.time.dt.strftime("%H:%M").fillna(""), shown.kind,
                                            _text(shown.summary), _text(shown.who)):
            if d != previous:
                parts.append(f"<tr><th colspan=4 style='text-align:left;padding-top:6px'>{html.escape(d)}</th></tr>")
                previous = d
            colour = self._COLOURS.get(kind, "#ffffff")
            parts.append(f"<tr style='background:{colour}'><td>{t}</td><td>{html.escape(kind)}</td>"
                         f"<td style='text-align:left'>{html.escape(summary)}</td><td>{html.escape(who)}</td></tr>")
        parts.append("</table></div>")
        return "".join(parts)
