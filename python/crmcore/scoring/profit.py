"""Profitability: each customer's profit contribution since the first
purchase and per period, profit tiers (ABC / Pareto and normal / VIP /
super), product profit rates and staff performance weighted by margin."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import _core
from .._args import _invalid, _number
from ._columns import TIME_RANGE, Keys, column, flag_overflow, floats, stamp, timestamps, upto

__all__ = ["product_profit", "profit", "profit_by_period", "profit_tiers", "staff_performance"]

_FREQS = {"Y": "Y", "A": "Y", "Q": "Q", "M": "M"}


def _margin(profit: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(revenue != 0, profit / revenue, np.nan)


def _difference(revenue: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """revenue - cost; inf - inf (both totals overflowed) is NaN without numpy's warning,
    the overflow rule reports it."""
    with np.errstate(invalid="ignore"):
        return revenue - cost


def _overall_margin(profit: np.ndarray, revenue: np.ndarray) -> float:
    """Total profit / total revenue over the rows whose totals are finite.
    The ratio does not change when both are scaled by the same power of two,
    so they are summed scaled to at most 1: totals near the double range
    cannot overflow it."""
    finite = np.isfinite(profit) & np.isfinite(revenue)
    top = float(np.abs(revenue[finite]).max()) if finite.any() else 0.0
    if top == 0.0:
        return np.nan
    exponent = np.frexp(top)[1]
    return float(np.ldexp(profit[finite], -exponent).sum() / np.ldexp(revenue[finite], -exponent).sum())


def _sums(keys: Keys, columns: Sequence[np.ndarray], name: str) -> tuple[pd.Index, np.ndarray, list]:
    r = _core.group_stats(keys.codes, list(columns), False)
    return keys.index(r["key"], name), r["rows"], r["sum"]


def _cutoffs(where: str, abc: Any) -> list:
    """The ABC cut-offs: increasing shares in (0, 1]."""
    try:
        cutoffs = [float(c) for c in abc]
    except (TypeError, ValueError):
        raise _invalid(where, "abc", f"must be a list of increasing shares in (0, 1], got {abc!r}") from None
    if any(not 0 < c <= 1 for c in cutoffs) or any(b <= a for a, b in zip(cutoffs, cutoffs[1:])):
        raise _invalid(where, "abc", f"must be a list of increasing shares in (0, 1], got {abc!r}")
    return cutoffs


def _abc(values: np.ndarray, cutoffs: Sequence[float], labels: Sequence[str] | None = None) -> dict:
    labels = list(labels) if labels is not None else [chr(ord("A") + i) for i in range(len(cutoffs) + 1)]
    if len(labels) != len(cutoffs) + 1:
        raise ValueError(f"{len(cutoffs)} cut-offs need {len(cutoffs) + 1} labels")
    r = _core.pareto_classes(np.ascontiguousarray(values, dtype=np.float64), [float(c) for c in cutoffs])
    # A value that is not finite (an overflowed total) has class -1: missing.
    r["label"] = pd.Categorical.from_codes(r["cls"].astype(np.int64), categories=labels, ordered=True)
    return r


def profit(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    cost: str = "cost",
    abc: Sequence[float] = (0.8, 0.95),
    as_of: Any = None,
) -> pd.DataFrame:
    """Each customer's profit contribution over their history up to ``as_of``.

    Returns, indexed by customer id: ``orders``, ``revenue``, ``cost``,
    ``profit`` (revenue - cost), ``margin`` (profit / revenue),
    ``first_purchase``, ``last_purchase``, ``share`` of the total positive
    profit, and the Pareto class ``abc``: A = the top customers making the
    first ``abc[0]`` (80%) of profit, B up to ``abc[1]`` (95%), C the rest
    (and everyone with no positive profit). ``as_of`` defaults to the end of
    the data (midnight after the latest purchase); later purchases are left
    out; the point and window are in ``result.attrs["as_of"]`` and
    ``["window"]``. Totals beyond the range of a double follow the rule of
    :class:`~crmcore.scoring.TotalOverflowWarning`.

    ``tx`` has one row per purchase; ``customer``, ``date``, ``amount`` and ``cost`` name its columns (customer id,
    purchase time, amount, cost).

    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2], "date": pd.to_datetime(["2024-01-01"] * 3),
    ...                    "amount": [10.0, 20.0, 5.0], "cost": [6.0, 12.0, 1.0]})
    >>> profit(tx)["profit"].tolist()
    [12.0, 4.0]
    """
    cutoffs = _cutoffs("profit", abc)
    keys, ns, (amt, cst), cut = upto(tx, customer, date, [amount, cost], as_of, "profit")
    index, rows, (revenue, costs) = _sums(keys, [amt, cst], customer)
    spans = _core.purchase_rhythm(keys.codes, ns, None, None)
    gain = _difference(revenue, costs)
    classes = _abc(gain, cutoffs)
    out = pd.DataFrame(
        {
            "orders": rows,
            "revenue": revenue,
            "cost": costs,
            "profit": gain,
            "margin": _margin(gain, revenue),
            "first_purchase": timestamps(spans["first"]),
            "last_purchase": timestamps(spans["last"]),
            "share": classes["share"],
            "abc": classes["label"],
        },
        index=index,
    )
    return flag_overflow(stamp(out, cut, ns), ["revenue", "cost", "profit"], "profit")


def profit_by_period(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    cost: str = "cost",
    freq: str = "Y",
    as_of: Any = None,
) -> pd.DataFrame:
    """Profit contribution per customer and calendar period, with the change
    from the previous period.

    ``freq`` is "Y" (calendar years), "Q" or "M". Rows are indexed by
    (customer id, period) and run, for every customer, from the period of
    their first purchase to the period holding ``as_of`` (default: the end of
    the data, midnight after the latest purchase, so the latest period in the
    data), so a period without purchases shows as zero profit (and as a fall
    in ``change``); purchases after ``as_of`` are left out. ``change`` is
    profit minus the previous period's profit (NaN in a customer's first
    period); ``pct_change`` divides it by the absolute previous profit (NaN
    when that was zero). The point and window are in ``result.attrs``.
    Totals beyond the range of a double follow the rule of
    :class:`~crmcore.scoring.TotalOverflowWarning`.

    ``tx`` has one row per purchase; ``customer``, ``date``, ``amount`` and ``cost`` name its columns (customer id,
    purchase time, amount, cost).

    >>> tx = pd.DataFrame({"customer_id": [1, 1], "date": pd.to_datetime(["2023-05-01", "2024-02-01"]),
    ...                    "amount": [10.0, 30.0], "cost": [5.0, 10.0]})
    >>> profit_by_period(tx)["change"].tolist()
    [nan, 15.0]
    """
    return _profit_by_period(tx, customer, date, amount, cost, freq, as_of, "profit_by_period")


def _freq(freq: Any, analysis: str) -> str:
    try:
        return _FREQS[str(freq).upper()]
    except KeyError:
        raise _invalid(analysis, "freq", f"must be 'Y', 'Q' or 'M', got {freq!r}") from None


def _profit_by_period(tx, customer, date, amount, cost, freq, as_of, analysis: str) -> pd.DataFrame:
    """:func:`profit_by_period`, naming ``analysis`` (the caller) in its overflow warning."""
    code = _freq(freq, analysis)
    keys, ns, (amt, cst), cut = upto(tx, customer, date, [amount, cost], as_of, analysis)
    # The period holding the last instant up to as_of: with the default as_of
    # (midnight after the last day) that is the last day's period.
    last = pd.Timestamp(cut - 1).to_period(code).ordinal
    r = _core.profit_by_period(keys.codes, ns, amt, cst, code, last)
    periods = pd.PeriodIndex.from_ordinals(r["period"], freq=code)
    index = pd.MultiIndex.from_arrays([keys.index(r["customer"], customer), periods], names=[customer, "period"])
    previous = r["profit"] - r["change"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(previous != 0, r["change"] / np.abs(previous), np.nan)
    out = pd.DataFrame(
        {
            "orders": r["orders"],
            "revenue": r["revenue"],
            "cost": r["cost"],
            "profit": r["profit"],
            "margin": _margin(r["profit"], r["revenue"]),
            "change": r["change"],
            "pct_change": pct,
        },
        index=index,
    )
    return flag_overflow(stamp(out, cut, ns), ["revenue", "cost", "profit"], analysis)


# The trailing window profit_tiers ranks on, by freq: "last year" is the year before as_of.
_SPAN = {"Y": pd.DateOffset(years=1), "Q": pd.DateOffset(months=3), "M": pd.DateOffset(months=1)}


def profit_tiers(
    tx: pd.DataFrame,
    customer: str = "customer_id",
    date: str = "date",
    amount: str = "amount",
    cost: str = "cost",
    freq: str = "Y",
    period: Any = None,
    abc: Sequence[float] = (0.8, 0.95),
    vip_top: float = 0.10,
    super_top: float = 0.01,
    as_of: Any = None,
) -> pd.DataFrame:
    """Tiers every customer by their profit contribution rate over the last
    year (or quarter, month: ``freq``) before ``as_of``: last year's profit,
    not the order count.

    The window is the ``freq`` span that ends at ``as_of`` (default: the end
    of the data, midnight after the latest purchase): (as_of - 1 year,
    as_of] for "Y". It always covers a whole year of trade, so one order
    dated after the rest cannot move the tiers onto an almost empty calendar
    period. ``period`` (e.g. "2024") tiers a calendar period instead (up to
    ``as_of`` when that falls inside it). Every customer who bought up to
    the end of the window is tiered, with zero profit when silent in it.

    Returns, indexed by customer id: ``profit`` in the window,
    ``contribution`` (share of the window's total positive profit),
    ``cum_contribution``, ``rank`` (1 = largest profit; equal profits by
    ascending id), ``abc`` (A = the top customers making ``abc[0]`` = 80% of
    the profit, B up to 95%, C the rest and all without positive profit) and
    ``tier``: "super" for the top ``super_top`` (1%) of customers, "VIP" for
    the rest of the top ``vip_top`` (10%), "normal" otherwise; only customers
    with positive profit can be super or VIP. ``result.attrs["window"]``
    holds the window's (start, end), ``["as_of"]`` the point and
    ``["period"]`` the calendar period when one was given. A profit beyond
    the range of a double follows the rule of
    :class:`~crmcore.scoring.TotalOverflowWarning` (no class, no tier).

    ``tx`` has one row per purchase; ``customer``, ``date``, ``amount`` and ``cost`` name its columns (customer id,
    purchase time, amount, cost).

    >>> tx = pd.DataFrame({"customer_id": [1, 2, 3], "date": pd.to_datetime(["2024-01-01"] * 3),
    ...                    "amount": [100.0, 20.0, 5.0], "cost": [20.0, 10.0, 4.0]})
    >>> profit_tiers(tx, vip_top=0.5, super_top=0.2)["tier"].tolist()
    ['super', 'VIP', 'normal']
    """
    cutoffs = _cutoffs("profit_tiers", abc)
    code = _freq(freq, "profit_tiers")
    vip_top = _number(vip_top, "profit_tiers", "vip_top", low=0, high=1)
    super_top = _number(super_top, "profit_tiers", "super_top", low=0, high=vip_top)
    keys, ns, (amt, cst), cut = upto(tx, customer, date, [amount, cost], as_of, "profit_tiers")
    end = pd.Timestamp(cut)
    if period is None:
        try:
            chosen, start = None, end - _SPAN[code]
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            raise _invalid("profit_tiers", "freq", f"the {freq} window before as_of {end} starts before the dates "
                                                   f"the store keeps ({TIME_RANGE})") from None
        inside = ns > start.value
    else:
        try:
            chosen = pd.Period(period, freq=code)
        except (ValueError, TypeError) as e:
            raise _invalid("profit_tiers", "period", f"{period!r} is not a {freq} period: {e}") from None
        # The period's last nanosecond (end_time stops at microseconds), or as_of inside it.
        start, end = chosen.start_time, min(end, pd.Timestamp((chosen + 1).start_time.value - 1))
        inside = (ns >= start.value) & (ns <= end.value)
    seen = ns <= end.value
    # Everyone seen by the end of the window, with the profit made inside it (0 when silent).
    with np.errstate(invalid="ignore"):
        gain_rows = np.where(inside, _difference(amt, cst), 0.0)
    index, _, (gain,) = _sums(keys.subset(seen), [gain_rows[seen]], customer)
    classes = _abc(gain, cutoffs)
    n = len(gain)
    rank = classes["rank"]
    positive = gain > 0
    tier = np.where(positive & (rank <= np.ceil(super_top * n)), 2, np.where(positive & (rank <= np.ceil(vip_top * n)), 1, 0))
    tier[classes["cls"] < 0] = -1  # an overflowed profit has no class and no tier
    out = pd.DataFrame(
        {
            "profit": gain,
            "contribution": classes["share"],
            "cum_contribution": classes["cum_share"],
            "rank": rank,
            "abc": classes["label"],
            "tier": pd.Categorical.from_codes(tier, categories=["normal", "VIP", "super"], ordered=True),
        },
        index=index,
    )
    stamp(out, cut)
    out.attrs["window"] = (start, end)
    out.attrs["period"] = chosen
    return flag_overflow(out, ["profit"], "profit_tiers")


def product_profit(
    lines: pd.DataFrame,
    product: str = "product_id",
    quantity: str = "quantity",
    price: str = "unit_price",
    cost: str = "unit_cost",
    products: pd.DataFrame | None = None,
    abc: Sequence[float] = (0.8, 0.95),
) -> pd.DataFrame:
    """Profit rate of each product from order lines, to push high-margin products.

    Line revenue is quantity x price and cost quantity x unit cost; a line
    without a unit cost takes the product's ``unit_cost`` from ``products``
    (a frame indexed by product id) when given. Returns, indexed by product
    id: ``lines``, ``quantity``, ``revenue``, ``cost``, ``profit``,
    ``margin`` (profit rate = profit / revenue), ``share`` of total positive
    profit and ``abc`` class; lines whose cost stays unknown count in
    ``revenue`` but are left out of ``cost``, ``profit`` and ``margin``.
    Totals beyond the range of a double follow the rule of
    :class:`~crmcore.scoring.TotalOverflowWarning`.

    >>> lines = pd.DataFrame({"product_id": [7, 7, 8], "quantity": [1.0, 2.0, 1.0],
    ...                       "unit_price": [10.0, 10.0, 50.0], "unit_cost": [4.0, 4.0, 45.0]})
    >>> product_profit(lines)["margin"].round(2).tolist()
    [0.6, 0.1]
    """
    cutoffs = _cutoffs("product_profit", abc)
    keys = Keys(column(lines, product, "product"), "order_lines")
    qty = floats(column(lines, quantity, "quantity"))
    unit_price = floats(column(lines, price, "price"))
    unit_cost = floats(column(lines, cost, "cost")) if cost in lines.columns else np.full(len(lines), np.nan)
    if products is not None and "unit_cost" in products.columns:
        fallback = floats(pd.Series(column(lines, product, "product")).map(products["unit_cost"]))
        unit_cost = np.where(np.isnan(unit_cost), fallback, unit_cost)
    with np.errstate(over="ignore"):  # a line beyond the double range: inf, reported by the overflow rule
        revenue_line = qty * unit_price
        cost_line = qty * unit_cost
    known = ~np.isnan(unit_cost)
    index, rows, (q, revenue, known_revenue, costs) = _sums(
        keys, [qty, revenue_line, np.where(known, revenue_line, np.nan), cost_line], product
    )
    gain = _difference(known_revenue, costs)
    classes = _abc(gain, cutoffs)
    out = pd.DataFrame(
        {
            "lines": rows,
            "quantity": q,
            "revenue": revenue,
            "cost": costs,
            "profit": gain,
            "margin": _margin(gain, known_revenue),
            "share": classes["share"],
            "abc": classes["label"],
        },
        index=index,
    )
    return flag_overflow(out, ["quantity", "revenue", "cost", "profit"], "product_profit")


def staff_performance(
    orders: pd.DataFrame,
    staff: str = "staff_id",
    amount: str = "amount",
    cost: str = "cost",
) -> pd.DataFrame:
    """Sales by each staff member, weighted by the margin of what they sold.

    Orders without a staff member are left out. Returns, indexed by staff
    id: ``orders``, ``revenue``, ``cost``, ``profit``, ``margin`` (profit
    rate), ``margin_index`` (their margin / the margin over all their
    colleagues' sales), ``weighted_sales`` (revenue x margin_index: sales
    counted at what they earn, so a high-revenue low-margin seller does not
    outrank a profitable one) and ``rank`` by weighted sales (1 = best).
    Totals beyond the range of a double follow the rule of
    :class:`~crmcore.scoring.TotalOverflowWarning`; the overall margin is of
    the other staff members' sales.

    ``staff``, ``amount`` and ``cost`` name the columns of ``orders``.

    >>> orders = pd.DataFrame({"staff_id": [1, 1, 2], "amount": [100.0, 100.0, 150.0],
    ...                        "cost": [90.0, 90.0, 75.0]})
    >>> staff_performance(orders)["rank"].tolist()
    [2, 1]
    """
    who = column(orders, staff, "staff")
    sold = who.notna().to_numpy()
    orders = orders[sold]
    keys = Keys(column(orders, staff, "staff"), "orders")
    index, rows, (revenue, costs) = _sums(
        keys, [floats(column(orders, amount, "amount")), floats(column(orders, cost, "cost"))], staff
    )
    gain = _difference(revenue, costs)
    margin = _margin(gain, revenue)
    overall = _overall_margin(gain, revenue)
    margin_index = margin / overall if overall else np.full_like(margin, np.nan)
    with np.errstate(invalid="ignore"):  # inf x 0 for an overflowed revenue: NaN, flagged below
        weighted = revenue * margin_index
    order = np.argsort(-np.nan_to_num(weighted, nan=-np.inf), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    out = pd.DataFrame(
        {
            "orders": rows,
            "revenue": revenue,
            "cost": costs,
            "profit": gain,
            "margin": margin,
            "margin_index": margin_index,
            "weighted_sales": weighted,
            "rank": rank,
        },
        index=index,
    )
    return flag_overflow(out, ["revenue", "cost", "profit"], "staff_performance")
