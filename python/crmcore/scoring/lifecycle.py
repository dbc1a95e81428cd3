"""Classification and lifecycle: one-time / occasional / regular buyers,
valid and active customers, lifecycle stages with their reasons, and the
importance / urgency quadrant of deals."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import _core
from .._args import _integer, _invalid, _number
from .._convert import text_array
from ._columns import (Keys, column, days_between, end_of_data, flag_overflow, floats, resolve_as_of, stamp,
                       times_ns, timestamps, transactions)
from ._status import LOST, WON, _normalized, deal_outcome

__all__ = ["BUYER_TYPES", "STAGES", "classify", "deal_quadrants", "deal_summary", "lifecycle", "rhythm"]

BUYER_TYPES = ["one-time", "occasional", "regular"]
STAGES = ["prospect", "new", "active", "loyal", "at risk", "churned"]


def rhythm(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str | None = "amount",
    as_of: Any = None,
) -> pd.DataFrame:
    """Each customer's purchase rhythm, the base of classification, lifecycle,
    loyalty and churn.

    Returns, indexed by customer id: ``purchases``, ``amount`` (total; 0 when
    ``amount`` is None), ``first_purchase``, ``last_purchase``,
    ``tenure_days`` (first purchase to ``as_of``), ``days_since`` (last
    purchase to ``as_of``), ``mean_gap`` (mean days between consecutive
    purchases; NaN with one purchase) and ``cv_gap`` (their coefficient of
    variation, population std / mean; NaN with fewer than two gaps or when all
    gaps are zero). ``as_of`` defaults to the end of the data (midnight after
    the latest purchase); later purchases are ignored; the point and window
    are in ``result.attrs["as_of"]`` and ``["window"]``. An ``amount`` total beyond the range of a
    double follows the rule of :class:`~crmcore.scoring.TotalOverflowWarning`.

    ``tx`` has one row per purchase; ``customer``, ``date`` and ``amount`` name its columns (customer id, purchase
    time, amount).

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1], "amount": [1.0, 1.0, 1.0],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-31"])})
    >>> rhythm(tx).loc[1, ["mean_gap", "cv_gap"]].round(3).tolist()
    [15.0, 0.333]
    """
    return _rhythm(tx, customer, date, amount, as_of, "rhythm")


def _rhythm(tx, customer, date, amount, as_of, analysis: str) -> pd.DataFrame:
    """:func:`rhythm`, naming ``analysis`` (the caller) in its overflow warning."""
    keys, ns, amt = transactions(tx, customer, date, amount)
    ref = resolve_as_of(as_of, ns, analysis)
    r = _core.purchase_rhythm(keys.codes, ns, amt, ref)
    out = pd.DataFrame(
        {
            "purchases": r["purchases"],
            "amount": r["amount"],
            "first_purchase": timestamps(r["first"]),
            "last_purchase": timestamps(r["last"]),
            "tenure_days": days_between(ref, r["first"]),
            "days_since": days_between(ref, r["last"]),
            "mean_gap": r["mean_gap"],
            "cv_gap": r["cv_gap"],
        },
        index=keys.index(r["customer"], customer),
    )
    stamp(out, ref, ns)
    return flag_overflow(out, ["amount"], analysis) if amount is not None else out


def _referral_counts(referrals: Any, index: pd.Index) -> np.ndarray:
    """Referral counts aligned to ``index``: a Series of counts by customer id,
    or a frame of (referred, referrer) pairs whose referrer column is counted."""
    if referrals is None:
        return np.zeros(len(index), dtype=np.int64)
    if isinstance(referrals, pd.DataFrame):
        referrer = referrals["referrer"] if "referrer" in referrals.columns else referrals.iloc[:, -1]
        keys = Keys(referrer, "referrals")
        r = _core.group_stats(keys.codes, [], False)
        referrals = pd.Series(r["rows"], index=keys.index(r["key"]))
    return pd.Series(referrals).reindex(index, fill_value=0).fillna(0).to_numpy(dtype=np.int64)


def classify(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    as_of: Any = None,
    regular_min_purchases: int = 4,
    regular_max_cv: float = 0.75,
    active_days: float = 365.0,
    referrals: Any = None,
    customers: pd.DataFrame | None = None,
    contact_columns: Sequence[str] = ("phone", "email", "address"),
) -> pd.DataFrame:
    """Classifies customers by how and how much they buy.

    ``buyer_type``: "one-time" (one purchase), "regular" (at least
    ``regular_min_purchases`` purchases whose gaps have a coefficient of
    variation <= ``regular_max_cv``: they come back at a steady pace),
    "occasional" (the rest). ``repurchases`` = purchases - 1. ``referrals``
    counts the customers each one referred (a Series of counts by id, or a
    frame whose ``referrer`` column names the referrer of each referral).
    ``active``: bought within ``active_days`` of ``as_of``. ``valid``: has
    bought and, when a ``customers`` frame (indexed by id) is given, can be
    reached (one of ``contact_columns`` is filled). With ``customers``, every
    customer in it gets a row, those who never bought with 0 purchases and
    ``buyer_type`` "no purchase". The rhythm columns of :func:`rhythm` are included.

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 1, 2], "amount": 1.0,
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-01-05"])})
    >>> classify(tx)["buyer_type"].tolist()
    ['regular', 'one-time']
    """
    regular_min_purchases = _integer(regular_min_purchases, "classify", "regular_min_purchases", low=1)
    regular_max_cv = _number(regular_max_cv, "classify", "regular_max_cv", low=0)
    active_days = _number(active_days, "classify", "active_days", low=0)
    out = _rhythm(tx, customer, date, amount, as_of, "classify")
    if customers is not None:
        out = out.reindex(out.index.union(pd.Index(customers.index, name=customer)))
        out["purchases"] = out["purchases"].fillna(0).astype(np.int64)
        out["amount"] = out["amount"].fillna(0.0)
    purchases = out["purchases"].to_numpy()
    regular = (purchases >= regular_min_purchases) & (out["cv_gap"].to_numpy() <= regular_max_cv)
    # A customer listed in ``customers`` who never bought is stated as such, not left missing.
    kind = np.where(purchases == 0, 3, np.where(purchases == 1, 0, np.where(regular, 2, 1)))
    out["buyer_type"] = pd.Categorical.from_codes(kind, categories=[*BUYER_TYPES, "no purchase"])
    out["repurchases"] = np.maximum(purchases - 1, 0)
    out["referrals"] = _referral_counts(referrals, out.index)
    out["active"] = (out["days_since"].to_numpy() <= active_days) & (purchases > 0)
    valid = purchases > 0
    if customers is not None:
        present = [c for c in contact_columns if c in customers.columns]
        if present:
            filled = customers[present].reindex(out.index)
            reachable = (filled.notna() & (filled.astype(str) != "")).any(axis=1).to_numpy()
            valid &= reachable
    out["valid"] = valid
    return out


def lifecycle(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    as_of: Any = None,
    customers: pd.DataFrame | pd.Index | None = None,
    new_days: float = 90.0,
    churn_days: float = 365.0,
    at_risk_factor: float = 2.0,
    at_risk_days: float = 180.0,
    loyal_purchases: int = 4,
    loyal_days: float = 365.0,
) -> pd.DataFrame:
    """Lifecycle stage of every customer, with the reason that put them there.

    Rules, first match wins:

    - ``prospect``: no purchase yet (only customers listed in ``customers``);
    - ``churned``: no purchase for more than ``churn_days``;
    - ``at risk``: silent for more than ``at_risk_factor`` x their own mean gap
      between purchases, or, with a single purchase, for more than
      ``at_risk_days``;
    - ``new``: first purchase within ``new_days``;
    - ``loyal``: at least ``loyal_purchases`` purchases over at least
      ``loyal_days`` of tenure;
    - ``active``: everyone else (bought recently, in their rhythm).

    Returns ``stage`` (ordered categorical), ``reason`` (a sentence) and the
    rhythm columns the rules read.

    ``tx`` has one row per purchase; ``customer``, ``date`` and ``amount`` name its columns (customer id, purchase
    time, amount). ``as_of`` is the point described (default: the end of the data); ``customers`` lists everyone to
    place (prospects too).

    >>> tx = pd.DataFrame({"customer_id": [1, 2, 2], "amount": 1.0,
    ...                    "date": pd.to_datetime(["2022-01-01", "2024-05-01", "2024-06-01"])})
    >>> lifecycle(tx, customers=pd.Index([1, 2, 3]))["stage"].tolist()
    ['churned', 'new', 'prospect']
    """
    new_days, churn_days, at_risk_days, loyal_days = (
        _number(value, "lifecycle", name, low=0) for name, value in
        (("new_days", new_days), ("churn_days", churn_days), ("at_risk_days", at_risk_days), ("loyal_days", loyal_days)))
    at_risk_factor = _number(at_risk_factor, "lifecycle", "at_risk_factor", low=0, low_open=True)
    loyal_purchases = _integer(loyal_purchases, "lifecycle", "loyal_purchases", low=1)
    out = _rhythm(tx, customer, date, amount, as_of, "lifecycle")
    if customers is not None:
        ids = customers.index if isinstance(customers, pd.DataFrame) else pd.Index(customers)
        out = out.reindex(out.index.union(pd.Index(ids, name=customer)))
        out["purchases"] = out["purchases"].fillna(0).astype(np.int64)
    n = out["purchases"].to_numpy()
    since = out["days_since"].to_numpy()
    tenure = out["tenure_days"].to_numpy()
    gap = out["mean_gap"].to_numpy()
    overdue_repeat = (n >= 2) & (since > at_risk_factor * gap)
    overdue_single = (n == 1) & (since > at_risk_days)
    rules = [
        (n == 0, 0),
        (since > churn_days, 5),
        (overdue_repeat | overdue_single, 4),
        (tenure <= new_days, 1),
        ((n >= loyal_purchases) & (tenure >= loyal_days), 3),
    ]
    stage = np.select([c for c, _ in rules], [s for _, s in rules], default=2)
    out["stage"] = pd.Categorical.from_codes(stage, categories=STAGES, ordered=True)
    days = _whole(since)
    reason = np.select(
        [stage == 0, stage == 5, (stage == 4) & overdue_repeat, stage == 4, stage == 1, stage == 3, stage == 2],
        [
            "no purchase yet",
            "no purchase for " + days + f" days (> {churn_days:g})",
            "silent for " + days + " days, over " + f"{at_risk_factor:g} x their usual gap of "
            + pd.Series(np.round(gap, 1)).astype("string").fillna("?").to_numpy(dtype=object) + " days",
            "one purchase, " + days + f" days ago (> {at_risk_days:g})",
            "first purchase " + _whole(tenure) + f" days ago (<= {new_days:g})",
            _whole(n) + " purchases over " + _whole(tenure)
            + " days",
            "last purchase " + days + " days ago, within their rhythm",
        ],
        default="",
    )
    out["reason"] = text_array(reason)  # str with no customers too
    return out


def _whole(values: np.ndarray) -> np.ndarray:
    """Numbers as whole-number text for the reason sentences."""
    return pd.Series(np.round(values)).astype("Int64").astype("string").fillna("?").to_numpy(dtype=object)


def deal_quadrants(
    deals: pd.DataFrame,
    amount: str = "amount",
    expected_close: str = "expected_close",
    stage: str = "stage",
    closed_at: str = "closed_at",
    as_of: Any = None,
    important_amount: float | None = None,
    urgent_days: float = 30.0,
    won_stages: Sequence[str] | None = None,
    lost_stages: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Status of each deal at ``as_of`` and its importance / urgency quadrant.

    ``status`` is "won" or "lost" when the stage says so (by
    :data:`~crmcore.scoring.DEAL_STAGE`, or the ``won_stages`` /
    ``lost_stages`` given), "closed" when ``closed_at`` is set otherwise, else
    "open"; a deal whose ``closed_at`` is after ``as_of`` was still open then.
    For open deals, ``important`` means amount >= ``important_amount``
    (default: the median amount of the open deals), ``urgent`` means expected
    to close within ``urgent_days`` of ``as_of`` or already overdue;
    ``quadrant`` is "do first" (both), "plan" (important only), "quick win"
    (urgent only) or "later". Closed deals get no quadrant. Indexed like
    ``deals``.

    ``as_of`` defaults to the end of the data, midnight after the latest
    ``closed_at`` (the store's ``db.deal_quadrants`` uses the store's end of
    data); urgency is never measured from today's clock, so an old data set
    does not make every deal overdue. Without any ``closed_at``, give
    ``as_of``. The point used is in ``result.attrs["as_of"]``.

    ``amount``, ``expected_close``, ``stage`` and ``closed_at`` name the columns of ``deals``.

    >>> deals = pd.DataFrame({"amount": [1000.0, 10.0], "stage": ["negotiating", "potential"],
    ...                       "expected_close": pd.to_datetime(["2024-01-10", "2024-06-01"])})
    >>> deal_quadrants(deals, as_of="2024-01-01")["quadrant"].tolist()
    ['do first', 'later']
    """
    urgent_days = _number(urgent_days, "deal_quadrants", "urgent_days", low=0)
    if important_amount is not None:
        important_amount = _number(important_amount, "deal_quadrants", "important_amount")
    nat = np.iinfo(np.int64).min
    closed_ns = times_ns(column(deals, closed_at, "closed_at"), "closed_at") if closed_at in deals.columns \
        else np.full(len(deals), nat, dtype=np.int64)
    if as_of is None and end_of_data(closed_ns) is None:
        raise _invalid("deal_quadrants", "as_of", "must be given: no deal has a closed_at that places the end of "
                       "the data, and today's clock would make an old data set all overdue")
    now = resolve_as_of(as_of, closed_ns, "deal_quadrants")
    stages = column(deals, stage, "stage")
    outcome = deal_outcome(stages)

    def says(given: Sequence[str] | None, meaning: str) -> np.ndarray:
        if given is None:  # the shared table
            return outcome == meaning
        return _normalized(stages).isin(_normalized(pd.Series(list(given)))).fillna(False).to_numpy(dtype=bool)

    closed_later = (closed_ns != nat) & (closed_ns > now)
    closed = (closed_ns != nat) & ~closed_later
    won = says(won_stages, WON) & ~closed_later
    lost = says(lost_stages, LOST) & ~closed_later
    status = np.select([won, lost, closed], ["won", "lost", "closed"], default="open")
    open_ = status == "open"
    value = floats(column(deals, amount, "amount"))
    threshold = np.nanmedian(value[open_]) if important_amount is None and open_.any() else important_amount
    due = times_ns(column(deals, expected_close, "expected_close"), "expected_close")
    days_left = days_between(due, now)
    important = open_ & (value >= (threshold if threshold is not None else np.inf))
    urgent = open_ & (days_left <= urgent_days)
    quadrant = np.select(
        [~open_, important & urgent, important, urgent],
        [np.array(None, dtype=object), "do first", "plan", "quick win"], default="later"
    )
    out = pd.DataFrame(
        {
            "status": status,
            "amount": value,
            "days_to_close": days_left,
            "important": important,
            "urgent": urgent,
            "quadrant": pd.Categorical(quadrant, categories=["do first", "plan", "quick win", "later"]),
        },
        index=deals.index,
    )
    return stamp(out, now)


def deal_summary(
    deals: pd.DataFrame,
    customer: str = "customer_id",
    probability: str = "probability",
    **quadrant_args: Any,
) -> pd.DataFrame:
    """Customers by the status of their deals: the pipeline each one holds.

    Per customer id: ``open``, ``won``, ``lost`` (deal counts), ``pipeline``
    (amount of open deals), ``weighted_pipeline`` (open amount x
    ``probability``; a missing probability counts as 0), ``won_amount``,
    ``do_first`` (open deals both important and urgent) and ``win_rate``
    (won / (won + lost)). ``quadrant_args`` go to :func:`deal_quadrants`.
    Amount totals beyond the range of a double follow the rule of
    :class:`~crmcore.scoring.TotalOverflowWarning`.

    >>> deals = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [100.0, 50.0, 70.0],
    ...                       "stage": ["won", "proposal", "lost"], "probability": [1.0, 0.5, 0.0],
    ...                       "expected_close": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"])})
    >>> deal_summary(deals, as_of="2024-01-15")[["open", "weighted_pipeline", "win_rate"]].values.tolist()
    [[1.0, 25.0, 1.0], [0.0, 0.0, 0.0]]
    """
    q = deal_quadrants(deals, **quadrant_args)
    known = column(deals, customer, "customer").notna().to_numpy()
    q = q[known]
    status = q["status"].to_numpy()
    open_ = (status == "open").astype(np.float64)
    amount = np.nan_to_num(q["amount"].to_numpy())
    chance = floats(column(deals, probability, "probability"))[known] if probability in deals.columns \
        else np.zeros(len(q))
    columns = {
        "open": open_,
        "won": (status == "won").astype(np.float64),
        "lost": (status == "lost").astype(np.float64),
        "pipeline": open_ * amount,
        "weighted_pipeline": open_ * amount * np.nan_to_num(chance),
        "won_amount": (status == "won") * amount,
        "do_first": (q["quadrant"] == "do first").to_numpy(dtype=np.float64),
    }
    keys = Keys(column(deals, customer, "customer")[known], "deals")
    r = _core.group_stats(keys.codes, list(columns.values()), False)
    out = pd.DataFrame(dict(zip(columns, r["sum"])), index=keys.index(r["key"], customer))
    decided = out["won"] + out["lost"]
    out["win_rate"] = (out["won"] / decided).where(decided > 0)
    out.attrs.update(q.attrs)
    return flag_overflow(out, ["pipeline", "weighted_pipeline", "won_amount"], "deal_summary")
