"""Targets (quotas) and their attainment, for ``db.sales.attainment``.

A target is a record of kind ``targets``: a person (``staff_id``) or a team,
a period (``"2024"``, ``"2024-Q1"`` or ``"2024-03"``, checked by the store)
and an amount of a metric. The metric crmcore measures today is
``bookings``: the amount of deals won (closed) in the period.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..scoring._columns import times_ns
from ._base import SalesPart


def target_period(text: str) -> pd.Period:
    """The period a target's text names (a year, a quarter or a month).

    >>> target_period("2024-Q1"), target_period("2024-03"), target_period("2024")
    (Period('2024Q1', 'Q-DEC'), Period('2024-03', 'M'), Period('2024', 'Y-DEC'))
    """
    if "-Q" in text:
        return pd.Period(text.replace("-", ""), "Q")
    return pd.Period(text, "M" if "-" in text else "Y")


def attainment_table(targets: pd.DataFrame, won: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """Attainment of ``targets`` (indexed by id; columns staff_id, team,
    period, metric, amount) from the ``won`` deals (columns owner_id, team,
    closed_at, amount: the team is the owner's) at ``as_of`` (nanoseconds):
    the work of :meth:`TargetMethods.attainment` without the store.

    A person's target counts the deals they own; a team's those of its
    members, so a team's figure is the sum of its people's (the roll-up).
    Each target's deals are found by binary search in the won deals sorted
    by owner (or team) and close time: one sort, then two searches per
    target, all targets at once.

    >>> t = pd.DataFrame({"staff_id": [7], "team": [None], "period": ["2024-01"], "metric": ["bookings"],
    ...                   "amount": [100.0]}, index=[1])
    >>> w = pd.DataFrame({"owner_id": [7, 7], "team": ["n", "n"], "amount": [30.0, 50.0],
    ...                   "closed_at": pd.to_datetime(["2024-01-05", "2024-02-01"])})
    >>> attainment_table(t, w, pd.Timestamp("2024-01-16").value)[["won", "gap", "projected"]].round(6).values.tolist()
    [[30.0, 70.0, 62.0]]
    """
    periods = [target_period(p) for p in targets["period"]]
    start = np.array([p.start_time.value for p in periods], dtype=np.int64)
    end = np.array([(p + 1).start_time.value for p in periods], dtype=np.int64)
    closed = times_ns(won["closed_at"])
    amount = won["amount"].to_numpy(dtype=float, na_value=0.0)
    got = np.zeros(len(targets))
    for column, key in (("staff_id", "owner_id"), ("team", "team")):
        mine = targets[column].notna().to_numpy() & (targets[column].astype(object) != "").to_numpy()
        if not mine.any():
            continue
        code, keys = pd.factorize(won[key])
        rows = np.flatnonzero((code >= 0) & (closed != np.iinfo(np.int64).min))
        order = rows[np.lexsort((closed[rows], code[rows]))]
        # (key, close time) as one sortable integer: the key's code times the
        # number of distinct times, plus the time's rank among them.
        times = np.unique(closed[order])
        width = len(times) + 1
        combined = code[order] * width + np.searchsorted(times, closed[order])
        total = np.concatenate([[0.0], np.cumsum(amount[order])])
        k = pd.Index(keys).get_indexer(targets[column][mine])  # -1: no deal of theirs was won
        a = np.searchsorted(combined, k * width + np.searchsorted(times, start[mine]), "left")
        b = np.searchsorted(combined, k * width + np.searchsorted(times, end[mine]), "left")
        got[mine] = np.where(k >= 0, total[b] - total[a], 0.0)
    out = targets[["staff_id", "team", "period", "metric"]].copy()
    out["target"] = targets["amount"].to_numpy(dtype=float)
    out["won"] = got
    out["attainment"] = got / out["target"].where(out["target"] > 0)
    out["gap"] = out["target"] - got
    out["elapsed"] = np.clip((as_of - start) / (end - start), 0.0, 1.0)
    out["projected"] = got / out["elapsed"].where(out["elapsed"] > 0)
    out["pace"] = out["projected"] / out["target"].where(out["target"] > 0)
    return out


class TargetMethods(SalesPart):
    """Targets' part of ``db.sales`` (mixed into :class:`crmcore.sales.SalesMethods`)."""


    def attainment(self, as_of: Any = None, rollup: bool = False) -> pd.DataFrame:
        """Every target against the bookings (won deals' amount, by close
        date) of its person, or of its team's people, in its period; one row
        per target, indexed by its id: ``staff_id``, ``team``, ``period``,
        ``metric``, ``target``, ``won``, ``attainment`` (won / target),
        ``gap`` (target - won; below 0 is over target), ``elapsed`` (share
        of the period gone by ``as_of``, default the end of the data),
        ``projected`` (won at the pace so far, for the whole period) and
        ``pace`` (projected / target). A person's team is the ``team`` of
        their staff record. With ``rollup`` a person's figure also counts
        the deals of everyone who reports to them, directly or not (links
        ``db.link(report, manager, "reports_to")`` between staff records).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> wang = db.add("staff", name="Wang", team="north")
        >>> _ = db.add("targets", staff_id=wang, period="2024-Q1", amount=1000.0)
        >>> _ = db.add("targets", team="north", period="2024-01", amount=500.0)
        >>> d = db.add("deals", customer_id=db.add("customers", name="Acme"), stage="lead", amount=400.0,
        ...            owner_id=wang)
        >>> db.sales.move(d, "won", at="2024-01-20")
        >>> a = db.sales.attainment(as_of="2024-02-15")
        >>> a[["period", "won", "attainment", "gap", "pace"]].round(3).values.tolist()
        [['2024-Q1', 400.0, 0.4, 600.0, 0.809], ['2024-01', 400.0, 0.8, 100.0, 0.8]]
        """
        cut = self._as_of(as_of)
        targets = self._db.frame("targets", columns=["staff_id", "team", "period", "metric", "amount"])
        deals = self._deals("team")
        won = deals.loc[deals.category == "won", ["owner_id", "team", "closed_at", "amount"]]
        if rollup:
            won = _credited_upwards(won, self._db.frame("links", columns=["src", "dst", "type"]),
                                    set(self._db.frame("staff", columns=["name"]).index))
        out = attainment_table(targets, won, cut)
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out


def _credited_upwards(won: pd.DataFrame, links: pd.DataFrame, staff: "set[int]") -> pd.DataFrame:
    """The won deals once for their owner and once more for each person
    above the owner in the reporting lines (reports_to links between staff),
    with ``owner_id`` the person credited; only the owner's row keeps the
    ``team``, so that team targets count each deal once."""
    lines = links[(links.type == "reports_to") & links.src.isin(staff) & links.dst.isin(staff)]
    managers: "dict[int, list[int]]" = {}
    for src, dst in zip(lines.src, lines.dst):
        managers.setdefault(int(src), []).append(int(dst))
    pairs: "list[tuple[Any, int]]" = []
    for owner in pd.unique(won.owner_id.dropna()):
        seen, todo = {int(owner)}, [int(owner)]
        while todo:                                   # every manager above, once, whatever loops the lines hold
            for m in managers.get(todo.pop(), []):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        pairs.extend((owner, person) for person in seen)
    credit = pd.DataFrame(pairs, columns=["owner_id", "credited"])
    out = won.reset_index().merge(credit, on="owner_id", how="inner")
    out["team"] = out["team"].where(out["credited"] == out["owner_id"])  # a team counts each deal once
    return out.drop(columns="owner_id").rename(columns={"credited": "owner_id"}).set_index(won.index.name or "index")
