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

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import _core
from ..names import NameMethods
from .._args import _integer, _invalid, _number
from ._columns import NS_PER_DAY, as_of_ns, end_of_data, flag_overflow, stamp, times_ns
from ._status import PURCHASE, deal_outcome, order_meaning
from .affinity import product_affinity
from .dimensions import NO_PURCHASE, DimensionMethods, _names, _text, cover
from .health import churn_risk, health, loyalty, satisfaction
from .sales import cohort_retention, performance
from .lifecycle import STAGES, classify, deal_quadrants, deal_summary, lifecycle, rhythm
from .profit import product_profit, profit, profit_by_period, profit_tiers, staff_performance
from .rfm import rfm

__all__ = ["ScoringMethods"]

# What the analyses read of an order; the other fields (text mostly) would
# only slow the read of a large store.
PURCHASE_COLUMNS = ["customer_id", "ordered_at", "amount", "cost", "status", "staff_id"]
CUSTOMER = "customer_id"  # the index name of every customer analysis

# Relationship bounds: when a tie began or ended. The kind table gives them no
# limit on the future (a contract's planned end), so only those that have come
# count as events.
BOUNDS = ("since", "until")
# The first entry of a deal's close-date history is written with the deal and
# stamped with the write's clock unless the write says close_changed_at (a
# ticket's first event takes its opened_at instead): only a change of the
# planned close (an entry with a previous date) is an event of the data.
EVENT_CONDITIONS: dict[tuple[str, str], list[tuple]] = {
    ("deal_close_dates", "changed_at"): [("previous", "not null")],
    ("invoices", "issued_at"): [("status", "not in", ["draft", "void"])]}
# Times the kind table leaves open to the future (an invoice may be dated
# ahead) that are events once they have come: an issued invoice counts up to
# today, as the partners' commissions pay on it.
ISSUED = (("invoices", "issued_at"),)
_EVENTS: list[tuple[str, str, bool]] = []


def event_times() -> list[tuple[str, str, bool]]:
    """(kind, field, is_bound) of every dated event :meth:`ScoringMethods.default_as_of`
    reads, from the kind table: the time fields declared as happened (the
    store takes them up to a bounded number of days ahead: orders,
    interactions, tickets, deal stages, payments, ...) and the ``since`` and
    ``until`` of relationship kinds (links, customer contacts). A new kind
    with a happened time counts without a change here.

    >>> from crmcore.scoring.store import event_times
    >>> ("orders", "ordered_at", False) in event_times(), ("links", "since", True) in event_times()
    (True, True)
    >>> any(field == "birthday" for _, field, _ in event_times())  # a date, not an event
    False
    """
    if not _EVENTS:
        for kind in _core.kinds():
            times = [f for f in kind["fields"] if f["type"] == "time"]
            names = {f["name"] for f in times}
            for f in times:
                if f["max_future_days"] is not None and f["max_future_days"] > 0:
                    _EVENTS.append((kind["name"], f["name"], False))
                elif (f["name"] in BOUNDS and names.issuperset(BOUNDS)) or (kind["name"], f["name"]) in ISSUED:
                    _EVENTS.append((kind["name"], f["name"], True))
    return _EVENTS


def _with_attrs(frame: pd.DataFrame, *sources: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (an analysis' result, or a join of it) with the attrs of the
    frames it came from (the purchases read, the analysis' own result)."""
    for source in sources:
        frame.attrs.update(source.attrs)
    return frame


def _by_customer(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index.name = CUSTOMER
    return frame


class ScoringMethods(DimensionMethods, NameMethods):
    """Methods that the store's Database gains from the scoring part.

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

    if TYPE_CHECKING:  # the Database's sales room (store.py), read for deals at a past as_of
        from ..sales import SalesMethods

        @property
        def sales(self) -> SalesMethods: ...

    # -- the point in time and the records the analyses read ------------------
    def default_as_of(self) -> pd.Timestamp:
        """The point every analysis describes when no ``as_of`` is given: the
        end of the data, midnight (UTC) after the latest dated event of any
        kind, so the last day of data counts in full. The events are the
        times the kind table declares as happened (an order's ``ordered_at``,
        a deal's close and stage changes, interactions, tickets and their
        events, payments, issued invoices, surveys, campaign responses, stock
        movements, ...:
        :func:`event_times`) and the bounds of relationships (``since`` and
        ``until`` of links and customer contacts) that are not after today
        (a planned end has not happened). A store with none of those uses the
        end of today. The graph analyses use the same point, so a link dated
        after the last order still counts.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> cid = db.add("customers", name="Ann")
        >>> _ = db.add("orders", customer_id=cid, ordered_at="2024-03-05 14:30", amount=9.5)
        >>> db.default_as_of()
        Timestamp('2024-03-06 00:00:00')
        >>> _ = db.add("interactions", customer_id=cid, channel="call", occurred_at="2024-04-10 09:00")
        >>> db.default_as_of()
        Timestamp('2024-04-11 00:00:00')
        """
        return pd.Timestamp(self._end_of_data())

    # The end of the data, kept until the next write: reading every dated kind
    # costs a scan of each (0.15 s on 20k customers), once per analysis call.
    _end_cache: "tuple[tuple, int] | None" = None

    def _data_mark(self, today: pd.Timestamp) -> "tuple | None":
        """What every committed write by any connection changes (the core's
        ``Store.data_mark``: the newest audit entry's number and hash, and
        SQLite's data_version) and the day (bounds count up to today); None
        on a scoped handle, which keeps no cache."""
        mark = getattr(self._core, "data_mark", None)  # type: ignore[attr-defined]
        if mark is None:
            return None
        return (*mark(), int(today.value))

    def _end_of_data(self, orders: pd.DataFrame | None = None) -> int:
        today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
        mark = self._data_mark(today)
        if mark is not None and self._end_cache is not None and self._end_cache[0] == mark:
            return self._end_cache[1]
        latest = []
        for kind, field, bound in event_times():
            if kind == "orders" and field == "ordered_at" and orders is not None:
                latest.append(times_ns(orders["ordered_at"]))  # already read: no second query
                continue
            # The one latest value, found by the store: nothing else is read.
            where = [(field, "not null")] + ([(field, "<=", today + pd.Timedelta(days=1))] if bound else [])
            where += EVENT_CONDITIONS.get((kind, field), [])
            top = self.frame(kind, columns=[field], filters=where, order_by="-" + field, limit=1)
            latest.append(times_ns(top[field]))
        end = end_of_data(np.concatenate(latest)) if latest else None
        if end is None:
            end = int(today.value) + NS_PER_DAY
        if mark is not None:
            self._end_cache = (mark, end)
        return end

    def _as_of(self, as_of: Any, orders: pd.DataFrame | None = None) -> int:
        """``as_of`` in ns: the given point, else :meth:`default_as_of`."""
        given = as_of_ns(as_of)
        return given if given is not None else self._end_of_data(orders)

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

    def _stage_outcomes(self, deals: pd.DataFrame) -> dict[str, Any]:
        """``won_stages`` and ``lost_stages`` of the deal analyses for the
        stages of ``deals``: what the store's pipelines say of their own
        stages (a stage "signed" of category won is won, as db.sales counts
        it), the shared table (:data:`crmcore.scoring.DEAL_STAGE`) for a
        stage no pipeline names."""
        stages = self.frame("pipeline_stages", columns=["name", "category"]).drop_duplicates("name")
        category = pd.Series(stages["category"].to_numpy(), index=stages["name"].to_numpy())
        named = pd.Series(deals["stage"].dropna().unique(), dtype=object)
        meaning = category.reindex(named.to_numpy()).to_numpy(dtype=object)
        meaning = np.where(pd.isna(meaning), deal_outcome(named), meaning)
        return {"won_stages": named[meaning == "won"].tolist(), "lost_stages": named[meaning == "lost"].tolist()}

    def referral_counts(self, as_of: Any = None) -> pd.Series:
        """How many customers each record referred through the ``referred_by``
        links valid at ``as_of`` (default: :meth:`default_as_of`, as every
        analysis): from the graph part's ``db.referrals()`` when present,
        else by counting the links (X referred_by Y means Y referred X).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b = db.add("customers", name="A"), db.add("customers", name="B")
        >>> _ = db.link(b, a, "referred_by", since="2024-06-01")
        >>> int(db.referral_counts(as_of="2024-12-01")[a]), int(db.referral_counts(as_of="2024-01-01")[a])
        (1, 0)
        """
        cut = pd.Timestamp(self._as_of(as_of))
        tree = getattr(self, "referrals", None)
        if callable(tree):
            frame = tree(as_of=cut)
            if isinstance(frame, pd.DataFrame) and "referrals" in frame.columns:
                return frame["referrals"].astype(np.int64)
        links = self.frame("links", columns=["type", "dst", "since", "until"])
        valid = ((links["type"] == "referred_by") & ~(links["since"] > cut).fillna(False)
                 & ~(links["until"] <= cut).fillna(False)).to_numpy(dtype=bool)
        referrer = links.loc[valid, "dst"].to_numpy(dtype=np.int64)
        r = _core.group_stats(referrer, [], False)
        return pd.Series(r["rows"], index=pd.Index(r["key"], name="id"), name="referrals")

    # -- customers: coverage, names and dimensions ---------------------------
    def _per_customer(self, analysis: str, run: Callable[[pd.DataFrame, pd.Index], pd.DataFrame],
                      orders: pd.DataFrame, cut: int, by: Any = None, restamp: bool = True) -> pd.DataFrame:
        """A customer analysis as every store method gives it: ``run(purchases,
        customers)`` for every stored customer (once, or per group of ``by``),
        customers without purchases given :data:`NO_PURCHASE`'s values, the
        customer's ``name`` first, the attrs of the purchases read."""
        fill = NO_PURCHASE[analysis]

        def covered(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            return cover(run(part, ids), ids, fill, CUSTOMER)

        names = self.frame("customers", columns=["name"])["name"]
        out = covered(orders, names.index) if by is None else self._stacked(covered, orders, by, analysis)
        out.insert(0, "name", names.reindex(out.index.get_level_values(CUSTOMER)).to_numpy())
        _with_attrs(out, orders)
        if restamp:
            stamp(out, cut, times_ns(orders["ordered_at"]))
        return out

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
        orders, cut = self._purchases(as_of)
        return self._per_customer(
            "rfm", lambda part, _: rfm(part, CUSTOMER, "ordered_at", "amount", cut, bins, segments, ties),
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
        orders, cut = self._costed_purchases(as_of)
        return self._per_customer(
            "profit", lambda part, _: profit(part, CUSTOMER, "ordered_at", "amount", "cost", abc, cut),
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
        orders, cut = self._costed_purchases(as_of)
        names = self.frame("customers", columns=["name"])["name"]

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            return profit_by_period(part, CUSTOMER, "ordered_at", "amount", "cost", freq, cut)

        out = run(orders, None) if by is None else self._stacked(run, orders, by, "profit_by_period")
        out.insert(0, "name", names.reindex(out.index.get_level_values(CUSTOMER)).to_numpy())
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
        orders, cut = self._costed_purchases(as_of)

        def run(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            out = profit_tiers(part, CUSTOMER, "ordered_at", "amount", "cost", freq, period, abc, vip_top,
                               super_top, cut)
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
        ``profit``, ``margin`` (profit rate), ``share`` and ``abc``.

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
        products = self.frame("products", columns=["sku", "name", "category"])

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            lines = self._lines(part.loc[~part.index.duplicated()])
            if "category" in part.columns:  # the lines of this group's category only
                lines = lines[_text(lines["product_id"].map(products["category"])).isin(part["category"])]
            return product_profit(lines, abc=abc)

        out = run(orders, None) if by is None else self._stacked(run, orders, by, "product_profit")
        ids = out.index.get_level_values("product_id")
        for i, column in enumerate(["sku", "name", "category"]):
            out.insert(i, column, products[column].reindex(ids).to_numpy())
        return stamp(_with_attrs(out, orders), cut, times_ns(orders["ordered_at"]))

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
        orders, cut = self._costed_purchases(as_of)
        out = staff_performance(orders) if by is None else \
            self._stacked(lambda part, _: staff_performance(part), orders, by, "staff_performance")
        staff = self.frame("staff", columns=["name", "team"])
        ids = out.index.get_level_values("staff_id")
        out.insert(0, "name", staff["name"].reindex(ids).to_numpy())
        out.insert(1, "team", staff["team"].reindex(ids).to_numpy())
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
        orders, cut = self._purchases(as_of)
        # Referrals made up to the same point as the purchases.
        customers = self.frame("customers", columns=["phone", "email", "address"])
        referrals = self.referral_counts(as_of=pd.Timestamp(cut))
        return self._per_customer(
            "classify", lambda part, ids: classify(part, CUSTOMER, "ordered_at", "amount", cut, regular_min_purchases,
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
        orders, cut = self._purchases(as_of)
        return self._per_customer(
            "lifecycle", lambda part, ids: lifecycle(part, CUSTOMER, "ordered_at", "amount", cut, ids, **thresholds),
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
        cut = self._as_of(as_of)
        names = self.frame("customers", columns=["name"])["name"]

        def quadrants(deals: pd.DataFrame, _: pd.Index) -> pd.DataFrame:
            out = deal_quadrants(deals, as_of=cut, important_amount=important_amount, urgent_days=urgent_days,
                                 **self._stage_outcomes(deals))
            head = deals[["customer_id", "name", "stage"]].copy()
            head.insert(1, "customer", names.reindex(head["customer_id"].to_numpy()).to_numpy())
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
        cut = self._as_of(as_of)
        names = self.frame("customers", columns=["name"])["name"]

        def summary(deals: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
            out = deal_summary(deals, as_of=cut, important_amount=important_amount, urgent_days=urgent_days,
                               **self._stage_outcomes(deals))
            counts = out.drop(columns="win_rate").reindex(customers, fill_value=0.0)
            counts["win_rate"] = out["win_rate"].reindex(customers)
            counts.insert(0, "name", names.reindex(customers).to_numpy())
            return _by_customer(_with_attrs(counts, out))

        deals = self.sales._stored_at(cut)  # as the deals stood then (stage history)
        if by is None:
            return summary(deals, names.index)
        return self._stacked(summary, deals, self._customer_only(by, "deal_summary"), "deal_summary")

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
        orders, cut = self._purchases(as_of)
        tickets, surveys = self._service(cut)

        def run(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            # Counts only: the amounts play no part here.
            purchases = rhythm(part, CUSTOMER, "ordered_at", None, cut)["purchases"]
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
        orders, cut = self._purchases(as_of)
        return self._per_customer(
            "loyalty", lambda part, _: loyalty(part, CUSTOMER, "ordered_at", cut, tenure_full_days, weights),
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
        orders, cut = self._purchases(as_of)
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
        orders, cut = self._purchases(as_of)
        return self._per_customer(
            "churn_risk",
            lambda part, _: churn_risk(part, CUSTOMER, "ordered_at", cut, p_alive, prior_weight, alive_weight),
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
        orders, cut = self._purchases(as_of)
        tickets, surveys = self._service(cut)

        def run(part: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
            mine_t = tickets[tickets["customer_id"].isin(ids).to_numpy(dtype=bool)]
            mine_s = surveys[surveys["customer_id"].isin(ids).to_numpy(dtype=bool)]
            return health(part, CUSTOMER, "ordered_at", "amount", cut, mine_t if len(mine_t) else None,
                          mine_s if len(mine_s) else None, p_alive, weights)

        return self._per_customer("health", run, orders, cut, by)

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
        orders, cut = self._purchases(as_of)
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
        orders, cut = self._costed_purchases(as_of)
        out = performance(self._tagged(orders, names), names, CUSTOMER, "ordered_at", "amount", "cost", freq, cut)
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
        orders, cut = self._purchases(as_of)

        def run(part: pd.DataFrame, _: Any) -> pd.DataFrame:
            return cohort_retention(part, CUSTOMER, "ordered_at", freq, cut)

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
    out.index.name = CUSTOMER
    return out
