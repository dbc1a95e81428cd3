"""Customer care, grouped on ``db.care``: who to greet on which day
(birthdays of person customers and contacts, Chinese festivals including the
lunar ones, via ``lunardate``), on which channel and by which owner, and who
their owner has not talked to for a while.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from . import _holidays
from ._args import _days, _invalid, _number
from ._convert import empty_frame, typed
from .scoring._columns import as_of_timestamp, days_between, utc_now

#: The festivals greeted by default: the main public holidays.
MAIN_FESTIVALS = ("New Year's Day", "Spring Festival", "Dragon Boat Festival", "Mid-Autumn Festival",
                  "National Day")
#: The columns of greetings and their dtypes, with or without rows
#: (customer_id is missing for a contact tied to no customer).
GREETING_DTYPES = {"date": "str", "occasion": "str", "kind": "str", "id": "int64", "name": "str",
                   "customer_id": "Int64", "owner": "str", "channel": "str", "phone": "str", "email": "str"}
COLUMNS = list(GREETING_DTYPES)


class CareMethods:
    """The care side of a store: ``db.care.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> _ = db.add("customers", name="Ann", birthday="1990-10-02", owner="Li")
    >>> db.care.greetings("2025-10-01", "2025-10-03")["occasion"].tolist()
    ['National Day', 'birthday']
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<care of {self._db!r}>"

    def greetings(self, start: Any, end: Any, festivals: Any = MAIN_FESTIVALS, owner: str | None = None,
                  anniversaries: bool = True) -> pd.DataFrame:
        """Who to greet from `start` to `end` (dates, inclusive): each person
        customer and contact whose birthday falls in the range (29 February
        is greeted on the 28th in other years), and every customer on each
        festival in `festivals` that falls in it, and with `anniversaries`
        each customer on the yearly return of its first order ("customer
        anniversary") (lunar festivals such as Spring
        Festival and Mid-Autumn computed with ``lunardate``; names in
        :data:`crmcore._holidays.LUNAR_FESTIVALS` and ``SOLAR_FESTIVALS``).
        Columns: date, occasion, kind (customers or contacts), id, name,
        customer_id, owner (the customer's), channel (the customer's
        preferred channel, else the channel of its latest interaction),
        phone, email; sorted by date, owner. `owner` keeps one owner's list.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme", kind="organization", owner="Li", preferred_channel="visit")
        >>> p = db.add("contacts", name="Zhao", birthday="1985-02-12")
        >>> _ = db.add("customer_contacts", customer_id=c, contact_id=p)
        >>> db.care.greetings("2026-02-10", "2026-02-20")[["date", "occasion", "name", "channel"]].values.tolist()
        [['2026-02-12', 'birthday', 'Zhao', 'visit'], ['2026-02-17', 'Spring Festival', 'Acme', 'visit']]
        """
        first = as_of_timestamp(start, "start", "greetings").date()
        last = as_of_timestamp(end, "end", "greetings").date()
        if last < first:
            raise _invalid("greetings", "end", f"end {last} is before start {first}")
        db = self._db
        customers = db.frame("customers", columns=["name", "kind", "owner", "birthday", "preferred_channel", "phone",
                                                   "email"])
        customers["channel"] = customers.preferred_channel.fillna(self._usual_channel())
        people = customers[customers.kind.fillna("person") == "person"]
        rows = [_birthdays(people, first, last).assign(kind="customers", customer_id=lambda f: f.id)]
        contacts = db.frame("contacts", columns=["name", "birthday", "phone", "email"])
        links = db.frame("customer_contacts", columns=["customer_id", "contact_id", "is_primary"])
        links = links.sort_values("is_primary", kind="stable", na_position="first").drop_duplicates("contact_id",
                                                                                                    keep="last")
        contacts["customer_id"] = contacts.index.map(links.set_index("contact_id").customer_id)
        born = _birthdays(contacts, first, last).assign(kind="contacts")
        born["owner"] = born.customer_id.map(customers.owner)
        born["channel"] = born.customer_id.map(customers.channel)
        rows.append(born)
        if anniversaries:
            orders = db.frame("orders", columns=["customer_id", "ordered_at"])
            customers["since"] = orders.groupby("customer_id").ordered_at.min().reindex(customers.index)
            rows.append(_birthdays(customers, first, last, "since", "customer anniversary")
                        .assign(kind="customers", customer_id=lambda f: f.id))
        wanted = set([festivals] if isinstance(festivals, str) else festivals)
        unknown = wanted - set(_holidays.LUNAR_FESTIVALS) - set(_holidays.SOLAR_FESTIVALS) - {"Spring Festival's Eve"}
        if unknown:
            raise ValueError(f"unknown festivals {sorted(unknown)} (known: "
                             f"{', '.join(list(_holidays.LUNAR_FESTIVALS) + list(_holidays.SOLAR_FESTIVALS))})")
        for day, name in _holidays.festivals(first, last):
            if name in wanted and len(customers):
                rows.append(customers.assign(date=day, occasion=name, kind="customers", id=customers.index,
                                             customer_id=customers.index))
        out = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) \
            else empty_frame(GREETING_DTYPES)
        if owner is not None:
            out = out[out.owner == owner]
        out["date"] = out.date.astype(str)  # dates as ISO text
        out = typed(out[COLUMNS], GREETING_DTYPES)
        return out.sort_values(["date", "owner", "id"], kind="stable").reset_index(drop=True)

    def not_contacted(self, days: float = 90, as_of: Any = None) -> pd.DataFrame:
        """Customers whose owner has not talked to them for `days` days at
        `as_of`: no interaction by a staff member whose name is the
        customer's owner since then. Columns: name, owner, last_contact
        (NaT: never), days_since. `as_of` defaults to the clock, not to
        ``db.default_as_of()``: the days without a word run on the clock,
        and this is a list of whom to call now.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> li = db.add("staff", name="Li")
        >>> a = db.add("customers", name="A", owner="Li")
        >>> _ = db.add("interactions", customer_id=a, staff_id=li, channel="call", occurred_at="2024-01-01")
        >>> db.care.not_contacted(30, as_of="2024-03-01")["days_since"].tolist()
        [60.0]
        """
        days = _days(days, "not_contacted", "days")
        db = self._db
        cut = utc_now() if as_of is None else as_of_timestamp(as_of, where="not_contacted")
        customers = db.frame("customers", columns=["name", "owner"])
        talks = db.frame("interactions", columns=["customer_id", "staff_id", "occurred_at"])
        talks["by"] = talks.staff_id.map(db.frame("staff", columns=["name"]).name)
        talks["owner"] = talks.customer_id.map(customers.owner)
        own = talks[(talks.by == talks.owner) & (talks.occurred_at <= cut)]
        customers["last_contact"] = own.groupby("customer_id").occurred_at.max().reindex(customers.index)
        customers["days_since"] = days_between(cut, customers.last_contact)
        late = customers.owner.notna() & (customers.last_contact.isna() | (customers.days_since >= days))
        return customers[late].sort_values("days_since", ascending=False, na_position="first", kind="stable")

    def call_list(self, as_of: Any = None, min_risk: float = 0.5) -> pd.DataFrame:
        """Customers to call before they lapse: those whose lifecycle stage
        at `as_of` is "at risk", or whose churn risk is at least `min_risk`
        (churned ones are past a call), the highest risk first. Columns:
        name, owner, channel, stage, reason (the lifecycle's words),
        churn_risk, days_since (the last purchase). `as_of` defaults to
        ``db.default_as_of()``, the end of the data, as ``db.lifecycle`` and
        ``db.churn_risk`` that it reads: their stages and risks describe the
        purchase history, so the list agrees with them.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a = db.add("customers", name="Ann", owner="Li")
        >>> for day in ("2024-01-01", "2024-01-11", "2024-01-21", "2024-01-31"):
        ...     _ = db.add("orders", customer_id=a, ordered_at=day, amount=5.0)
        >>> db.care.call_list(as_of="2024-03-15")["name"].tolist()
        ['Ann']
        """
        min_risk = _number(min_risk, "call_list", "min_risk", low=0, high=1)
        db = self._db
        stage = db.lifecycle(as_of=as_of)[["stage", "reason"]]
        risk = db.churn_risk(as_of=as_of)[["churn_risk", "days_since"]]
        customers = db.frame("customers", columns=["name", "owner", "preferred_channel"])
        out = customers.join(stage).join(risk)
        out["channel"] = out.preferred_channel.fillna(self._usual_channel())
        stage_text = out.stage.astype(object)
        keep = (stage_text == "at risk") | ((out.churn_risk >= min_risk) & (stage_text != "churned"))
        out = out[keep.to_numpy(bool)]
        return out.sort_values("churn_risk", ascending=False, kind="stable")[
            ["name", "owner", "channel", "stage", "reason", "churn_risk", "days_since"]]

    def _usual_channel(self) -> pd.Series:
        talks = self._db.frame("interactions", columns=["customer_id", "channel", "occurred_at"])
        talks = talks[talks.channel != "note"].sort_values("occurred_at", kind="stable")
        return talks.groupby("customer_id").channel.last()


def _birthdays(people: pd.DataFrame, first: dt.date, last: dt.date, column: str = "birthday",
               occasion: str = "birthday") -> pd.DataFrame:
    """One row per person and yearly return of the date in `column` that
    falls from `first` to `last` (after the date itself)."""
    born = people[people[column].notna()]
    rows = []
    for year in range(first.year, last.year + 1):
        month, day = born[column].dt.month.to_numpy(), born[column].dt.day.to_numpy()
        leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
        day = np.where((month == 2) & (day == 29) & (not leap), 28, day)
        dates = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day})).dt.date
        keep = ((dates >= first) & (dates <= last) & (dates > born[column].dt.date.to_numpy())).to_numpy()
        rows.append(born[keep].assign(date=dates[keep].to_numpy(), occasion=occasion, id=born.index[keep]))
    return pd.concat(rows) if rows else born.iloc[:0]
