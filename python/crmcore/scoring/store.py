"""The scoring analyses as methods of the store's Database (``db.rfm()``, ...),
fed from its record frames through the public API only.

One rule for time and status holds for all of them. Every analysis takes
``as_of`` and defaults it to the same point, :meth:`ScoringMethods.default_as_of`
(the end of the data); it reads only what happened up to that point and
reports the point and the window it read in ``result.attrs["as_of"]`` and
``result.attrs["window"]``. A purchase is an order whose status the shared
table :data:`crmcore.scoring.ORDER_STATUS` does not mark cancelled or returned
(in any language: 已取消 and 退货 too); how many orders were left out, by
meaning, is in ``result.attrs["excluded_orders"]``. Customer analyses are
indexed by ``customer_id``.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import _core
from .._args import _integer, _invalid, _number
from ._columns import NS_PER_DAY, as_of_ns, end_of_data, flag_overflow, stamp, times_ns
from ._status import PURCHASE, order_meaning
from .affinity import product_affinity
from .health import churn_risk, health, loyalty, satisfaction
from .lifecycle import classify, deal_quadrants, deal_summary, lifecycle, rhythm
from .profit import product_profit, profit, profit_by_period, profit_tiers, staff_performance
from .rfm import rfm

__all__ = ["ScoringMethods"]

# What the analyses read of an order; the other fields (text mostly) would
# only slow the read of a large store.
PURCHASE_COLUMNS = ["customer_id", "ordered_at", "amount", "cost", "status", "staff_id"]
CUSTOMER = "customer_id"  # the index name of every customer analysis


def _with_attrs(frame: pd.DataFrame, *sources: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (an analysis' result, or a join of it) with the attrs of the
    frames it came from (the purchases read, the analysis' own result)."""
    for source in sources:
        frame.attrs.update(source.attrs)
    return frame


def _by_customer(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index.name = CUSTOMER
    return frame


class ScoringMethods:
    """Methods that the store's Database gains from the scoring part.

    Each is the same-named function of :mod:`crmcore.scoring` fed from the
    stored records, under the rule for time and status of this module: the
    purchases are the orders up to ``as_of`` that
    :data:`~crmcore.scoring.ORDER_STATUS` counts as purchases.
    """

    # -- the point in time and the records the analyses read ------------------
    def default_as_of(self) -> pd.Timestamp:
        """The point every analysis describes when no ``as_of`` is given: the
        end of the data, midnight (UTC) after the latest order, deal close or
        deal stage change, so the last day of data counts in full. A store
        with none of those uses the end of today.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-03-05 14:30", amount=9.5)
        >>> db.default_as_of()
        Timestamp('2024-03-06 00:00:00')
        """
        return pd.Timestamp(self._end_of_data())

    def _end_of_data(self, orders: pd.DataFrame | None = None) -> int:
        if orders is None:
            orders = self.frame("orders", columns=["ordered_at"])
        times = [times_ns(orders["ordered_at"]),
                 times_ns(self.frame("deals", columns=["closed_at"])["closed_at"]),
                 times_ns(self.frame("deal_stages", columns=["changed_at"])["changed_at"])]
        end = end_of_data(np.concatenate(times))
        if end is None:
            today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
            return int(today.value) + NS_PER_DAY
        return end

    def _as_of(self, as_of: Any, orders: pd.DataFrame | None = None) -> int:
        """``as_of`` in ns: the given point, else :meth:`default_as_of`."""
        return as_of_ns(as_of) if as_of is not None else self._end_of_data(orders)

    def _orders(self, as_of: Any) -> tuple[pd.DataFrame, int]:
        """Every order up to ``as_of`` (any status) and the point in ns."""
        orders = self.frame("orders", columns=PURCHASE_COLUMNS)
        cut = self._as_of(as_of, orders)
        return orders[(times_ns(orders["ordered_at"]) <= cut)], cut

    def _purchases(self, as_of: Any) -> tuple[pd.DataFrame, int]:
        """The purchases up to ``as_of``, with ``attrs["excluded_orders"]``."""
        orders, cut = self._orders(as_of)
        meaning = order_meaning(orders["status"])
        out = orders[meaning == PURCHASE]
        out.attrs["excluded_orders"] = {m: int((meaning == m).sum()) for m in ("cancelled", "returned")}
        return out, cut

    def _lines(self, orders: pd.DataFrame) -> pd.DataFrame:
        """The lines of ``orders``, with a unit cost: the line's own, else the product's."""
        lines = self.frame("order_lines", columns=["order_id", "product_id", "quantity", "unit_price", "unit_cost"])
        lines = lines[lines["order_id"].isin(orders.index).to_numpy(dtype=bool)]
        products = self.frame("products", columns=["unit_cost"])
        # Both as plain float64: a nullable fill for a float64 column is deprecated in pandas.
        fallback = lines["product_id"].map(products["unit_cost"]).astype(np.float64)
        cost = lines["unit_cost"].astype(np.float64).fillna(fallback)
        return lines.assign(unit_cost=cost.astype(np.float64))

    def _costed_purchases(self, as_of: Any) -> tuple[pd.DataFrame, int]:
        """Purchases whose missing cost is filled from their costed order
        lines; orders with no known cost at all count at zero cost, and
        ``attrs["uncosted_orders"]`` says how many there were."""
        orders, cut = self._purchases(as_of)
        cost = orders["cost"]
        if cost.isna().any():
            lines = self._lines(orders)
            with np.errstate(over="ignore"):  # inf beyond the double range: the overflow rule reports it
                line_cost = (lines["quantity"] * lines["unit_cost"]).to_numpy(dtype=np.float64)
            keys = lines["order_id"].to_numpy(dtype=np.int64)
            r = _core.group_stats(keys, [line_cost], False)
            known = pd.Series(np.where(r["count"][0] > 0, r["sum"][0], np.nan), index=r["key"])
            cost = cost.fillna(pd.Series(orders.index.map(known), index=orders.index))
        attrs = dict(orders.attrs, uncosted_orders=int(cost.isna().sum()))
        orders = orders.assign(cost=cost.fillna(0.0).astype(np.float64))
        orders.attrs.update(attrs)
        return orders, cut

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
    def rfm(self, as_of: Any = None, bins: int = 5, segments: Sequence | None = None,
            ties: str = "first") -> pd.DataFrame:
        """:func:`crmcore.scoring.rfm` over the stored purchases up to ``as_of``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=9.5)
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-03", amount=5.0, status="已取消")
        >>> float(db.rfm().loc[cid, "monetary"])
        9.5
        """
        orders, cut = self._purchases(as_of)
        out = rfm(orders, CUSTOMER, "ordered_at", "amount", cut, bins, segments, ties)
        return _with_attrs(out, orders)

    def profit(self, abc: Sequence[float] = (0.8, 0.95), as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.profit` over the stored purchases up to
        ``as_of`` (cost from the order, else from its order lines).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> float(db.profit().loc[cid, "profit"])
        6.0
        """
        orders, cut = self._costed_purchases(as_of)
        out = profit(orders, CUSTOMER, "ordered_at", "amount", "cost", abc, cut)
        return _with_attrs(out, orders)

    def profit_by_period(self, freq: str = "Y", as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.profit_by_period` over the stored purchases up to ``as_of``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> len(db.profit_by_period("M"))
        1
        """
        orders, cut = self._costed_purchases(as_of)
        out = profit_by_period(orders, CUSTOMER, "ordered_at", "amount", "cost", freq, cut)
        return _with_attrs(out, orders)

    def profit_tiers(self, freq: str = "Y", period: Any = None, abc: Sequence[float] = (0.8, 0.95),
                     vip_top: float = 0.10, super_top: float = 0.01, as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.profit_tiers` over the stored purchases: the
        year (``freq``) before ``as_of``, by default the year up to the end of
        the data.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> str(db.profit_tiers().loc[cid, "abc"])
        'A'
        """
        orders, cut = self._costed_purchases(as_of)
        out = profit_tiers(orders, CUSTOMER, "ordered_at", "amount", "cost", freq, period, abc, vip_top, super_top,
                           cut)
        return _with_attrs(out, orders)

    def product_profit(self, abc: Sequence[float] = (0.8, 0.95), as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.product_profit` over the lines of the stored
        purchases up to ``as_of``, with the product's name and category.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> pid = db.add("products", sku="T1", name="Tea", unit_cost=2.0)
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> _ = db.add("order_lines", order_id=oid, product_id=pid, quantity=1, unit_price=5.0)
        >>> float(db.product_profit().loc[pid, "margin"])
        0.6
        """
        orders, cut = self._purchases(as_of)
        out = product_profit(self._lines(orders), abc=abc)
        products = self.frame("products")
        joined = products[["sku", "name", "category"]].reindex(out.index).join(out)
        return stamp(_with_attrs(joined, orders, out), cut, times_ns(orders["ordered_at"]))

    def staff_performance(self, as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.staff_performance` over the stored purchases
        up to ``as_of``, with each staff member's name and team.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid, sid = db.add("customers", name="Ann"), db.add("staff", name="Bo")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0, staff_id=sid)
        >>> float(db.staff_performance().loc[sid, "profit"])
        6.0
        """
        orders, cut = self._costed_purchases(as_of)
        out = staff_performance(orders)
        staff = self.frame("staff")
        joined = staff[["name", "team"]].reindex(out.index).join(out)
        return stamp(_with_attrs(joined, orders, out), cut, times_ns(orders["ordered_at"]))

    def classify(self, as_of: Any = None, regular_min_purchases: int = 4, regular_max_cv: float = 0.75,
                 active_days: float = 365.0) -> pd.DataFrame:
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
        orders, cut = self._purchases(as_of)
        out = classify(orders, CUSTOMER, "ordered_at", "amount", cut, regular_min_purchases, regular_max_cv,
                       active_days, self.referral_counts(), self.frame("customers"))
        return _by_customer(_with_attrs(out, orders))

    def lifecycle(self, as_of: Any = None, **thresholds: Any) -> pd.DataFrame:
        """:func:`crmcore.scoring.lifecycle` for every stored customer
        (those who never bought are prospects); ``thresholds`` are its
        keyword parameters (new_days, churn_days, ...).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> str(db.lifecycle().loc[cid, "stage"])
        'prospect'
        """
        orders, cut = self._purchases(as_of)
        out = lifecycle(orders, CUSTOMER, "ordered_at", "amount", cut, self.frame("customers", columns=[]).index,
                        **thresholds)
        return _by_customer(_with_attrs(out, orders))

    def deal_quadrants(self, as_of: Any = None, important_amount: float | None = None,
                       urgent_days: float = 30.0) -> pd.DataFrame:
        """:func:`crmcore.scoring.deal_quadrants` over the stored deals at
        ``as_of`` (default: the end of the data, never today's clock), with
        their customer and name.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> did = db.add("deals", customer_id=cid, stage="negotiation", amount=100.0, expected_close="2024-01-05")
        >>> db.deal_quadrants(as_of="2024-01-01").loc[did, "quadrant"]
        'do first'
        """
        deals = self.frame("deals")
        out = deal_quadrants(deals, as_of=self._as_of(as_of), important_amount=important_amount,
                             urgent_days=urgent_days)
        return _with_attrs(deals[["customer_id", "name", "stage"]].join(out), out)

    def deal_summary(self, as_of: Any = None, important_amount: float | None = None,
                     urgent_days: float = 30.0) -> pd.DataFrame:
        """:func:`crmcore.scoring.deal_summary` over the stored deals at
        ``as_of``, for every stored customer (zeros for those without deals).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("deals", customer_id=cid, stage="won", amount=100.0, closed_at="2024-02-01")
        >>> float(db.deal_summary().loc[cid, "won_amount"])
        100.0
        """
        out = deal_summary(self.frame("deals"), as_of=self._as_of(as_of), important_amount=important_amount,
                           urgent_days=urgent_days)
        customers = self.frame("customers", columns=[]).index
        counts = out.drop(columns="win_rate").reindex(customers, fill_value=0.0)
        counts["win_rate"] = out["win_rate"].reindex(customers)
        return _by_customer(_with_attrs(counts, out))

    def satisfaction(self, promoter_min: int = 9, detractor_max: int = 6, as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.satisfaction` from the tickets opened and
        surveys answered up to ``as_of``, with complaint rates against the
        purchases up to then.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("surveys", customer_id=cid, responded_at="2024-01-02", csat=4.0, nps=10)
        >>> float(db.satisfaction().loc[cid, "nps"])
        100.0
        """
        orders, cut = self._purchases(as_of)
        tickets, surveys = self._service(cut)
        # Counts only: the amounts play no part here.
        purchases = rhythm(orders, CUSTOMER, "ordered_at", None, cut)["purchases"]
        out = satisfaction(tickets, surveys, purchases=purchases, promoter_min=promoter_min,
                           detractor_max=detractor_max)
        return stamp(_by_customer(_with_attrs(out, orders)), cut, times_ns(orders["ordered_at"]))

    def _service(self, cut: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The tickets opened and the surveys answered up to ``cut``."""
        tickets, surveys = self.frame("tickets"), self.frame("surveys")
        return (tickets[times_ns(tickets["opened_at"]) <= cut],
                surveys[times_ns(surveys["responded_at"]) <= cut])

    def loyalty(self, as_of: Any = None, tenure_full_days: float = 730.0,
                weights: Mapping | None = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.loyalty` over the stored purchases up to ``as_of``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> float(db.loyalty().loc[cid, "repeat_score"])
        0.0
        """
        orders, cut = self._purchases(as_of)
        out = loyalty(orders, CUSTOMER, "ordered_at", cut, tenure_full_days, weights)
        return _with_attrs(out, orders)

    def lifetime_value(self, freq: str = "W", horizon: float = 52.0, months: int = 12,
                       discount_rate: float = 0.01, as_of: Any = None, penalizer_coef: float = 0.0) -> pd.DataFrame:
        """Current and future value of every customer with a purchase, from the stored orders.

        Fits BG/NBD (purchases and dropout) and Gamma-Gamma (spend) with
        :mod:`crmcore.clv` on the summary of the purchases up to ``as_of``
        (default: the end of the data) in units of ``freq`` (T runs to the
        period holding ``as_of``), and returns per customer the summary
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
            raise _invalid("lifetime_value", "freq", f"must be one of {sorted(_MONTH_IN)}, got {freq!r}")
        horizon = _number(horizon, "lifetime_value", "horizon", low=0, low_open=True)
        months = _integer(months, "lifetime_value", "months", low=1, high=100_000)
        discount_rate = _number(discount_rate, "lifetime_value", "discount_rate", low=0)
        penalizer_coef = _number(penalizer_coef, "lifetime_value", "penalizer_coef", low=0)
        orders, cut = self._purchases(as_of)
        summary = summary_data_from_transaction_data(orders, CUSTOMER, "ordered_at", "amount", freq=freq,
                                                     observation_period_end=pd.Timestamp(cut))
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
        return stamp(_by_customer(_with_attrs(out, orders)), cut, times_ns(orders["ordered_at"]))

    def churn_risk(self, as_of: Any = None, p_alive: pd.Series | None = None, prior_weight: float = 1.0,
                   alive_weight: float = 0.5) -> pd.DataFrame:
        """:func:`crmcore.scoring.churn_risk` over the stored purchases up to ``as_of``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(0 <= db.churn_risk().loc[cid, "churn_risk"] <= 1)
        True
        """
        orders, cut = self._purchases(as_of)
        out = churn_risk(orders, CUSTOMER, "ordered_at", cut, p_alive, prior_weight, alive_weight)
        return _with_attrs(out, orders)

    def health(self, as_of: Any = None, p_alive: pd.Series | None = None,
               weights: Mapping | None = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.health` from the stored purchases, tickets
        and surveys up to ``as_of``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(0 <= db.health().loc[cid, "health"] <= 100)
        True
        """
        orders, cut = self._purchases(as_of)
        tickets, surveys = self._service(cut)
        out = health(orders, CUSTOMER, "ordered_at", "amount", cut, tickets if len(tickets) else None,
                     surveys if len(surveys) else None, p_alive, weights)
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))

    def product_affinity(self, min_support: float = 0.01, min_confidence: float = 0.0,
                         max_len: int | None = None, as_of: Any = None) -> pd.DataFrame:
        """:func:`crmcore.scoring.product_affinity` over the lines of the
        stored purchases up to ``as_of`` (cancelled and returned orders are
        not baskets).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> p, q = db.add("products", sku="A", name="A"), db.add("products", sku="B", name="B")
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> _ = [db.add("order_lines", order_id=oid, product_id=x, quantity=1, unit_price=1.0) for x in (p, q)]
        >>> len(db.product_affinity(min_support=0.5))
        2
        """
        orders, cut = self._purchases(as_of)
        out = product_affinity(self._lines(orders), min_support=min_support, min_confidence=min_confidence,
                               max_len=max_len)
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))
