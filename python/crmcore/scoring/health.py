"""Satisfaction, loyalty, churn risk and a composite, explainable health
score. Satisfaction (what customers say and how well they are served) and
loyalty (how steadily they come back) are kept apart: a satisfied customer
is not necessarily a loyal one."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import _core
from .._args import _integer, _number, _weights
from ._columns import NS_PER_HOUR, Keys, column, floats, times_ns
from .lifecycle import _rhythm
from .rfm import _rfm

__all__ = ["DEFAULT_HEALTH_WEIGHTS", "churn_risk", "health", "loyalty", "satisfaction"]

_LOYALTY_PARTS = ("tenure_score", "regularity", "repeat_score")
DEFAULT_HEALTH_WEIGHTS = {"retention": 0.35, "loyalty": 0.2, "value": 0.2, "satisfaction": 0.15, "service": 0.1}
_NAT = np.iinfo(np.int64).min


def _hours(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    missing = (later == _NAT) | (earlier == _NAT)
    return np.where(missing, np.nan, (later - earlier) / NS_PER_HOUR)


def _per_customer(ids: pd.Series, columns: dict, role: str, medians: bool) -> tuple[pd.Index, dict]:
    keys = Keys(ids, role)
    r = _core.group_stats(keys.codes, list(columns.values()), medians)
    out = {"rows": r["rows"]}
    for j, name in enumerate(columns):
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name + "_mean"] = r["sum"][j] / r["count"][j]
        if medians:
            out[name + "_median"] = r["median"][j]
    return keys.index(r["key"]), out


def satisfaction(
    tickets: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    customer: str = "customer_id",
    purchases: pd.Series | None = None,
    promoter_min: int = 9,
    detractor_max: int = 6,
) -> pd.DataFrame:
    """Service and satisfaction measures per customer, from tickets and surveys.

    From ``tickets`` (opened_at, first_response_at, resolved_at, reopened,
    satisfaction): ``tickets``, ``response_hours`` / ``resolution_hours``
    (median; ``..._mean`` too) from opening to first response and to
    resolution (open tickets are left out), ``reopen_rate`` (share of tickets
    reopened at least once), ``ticket_satisfaction`` (mean 1..5) and, when
    ``purchases`` (a Series of purchase counts by customer) is given,
    ``complaint_rate`` = tickets per purchase. From ``surveys`` (csat 1..5,
    nps 0..10): ``responses``, ``csat`` (mean) and ``nps`` = % promoters
    (>= ``promoter_min``) - % detractors (<= ``detractor_max``), -100..100.
    The whole population's NPS and CSAT are in ``result.attrs``.

    >>> surveys = pd.DataFrame({"customer_id": [1, 1, 2], "csat": [5.0, 4.0, 2.0], "nps": [10, 6, 9]})
    >>> satisfaction(surveys=surveys)["nps"].tolist()
    [0.0, 100.0]
    """
    detractor_max = _integer(detractor_max, "satisfaction", "detractor_max", low=0, high=9)
    promoter_min = _integer(promoter_min, "satisfaction", "promoter_min", low=detractor_max + 1, high=10)
    parts = []
    attrs: dict[str, Any] = {}
    if tickets is not None:
        opened = times_ns(column(tickets, "opened_at", "opened_at"), "opened_at")
        cols = {
            "response_hours": _hours(times_ns(column(tickets, "first_response_at", "first_response_at")), opened),
            "resolution_hours": _hours(times_ns(column(tickets, "resolved_at", "resolved_at")), opened),
            "reopened": (floats(column(tickets, "reopened", "reopened")) > 0).astype(np.float64)
            if "reopened" in tickets.columns else np.zeros(len(tickets)),
            "satisfaction": floats(column(tickets, "satisfaction", "satisfaction"))
            if "satisfaction" in tickets.columns else np.full(len(tickets), np.nan),
        }
        known = column(tickets, customer, "customer").notna().to_numpy()
        index, s = _per_customer(column(tickets, customer, "customer")[known], {k: v[known] for k, v in cols.items()},
                                 "tickets", True)
        frame = pd.DataFrame(
            {
                "tickets": s["rows"],
                "response_hours": s["response_hours_median"],
                "response_hours_mean": s["response_hours_mean"],
                "resolution_hours": s["resolution_hours_median"],
                "resolution_hours_mean": s["resolution_hours_mean"],
                "reopen_rate": s["reopened_mean"],
                "ticket_satisfaction": s["satisfaction_mean"],
            },
            index=index,
        )
        if purchases is not None:
            bought = pd.Series(purchases).reindex(frame.index).to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                frame["complaint_rate"] = np.where(bought > 0, frame["tickets"] / bought, np.nan)
        attrs["response_hours"] = float(np.nanmedian(cols["response_hours"])) if len(tickets) else np.nan
        attrs["resolution_hours"] = float(np.nanmedian(cols["resolution_hours"])) if len(tickets) else np.nan
        parts.append(frame)
    if surveys is not None:
        score = floats(column(surveys, "nps", "nps")) if "nps" in surveys.columns else np.full(len(surveys), np.nan)
        # NPS per customer is the mean of +1 (promoter), 0, -1 (detractor).
        vote = np.where(np.isnan(score), np.nan, (score >= promoter_min).astype(float) - (score <= detractor_max))
        csat = floats(column(surveys, "csat", "csat")) if "csat" in surveys.columns else np.full(len(surveys), np.nan)
        known = column(surveys, customer, "customer").notna().to_numpy()
        index, s = _per_customer(column(surveys, customer, "customer")[known],
                                 {"csat": csat[known], "vote": vote[known]}, "surveys", False)
        parts.append(pd.DataFrame({"responses": s["rows"], "csat": s["csat_mean"], "nps": 100 * s["vote_mean"]},
                                  index=index))
        attrs["nps"] = float(100 * np.nanmean(vote)) if np.isfinite(vote).any() else np.nan
        attrs["csat"] = float(np.nanmean(csat)) if np.isfinite(csat).any() else np.nan
    if not parts:
        raise ValueError("give tickets, surveys or both")
    out = parts[0] if len(parts) == 1 else parts[0].join(parts[1], how="outer")
    for name in ("tickets", "responses"):
        if name in out.columns:
            out[name] = out[name].fillna(0).astype(np.int64)
    out.index.name = customer
    out.attrs.update(attrs)
    return out


def _weighted(components: pd.DataFrame, weights: Mapping[str, float]) -> pd.Series:
    """Weighted mean of the available (non-NaN) components of each row."""
    w = np.array([float(weights[c]) for c in components.columns])
    values = components.to_numpy(dtype=np.float64)
    present = ~np.isnan(values)
    total = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(total > 0, np.nansum(values * w, axis=1) / total, np.nan), index=components.index)


def loyalty(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    as_of: Any = None,
    tenure_full_days: float = 730.0,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Loyalty from how long and how steadily customers keep buying.

    Components (0..1, shown as columns): ``tenure_score`` = tenure /
    ``tenure_full_days`` capped at 1; ``regularity`` = 1 / (1 + CV of the
    gaps between purchases) (0 for one purchase, 0.5 for two: one gap says
    nothing of regularity); ``repeat_score`` = 1 - 1 / purchases.
    ``loyalty`` is their weighted mean (``weights`` by component name, equal
    by default). Satisfaction plays no part here.

    ``tx`` has one row per purchase; ``customer`` and ``date`` name its columns (customer id, purchase time).
    ``as_of`` is the point described (default: the end of the data).

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2], "date": pd.to_datetime(
    ...     ["2022-01-01", "2023-01-01", "2024-01-01", "2024-01-01"])})
    >>> loyalty(tx)["loyalty"].round(2).tolist()
    [0.89, 0.0]
    """
    tenure_full_days = _number(tenure_full_days, "loyalty", "tenure_full_days", low=0, low_open=True)
    w = {c: 1.0 for c in _LOYALTY_PARTS} | _weights(weights, "loyalty", "weights", _LOYALTY_PARTS)
    r = _rhythm(tx, customer, date, None, as_of, "loyalty")
    n = r["purchases"].to_numpy()
    cv = r["cv_gap"].to_numpy()
    components = pd.DataFrame(
        {
            "tenure_score": np.minimum(r["tenure_days"].to_numpy() / tenure_full_days, 1.0),
            "regularity": np.where(n <= 1, 0.0, np.where(np.isnan(cv), 0.5, 1.0 / (1.0 + np.nan_to_num(cv)))),
            "repeat_score": 1.0 - 1.0 / n,
        },
        index=r.index,
    )
    out = r[["purchases", "tenure_days", "mean_gap", "cv_gap"]].join(components)
    out["loyalty"] = _weighted(components, w)
    out.attrs.update(r.attrs)  # the point and window of the rhythm read (a join drops them)
    return out


def churn_risk(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    as_of: Any = None,
    p_alive: pd.Series | None = None,
    prior_weight: float = 1.0,
    alive_weight: float = 0.5,
) -> pd.DataFrame:
    """Churn risk from each customer's own purchase rhythm, and optionally
    from a model's P(alive).

    ``rhythm_risk`` is the probability that a customer still buying at their
    usual pace would have bought again during their current silence
    (``days_since``): the CDF at the silence of a gamma distribution of gaps
    with their own mean gap and CV, both shrunk towards the population's
    medians as if those were ``prior_weight`` extra gaps (one-time buyers get
    the population's rhythm). A regular weekly buyer silent for a month is at
    high risk; a yearly buyer silent for a month is not. With ``p_alive`` (a
    Series by customer id, e.g. from ``crmcore.clv``'s
    ``conditional_probability_alive``), ``churn_risk`` = (1 - alive_weight) x
    rhythm_risk + alive_weight x (1 - p_alive); otherwise it is the rhythm risk.

    ``tx`` has one row per purchase; ``customer`` and ``date`` name its columns (customer id, purchase time).
    ``as_of`` is the point described (default: the end of the data).

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2, 2, 2], "date": pd.to_datetime(
    ...     ["2024-01-01", "2024-01-08", "2024-01-15", "2023-01-01", "2023-07-01", "2024-01-01"])})
    >>> (churn_risk(tx, as_of="2024-02-15", prior_weight=0.5)["rhythm_risk"] > 0.9).tolist()
    [True, False]
    """
    prior_weight = _number(prior_weight, "churn_risk", "prior_weight", low=0)
    alive_weight = _number(alive_weight, "churn_risk", "alive_weight", low=0, high=1)
    r = _rhythm(tx, customer, date, None, as_of, "churn_risk")
    mean_gap = r["mean_gap"].to_numpy()
    cv = r["cv_gap"].to_numpy()
    prior_mean = float(np.nanmedian(mean_gap[mean_gap > 0])) if (mean_gap > 0).any() else 30.0
    prior_cv = float(np.nanmedian(cv[cv > 0])) if (cv > 0).any() else 1.0
    risk = _core.rhythm_risk(r["days_since"].to_numpy(), mean_gap, cv, r["purchases"].to_numpy(),
                             prior_mean, prior_cv, float(prior_weight))
    out = r[["purchases", "days_since", "mean_gap", "cv_gap"]].copy()
    out["rhythm_risk"] = risk
    combined = risk
    if p_alive is not None:
        alive = pd.Series(p_alive).reindex(out.index).to_numpy(dtype=np.float64)
        out["p_alive"] = alive
        combined = np.where(np.isnan(alive), risk, (1 - alive_weight) * risk + alive_weight * (1 - alive))
    out["churn_risk"] = combined
    out.attrs.update(prior_mean_gap=prior_mean, prior_cv=prior_cv)
    return out


def health(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    as_of: Any = None,
    tickets: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    p_alive: pd.Series | None = None,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """A composite customer health score, 0..100, whose parts are shown.

    Components, each 0..1: ``retention`` = 1 - churn risk
    (:func:`churn_risk`), ``loyalty`` (:func:`loyalty`), ``value`` = the
    customer's percentile of total spend, ``satisfaction`` = (CSAT - 1) / 4
    from surveys (ticket satisfaction when a customer answered no survey),
    ``service`` = 1 / (1 + tickets per purchase). ``health`` = 100 x the
    weighted mean of the components a customer has (missing ones, e.g. no
    survey, are left out and the weights of the others rescaled); the
    ``<component>_points`` columns show what each adds to it. ``weights``
    default to :data:`DEFAULT_HEALTH_WEIGHTS`. A spend total beyond the range
    of a double ranks as the largest (:class:`~crmcore.scoring.TotalOverflowWarning`).

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [50.0, 60.0, 5.0],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2023-01-01"])})
    >>> h = health(tx)
    >>> bool(h.loc[1, "health"] > h.loc[2, "health"])
    True
    """
    w = dict(DEFAULT_HEALTH_WEIGHTS) | _weights(weights, "health", "weights", DEFAULT_HEALTH_WEIGHTS)
    risk = churn_risk(tx, customer, date, as_of, p_alive)
    loyal = loyalty(tx, customer, date, as_of)
    spend = _rfm(tx, customer, date, amount, as_of, 100, None, "first", "health")
    value = spend["m_score"]
    components = pd.DataFrame(
        {
            "retention": 1.0 - risk["churn_risk"],
            "loyalty": loyal["loyalty"],
            "value": (value.to_numpy() - 1) / 99.0 if len(value) > 1 else np.ones(len(value)),
        },
        index=risk.index,
    )
    components["satisfaction"] = np.nan
    components["service"] = np.nan
    if tickets is not None or surveys is not None:
        sat = satisfaction(tickets, surveys, customer, purchases=risk["purchases"]).reindex(components.index)
        scale = sat["csat"] if "csat" in sat.columns else pd.Series(np.nan, index=sat.index)
        if "ticket_satisfaction" in sat.columns:
            scale = scale.fillna(sat["ticket_satisfaction"])
        components["satisfaction"] = ((scale - 1) / 4).clip(0, 1)
        if tickets is not None:
            components["service"] = 1.0 / (1.0 + sat["complaint_rate"].fillna(0.0))
    components = components[[c for c in components.columns if c in w and w[c] > 0]]
    score = _weighted(components, w)
    out = components.copy()
    present = components.notna().to_numpy()
    weight_row = np.array([w[c] for c in components.columns])
    total = (present * weight_row).sum(axis=1)
    for j, c in enumerate(components.columns):
        out[c + "_points"] = 100 * np.nan_to_num(components[c].to_numpy()) * weight_row[j] / total
    out["health"] = 100 * score
    out.attrs.update(spend.attrs)  # the point, the window and any overflowed spend
    return out
