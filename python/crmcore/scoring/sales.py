"""Sales: performance by any column (category, channel, location, ...) and
period, cohort retention (of the customers who first bought in a period, the
share buying again each period after) and the pipeline funnel."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._args import _days, _invalid
from ._columns import FIRST_TIME, LAST_TIME, NS_PER_DAY, as_of_ns, column, floats, stamp, times_ns, upto
from .profit import _freq

__all__ = ["campaign_effect", "cohort_retention", "performance", "pipeline_funnel"]


def performance(
    tx: pd.DataFrame,
    by: str | Sequence[str],
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    cost: str | None = "cost",
    freq: str | None = None,
    as_of: Any = None,
) -> pd.DataFrame:
    """Sales per value of one or more columns of ``tx`` (each row a
    purchase), and per calendar period with ``freq`` ("Y", "Q" or "M").

    Returns, indexed by the ``by`` columns (then ``period``): ``orders``
    (rows), ``customers`` (distinct buyers), ``revenue``, ``cost`` and
    ``profit`` (when a ``cost`` column is given), ``margin`` (profit /
    revenue), ``avg_order`` (revenue / orders) and ``share`` (of the revenue
    of all groups, in the same period); with ``freq`` also ``change``, the
    revenue change from the group's previous period (missing in its first;
    periods without sales are listed with zeros). Rows after ``as_of``
    (default: the end of the data) are left out; the point and window are in
    ``result.attrs``. Missing values of a ``by`` column form their own group
    (NaN).

    ``customer``, ``date`` and ``amount`` (and ``cost``) name the columns of ``tx``.

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2], "channel": ["web", "shop", "web"],
    ...                    "date": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03"]),
    ...                    "amount": [10.0, 30.0, 20.0], "cost": [5.0, 20.0, 10.0]})
    >>> performance(tx, "channel")[["orders", "revenue", "share"]].to_dict("index")
    {'shop': {'orders': 1, 'revenue': 30.0, 'share': 0.5}, 'web': {'orders': 2, 'revenue': 30.0, 'share': 0.5}}
    """
    names = [by] if isinstance(by, str) else list(by)
    if not names:
        raise _invalid("performance", "by", "names no column")
    values = [amount] + ([cost] if cost is not None else [])
    keys, ns, cols, cut = upto(tx, customer, date, values, as_of, "performance")
    kept = ns <= cut
    frame = pd.DataFrame({n: column(tx, n, n).to_numpy()[kept] for n in names})
    frame["_customer"] = keys.codes
    frame["revenue"] = cols[0]
    if cost is not None:
        frame["cost"] = cols[1]
    group = list(names)
    if freq is not None:
        code = _freq(freq, "performance")
        frame["period"] = pd.PeriodIndex(pd.DatetimeIndex(ns.view("datetime64[ns]")), freq=code)
        group.append("period")
    g = frame.groupby(group, sort=True, dropna=False, observed=True)
    out = pd.DataFrame({"orders": g.size(), "customers": g["_customer"].nunique(), "revenue": g["revenue"].sum()})
    if freq is not None:  # every period from a group's first to the last one, zeros when silent
        out = _fill_periods(out, names, pd.Period(pd.Timestamp(cut - 1), freq=code))
    if cost is not None:
        out["cost"] = g["cost"].sum().reindex(out.index, fill_value=0.0)
        out["profit"] = out["revenue"] - out["cost"]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["margin"] = np.where(out["revenue"] != 0, out["profit"] / out["revenue"], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["avg_order"] = np.where(out["orders"] > 0, out["revenue"] / out["orders"], np.nan)
        total = out.groupby(level="period")["revenue"].transform("sum") if freq is not None else out["revenue"].sum()
        out["share"] = out["revenue"] / total
    if freq is not None:
        out["change"] = out.groupby(level=names, dropna=False)["revenue"].diff()
    return stamp(out, cut, ns)


def _fill_periods(out: pd.DataFrame, names: list, last: pd.Period) -> pd.DataFrame:
    """``out`` (indexed by names + period) with a zero row for every period
    between a group's first and ``last`` that had no sales."""
    parts = []
    for key, part in out.groupby(level=names, sort=True, dropna=False):
        first = part.index.get_level_values("period").min()
        periods = pd.period_range(first, max(last, part.index.get_level_values("period").max()), freq=first.freq)
        key = key if isinstance(key, tuple) else (key,)
        index = pd.MultiIndex.from_tuples([(*key, p) for p in periods], names=[*names, "period"])
        parts.append(part.reindex(index, fill_value=0))
    return pd.concat(parts) if parts else out


def cohort_retention(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    freq: str = "M",
    as_of: Any = None,
) -> pd.DataFrame:
    """Persistency: of the customers whose first purchase fell in a period
    (their cohort), the share who bought in each period after.

    ``freq`` is "M" (months), "Q" or "Y". Returns a table indexed by
    ``cohort`` (the period of the first purchase) with one column per age,
    0 (the cohort's own period, always 1.0) to the oldest cohort's age at
    ``as_of``; ages a cohort has not reached are missing. The cohort sizes
    are in ``result.attrs["sizes"]`` and the buyer counts behind each share
    in ``result.attrs["counts"]``. Purchases after ``as_of`` (default: the
    end of the data) are left out.

    ``tx`` has one row per purchase; ``customer`` and ``date`` name its columns (customer id, purchase time).

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2, 3], "date": pd.to_datetime(
    ...     ["2024-01-05", "2024-02-01", "2024-01-20", "2024-02-11"])})
    >>> cohort_retention(tx).round(2).to_dict("index")
    {Period('2024-01', 'M'): {0: 1.0, 1: 0.5}, Period('2024-02', 'M'): {0: 1.0, 1: nan}}
    """
    code = _freq(freq, "cohort_retention")
    keys, ns, _, cut = upto(tx, customer, date, [], as_of, "cohort_retention")
    period = pd.PeriodIndex(pd.DatetimeIndex(ns.view("datetime64[ns]")), freq=code).asi8
    frame = pd.DataFrame({"c": keys.codes, "p": period}).drop_duplicates()
    first = frame.groupby("c")["p"].transform("min").to_numpy()
    frame["cohort"], frame["age"] = first, frame["p"].to_numpy() - first
    counts = frame.groupby(["cohort", "age"]).size().unstack("age")
    last = pd.Period(pd.Timestamp(cut - 1), freq=code).ordinal
    if len(counts):
        counts = counts.reindex(columns=range(0, int(last - counts.index.min()) + 1))
        reached = counts.columns.to_numpy()[None, :] <= (last - counts.index.to_numpy())[:, None]
        counts = counts.where(~reached | counts.notna(), 0).where(reached)
    counts.index = pd.PeriodIndex.from_ordinals(counts.index.to_numpy(), freq=code)
    counts.index.name, counts.columns.name = "cohort", "age"
    sizes = counts[0] if len(counts) else pd.Series(dtype=np.float64)
    out = counts.div(sizes, axis=0)
    out.attrs["sizes"] = sizes.astype(np.int64)
    out.attrs["counts"] = counts
    return stamp(out, cut, times_ns(column(tx, date, "date")))


def pipeline_funnel(
    deals: pd.DataFrame,
    history: pd.DataFrame | None = None,
    as_of: Any = None,
    stage: str = "stage",
    amount: str = "amount",
) -> pd.DataFrame:
    """The sales pipeline as a funnel: how many deals reached each stage.

    ``deals`` is indexed by deal id with its current ``stage`` and
    ``amount``; ``history`` (optional) has ``deal_id``, ``stage`` and
    ``changed_at`` rows, of which those up to ``as_of`` count. Stages are
    ordered as deals pass through them (by their mean position in the
    deals' histories; open stages first, won last, lost left out: it is an
    exit, not a step). A deal reached every stage up to the furthest one
    it got to, so the funnel narrows. Returns, indexed by ``stage``:
    ``deals`` (reached), ``amount`` (their amounts), ``conversion`` (share
    of the previous stage's deals that got this far) and ``open`` (deals
    standing there now, not won or lost); ``attrs["lost"]`` counts lost
    deals.

    >>> deals = pd.DataFrame({"stage": ["potential", "proposal", "won", "lost"], "amount": [1.0, 2.0, 4.0, 8.0]})
    >>> history = pd.DataFrame({"deal_id": [0, 1, 1, 2, 2, 2, 3, 3], "changed_at": pd.to_datetime(["2024-01-01"] * 8),
    ...     "stage": ["potential", "potential", "proposal", "potential", "proposal", "won", "potential", "lost"]})
    >>> pipeline_funnel(deals, history)[["deals", "conversion"]].to_dict("index")["proposal"]
    {'deals': 2, 'conversion': 0.5}
    """
    from ._status import WON, deal_outcome

    current = column(deals, stage, "stage").astype(object)
    rows = pd.DataFrame({"deal_id": deals.index, "stage": current.to_numpy(), "order": np.inf})
    if history is not None and len(history):
        h = history
        if as_of is not None:
            h = h[times_ns(h["changed_at"]) <= as_of_ns(as_of, where="pipeline_funnel")]
        h = h.sort_values(["deal_id", "changed_at"], kind="stable")
        h = pd.DataFrame({"deal_id": h["deal_id"].to_numpy(), "stage": h["stage"].astype(object).to_numpy(),
                          "order": h.groupby("deal_id").cumcount().to_numpy(dtype=np.float64)})
        last = h.drop_duplicates("deal_id", keep="last").set_index("deal_id")["stage"]
        current = pd.Series(current.to_numpy(), index=deals.index).where(~deals.index.isin(last.index),
                                                                         last.reindex(deals.index))
        rows = pd.concat([h, rows.assign(stage=current.to_numpy())], ignore_index=True)
    outcome = pd.Series(deal_outcome(rows["stage"]), index=rows.index)
    steps = rows[outcome != "lost"]
    position = steps.groupby("stage")["order"].apply(lambda o: o[np.isfinite(o)].mean() if np.isfinite(o).any()
                                                     else np.inf)
    is_won = pd.Series(deal_outcome(position.index.to_series()) == WON, index=position.index)
    order = sorted(position.index, key=lambda s: (bool(is_won[s]), position[s], str(s)))
    rank = {s: i for i, s in enumerate(order)}
    furthest = steps.assign(r=steps["stage"].map(rank)).groupby("deal_id")["r"].max()
    value = floats(column(deals, amount, "amount"))
    amounts = pd.Series(np.nan_to_num(value), index=deals.index).reindex(furthest.index)
    reached = np.array([(furthest >= i).sum() for i in range(len(order))], dtype=np.int64)
    reached_amount = np.array([amounts[furthest >= i].sum() for i in range(len(order))])
    now = pd.Series(deal_outcome(current), index=current.index)
    standing = current[now == "open"].value_counts()
    out = pd.DataFrame({"deals": reached, "amount": reached_amount}, index=pd.Index(order, name="stage"))
    out["conversion"] = out["deals"] / out["deals"].shift(1)
    out["open"] = standing.reindex(out.index, fill_value=0).to_numpy(dtype=np.int64)
    out.attrs["lost"] = int((now == "lost").sum())
    return out


def campaign_effect(
    campaigns: pd.DataFrame,
    members: pd.DataFrame,
    purchases: pd.DataFrame,
    customers: pd.Index,
    days: float = 30.0,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
) -> pd.DataFrame:
    """Promotion: what each campaign did to its members' buying.

    ``campaigns`` is indexed by campaign id with ``started_at`` (and
    ``ended_at``, ``budget``, ``name``, ``channel``); ``members`` has
    ``campaign_id``, ``customer_id`` and ``responded``; ``purchases`` one row
    per purchase; ``customers`` every customer id (the population). A
    campaign's window runs from its start to ``days`` after its end. Returns,
    indexed by campaign id: ``name``, ``channel``, ``started_at``,
    ``budget``, ``members``, ``responders``, ``response_rate``,
    ``revenue_per_member`` in the window, ``before_per_member`` (in as long a
    window just before the start), ``revenue_per_other`` (customers who were
    not members, same window), ``lift`` (revenue_per_member /
    revenue_per_other), ``incremental_revenue`` ((per member - per other) x
    members) and ``return_on_budget`` (incremental revenue / budget).

    ``customer``, ``date`` and ``amount`` name the columns of ``purchases``; ``days`` lengthens each window.

    >>> campaigns = pd.DataFrame({"started_at": pd.to_datetime(["2024-03-01"]), "budget": [10.0]}, index=[7])
    >>> members = pd.DataFrame({"campaign_id": [7, 7], "customer_id": [1, 2], "responded": [True, False]})
    >>> bought = pd.DataFrame({"customer_id": [1, 3], "amount": [50.0, 20.0],
    ...                        "date": pd.to_datetime(["2024-03-05", "2024-03-06"])})
    >>> effect = campaign_effect(campaigns, members, bought, pd.Index([1, 2, 3, 4]))
    >>> effect[["response_rate", "revenue_per_member", "revenue_per_other", "lift"]].values.tolist()
    [[0.5, 25.0, 10.0, 2.5]]
    """
    days = _days(days, "campaign_effect", "days")
    when = times_ns(column(purchases, date, "date"))
    who = column(purchases, customer, "customer").to_numpy()
    value = floats(column(purchases, amount, "amount"))
    population = pd.Index(customers)
    rows = []
    for cid, c in campaigns.iterrows():  # a handful of campaigns: one vectorized pass over purchases each
        start = pd.Timestamp(c["started_at"])
        end = pd.Timestamp(c["ended_at"]) if pd.notna(c.get("ended_at", pd.NaT)) else start
        # The windows' ends held within the times the store keeps (no purchase
        # lies beyond them): a campaign near 2262 plus `days` was a bare OverflowError.
        stop = pd.Timestamp(min(max(end, start).value + round(days * NS_PER_DAY), LAST_TIME.value))
        since = pd.Timestamp(max(start.value - (stop.value - start.value), FIRST_TIME.value))
        mine = members[members["campaign_id"] == cid]
        ids = pd.Index(mine["customer_id"].dropna().astype(np.int64).unique())
        inside = (when >= start.value) & (when < stop.value)
        before = (when >= since.value) & (when < start.value)
        member = np.isin(who, ids)
        n, others = len(ids), len(population.difference(ids))
        responders = int(mine.drop_duplicates("customer_id")["responded"].fillna(False).astype(bool).sum())
        per_member = value[inside & member].sum() / n if n else np.nan
        per_other = value[inside & ~member].sum() / others if others else np.nan
        budget = float(c.get("budget", np.nan)) if pd.notna(c.get("budget", np.nan)) else np.nan
        incremental = (per_member - per_other) * n
        rows.append({
            "name": c.get("name"), "channel": c.get("channel"), "started_at": start, "budget": budget,
            "members": n, "responders": responders, "response_rate": responders / n if n else np.nan,
            "revenue_per_member": per_member,
            "before_per_member": value[before & member].sum() / n if n else np.nan,
            "revenue_per_other": per_other,
            "lift": per_member / per_other if per_other else np.nan,
            "incremental_revenue": incremental,
            "return_on_budget": incremental / budget if budget else np.nan,
        })
    out = pd.DataFrame(rows, index=pd.Index(campaigns.index, name="campaign_id"))
    if not len(out):
        # (The dtypes the rows have when there are any.)
        no = {"name": campaigns["name"].array[:0] if "name" in campaigns else pd.array([], dtype="str"),
              "channel": campaigns["channel"].array[:0] if "channel" in campaigns else pd.array([], dtype="str"),
              "started_at": np.array([], dtype="datetime64[ns]")}
        floats_ = ["budget", "response_rate", "revenue_per_member", "before_per_member", "revenue_per_other", "lift",
                   "incremental_revenue", "return_on_budget"]
        out = pd.DataFrame({**no, **{c: np.array([], dtype=np.float64) for c in floats_},
                            "members": np.array([], dtype=np.int64), "responders": np.array([], dtype=np.int64)},
                           index=pd.Index([], name="campaign_id", dtype=np.int64))
        out = out[["name", "channel", "started_at", "budget", "members", "responders", "response_rate",
                   "revenue_per_member", "before_per_member", "revenue_per_other", "lift", "incremental_revenue",
                   "return_on_budget"]]
    return out
