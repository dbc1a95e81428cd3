"""The scoring analyses as methods of the store's Database (``db.rfm()``, ...),
fed from its record frames through the public API only."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import _core
from .._checks import number, whole
from .._core import ValidationError
from .affinity import product_affinity
from .health import churn_risk, health, loyalty, satisfaction
from .lifecycle import classify, deal_quadrants, deal_summary, lifecycle, rhythm
from .profit import product_profit, profit, profit_by_period, profit_tiers, staff_performance
from ._columns import flag_overflow
from .rfm import rfm

__all__ = ["NOT_PURCHASES", "ScoringMethods"]

# Orders in these states are not purchases.
NOT_PURCHASES = ("cancelled", "canceled", "returned", "refunded", "void")
# What the analyses read of an order; the other fields (text mostly) would
# only slow the read of a large store.
PURCHASE_COLUMNS = ["customer_id", "ordered_at", "amount", "cost", "status", "staff_id"]


def _with_attrs(frame: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (a join or reindex of an analysis' result) with that result's attrs."""
    frame.attrs.update(source.attrs)
    return frame


class ScoringMethods:
    """Methods that the store's Database gains from the scoring part.

    Each is the same-named function of :mod:`crmcore.scoring` fed from the
    stored records: purchases are the orders (customer_id, ordered_at,
    amount, cost) whose status is not in ``exclude_status``.
    """

    # -- the records the analyses read ----------------------------------
    def _purchases(self, exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        orders = self.frame("orders", columns=PURCHASE_COLUMNS)
        if exclude_status:
            cancelled = orders["status"].astype("string").str.lower().isin(list(exclude_status))
            orders = orders[~cancelled.fillna(False).to_numpy(dtype=bool)]
        return orders

    def _lines(self) -> pd.DataFrame:
        """Order lines with a unit cost: the line's own, else the product's."""
        lines = self.frame("order_lines", columns=["order_id", "product_id", "quantity", "unit_price", "unit_cost"])
        products = self.frame("products", columns=["unit_cost"])
        # Both as plain float64: a nullable fill for a float64 column is deprecated in pandas.
        fallback = lines["product_id"].map(products["unit_cost"]).astype(np.float64)
        cost = lines["unit_cost"].astype(np.float64).fillna(fallback)
        return lines.assign(unit_cost=cost.astype(np.float64))

    def _costed_purchases(self, exclude_status: Sequence[str]) -> pd.DataFrame:
        """Purchases whose missing cost is filled from their costed order
        lines; orders with no known cost at all count at zero cost, and
        ``attrs["uncosted_orders"]`` says how many there were."""
        orders = self._purchases(exclude_status)
        cost = orders["cost"]
        if cost.isna().any():
            lines = self._lines()
            with np.errstate(over="ignore"):  # inf beyond the double range: the overflow rule reports it
                line_cost = (lines["quantity"] * lines["unit_cost"]).to_numpy(dtype=np.float64)
            keys = lines["order_id"].to_numpy(dtype=np.int64)
            r = _core.group_stats(keys, [line_cost], False)
            known = pd.Series(np.where(r["count"][0] > 0, r["sum"][0], np.nan), index=r["key"])
            cost = cost.fillna(pd.Series(orders.index.map(known), index=orders.index))
        orders = orders.assign(cost=cost.fillna(0.0).astype(np.float64))
        orders.attrs["uncosted_orders"] = int(cost.isna().sum())
        return orders

    def referral_counts(self) -> pd.Series:
        """How many customers each record referred: from the graph part's
        ``db.referrals()`` when present, else by counting ``referred_by``
        links (X referred_by Y means Y referred X).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b = db.add("customers", name="A"), db.add("customers", name="B")
        >>> _ = db.link(b, a, "referred_by")
        >>> int(db.referral_counts()[a])
        1
        """
        tree = getattr(self, "referrals", None)
        if callable(tree):
            frame = tree()
            if isinstance(frame, pd.DataFrame) and "referrals" in frame.columns:
                return frame["referrals"].astype(np.int64)
        links = self.frame("links", columns=["type", "dst"])
        referrer = links.loc[links["type"] == "referred_by", "dst"].to_numpy(dtype=np.int64)
        r = _core.group_stats(referrer, [], False)
        return pd.Series(r["rows"], index=pd.Index(r["key"], name="id"), name="referrals")

    # -- the analyses ------------------------------------------------------
    def rfm(self, as_of: Any = None, bins: int = 5, segments: Sequence | None = None, ties: str = "first",
            exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.rfm` over the stored orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=9.5)
        >>> float(db.rfm().loc[cid, "monetary"])
        9.5
        """
        return rfm(self._purchases(exclude_status), "customer_id", "ordered_at", "amount", as_of, bins, segments, ties)

    def profit(self, abc: Sequence[float] = (0.8, 0.95), exclude_status: Sequence[str] = NOT_PURCHASES):
        """:func:`crmcore.scoring.profit` over the stored orders (cost from the
        order, else from its order lines).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> float(db.profit().loc[cid, "profit"])
        6.0
        """
        orders = self._costed_purchases(exclude_status)
        out = profit(orders, "customer_id", "ordered_at", "amount", "cost", abc)
        out.attrs.update(orders.attrs)
        return out

    def profit_by_period(self, freq: str = "Y", exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.profit_by_period` over the stored orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> len(db.profit_by_period("M"))
        1
        """
        return profit_by_period(self._costed_purchases(exclude_status), "customer_id", "ordered_at", "amount",
                                "cost", freq)

    def profit_tiers(self, freq: str = "Y", period: Any = None, abc: Sequence[float] = (0.8, 0.95),
                     vip_top: float = 0.10, super_top: float = 0.01,
                     exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.profit_tiers` over the stored orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> str(db.profit_tiers().loc[cid, "abc"])
        'A'
        """
        return profit_tiers(self._costed_purchases(exclude_status), "customer_id", "ordered_at", "amount", "cost",
                            freq, period, abc, vip_top, super_top)

    def product_profit(self, abc: Sequence[float] = (0.8, 0.95)) -> pd.DataFrame:
        """:func:`crmcore.scoring.product_profit` over the stored order lines,
        with the product's name and category.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> pid = db.add("products", sku="T1", name="Tea", unit_cost=2.0)
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> _ = db.add("order_lines", order_id=oid, product_id=pid, quantity=1, unit_price=5.0)
        >>> float(db.product_profit().loc[pid, "margin"])
        0.6
        """
        out = product_profit(self._lines(), abc=abc)
        products = self.frame("products")
        return _with_attrs(products[["sku", "name", "category"]].reindex(out.index).join(out), out)

    def staff_performance(self, exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.staff_performance` over the stored orders,
        with each staff member's name and team.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid, sid = db.add("customers", name="Ann"), db.add("staff", name="Bo")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0, staff_id=sid)
        >>> float(db.staff_performance().loc[sid, "profit"])
        6.0
        """
        out = staff_performance(self._costed_purchases(exclude_status))
        staff = self.frame("staff")
        return _with_attrs(staff[["name", "team"]].reindex(out.index).join(out), out)

    def classify(self, as_of: Any = None, regular_min_purchases: int = 4, regular_max_cv: float = 0.75,
                 active_days: float = 365.0, exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.classify` for every stored customer, with
        referral counts (:meth:`referral_counts`) and validity from their
        phone, email or address.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann", phone="13800138000")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(db.classify().loc[cid, "valid"])
        True
        """
        out = classify(self._purchases(exclude_status), "customer_id", "ordered_at", "amount", as_of,
                       regular_min_purchases, regular_max_cv, active_days, self.referral_counts(),
                       self.frame("customers"))
        out.index.name = "id"
        return out

    def lifecycle(self, as_of: Any = None, exclude_status: Sequence[str] = NOT_PURCHASES,
                  **thresholds: Any) -> pd.DataFrame:
        """:func:`crmcore.scoring.lifecycle` for every stored customer
        (those who never bought are prospects); ``thresholds`` are its
        keyword parameters (new_days, churn_days, ...).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> str(db.lifecycle().loc[cid, "stage"])
        'prospect'
        """
        out = lifecycle(self._purchases(exclude_status), "customer_id", "ordered_at", "amount", as_of,
                        self.frame("customers", columns=[]).index, **thresholds)
        out.index.name = "id"
        return out

    def deal_quadrants(self, as_of: Any = None, important_amount: float | None = None,
                       urgent_days: float = 30.0) -> pd.DataFrame:
        """:func:`crmcore.scoring.deal_quadrants` over the stored deals, with
        their customer and name.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> did = db.add("deals", customer_id=cid, stage="negotiating", amount=100.0, expected_close="2024-01-05")
        >>> db.deal_quadrants(as_of="2024-01-01").loc[did, "quadrant"]
        'do first'
        """
        deals = self.frame("deals")
        out = deal_quadrants(deals, as_of=as_of, important_amount=important_amount, urgent_days=urgent_days)
        return deals[["customer_id", "name", "stage"]].join(out)

    def deal_summary(self, as_of: Any = None, important_amount: float | None = None,
                     urgent_days: float = 30.0) -> pd.DataFrame:
        """:func:`crmcore.scoring.deal_summary` over the stored deals, for
        every stored customer (zeros for those without deals).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("deals", customer_id=cid, stage="won", amount=100.0)
        >>> float(db.deal_summary().loc[cid, "won_amount"])
        100.0
        """
        out = deal_summary(self.frame("deals"), as_of=as_of, important_amount=important_amount,
                           urgent_days=urgent_days)
        customers = self.frame("customers", columns=[]).index
        counts = out.drop(columns="win_rate").reindex(customers, fill_value=0.0)
        counts["win_rate"] = out["win_rate"].reindex(customers)
        counts.index.name = "id"
        return _with_attrs(counts, out)

    def satisfaction(self, promoter_min: int = 9, detractor_max: int = 6,
                     exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.satisfaction` from the stored tickets and
        surveys, with complaint rates against the stored orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("surveys", customer_id=cid, responded_at="2024-01-02", csat=4.0, nps=10)
        >>> float(db.satisfaction().loc[cid, "nps"])
        100.0
        """
        # Counts only: the amounts play no part here.
        purchases = rhythm(self._purchases(exclude_status), "customer_id", "ordered_at", None)["purchases"]
        return satisfaction(self.frame("tickets"), self.frame("surveys"), purchases=purchases,
                            promoter_min=promoter_min, detractor_max=detractor_max)

    def loyalty(self, as_of: Any = None, tenure_full_days: float = 730.0, weights: Mapping | None = None,
                exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.loyalty` over the stored orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> float(db.loyalty().loc[cid, "repeat_score"])
        0.0
        """
        return loyalty(self._purchases(exclude_status), "customer_id", "ordered_at", as_of, tenure_full_days, weights)

    def lifetime_value(self, freq: str = "W", horizon: float = 52.0, months: int = 12,
                       discount_rate: float = 0.01, as_of: Any = None, penalizer_coef: float = 0.0,
                       exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """Current and future value of every customer with a purchase, from the stored orders.

        Fits BG/NBD (purchases and dropout) and Gamma-Gamma (spend) with
        :mod:`crmcore.clv` on the summary in units of ``freq`` up to ``as_of``
        (default: the last order), and returns per customer the summary
        columns, ``p_alive``, ``expected_purchases`` over the next ``horizon``
        periods, ``expected_spend`` per purchase (NaN for one-time buyers,
        whom Gamma-Gamma does not model) and ``clv``, the discounted value of
        the next ``months`` months. The fitted models are in ``df.attrs``. A
        spend total beyond the range of a double follows the rule of
        :class:`~crmcore.scoring.TotalOverflowWarning`; those customers get no
        ``expected_spend`` or ``clv`` and stay out of the Gamma-Gamma fit.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> ids = crm.datasets.load(db, crm.datasets.synthetic(300, seed=1))
        >>> lv = db.lifetime_value()
        >>> bool(lv["p_alive"].between(0, 1).all())
        True
        """
        from ..clv import BetaGeoFitter, GammaGammaFitter, summary_data_from_transaction_data
        from ..clv.fitters import _MONTH_IN

        # Checked before the fits, which take a while and would fail late.
        if freq not in _MONTH_IN:
            raise ValidationError(f"lifetime_value: freq must be one of {sorted(_MONTH_IN)}, not {freq!r}")
        horizon = number("lifetime_value", "horizon", horizon, lo=0, lo_open=True)
        months = whole("lifetime_value", "months", months, lo=1, hi=100_000)
        discount_rate = number("lifetime_value", "discount_rate", discount_rate, lo=0)
        penalizer_coef = number("lifetime_value", "penalizer_coef", penalizer_coef, lo=0)
        orders = self._purchases(exclude_status)
        summary = summary_data_from_transaction_data(orders, "customer_id", "ordered_at", "amount", freq=freq,
                                                     observation_period_end=as_of)
        f, r, T = summary["frequency"], summary["recency"], summary["T"]
        bgf = BetaGeoFitter(penalizer_coef=penalizer_coef).fit(f, r, T)
        out = summary.copy()
        out["p_alive"] = bgf.conditional_probability_alive(f, r, T)
        out["expected_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, T)
        # A spend total beyond the double range has no mean to model: those customers are
        # left out of the Gamma-Gamma fit (so they cannot wreck it for everyone) and reported.
        flag_overflow(out, ["monetary_value"], "lifetime_value")
        repeat = (f > 0) & np.isfinite(summary["monetary_value"])
        ggf = GammaGammaFitter(penalizer_coef=penalizer_coef).fit(f[repeat], summary.loc[repeat, "monetary_value"])
        out["expected_spend"] = np.nan
        out.loc[repeat, "expected_spend"] = ggf.conditional_expected_average_profit(
            f[repeat], summary.loc[repeat, "monetary_value"])
        out["clv"] = np.nan
        out.loc[repeat, "clv"] = ggf.customer_lifetime_value(
            bgf, f[repeat], r[repeat], T[repeat], summary.loc[repeat, "monetary_value"], time=months,
            discount_rate=discount_rate, freq=freq)
        out.attrs["bgf"], out.attrs["ggf"] = bgf, ggf
        return out

    def churn_risk(self, as_of: Any = None, p_alive: pd.Series | None = None, prior_weight: float = 1.0,
                   alive_weight: float = 0.5, exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.churn_risk` over the stored orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(0 <= db.churn_risk().loc[cid, "churn_risk"] <= 1)
        True
        """
        return churn_risk(self._purchases(exclude_status), "customer_id", "ordered_at", as_of, p_alive,
                          prior_weight, alive_weight)

    def health(self, as_of: Any = None, p_alive: pd.Series | None = None, weights: Mapping | None = None,
               exclude_status: Sequence[str] = NOT_PURCHASES) -> pd.DataFrame:
        """:func:`crmcore.scoring.health` from the stored orders, tickets and surveys.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(0 <= db.health().loc[cid, "health"] <= 100)
        True
        """
        tickets, surveys = self.frame("tickets"), self.frame("surveys")
        return health(self._purchases(exclude_status), "customer_id", "ordered_at", "amount", as_of,
                      tickets if len(tickets) else None, surveys if len(surveys) else None, p_alive, weights)

    def product_affinity(self, min_support: float = 0.01, min_confidence: float = 0.0,
                         max_len: int | None = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.product_affinity` over the stored order lines.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> p, q = db.add("products", sku="A", name="A"), db.add("products", sku="B", name="B")
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> _ = [db.add("order_lines", order_id=oid, product_id=x, quantity=1, unit_price=1.0) for x in (p, q)]
        >>> len(db.product_affinity(min_support=0.5))
        2
        """
        return product_affinity(self.frame("order_lines"), min_support=min_support, min_confidence=min_confidence,
                                max_len=max_len)
