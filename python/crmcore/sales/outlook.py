"""A forecast from history, for ``db.sales.close_chance``: each open deal's
chance to be won within a horizon, learnt from how deals in the same stage,
of about the same age in it, moved before.

The history is replayed at snapshots (every ``step`` days back from the
last date whose outcome is known): at each, every open deal is one example,
described by its stage and its age in the stage (in buckets of
:data:`AGES`), and labelled won if it was won within the horizon after the
snapshot. A cell's rate is shrunk towards its stage's rate, and that towards
the overall rate, by ``prior`` examples (a beta prior), so that a cell seen a
few times does not claim 0 or 1. The backtest fits on the older snapshots
and scores the newer ones with the Brier score, against the pipeline's
stage probabilities on the same examples.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import _core
from .._args import _count, _number
from ..scoring._columns import LAST_TIME, days_between, shifted
from ._base import SalesPart

#: Age-in-stage buckets (days): [0, 14), [14, 30), [30, 60), [60, 90), 90+.
AGES = (14, 30, 60, 90)
DAY = pd.Timedelta(days=1)


def snapshot_examples(history: pd.DataFrame, won_at: pd.Series, open_stages: "list[str]",
                      times: "list[pd.Timestamp]", horizon: pd.Timedelta) -> pd.DataFrame:
    """One row per (snapshot, deal open then): ``snapshot``, ``deal_id``,
    ``stage``, ``age`` (days in the stage), ``won`` (1 if ``won_at`` of the
    deal falls in (snapshot, snapshot + horizon]). ``history`` has deal_id,
    stage and changed_at; a deal is open at a snapshot when its last row by
    then is one of ``open_stages``.

    >>> h = pd.DataFrame({"deal_id": [1, 1], "stage": ["lead", "won"],
    ...                   "changed_at": pd.to_datetime(["2024-01-01", "2024-02-10"])})
    >>> won_at = pd.Series([pd.Timestamp("2024-02-10")], index=[1])
    >>> e = snapshot_examples(h, won_at, ["lead"], [pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-01")], 20 * DAY)
    >>> e[["stage", "age", "won"]].values.tolist()
    [['lead', 14.0, 0], ['lead', 31.0, 1]]
    """
    h = history.sort_values("changed_at", kind="stable")[["deal_id", "stage", "changed_at"]]
    rows = []
    for s in sorted(times):
        seen = h[h.changed_at <= s]
        last = seen.groupby("deal_id", sort=True).tail(1)
        last = last[last.stage.isin(open_stages)].sort_values("deal_id", kind="stable")
        end = won_at.reindex(last.deal_id.to_numpy())
        # (Held at the last time the store keeps, which no win is after: the
        # snapshot at an as_of near 2262 plus the horizon is past a Timestamp.)
        until = pd.Timestamp(min(int(s.value) + int(horizon.value), int(LAST_TIME.value)))
        won = ((end > s) & (end <= until)).to_numpy().astype(int)
        rows.append(pd.DataFrame({"snapshot": s, "deal_id": last.deal_id.to_numpy(), "stage": last.stage.array,
                                  "age": days_between(s, last.changed_at), "won": won}))
    if not rows:
        return pd.DataFrame(columns=["snapshot", "deal_id", "stage", "age", "won"])
    return pd.concat(rows, ignore_index=True)


def age_bucket(age: Any) -> np.ndarray:
    """The bucket of :data:`AGES` of each age in days (0 for under 14 days, ...).

    >>> age_bucket([0, 13.9, 14, 89, 400]).tolist()
    [0, 0, 1, 3, 4]
    """
    return np.searchsorted(np.asarray(AGES, dtype=float), np.asarray(age, dtype=float), side="right")


def fit_rates(examples: pd.DataFrame, keys: "list[str]", prior: float) -> "tuple[list[pd.Series], float]":
    """Won rates per group of ``keys[:1]``, ``keys[:2]``, ...: each level's
    rate shrunk by ``prior`` examples towards its parent's (the first level's
    towards the overall rate), and the overall rate."""
    overall = float(examples.won.mean()) if len(examples) else 0.0
    rates: "list[pd.Series]" = []
    for depth in range(1, len(keys) + 1):
        cols = keys[:depth]
        g = examples.groupby(cols).won.agg(["sum", "count"])
        g.index = pd.MultiIndex.from_frame(g.index.to_frame(index=False))
        if depth == 1:
            parent = np.full(len(g), overall)
        else:
            up = pd.MultiIndex.from_frame(g.index.to_frame(index=False)[keys[:depth - 1]])
            parent = rates[-1].reindex(up).to_numpy(dtype=float)
        rates.append((g["sum"] + prior * parent) / (g["count"] + prior))
    return rates, overall


def predict(fitted: "tuple[list[pd.Series], float]", frame: pd.DataFrame, keys: "list[str]") -> np.ndarray:
    """The fitted chance of each row of ``frame``: the rate of the deepest
    level of ``keys`` its values were seen at, else the overall rate."""
    rates, overall = fitted
    p = np.full(len(frame), overall)
    for depth, rate in enumerate(rates, start=1):
        at = rate.reindex(pd.MultiIndex.from_frame(frame[keys[:depth]])).to_numpy(dtype=float)
        p = np.where(np.isnan(at), p, at)
    return p


class OutlookMethods(SalesPart):
    """The history-based forecast's part of ``db.sales``."""

    def close_chance(self, horizon: int = 90, as_of: Any = None, snapshots: int = 12, step: int = 30,
                     prior: float = 10.0, similar: "tuple[str, ...]" = ("age",)) -> pd.DataFrame:
        """Each deal open on ``as_of`` (default the end of the data) with
        its chance to be won within ``horizon`` days, learnt from the stage
        history (see the module's text), one row per deal, columns ``stage``, ``age`` (days in the
        stage), ``amount``, ``chance`` and ``stage_probability`` (the
        pipeline's, the baseline). ``result.attrs["backtest"]`` holds the
        Brier score of both on the newer third of the snapshots when fitted
        on the older ones (lower is better), ``attrs["calibration"]`` the
        mean chance and the won share per tenth of chance on those examples.
        ``similar`` says what makes deals alike after their stage, coarsest
        first, among ``"age"`` (in the stage, :data:`AGES`), ``"segment"``
        (the customer's kind) and ``"amount"`` (its quartile among the
        deals; no amount is a class of its own). The history is replayed at
        ``snapshots`` dates ``step`` days apart, and each rate is shrunk
        towards its coarser class's by ``prior`` examples (the module's text).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> for month in range(1, 13):
        ...     d = db.add("deals", customer_id=c, stage="lead", stage_changed_at=f"2023-{month:02d}-01")
        ...     db.sales.move(d, "won" if month % 2 else "lost", at=f"2023-{month:02d}-20")
        >>> d = db.add("deals", customer_id=c, stage="lead", amount=10.0, stage_changed_at="2024-01-10")
        >>> db.sales.close_chance(horizon=30, as_of="2024-01-15", snapshots=12, step=7, prior=1.0
        ...                       )[["stage", "chance", "stage_probability"]].round(3).values.tolist()
        [['lead', 0.339, 0.1]]
        """
        prior = _number(prior, "close_chance", "prior", low=0)
        horizon = _count(horizon, "close_chance", "horizon", low=1)
        snapshots = _count(snapshots, "close_chance", "snapshots", low=1, high=1000)
        step = _count(step, "close_chance", "step", low=1)
        cut = pd.Timestamp(self._as_of(as_of, where="close_chance"))
        h = pd.Timedelta(days=horizon)
        deals = self._deals(None)
        stages = self._db.frame("pipeline_stages", columns=["name", "category"])
        open_stages = sorted(set(stages.name[stages.category == "open"]))
        hist = self._db.frame("deal_stages", columns=["deal_id", "stage", "changed_at"])
        hist = hist[hist.changed_at <= cut]
        won_at = deals.closed_at.where(deals.category == "won")
        won_at = won_at.where(won_at <= cut)
        # The oldest snapshot is the furthest from as_of: checked once, the rest lie between.
        shifted(cut, -(horizon + (snapshots - 1) * step), "close_chance", "horizon")
        times = [cut - h - k * step * DAY for k in range(snapshots)]
        examples = snapshot_examples(hist, won_at, open_stages, times, h)
        keys = ["stage"] + [_FEATURES[name] for name in _checked(similar)]
        features = _deal_features(self._db, deals)
        examples = _describe(examples, features)
        default = self._stage_defaults()
        newer = examples.snapshot >= sorted(times)[len(times) - max(1, len(times) // 3)]
        fitted = fit_rates(examples[~newer], keys, prior)
        test = examples[newer]
        y = test.won.to_numpy(dtype=float)
        p_model = predict(fitted, test, keys)
        p_base = test.stage.map(default).to_numpy(dtype=float)
        backtest = pd.DataFrame({"brier": [np.mean((p_model - y) ** 2) if len(y) else np.nan,
                                           np.mean((p_base - y) ** 2) if len(y) else np.nan],
                                 "examples": len(y)}, index=pd.Index(["history", "stage_probability"], name="model"))
        tenth = np.minimum((p_model * 10).astype(int), 9)
        calibration = pd.DataFrame({"chance": p_model, "won": y, "tenth": tenth}).groupby("tenth").agg(
            chance=("chance", "mean"), won=("won", "mean"), examples=("won", "size"))
        now = _describe(snapshot_examples(hist, pd.Series(dtype="datetime64[ns]"), open_stages, [cut], h), features)
        out = now.set_index("deal_id")[["stage", "age"]].assign(amount=deals.amount.reindex(now.deal_id).to_numpy())
        out["chance"] = predict(fit_rates(examples, keys, prior), now, keys)
        out["stage_probability"] = out.stage.map(default).astype(float)
        out.attrs.update(as_of=cut, backtest=backtest, calibration=calibration)
        return out

    def _stage_defaults(self) -> pd.Series:
        s = self._db.frame("pipeline_stages", columns=["pipeline_id", "name", "position", "probability"])
        s = s.sort_values(["pipeline_id", "position"], kind="stable").drop_duplicates("name")
        return s.set_index("name").probability


_FEATURES = {"age": "age_bucket", "segment": "segment", "amount": "amount_band"}


def _checked(similar: "tuple[str, ...]") -> "tuple[str, ...]":
    unknown = [x for x in similar if x not in _FEATURES]
    if unknown:
        raise _core.ValidationError(f"similar={unknown[0]!r} is not something deals are alike in "
                                    f"(one of: {', '.join(_FEATURES)})")
    return tuple(similar)


def _deal_features(db: Any, deals: pd.DataFrame) -> pd.DataFrame:
    """Per deal: its customer's kind and its amount's quartile (-1: no amount)."""
    kinds = db.frame("customers", columns=["kind"])["kind"]
    amount = deals.amount.to_numpy(dtype=float, na_value=np.nan)
    known = amount[~np.isnan(amount)]
    edges = np.quantile(known, [0.25, 0.5, 0.75]) if len(known) else np.array([])
    band = np.where(np.isnan(amount), -1, np.searchsorted(edges, amount, side="right"))
    return pd.DataFrame({"segment": deals.customer_id.map(kinds).fillna("").to_numpy(), "amount_band": band},
                        index=deals.index)


def _describe(examples: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The examples with the deal's features and the age bucket."""
    f = features.reindex(examples.deal_id.to_numpy())
    return examples.assign(age_bucket=age_bucket(examples.age), segment=f.segment.to_numpy(),
                           amount_band=f.amount_band.to_numpy())
