"""What the scoring analyses read of the store, and the point in time they
describe: the end of the data (:meth:`RecordReading.default_as_of`), the
purchases up to a point, their costs and lines, deal outcomes, and a customer
analysis covering every stored customer. The analyses themselves are in
store.py and _relationship.py; the rule for time and status is in store.py's
docstring.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from .. import _core
from ._columns import NS_PER_DAY, as_of_ns, end_of_data, stamp, times_ns, utc_now
from ._status import PURCHASE, deal_outcome, order_meaning
from .dimensions import NO_PURCHASE, cover

if TYPE_CHECKING:  # the Database that mixes these methods in has db.sales
    from ..sales import SalesMethods

__all__ = ["RecordReading", "event_times"]

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


class RecordReading:
    """The reading half of :class:`~crmcore.scoring.store.ScoringMethods`:
    the records and the point in time every analysis starts from."""

    _core: Any  # the Database's C++ store
    if TYPE_CHECKING:  # what these methods use of the Database they are part of
        def frame(self, kind: str, ids: Any = None, columns: Any = None, filters: Any = None, *,
                  order_by: Any = None, limit: int | None = None, offset: int | None = None) -> pd.DataFrame: ...
        def _stacked(self, run: Callable[[pd.DataFrame, pd.Index], pd.DataFrame], orders: pd.DataFrame, by: Any,
                     where: str, customers: pd.Index | None = None) -> pd.DataFrame: ...

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

    if TYPE_CHECKING:
        @property
        def sales(self) -> SalesMethods: ...

    def _data_mark(self, today: pd.Timestamp) -> "tuple | None":
        """What every committed write by any connection changes (the core's
        ``Store.data_mark``: the newest audit entry's number and hash, and
        SQLite's data_version) and the day (bounds count up to today); None
        on a scoped handle, which keeps no cache."""
        mark = getattr(self._core, "data_mark", None)
        if mark is None:
            return None
        return (*mark(), int(today.value))

    def _end_of_data(self, orders: pd.DataFrame | None = None) -> int:
        today = utc_now().normalize()
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

    def _as_of(self, as_of: Any, orders: pd.DataFrame | None = None, where: str | None = None) -> int:
        """``as_of`` in ns: the given point, else :meth:`default_as_of`; a
        bad one is refused naming ``where``, the function asked."""
        given = as_of_ns(as_of, where=where)
        return given if given is not None else self._end_of_data(orders)

    def _orders(self, as_of: Any, where: str | None = None) -> tuple[pd.DataFrame, int]:
        """Every order up to ``as_of`` (any status) and the point in ns."""
        orders = self.frame("orders", columns=PURCHASE_COLUMNS)
        cut = self._as_of(as_of, orders, where)
        return orders[(times_ns(orders["ordered_at"]) <= cut)], cut

    def _purchases(self, as_of: Any, where: str | None = None) -> tuple[pd.DataFrame, int]:
        """The purchases up to ``as_of``, with ``attrs["excluded_orders"]``."""
        orders, cut = self._orders(as_of, where)
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

    def _costed_purchases(self, as_of: Any, where: str | None = None) -> tuple[pd.DataFrame, int]:
        """Purchases whose missing cost is filled from their costed order
        lines; orders with no known cost at all count at zero cost, and
        ``attrs["uncosted_orders"]`` says how many there were."""
        orders, cut = self._purchases(as_of, where)
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
        cut = pd.Timestamp(self._as_of(as_of, where="referral_counts"))
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
        out.insert(0, "name", names.reindex(out.index.get_level_values(CUSTOMER)).array)  # (.array: str when empty too)
        _with_attrs(out, orders)
        if restamp:
            stamp(out, cut, times_ns(orders["ordered_at"]))
        return out
