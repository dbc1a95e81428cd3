"""The scoring analyses as methods of the store's Database (``db.rfm()``, ...),
fed from its record frames through the public API only.

One rule for time and status holds for all of them. Every analysis takes
``as_of`` and defaults it to the same point, :meth:`ScoringMethods.default_as_of`
(the end of the data); it reads only what happened up to that point and
reports the point and the window it read in ``result.attrs["as_of"]`` and
``result.attrs["window"]``. A purchase is an order whose status the shared
table :data:`crmcore.scoring.ORDER_STATUS` does not mark cancelled or returned
(in any language: 已取消 and 退货 too); how many orders were left out, by
meaning, is in ``result.attrs["excluded_orders"]``.

Customer analyses are indexed by ``customer_id``, cover every stored
customer (those without purchases with the values of
:data:`crmcore.scoring.NO_PURCHASE`) and carry the customer's ``name``
first. ``by=`` cuts them by a business dimension (region, channel, product
category, owner, team, B2B / B2C, custom fields): see
:mod:`crmcore.scoring.dimensions`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..names import NameMethods
from ._columns import stamp, times_ns
from ._reading import CUSTOMER, _by_customer, _with_attrs, event_times
from ._relationship import RelationshipMethods
from .affinity import product_affinity
from .dimensions import NO_PURCHASE, DimensionMethods, _names, _text, cover
from .sales import cohort_retention, performance
from .lifecycle import STAGES, classify, deal_quadrants, deal_summary, lifecycle
from .profit import product_profit, profit, profit_by_period, profit_tiers, staff_performance
from .rfm import rfm

# event_times stays importable from here, where the rule for time is told.
__all__ = ["ScoringMethods", "event_times"]


class ScoringMethods(RelationshipMethods, DimensionMethods, NameMethods):
    """Methods that the store's Database gains from the scoring part (what
    they read is in _reading.py, the relationship analyses in _relationship.py).

    Each is the same-named function of :mod:`crmcore.scoring` fed from the
    stored records, under the rule for time and status of this module: the
    purchases are the orders up to ``as_of`` that
    :data:`~crmcore.scoring.ORDER_STATUS` counts as purchases.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> cid = db.add("customers", name="Ann")
    >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-05-01", amount=20.0, cost=5.0)
    >>> p = db.profit()
    >>> p.loc[cid, "name"], float(p.loc[cid, "profit"])
    ('Ann', 15.0)
    """

    # -- the analyses ------------------------------------------------------
    def rfm(self, as_of: Any = None, bins: int = 5, segments: Sequence | None = None,
            ties: str = "first", by: Any = None) -> pd.DataFrame:
        """RFM of every stored customer: :func:`crmcore.scoring.rfm` over the
        purchases up to ``as_of``.

        Parameters: ``as_of`` (default :meth:`default_as_of`), ``bins`` (score
        levels, 5), ``segments`` (the R/F grid of :func:`crmcore.scoring.segment`),
        ``ties`` ("first" or "min", see :func:`crmcore.scoring.rfm`) and ``by``
        (a dimension or a list of them: scores within each group, see
        :mod:`crmcore.scoring.dimensions`).

        Returns, indexed by ``customer_id`` (after the ``by`` dimensions):
        ``name``; ``recency`` (days from the last purchase to ``as_of``),
        ``frequency`` (purchases), ``monetary`` (their total amount),
        ``last_purchase``; ``r_score``, ``f_score``, ``m_score`` (1..bins, higher
        is better) and ``segment``. Customers without purchases have
        frequency 0, monetary 0, scores 0, no recency and segment "no purchase".

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> new = db.add("customers", name="Bo")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=9.5)
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-03", amount=5.0, status="已取消")
        >>> r = db.rfm()
        >>> float(r.loc[cid, "monetary"]), r.loc[new, "segment"], r.loc[new, "name"]
        (9.5, 'no purchase', 'Bo')
        """
        orders, cut = self._purchases(as_of, where="rfm")
        return self._per_customer(
            "rfm", lambda part, _: rfm(part, CUSTOMER, "ordered_at", "amount", pd.Timestamp(cut), bins, segments, ties),
            orders, cut, by)

    def profit(self, abc: Sequence[float] = (0.8, 0.95), as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Each stored customer's profit contribution up to ``as_of``:
        :func:`crmcore.scoring.profit` over the purchases (cost from the
        order, else from its order lines; ``attrs["uncosted_orders"]`` counts
        those with no known cost, taken at zero).

        ``abc`` are the Pareto cut-offs (A makes the first 80% of profit, B
        up to 95%); ``by`` computes shares and classes within each group.
        Returns, indexed by ``customer_id``: ``name``, ``orders``,
        ``revenue``, ``cost``, ``profit``, ``margin`` (profit / revenue),
        ``first_purchase``, ``last_purchase``, ``share`` (of the positive
        profit) and ``abc``. Customers without purchases: zeros, no margin,
        class C.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> float(db.profit().loc[cid, "profit"])
        6.0
        """
        orders, cut = self._costed_purchases(as_of, where="profit")
        return self._per_customer(
            "profit", lambda part, _: profit(part, CUSTOMER, "ordered_at", "amount", "cost", abc, pd.Timestamp(cut)),
            orders, cut, by)

    def profit_by_period(self, freq: str = "Y", as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Profit per customer and calendar period (``freq`` "Y", "Q" or "M")
        up to ``as_of``: :func:`crmcore.scoring.profit_by_period` over the
        stored purchases.

        Rows are (``customer_id``, ``period``) from each customer's first
        purchase to the period holding ``as_of`` (customers without
        purchases have none); columns ``name``, ``orders``, ``revenue``,
        ``cost``, ``profit``, ``margin``, ``change`` (from the previous
        period) and ``pct_change``. ``by`` splits the purchases by dimension.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> len(db.profit_by_period("M"))
        1
        """
        orders, cut = self._costed_purchases(as_of, where="profit_by_period")
        names = self.frame("customers", columns=["name"])["name"]

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            return profit_by_period(part, CUSTOMER, "ordered_at", "amount", "cost", freq, pd.Timestamp(cut))

        out = run(orders, None) if by is None else self._stacked(run, orders, by, "profit_by_period")
        out.insert(0, "name", names.reindex(out.index.get_level_values(CUSTOMER)).array)
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))

    def profit_tiers(self, freq: str = "Y", period: Any = None, abc: Sequence[float] = (0.8, 0.95),
                     vip_top: float = 0.10, super_top: float = 0.01, as_of: Any = None,
                     by: Any = None) -> pd.DataFrame:
        """Tiers every stored customer by last year's profit contribution:
        :func:`crmcore.scoring.profit_tiers` over the stored purchases, the
        year (``freq``) before ``as_of`` (default: the year up to the end of
        the data), or the calendar ``period`` given.

        ``vip_top`` and ``super_top`` are the shares of customers (of those
        who bought by the end of the window) made VIP and super; ``abc`` the
        Pareto cut-offs; ``by`` tiers within each group (the VIP of each
        region). Returns, indexed by ``customer_id``: ``name``, ``profit``
        (in the window), ``contribution``, ``cum_contribution``, ``rank``
        (1 = largest), ``abc`` and ``tier`` (normal / VIP / super). Customers
        who had not bought by the end of the window have profit 0, class C,
        tier normal and rank after every buyer (by ascending id).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0)
        >>> str(db.profit_tiers().loc[cid, "abc"])
        'A'
        """
        orders, cut = self._costed_purchases(as_of, where="profit_tiers")

        def run(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            out = profit_tiers(part, CUSTOMER, "ordered_at", "amount", "cost", freq, period, abc, vip_top,
                               super_top, pd.Timestamp(cut))
            ranked = len(out)
            out = cover(out, ids, NO_PURCHASE["profit_tiers"], CUSTOMER)
            silent = ~out.index.isin(out.index[out["rank"].notna()])
            if silent.any():  # after every buyer, by ascending id
                rank = out["rank"].to_numpy(dtype=np.float64, copy=True)
                rank[silent] = ranked + np.arange(1, int(silent.sum()) + 1)
                out["rank"] = rank.astype(np.int64)
                last = out.loc[~silent, "cum_contribution"].max() if ranked else 0.0
                out.loc[silent, "cum_contribution"] = last
            return out

        return self._per_customer("profit_tiers", run, orders, cut, by, restamp=False)

    def product_profit(self, abc: Sequence[float] = (0.8, 0.95), as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Profit rate of every product sold: :func:`crmcore.scoring.product_profit`
        over the lines of the stored purchases up to ``as_of``.

        Returns, indexed by ``product_id`` (after the ``by`` dimensions):
        ``sku``, ``name``, ``category``, then ``lines``, ``quantity``,
        ``revenue``, ``cost`` (the line's unit cost, else the product's),
        ``profit``, ``margin`` (profit rate), ``share`` and ``abc``. Lines
        that name no product are no product's: they are left out (none
        naming one: an empty result), and ``attrs["lines_without_product"]``
        says how many there were.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> pid = db.add("products", sku="T1", name="Tea", unit_cost=2.0)
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> _ = db.add("order_lines", order_id=oid, product_id=pid, quantity=1, unit_price=5.0)
        >>> float(db.product_profit().loc[pid, "margin"])
        0.6
        """
        orders, cut = self._purchases(as_of, where="product_profit")
        products = self.frame("products", columns=["sku", "name", "category"])

        unnamed = 0

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            nonlocal unnamed
            lines = self._lines(part.loc[~part.index.duplicated()])
            named = lines["product_id"].notna().to_numpy(dtype=bool)
            unnamed += int((~named).sum())
            lines = lines[named]
            if "category" in part.columns:  # the lines of this group's category only
                lines = lines[_text(lines["product_id"].map(products["category"])).isin(part["category"])]
            return product_profit(lines, abc=abc)

        out = run(orders, None) if by is None else self._stacked(run, orders, by, "product_profit")
        ids = out.index.get_level_values("product_id")
        for i, column in enumerate(["sku", "name", "category"]):
            out.insert(i, column, products[column].reindex(ids).array)
        out = stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))
        out.attrs["lines_without_product"] = unnamed
        return out

    def staff_performance(self, as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Sales of each staff member weighted by their margin:
        :func:`crmcore.scoring.staff_performance` over the stored purchases
        up to ``as_of``.

        Returns, indexed by ``staff_id`` (after the ``by`` dimensions):
        ``name``, ``team``, ``orders``, ``revenue``, ``cost``, ``profit``,
        ``margin``, ``margin_index`` (their margin / everyone's),
        ``weighted_sales`` (revenue x margin index) and ``rank`` (1 = best).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid, sid = db.add("customers", name="Ann"), db.add("staff", name="Bo")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0, staff_id=sid)
        >>> float(db.staff_performance().loc[sid, "profit"])
        6.0
        """
        orders, cut = self._costed_purchases(as_of, where="staff_performance")
        out = staff_performance(orders) if by is None else \
            self._stacked(lambda part, _: staff_performance(part), orders, by, "staff_performance")
        staff = self.frame("staff", columns=["name", "team"])
        ids = out.index.get_level_values("staff_id")
        out.insert(0, "name", staff["name"].reindex(ids).array)
        out.insert(1, "team", staff["team"].reindex(ids).array)
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))

    def classify(self, as_of: Any = None, regular_min_purchases: int = 4, regular_max_cv: float = 0.75,
                 active_days: float = 365.0, by: Any = None) -> pd.DataFrame:
        """Classifies every stored customer: :func:`crmcore.scoring.classify`
        with referral counts at ``as_of`` (:meth:`referral_counts`) and validity from
        their phone, email or address.

        Parameters as :func:`crmcore.scoring.classify` (``regular_min_purchases``,
        ``regular_max_cv``, ``active_days``) and ``by``. Returns, indexed by
        ``customer_id``: ``name``, the rhythm columns (``purchases``,
        ``amount``, ``first_purchase``, ``last_purchase``, ``tenure_days``,
        ``days_since``, ``mean_gap``, ``cv_gap``), ``buyer_type`` (one-time /
        occasional / regular, "no purchase" for customers without one),
        ``repurchases``, ``referrals``, ``active`` and ``valid``.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann", phone="13800138000")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> bool(db.classify().loc[cid, "valid"])
        True
        """
        orders, cut = self._purchases(as_of, where="classify")
        # Referrals made up to the same point as the purchases.
        customers = self.frame("customers", columns=["phone", "email", "address"])
        referrals = self.referral_counts(as_of=pd.Timestamp(cut))
        return self._per_customer(
            "classify", lambda part, ids: classify(part, CUSTOMER, "ordered_at", "amount", pd.Timestamp(cut), regular_min_purchases,
                                                   regular_max_cv, active_days, referrals, customers.reindex(ids)),
            orders, cut, by)

    def lifecycle(self, as_of: Any = None, by: Any = None, **thresholds: Any) -> pd.DataFrame:
        """The lifecycle stage of every stored customer at ``as_of``:
        :func:`crmcore.scoring.lifecycle`, those who never bought being
        prospects.

        ``thresholds`` are its keyword parameters (``new_days``,
        ``churn_days``, ``at_risk_factor``, ``at_risk_days``,
        ``loyal_purchases``, ``loyal_days``). Returns, indexed by
        ``customer_id``: ``name``, the rhythm columns, ``stage`` (prospect,
        new, active, loyal, at risk, churned) and ``reason`` (why, in words).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> str(db.lifecycle().loc[cid, "stage"])
        'prospect'
        """
        orders, cut = self._purchases(as_of, where="lifecycle")
        return self._per_customer(
            "lifecycle", lambda part, ids: lifecycle(part, CUSTOMER, "ordered_at", "amount", pd.Timestamp(cut), ids, **thresholds),
            orders, cut, by)

    def lifecycle_flow(self, start: Any, end: Any = None, customers: Any = None,
                       **thresholds: Any) -> pd.DataFrame:
        """How customers moved between lifecycle stages from ``start`` to
        ``end`` (default :meth:`default_as_of`): a table of counts, rows the
        stage at ``start``, columns the stage at ``end``, every stage present;
        ``attrs["start"]`` and ``["end"]`` hold the two points. Customers
        who had not bought by ``start`` were prospects then. ``customers``
        (ids) limits the count to them; ``thresholds`` go to :meth:`lifecycle`.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-03-02", amount=5.0)
        >>> int(db.lifecycle_flow("2024-01-01").loc["prospect", "new"])
        1
        """
        before = self.lifecycle(as_of=start, **thresholds)["stage"]
        after = self.lifecycle(as_of=end, **thresholds)["stage"]
        if customers is not None:
            keep = before.index.isin(pd.Index(customers))
            before, after = before[keep], after[keep]
        flow = pd.crosstab(before.rename("from"), after.rename("to"), dropna=False)
        flow = flow.reindex(index=STAGES, columns=STAGES, fill_value=0)
        flow.attrs["start"], flow.attrs["end"] = before.attrs.get("as_of"), after.attrs.get("as_of")
        return flow

    def deal_quadrants(self, as_of: Any = None, important_amount: float | None = None,
                       urgent_days: float = 30.0, by: Any = None) -> pd.DataFrame:
        """Status and importance / urgency quadrant of every stored deal at
        ``as_of`` (default: the end of the data, never today's clock):
        :func:`crmcore.scoring.deal_quadrants`.

        ``important_amount`` (default: the median open amount) and
        ``urgent_days`` set the quadrants. ``by`` names customer dimensions
        (region, owner, team, kind, custom.<key>, ...): the deals are cut by
        their customer's values and the default ``important_amount`` is the
        median of each group. Returns, indexed by deal id (after the ``by``
        dimensions): ``customer_id``, ``customer`` (its name), ``name``,
        ``stage``, ``status`` (open / won / lost / closed), ``amount``,
        ``days_to_close``, ``important``, ``urgent`` and ``quadrant`` (do
        first, plan, quick win, later; none for closed deals).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> did = db.add("deals", customer_id=cid, stage="negotiation", amount=100.0, expected_close="2024-01-05")
        >>> db.deal_quadrants(as_of="2024-01-01").loc[did, ["customer", "quadrant"]].tolist()
        ['Ann', 'do first']
        """
        cut = self._as_of(as_of, where="deal_quadrants")
        names = self.frame("customers", columns=["name"])["name"]

        def quadrants(deals: pd.DataFrame, _: pd.Index) -> pd.DataFrame:
            out = deal_quadrants(deals, as_of=pd.Timestamp(cut), important_amount=important_amount, urgent_days=urgent_days,
                                 **self._stage_outcomes(deals))
            head = deals[["customer_id", "name", "stage"]].copy()
            head.insert(1, "customer", names.reindex(head["customer_id"].to_numpy()).array)
            return _with_attrs(head.join(out), out)

        deals = self.sales._stored_at(cut)  # as the deals stood then (stage history)
        if by is None:
            return quadrants(deals, names.index)
        return self._stacked(quadrants, deals, self._customer_only(by, "deal_quadrants"), "deal_quadrants")

    def deal_summary(self, as_of: Any = None, important_amount: float | None = None,
                     urgent_days: float = 30.0, by: Any = None) -> pd.DataFrame:
        """The deals of every stored customer at ``as_of``:
        :func:`crmcore.scoring.deal_summary` (zeros for customers without deals).

        ``by`` names customer dimensions: each group's customers and deals
        are summarised alone (the default ``important_amount`` behind
        ``do_first`` is the group's median).
        Returns, indexed by ``customer_id`` (after the ``by`` dimensions):
        ``name``, ``open``, ``won``,
        ``lost`` (deal counts), ``pipeline`` (open amount),
        ``weighted_pipeline`` (by probability), ``won_amount``, ``do_first``
        and ``win_rate`` (won / decided; missing without a decided deal).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("deals", customer_id=cid, stage="won", amount=100.0, closed_at="2024-02-01")
        >>> float(db.deal_summary().loc[cid, "won_amount"])
        100.0
        """
        cut = self._as_of(as_of, where="deal_summary")
        names = self.frame("customers", columns=["name"])["name"]

        def summary(deals: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
            out = deal_summary(deals, as_of=pd.Timestamp(cut), important_amount=important_amount, urgent_days=urgent_days,
                               **self._stage_outcomes(deals))
            counts = out.drop(columns="win_rate").reindex(customers, fill_value=0.0)
            counts["win_rate"] = out["win_rate"].reindex(customers)
            counts.insert(0, "name", names.reindex(customers).array)  # str, as read (to_numpy: object when empty)
            return _by_customer(_with_attrs(counts, out))

        deals = self.sales._stored_at(cut)  # as the deals stood then (stage history)
        if by is None:
            return summary(deals, names.index)
        return self._stacked(summary, deals, self._customer_only(by, "deal_summary"), "deal_summary")

    def product_affinity(self, min_support: float = 0.01, min_confidence: float = 0.0,
                         max_len: int | None = None, as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Products bought together: :func:`crmcore.scoring.product_affinity`
        over the lines of the stored purchases up to ``as_of`` (cancelled and
        returned orders are not baskets), with the products' names.

        ``min_support`` (share of orders), ``min_confidence`` and ``max_len``
        (largest set) bound the rules; ``by`` mines each group's orders.
        Returns one rule per row: ``antecedent`` and ``consequent`` (tuples
        of product ids), ``antecedent_names`` and ``consequent_names`` (the
        same as product names), ``antecedent_support``,
        ``consequent_support``, ``support``, ``confidence`` and ``lift``,
        best lift first; ``attrs["baskets"]`` is the number of orders.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> p, q = db.add("products", sku="A", name="Tea"), db.add("products", sku="B", name="Cup")
        >>> oid = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=5.0)
        >>> _ = [db.add("order_lines", order_id=oid, product_id=x, quantity=1, unit_price=1.0) for x in (p, q)]
        >>> db.product_affinity(min_support=0.5)[["antecedent_names", "consequent_names"]].values.tolist()
        [[('Tea',), ('Cup',)], [('Cup',), ('Tea',)]]
        """
        orders, cut = self._purchases(as_of, where="product_affinity")
        products = self.frame("products", columns=["name"])["name"]

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            lines = self._lines(part.loc[~part.index.duplicated()])
            return product_affinity(lines, min_support=min_support, min_confidence=min_confidence, max_len=max_len)

        out = run(orders, None) if by is None else self._stacked(run, orders, by, "product_affinity")
        for side in ("antecedent", "consequent"):
            out.insert(out.columns.get_loc(side) + 1 if side == "antecedent" else 3, f"{side}_names",
                       pd.Series([tuple(products.reindex(list(ids)).fillna("").tolist()) for ids in out[side]],
                                 index=out.index, dtype=object))
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))

    def performance(self, by: Any = ("category", "channel", "location"), freq: str | None = None,
                    as_of: Any = None) -> pd.DataFrame:
        """Sales performance by business dimension: the stored purchases up
        to ``as_of`` summed per value of ``by`` (any dimension of
        :mod:`crmcore.scoring.dimensions`; by default product category,
        channel and location together), and per period with ``freq`` ("Y",
        "Q", "M"): :func:`crmcore.scoring.performance`.

        Each purchase counts in its own group (its channel, its lines'
        categories with the order's amount shared by line revenue, its
        customer's region, ...). Returns, indexed by the dimensions (then
        ``period``): ``orders``, ``customers``, ``revenue``, ``cost``,
        ``profit``, ``margin``, ``avg_order``, ``share`` of the revenue (of
        the period) and, with ``freq``, ``change`` of revenue from the
        previous period. Missing values read "(none)".

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann", region="East")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=10.0, cost=4.0, channel="web")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-03", amount=30.0, cost=9.0, channel="shop")
        >>> db.performance("channel")["profit"].to_dict()
        {'shop': 21.0, 'web': 6.0}
        """
        names = _names(by, "performance")
        orders, cut = self._costed_purchases(as_of, where="performance")
        out = performance(self._tagged(orders, names), names, CUSTOMER, "ordered_at", "amount", "cost", freq, pd.Timestamp(cut))
        return _with_attrs(out, orders)

    def cohorts(self, freq: str = "M", as_of: Any = None, by: Any = None) -> pd.DataFrame:
        """Persistency: retention of each cohort of customers (by the period
        of their first purchase up to ``as_of``) in every period after:
        :func:`crmcore.scoring.cohort_retention` over the stored purchases.

        Returns a table indexed by ``cohort`` (after the ``by`` dimensions)
        with one column per age in periods of ``freq``: the share of the
        cohort who bought in that period (age 0 is 1.0; ages not reached yet
        are missing). ``attrs["sizes"]`` holds the cohort sizes.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b = db.add("customers", name="Ann"), db.add("customers", name="Bo")
        >>> for cid, day in ((a, "2024-01-02"), (a, "2024-02-03"), (b, "2024-01-09")):
        ...     _ = db.add("orders", customer_id=cid, ordered_at=day, amount=5.0)
        >>> db.cohorts().loc["2024-01", 1]
        np.float64(0.5)
        """
        orders, cut = self._purchases(as_of, where="cohorts")

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            return cohort_retention(part, CUSTOMER, "ordered_at", freq, pd.Timestamp(cut))

        if by is None:
            return _with_attrs(run(orders, None), orders)
        out = self._stacked(run, orders, by, "cohorts")
        out.attrs["sizes"] = out[0].copy() if 0 in out.columns else pd.Series(dtype=np.float64)
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))

    def report_7p(self, period: Any = None, segment: Any = None, by: Any = None,
                  path: Any = None, top: int = 10) -> Any:
        """The 7P report of the store: one self-contained HTML page (tables
        and embedded PNG pictures) of profiling, persistency (cohort
        retention), profitability, performance (by product category,
        channel and location), prospecting (trends, new customers, the
        pipeline), product (margins, products bought together) and promotion
        (campaign effect, when campaigns started in the period).

        ``period`` is the window the sales tables read: the 12 months to
        the end of the data by default, a pandas period ("2025", "2025Q2",
        "2025-06") or a (start, end) pair; customer analyses describe its
        end. ``segment`` limits every table to some customers:
        ``{dimension: value or list}`` (``{"kind": "B2B", "region":
        ["East China"]}``) or a list of customer ids (scores stay those of
        the whole store). ``by`` adds a cut of profiling and performance by
        any dimension. ``top`` is the length of ranked tables. Writes the
        page to ``path`` when given and returns a
        :class:`crmcore.report.Report` (``html``, ``sections``, ``tables``)
        that shows itself in Jupyter.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = crm.datasets.load(db, crm.datasets.synthetic(300, seed=2))
        >>> report = db.report_7p(segment={"kind": "B2B"}, by="region")
        >>> list(report.sections)
        ['profiling', 'persistency', 'profitability', 'performance', 'prospecting', 'product', 'promotion']
        """
        from ..report import report_7p

        return report_7p(self, period, segment, by, path, top)

    def customer_card(self, customer: int, as_of: Any = None, orders: int = 5) -> Any:
        """One customer on one screen (the "one-to-one service" view): their
        details, their scores at ``as_of`` (RFM segment and scores, purchases,
        revenue, profit and its class, last year's tier, lifecycle stage and
        why, churn risk, health, loyalty), their open deals with the
        importance / urgency quadrant, their latest ``orders`` and their
        contacts with roles, names beside ids. Returns a
        :class:`crmcore.scoring.card.CustomerCard` that shows as a card in
        Jupyter. Scores are relative to every customer, so the analyses run
        over the whole store.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="星海科技", kind="organization")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-01-02", amount=50.0, cost=20.0)
        >>> _ = db.add("deals", customer_id=cid, name="Renewal", stage="proposal", amount=900.0,
        ...            expected_close="2024-02-01")
        >>> card = db.customer_card(cid)
        >>> card.scores["profit"], card.open_deals["name"].tolist()
        (30.0, ['Renewal'])
        """
        from .card import customer_card

        return customer_card(self, customer, as_of, orders)

