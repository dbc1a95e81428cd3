"""The analyses of a customer relationship as methods of the store's Database:
satisfaction, loyalty, lifetime value, churn risk and health, each under the
rule for time and status of :mod:`crmcore.scoring.store`.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .._args import _integer, _invalid, _number
from ._columns import flag_overflow, times_ns
from ._reading import CUSTOMER, RecordReading
from .health import churn_risk, health, loyalty, satisfaction
from .lifecycle import rhythm

__all__ = ["RelationshipMethods"]


class RelationshipMethods(RecordReading):
    """The relationship analyses of :class:`~crmcore.scoring.store.ScoringMethods`."""

    def satisfaction(self, promoter_min: int = 9, detractor_max: int = 6, as_of: Any = None,
                     by: Any = None) -> pd.DataFrame:
        """Satisfaction of every stored customer from the tickets opened and
        surveys answered up to ``as_of``: :func:`crmcore.scoring.satisfaction`,
        with complaint rates against the purchases up to then.

        ``promoter_min`` and ``detractor_max`` are the NPS bounds. Returns,
        indexed by ``customer_id``: ``name``, ``tickets``,
        ``response_hours`` (median), ``resolution_hours``, ``reopen_rate``,
        ``ticket_satisfaction``, ``complaint_rate`` (tickets per purchase),
        ``responses``, ``csat`` and ``nps`` (-100..100); customers without
        tickets or surveys have 0 of each and no measures. ``attrs`` hold the
        store-wide ``nps``, ``csat``, ``response_hours`` and ``resolution_hours``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("surveys", customer_id=cid, responded_at="2024-01-02", csat=4.0, nps=10)
        >>> float(db.satisfaction().loc[cid, "nps"])
        100.0
        """
        orders, cut = self._purchases(as_of, where="satisfaction")
        tickets, surveys = self._service(cut)

        def run(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            # Counts only: the amounts play no part here.
            purchases = rhythm(part, CUSTOMER, "ordered_at", None, pd.Timestamp(cut))["purchases"]
            mine_t = tickets[tickets["customer_id"].isin(ids).to_numpy(dtype=bool)]
            mine_s = surveys[surveys["customer_id"].isin(ids).to_numpy(dtype=bool)]
            return satisfaction(mine_t, mine_s, purchases=purchases, promoter_min=promoter_min,
                                detractor_max=detractor_max)

        return self._per_customer("satisfaction", run, orders, cut, by)

    def _service(self, cut: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tickets opened and the surveys answered up to ``cut``."""
        tickets, surveys = self.frame("tickets"), self.frame("surveys")
        return (tickets[times_ns(tickets["opened_at"]) <= cut],
                surveys[times_ns(surveys["responded_at"]) <= cut])

    def loyalty(self, as_of: Any = None, tenure_full_days: float = 730.0,
                weights: Mapping | None = None, by: Any = None) -> pd.DataFrame:
        """Loyalty of every stored customer from how long and how steadily
        they keep buying: :func:`crmcore.scoring.loyalty` over the purchases
        up to ``as_of``.

        Returns, indexed by ``customer_id``: ``name``, ``purchases``,
        ``tenure_days``, ``mean_gap``, ``cv_gap``, the components
        ``tenure_score``, ``regularity``, ``repeat_score`` (0..1) and
        ``loyalty`` (their weighted mean, ``weights`` by component).
        Customers without purchases score 0.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> float(db.loyalty().loc[cid, "repeat_score"])
        0.0
        """
        orders, cut = self._purchases(as_of, where="loyalty")
        return self._per_customer(
            "loyalty", lambda part, _: loyalty(part, CUSTOMER, "ordered_at", pd.Timestamp(cut), tenure_full_days, weights),
            orders, cut, by)

    def lifetime_value(self, freq: str = "W", horizon: float = 52.0, months: int = 12,
                       discount_rate: float = 0.01, as_of: Any = None, penalizer_coef: float = 0.0,
                       by: Any = None) -> pd.DataFrame:
        """Current and future value of every stored customer.

        Fits BG/NBD (purchases and dropout) and Gamma-Gamma (spend) with
        :mod:`crmcore.clv` on the summary of the purchases up to ``as_of``
        (default: the end of the data) in units of ``freq`` ("D", "W", "M",
        ...; T runs to the period holding ``as_of``), with ``penalizer_coef``
        (>= 0); ``by`` fits one pair of models per group. Returns, indexed by
        ``customer_id``: ``name``, the summary columns ``frequency`` (repeat
        purchases), ``recency``, ``T``, ``monetary_value`` (mean repeat
        spend), ``p_alive``, ``expected_purchases`` over the next
        ``horizon`` periods, ``expected_spend`` per purchase (missing for
        one-time buyers, whom Gamma-Gamma does not model) and ``clv``, the
        value of the next ``months`` months discounted at ``discount_rate``
        a month. Customers without purchases are not modelled: every column
        is missing. The fitted models are in ``attrs["bgf"]`` and
        ``attrs["ggf"]``. A spend total beyond the range of a double follows
        the rule of :class:`~crmcore.scoring.TotalOverflowWarning`; those
        customers get no ``expected_spend`` or ``clv`` and stay out of the
        Gamma-Gamma fit.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> ids = crm.datasets.load(db, crm.datasets.synthetic(300, seed=1))
        >>> lv = db.lifetime_value()
        >>> bool(lv["p_alive"].dropna().between(0, 1).all()), len(lv) == db.count("customers")
        (True, True)
        """
        from ..clv.fitters import _MONTH_IN

        # Checked before the fits, which take a while and would fail late.
        if freq not in _MONTH_IN:
            raise _invalid("lifetime_value", "freq", f"must be one of {sorted(_MONTH_IN)}, got {freq!r}")
        horizon = _number(horizon, "lifetime_value", "horizon", low=0, low_open=True)
        months = _integer(months, "lifetime_value", "months", low=1, high=100_000)
        discount_rate = _number(discount_rate, "lifetime_value", "discount_rate", low=0)
        penalizer_coef = _number(penalizer_coef, "lifetime_value", "penalizer_coef", low=0)
        orders, cut = self._purchases(as_of, where="lifetime_value")
        return self._per_customer(
            "lifetime_value",
            lambda part, _: _lifetime_value(part, cut, freq, horizon, months, discount_rate, penalizer_coef),
            orders, cut, by)

    def churn_risk(self, as_of: Any = None, p_alive: pd.Series | None = None, prior_weight: float = 1.0,
                   alive_weight: float = 0.5, by: Any = None) -> pd.DataFrame:
        """Churn risk of every stored customer from their own purchase rhythm
        (and a model's ``p_alive``, a Series by customer id, when given):
        :func:`crmcore.scoring.churn_risk` over the purchases up to ``as_of``.

        ``prior_weight`` shrinks each rhythm towards the population's;
        ``alive_weight`` is the share of ``1 - p_alive`` in the risk. Returns,
        indexed by ``customer_id``: ``name``, ``purchases``, ``days_since``,
        ``mean_gap``, ``cv_gap``, ``rhythm_risk``, (``p_alive``) and
        ``churn_risk`` (0..1). Customers without purchases cannot lapse:
        purchases 0, no risk.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(0 <= db.churn_risk().loc[cid, "churn_risk"] <= 1)
        True
        """
        orders, cut = self._purchases(as_of, where="churn_risk")
        return self._per_customer(
            "churn_risk",
            lambda part, _: churn_risk(part, CUSTOMER, "ordered_at", pd.Timestamp(cut), p_alive, prior_weight, alive_weight),
            orders, cut, by)

    def health(self, as_of: Any = None, p_alive: pd.Series | None = None,
               weights: Mapping | None = None, by: Any = None) -> pd.DataFrame:
        """Health score (0..100) of every stored customer from the purchases,
        tickets and surveys up to ``as_of``: :func:`crmcore.scoring.health`.

        ``p_alive`` (by customer id) feeds the retention part; ``weights``
        weigh the components (default
        :data:`crmcore.scoring.DEFAULT_HEALTH_WEIGHTS`). Returns, indexed by
        ``customer_id``: ``name``, the components ``retention``, ``loyalty``,
        ``value``, ``satisfaction``, ``service`` (0..1, missing when
        unknown), the points each adds (``<component>_points``) and
        ``health``. Health describes a trading relationship: customers
        without purchases have none (every column missing).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(0 <= db.health().loc[cid, "health"] <= 100)
        True
        """
        orders, cut = self._purchases(as_of, where="health")
        tickets, surveys = self._service(cut)

        def run(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            mine_t = tickets[tickets["customer_id"].isin(ids).to_numpy(dtype=bool)]
            mine_s = surveys[surveys["customer_id"].isin(ids).to_numpy(dtype=bool)]
            return health(part, CUSTOMER, "ordered_at", "amount", pd.Timestamp(cut), mine_t if len(mine_t) else None,
                          mine_s if len(mine_s) else None, p_alive, weights)

        return self._per_customer("health", run, orders, cut, by)


def _fitted(fit: Any, model: str, count: int, who: str) -> Any:
    """``fit()``, whose ConvergenceError on few customers (a model of three
    or four parameters on one or two buyers has no maximum) is said as the
    too little data it is, naming lifetime_value."""
    from ..clv import ConvergenceError

    try:
        return fit()
    except ConvergenceError as e:
        raise _invalid("lifetime_value", "orders", f"the {model} model could not be fitted on {count} {who}"
                       f"{'s' if count != 1 else ''} ({e}): too few to estimate it; more customers' orders, or "
                       "penalizer_coef > 0, help") from None


def _lifetime_value(orders: pd.DataFrame, cut: int, freq: str, horizon: float, months: int,
                    discount_rate: float, penalizer_coef: float) -> pd.DataFrame:
    """The BG/NBD + Gamma-Gamma value of the customers of ``orders``."""
    from ..clv import BetaGeoFitter, GammaGammaFitter, summary_data_from_transaction_data

    columns = ["frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases", "expected_spend",
               "clv"]
    if not len(orders):  # nothing to fit: a group without purchases
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in columns},
                            index=pd.Index([], name=CUSTOMER, dtype=np.int64))
    summary = summary_data_from_transaction_data(orders, CUSTOMER, "ordered_at", "amount", freq=freq,
                                                 observation_period_end=pd.Timestamp(cut))
    f, r, T = summary["frequency"], summary["recency"], summary["T"]
    if not (T > 0).any():
        raise _invalid("lifetime_value", "as_of", f"no customer has been observed for a whole {freq!r} period before "
                       "as_of (each bought first at the end): the purchase model needs time watched; give a later "
                       "as_of or a shorter freq")
    bgf = _fitted(lambda: BetaGeoFitter(penalizer_coef=penalizer_coef).fit(f, r, T), "purchase", len(f), "customer")
    out = summary.copy()
    out["p_alive"] = bgf.conditional_probability_alive(f, r, T)
    out["expected_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, T)
    # A spend total beyond the double range has no mean to model: those customers are
    # left out of the Gamma-Gamma fit (so they cannot wreck it for everyone) and reported.
    flag_overflow(out, ["monetary_value"], "lifetime_value")
    repeat = (f > 0) & np.isfinite(summary["monetary_value"])
    if not repeat.any():
        raise _invalid("lifetime_value", "orders", f"no customer has a repeat purchase (in a later {freq!r} period "
                       "than the first) up to as_of: the spend model (Gamma-Gamma) is fitted on repeat buyers' "
                       "spend, and there is none")
    spend = summary.loc[repeat, "monetary_value"]
    ggf = _fitted(lambda: GammaGammaFitter(penalizer_coef=penalizer_coef).fit(f[repeat], spend), "spend",
                  int(repeat.sum()), "repeat buyer")
    out["expected_spend"] = np.nan
    out.loc[repeat, "expected_spend"] = ggf.conditional_expected_average_profit(
        f[repeat], summary.loc[repeat, "monetary_value"])
    out["clv"] = np.nan
    out.loc[repeat, "clv"] = ggf.customer_lifetime_value(
        bgf, f[repeat], r[repeat], T[repeat], summary.loc[repeat, "monetary_value"], time=months,
        discount_rate=discount_rate, freq=freq)
    out.attrs["bgf"], out.attrs["ggf"] = bgf, ggf
    out.index.name = CUSTOMER
    return out
