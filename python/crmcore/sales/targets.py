"""Targets (quotas) and their attainment, for ``db.sales.attainment``.

A target is a record of kind ``targets``: a person (``staff_id``), a team
or a region (the customers' ``region``), optionally a product line
(``product_category``, the products' ``category``; alone it is the whole
line's target), a period (``"2024"``, ``"2024-Q1"`` or ``"2024-03"``, checked by the store),
a metric (one of :data:`METRICS`) and the amount to reach. Every metric is
a stream of dated events credited to one person (the deal's, order's,
invoice's or interaction's owner) and about one customer; a team's figure
is the sum of its people's, a region's that of its customers', and with
``rollup`` a manager's also counts their reports'. A product line's target
counts only the order lines of products in that category: bookings are the
lines' amounts (quantity x unit price), margin that less their cost (the
line's unit cost, else the product's), by order date, for the order's staff
member.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from .. import _core
from ..scoring._columns import days_between, times_ns
from ._base import SalesPart
from ._cache import masked, valid_or
from ._text import text_codes

#: The metrics a target can measure, and what each counts in its period.
METRICS = {
    "bookings": "amount of the deals won (by close date), for the deal's owner",
    "deals_won": "number of deals won (by close date), for the deal's owner",
    "margin": "orders' amount less their cost (by order date), for the order's staff member",
    "new_customers": "customers whose first won deal closed in the period, for that deal's owner",
    "activities": "interactions logged (by when they happened), for the staff member who had them",
    "invoiced": "amount of the invoices issued (neither draft nor void), for the invoice's owner "
                "(else its deal's)",
    "collected": "cash received on invoices (payments by date paid; credit applied is not cash), "
                 "for the invoice's owner (else its deal's)",
}


def target_period(text: str) -> pd.Period:
    """The period a target's text names (a year, a quarter or a month).

    >>> target_period("2024-Q1"), target_period("2024-03"), target_period("2024")
    (Period('2024Q1', 'Q-DEC'), Period('2024-03', 'M'), Period('2024', 'Y-DEC'))
    """
    if "-Q" in text:
        return pd.Period(text.replace("-", ""), "Q")
    return pd.Period(text, "M" if "-" in text else "Y")


def period_months(texts: Any) -> "tuple[np.ndarray, np.ndarray]":
    """First and end month (end excluded) of each period text, as months
    since January 1970 (numpy's datetime64[M]): exact for any year, where
    nanoseconds reach only 1678-2261.

    >>> [m.tolist() for m in period_months(["2024-Q2", "1970", "1969-12"])]
    [[651, 0, -1], [654, 12, 0]]
    """
    # Factorized as they come (Arrow text is dictionary-encoded in Arrow): making them str first cost more
    # than the report's sums.
    codes, distinct = pd.factorize(texts if isinstance(texts, pd.Series) else np.asarray(texts, dtype=object))
    year, first, length = (np.empty(len(distinct), dtype=np.int64) for _ in range(3))
    for i, text in enumerate(str(t) for t in distinct):   # a few distinct periods
        year[i] = int(text[:4])
        if "-Q" in text:
            first[i], length[i] = (int(text[-1]) - 1) * 3 + 1, 3
        elif "-" in text:
            first[i], length[i] = int(text[-2:]), 1
        else:
            first[i], length[i] = 1, 12
    months = ((year - 1970) * 12 + first - 1)[codes]      # months since 1970-01, numpy's datetime64[M]
    return months, months + length[codes]


#: The months (since January 1970) whose first instant int64 nanoseconds can hold.
_NS_MONTHS = ((1678 - 1970) * 12, (2262 - 1970) * 12 - 1)


def period_bounds(texts: Any) -> "tuple[np.ndarray, np.ndarray]":
    """Start and end (nanoseconds, end excluded) of each period text (as
    :func:`target_period` reads them), all at once: a Python loop over
    pd.Period took most of the time of a report on a few thousand targets.

    >>> [pd.Timestamp(x).strftime("%Y-%m-%d") for x in np.concatenate(period_bounds(["2024-Q2", "2024-12", "2023"]))]
    ['2024-04-01', '2024-12-01', '2023-01-01', '2024-07-01', '2025-01-01', '2024-01-01']
    """
    first, end = period_months(texts)
    return _month_ns(first), _month_ns(end)


def _month_ns(months: np.ndarray) -> np.ndarray:
    """The first instant of each month (since 1970) in nanoseconds, clipped
    to the months nanoseconds reach (1678-2261): numpy wraps silently beyond."""
    return np.clip(months, *_NS_MONTHS).astype("datetime64[M]").astype("datetime64[ns]").astype(np.int64)


def attainment_table(targets: pd.DataFrame, events: "pd.DataFrame | Mapping[str, pd.DataFrame]", as_of: int,
                     below: "dict[int, list[int]] | None" = None, teams: "pd.Series | None" = None,
                     lines: "pd.DataFrame | None" = None) -> pd.DataFrame:
    """Attainment of ``targets`` (indexed by id; columns staff_id, team,
    period, metric, amount, optionally region and product_category) at
    ``as_of`` (nanoseconds): the work of :meth:`TargetMethods.attainment`
    without the store.

    ``events`` is either a mapping from each metric's name to a frame of its
    events (owner_id, at, value; no value column: each event counts one;
    an optional boolean ``counts``, False on rows that count nowhere;
    region where regional targets read it), as the store's columns hold
    them, or one frame with a ``metric`` column (and team, region, category
    and everyone: see below). From the mapping, the targets of a person
    (spread over everyone below them with ``below``) and, given ``teams``
    (each staff member's team, indexed by staff id), of a team (spread over
    its members) come off one grid per owner and month that C++ fills in a
    single pass over the typed columns (``_core.attainment_sums``: no text
    per event, the metric known per stream). Every other target (a region,
    a product line, a team without ``teams``) is summed from the events as
    one frame: ``lines`` holds the order lines' events (metric, category,
    owner_id, at, value, region) for product-line targets.

    In the one-frame form each row is a thing a metric counts, credited to
    ``owner_id``, whose team is ``team``; ``category`` the product line of
    an order line's event, missing for the others; ``everyone`` 0 on the
    rows a whole line's target counts. Per metric the events are summed in
    C++ per person (or team) and month, and each target's sum is two reads
    of the running totals: all targets at once, no loop over them.

    >>> t = pd.DataFrame({"staff_id": [7], "team": [None], "period": ["2024-01"], "metric": ["bookings"],
    ...                   "amount": [100.0]}, index=[1])
    >>> e = pd.DataFrame({"owner_id": [7, 7], "value": [30.0, 50.0],
    ...                   "at": pd.to_datetime(["2024-01-05", "2024-02-01"])})
    >>> attainment_table(t, {"bookings": e}, pd.Timestamp("2024-01-16").value)[["actual", "gap", "projected"]].round(6).values.tolist()
    [[30.0, 70.0, 62.0]]
    """
    first, last = period_months(targets["period"])
    start, end = _month_ns(first), _month_ns(last)
    metrics = targets["metric"].fillna("bookings")
    metric = metrics.to_numpy(dtype=object)
    got = np.zeros(len(targets))
    rest = np.ones(len(targets), dtype=bool)
    if isinstance(events, Mapping):
        rest = ~_grid_actuals(targets, events, metric, first, last, below, teams, got)
        if rest.any():
            events = _one_frame(events, lines)
    if rest.any():
        got[rest] = _stream_actuals(targets[rest], events, metric[rest], first[rest], last[rest], below, teams)
    # The frame built once from NumPy columns: column by column assignment
    # and pandas arithmetic on the few thousand targets took longer than
    # summing a million events.
    target = targets["amount"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A period beyond what nanoseconds reach has start == end: gone by (before 1678) or to come.
        # Spans by days_between: as_of - start in int64 wraps when they are
        # more than 2^63 ns (292 years) apart.
        elapsed = np.where(end > start, np.clip(days_between(as_of, start) / days_between(end, start), 0.0, 1.0),
                           (first < _NS_MONTHS[0]).astype(float))
        attainment = np.where(target > 0, got / target, np.nan)
        projected = np.where(elapsed > 0, got / elapsed, np.nan)
        pace = np.where(target > 0, projected / target, np.nan)
    columns = {c: targets[c].array for c in ("staff_id", "team", "region", "product_category", "period")
               if c in targets.columns}
    # The metric as pandas holds it (objects would be made str again, row by row).
    return pd.DataFrame({**columns, "metric": metrics.array, "target": target, "actual": got, "attainment": attainment,
                         "gap": target - got, "elapsed": elapsed, "projected": projected, "pace": pace},
                        index=targets.index)


def _grid_actuals(targets: pd.DataFrame, sources: "Mapping[str, pd.DataFrame]", metric: np.ndarray,
                  first: np.ndarray, last: np.ndarray, below: "dict[int, list[int]] | None",
                  teams: "pd.Series | None", got: np.ndarray) -> np.ndarray:
    """Into ``got``, the sums of the targets that name only a person or
    (with ``teams``) only a team, on a metric of ``sources``, with no
    region or product line: the events' typed columns go to C++ as they
    are (owner ids, their missing mask, times in ns, values), each target
    becomes credits (target, owner) and C++ reads them off its grid.
    Returns which targets it summed."""
    names = list(sources)
    code = np.full(len(metric), -1, dtype=np.int32)
    for i, name in enumerate(names):                  # a few metrics
        code[metric == name] = i
    others = _given(targets, "region") | _given(targets, "product_category")
    person, team = _given(targets, "staff_id"), _given(targets, "team")
    people = (code >= 0) & ~others & person & ~team
    grouped = (code >= 0) & ~others & team & ~person if teams is not None else np.zeros(len(targets), dtype=bool)
    spread, owner = _people_of(targets, people, below)
    if grouped.any():
        t_pos, t_people = _members_of(targets, grouped, teams)
        spread, owner = np.concatenate([spread, t_pos]), np.concatenate([owner, t_people])
    streams = []
    for i, name in enumerate(names):
        frame = sources[name]
        ids, missing = _ids(frame["owner_id"])
        if "counts" in frame.columns:  # rows that count nowhere: as if they had no owner, nothing copied
            off = ~frame["counts"].to_numpy(dtype=bool)
            missing = off.view(np.uint8) if missing is None else (missing.view(bool) | off).view(np.uint8)
        value = _values(frame["value"]) if "value" in frame.columns else None
        streams.append((i, ids, missing, times_ns(frame["at"]), value))
    got += _core.attainment_sums(streams, len(names), spread.astype(np.int64), owner.astype(np.int64),
                                 code[spread], first, last)
    return people | grouped


def _ids(values: pd.Series) -> "tuple[np.ndarray, np.ndarray | None]":
    """Ids as int64 and, for a nullable column, its missing mask (uint8),
    both without a copy where pandas holds them so: filling the missing
    ones in a copy of a million ids cost as much as summing them."""
    array = values.array
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)  # pandas' masked arrays
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray) and data.dtype.kind in "iu":
        return data.astype(np.int64, copy=False), (mask.view(np.uint8) if mask.any() else None)
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return values.to_numpy(dtype=np.int64, copy=False), None
    missing = values.isna().to_numpy(dtype=bool)
    return values.to_numpy(dtype=np.int64, na_value=0), (missing.view(np.uint8) if missing.any() else None)


def _values(values: pd.Series) -> np.ndarray:
    """Amounts as float64, NaN where missing (the kernels skip NaN): a
    float64 column as it is, others converted."""
    if isinstance(values.dtype, np.dtype) and values.dtype == np.float64:
        return values.to_numpy(copy=False)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _one_frame(sources: "Mapping[str, pd.DataFrame]", lines: "pd.DataFrame | None") -> pd.DataFrame:
    """The events of every metric as one frame (metric, category,
    everyone): what the targets the grid does not sum (regions, product
    lines, teams without the staff's teams) read."""
    parts = [(f[f["counts"].to_numpy(dtype=bool)].drop(columns="counts") if "counts" in f.columns else f)
             .assign(metric=name, category=None, **({} if "value" in f.columns else {"value": 1.0}))
             for name, f in sources.items()]
    if lines is not None:
        parts.append(lines)
    if not parts:
        return pd.DataFrame({"metric": pd.Series(dtype=object), "owner_id": pd.array([], dtype="Int64"),
                             "at": pd.Series(dtype="datetime64[ns]"), "value": pd.Series(dtype=float),
                             "category": pd.Series(dtype=object), "everyone": pd.Series(dtype=np.int64)})
    return pd.concat(parts, ignore_index=True).assign(everyone=0)


def _stream_actuals(targets: pd.DataFrame, events: pd.DataFrame, metric: np.ndarray, first_month: np.ndarray,
                    end_month: np.ndarray, below: "dict[int, list[int]] | None",
                    teams: "pd.Series | None") -> np.ndarray:
    """The sums of ``targets`` (periods [first_month, end_month) in months
    since 1970) from ``events`` as one frame (see :func:`attainment_table`),
    per stream of (metric, product line)."""
    got = np.zeros(len(targets))
    line = _named(targets, "product_category")
    whole = np.ones(len(targets), dtype=bool)         # a line's target naming nobody: the whole line
    named = {column: _named(targets, column) != "" for column in ("staff_id", "team", "region")}
    for column in named.values():
        whole &= ~column
    # Every event's month once (in C++: months since 1970, NaT stays int64
    # min), for every keying below; targets are whole months.
    month_all = _core.months(times_ns(events["at"]))
    value_all = events["value"].to_numpy(dtype=float, na_value=0.0)
    # The metric and line of each event coded once, in C++, against the few the targets name.
    streams = list(dict.fromkeys(zip(metric, line)))  # in order of first use
    names = sorted({str(n) for n, _ in streams})
    event_metric = text_codes(events["metric"], names)
    lines = sorted({str(c) for _, c in streams if c != ""})
    event_line = text_codes(events["category"], lines) if "category" in events.columns else None
    for name, category in streams:
        stream = event_metric == names.index(str(name))
        if event_line is not None:
            stream = stream & (event_line == (lines.index(str(category)) if category != "" else -1))
            if category == "":  # no line: the event has none (text outside the targets' lines is a line too)
                stream = stream & events["category"].isna().to_numpy(dtype=bool)
        every = bool(stream.all())                       # one stream: no copies, no positions
        rows = np.arange(0) if every else np.flatnonzero(stream)
        at, value = (month_all, value_all) if every else (month_all[rows], value_all[rows])
        of_stream = (metric == name) & (line == category)
        # People's targets (spread over everyone below with rollup) and, with
        # teams, teams' targets spread over their members: one pass over the
        # events keyed by owner, each target the sum of its spread.
        spread, people = _people_of(targets, of_stream & named["staff_id"], below)
        if teams is not None:
            t_pos, t_people = _members_of(targets, of_stream & named["team"], teams)
            spread, people = np.concatenate([spread, t_pos]), np.concatenate([people, t_people])
        if len(spread):
            who = events["owner_id"] if every else events["owner_id"].iloc[rows]
            sums = _sums_in_periods(who, at, value, pd.Series(people), first_month[spread], end_month[spread])
            got += np.bincount(spread, weights=sums, minlength=len(targets))
        for column, key in (("team", "team"), ("region", "region"), ("whole", "everyone")):
            if column == "team" and teams is not None:
                continue
            mine = of_stream & (whole if column == "whole" else named[column])
            if mine.any():
                whose = pd.Series(0, index=targets.index[mine]) if column == "whole" else targets[column][mine]
                who = events[key] if every else events[key].iloc[rows]
                got[mine] = _sums_in_periods(who, at, value, whose, first_month[mine], end_month[mine])
    return got


def _people_of(targets: pd.DataFrame, mine: np.ndarray,
               below: "dict[int, list[int]] | None") -> "tuple[np.ndarray, np.ndarray]":
    """The people's targets among ``mine`` as pairs (target position, staff
    id): each target with its own person, or with ``below`` once per person
    at or below them."""
    pos = np.flatnonzero(mine)
    whose = targets["staff_id"].to_numpy(dtype=np.int64, na_value=0)[pos]
    if below is None:
        return pos, whose
    people = [below.get(int(w), [int(w)]) for w in whose]
    spread = np.repeat(pos, [len(p) for p in people])
    return spread, np.fromiter((x for p in people for x in p), dtype=np.int64, count=len(spread))


def _members_of(targets: pd.DataFrame, mine: np.ndarray, teams: pd.Series) -> "tuple[np.ndarray, np.ndarray]":
    """The teams' targets among ``mine`` as pairs (target position, staff
    id), one per member of the target's team (``teams``: each staff
    member's team by staff id); a team with no members gives no pair."""
    pos = np.flatnonzero(mine)
    # The staff's and the targets' team names coded together, then the staff
    # grouped by code: NumPy on a few hundred names, no search per target.
    known = teams.notna().to_numpy(dtype=bool)
    staff_names = np.asarray(teams.to_numpy(dtype=object)[known], dtype=str)
    wanted = np.asarray(targets["team"].to_numpy(dtype=object)[pos], dtype=str)
    codes, names = pd.factorize(np.concatenate([staff_names, wanted]))
    staff_code, target_code = codes[:len(staff_names)], codes[len(staff_names):]
    order = np.argsort(staff_code, kind="stable")
    count = np.bincount(staff_code, minlength=len(names))
    first = np.cumsum(count) - count
    per = count[target_code]
    within = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    staff = np.asarray(teams.index, dtype=np.int64)[known][order]
    return np.repeat(pos, per), staff[np.repeat(first[target_code], per) + within]


def _given(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Where ``column`` of ``frame`` holds a value (not missing, not ""):
    :func:`_named` without making Python objects of the column."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.notna().to_numpy(dtype=bool)
    arrow = getattr(values.array, "_pa_array", None)  # the store's text: its lengths, no str objects
    if arrow is not None and str(arrow.type) in ("string", "large_string"):
        import pyarrow.compute as pc
        return pc.fill_null(pc.greater(pc.utf8_length(arrow), 0), False).to_numpy(zero_copy_only=False)
    return values.notna().to_numpy(dtype=bool) & (values != "").to_numpy(dtype=bool, na_value=False)


def _named(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` of ``frame`` as objects, with "" where it is missing or
    absent: one value to compare on, whether the frame has it or not."""
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return frame[column].to_numpy(dtype=object, na_value="")


def _sums_in_periods(who: pd.Series, month: np.ndarray, value: np.ndarray, whose: pd.Series, start: np.ndarray,
                     end: np.ndarray) -> np.ndarray:
    """For each (whose, [start, end)) in months since 1970 the sum of
    ``value`` over the events of that person or team (``who``) in those
    ``month``s, summed in C++ (``_core.month_sums``: per key and month in one
    pass, then running totals). The keys
    are the few the targets name: each event's is found by id (people) or
    coded in C++ against them (teams, regions: text), never by hashing every
    event's value."""
    keys = pd.unique(whose.dropna().to_numpy(dtype=object))
    if pd.api.types.is_numeric_dtype(who.dtype) and pd.api.types.is_numeric_dtype(whose.dtype):
        # ids (a rolled-up "everyone" is float: 0 or NaN)
        ids = np.sort(np.asarray(keys, dtype=np.int64))
        code = _core.id_positions(ids, who.to_numpy(dtype=np.int64, na_value=np.iinfo(np.int64).min))
        target = np.searchsorted(ids, whose.to_numpy(dtype=np.int64, na_value=np.iinfo(np.int64).min))
        known = whose.notna().to_numpy(dtype=bool) & (target < len(ids))
        target = np.where(known, target, -1)
        keys = ids
    else:
        keys = np.asarray(sorted(str(k) for k in keys), dtype=object)
        code = text_codes(who, keys.tolist()).astype(np.int64)
        target = pd.Index(keys).get_indexer(whose.astype(object).where(whose.notna(), None))
    return _core.month_sums(code, month, value, len(keys), np.asarray(target, dtype=np.int64), start, end)


class TargetMethods(SalesPart):
    """Targets' part of ``db.sales`` (mixed into :class:`crmcore.sales.SalesMethods`)."""


    def attainment(self, as_of: Any = None, rollup: bool = False) -> pd.DataFrame:
        """Every target against what its person, its team or its region did
        in its period on its metric (:data:`METRICS`: bookings, deals_won,
        margin, new_customers, activities, invoiced, collected; a product
        line's target, ``product_category``, bookings or margin from its
        order lines); one row per target, indexed by its id: ``staff_id``,
        ``team``, ``region``, ``product_category``, ``period``,
        ``metric``, ``target``, ``actual``, ``attainment`` (actual /
        target), ``gap`` (target - actual; below 0 is over target),
        ``elapsed`` (share of the period gone by ``as_of``, default the end
        of the data), ``projected`` (actual at the pace so far, for the
        whole period) and ``pace`` (projected / target). A person's team is
        the ``team`` of their staff record. With ``rollup`` a person's
        figure also counts everyone who reports to them, directly or not
        (links ``db.link(report, manager, "reports_to")`` between staff).
        The events are read from the store's column cache (kept until the
        next write: a second report on an open store reads nothing) and
        summed in one C++ pass per metric; a user's handle (``db.as_user``)
        reads them through its access rules instead.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> wang = db.add("staff", name="Wang", team="north")
        >>> _ = db.add("targets", staff_id=wang, period="2024-Q1", amount=1000.0)
        >>> _ = db.add("targets", team="north", period="2024-01", amount=500.0)
        >>> _ = db.add("targets", staff_id=wang, period="2024-Q1", metric="activities", amount=10)
        >>> acme = db.add("customers", name="Acme")
        >>> d = db.add("deals", customer_id=acme, stage="lead", amount=400.0, owner_id=wang)
        >>> db.sales.move(d, "won", at="2024-01-20")
        >>> _ = db.add("interactions", customer_id=acme, staff_id=wang, channel="call", occurred_at="2024-01-05")
        >>> a = db.sales.attainment(as_of="2024-02-15")
        >>> a[["period", "metric", "actual", "attainment", "gap"]].round(3).values.tolist()
        [['2024-Q1', 'bookings', 400.0, 0.4, 600.0], ['2024-01', 'bookings', 400.0, 0.8, 100.0], \
['2024-Q1', 'activities', 1.0, 0.1, 9.0]]
        """
        cut = self._as_of(as_of, where="attainment")
        targets = self._db.frame("targets", columns=["staff_id", "team", "region", "product_category", "period",
                                                     "metric", "amount"])
        lines = _given(targets, "product_category")
        sources, line_events = self._metric_sources(set(targets.loc[~lines, "metric"].dropna()),
                                                    set(targets.loc[lines, "metric"].dropna()),
                                                    regions=bool(_given(targets, "region").any()))
        below = None
        if rollup:
            below = reporting_below(self._db.frame("links", columns=["src", "dst", "type"]),
                                    set(self._db.frame("staff", columns=["name"]).index))
        out = attainment_table(targets, sources, cut, below, self._db.frame("staff", columns=["team"])["team"],
                               lines=line_events)
        out.attrs["as_of"] = pd.Timestamp(cut)
        return out

    def _metric_sources(self, metrics: "set[str]", line_metrics: "set[str]",
                        regions: bool) -> "tuple[dict[str, pd.DataFrame], pd.DataFrame | None]":
        """The events of each of ``metrics`` as the store's typed columns
        (owner_id, at, value or none: each counts one; ``counts`` False on
        rows that count nowhere, so that no column of a million deals is
        copied to leave the unwon out; region where ``regions``), and the
        events of ``line_metrics`` per product line as one frame (metric,
        category, owner_id, at, value, region), or None."""
        db, sources = self._db, {}
        customers = db.frame("customers", columns=["region"])["region"] if regions else None

        def source(name: str, owner: Any, at: Any, value: Any = None, customer: Any = None,
                   counts: "np.ndarray | None" = None) -> None:
            columns = {"owner_id": _array(owner), "at": _array(at)}
            if value is not None:
                columns["value"] = _array(value)
            if counts is not None:
                columns["counts"] = counts
            if customers is not None:
                columns["region"] = pd.Series(_array(customer)).map(customers).array
            sources[name] = pd.DataFrame(columns, copy=False)

        if metrics & {"bookings", "deals_won", "new_customers"}:
            deals, won = self._won_deals(customers is not None or "new_customers" in metrics)
            customer = deals.customer_id if customers is not None else None
            # Only the metrics some target reads: each source is a pass over every deal.
            if "bookings" in metrics:
                source("bookings", deals.owner_id, deals.closed_at, deals.amount, customer, won)
            if "deals_won" in metrics:
                source("deals_won", deals.owner_id, deals.closed_at, None, customer, won)
            if "new_customers" in metrics:
                first = deals[won].sort_values(["closed_at"], kind="stable").drop_duplicates("customer_id")
                source("new_customers", first.owner_id, first.closed_at, None, first.customer_id)
        if "margin" in metrics:
            o = db.frame("orders", columns=["customer_id", "staff_id", "ordered_at", "amount", "cost"])
            source("margin", o.staff_id, o.ordered_at, o.amount.astype(float) - o.cost.astype(float).fillna(0.0),
                   o.customer_id)
        if "activities" in metrics:
            i = db.frame("interactions", columns=["customer_id", "staff_id", "occurred_at"])
            source("activities", i.staff_id, i.occurred_at, None, i.customer_id)
        if metrics & {"invoiced", "collected"}:
            inv = db.frame("invoices", columns=["customer_id", "owner_id", "deal_id", "issued_at", "amount", "status"])
            if inv.owner_id.isna().any():
                inv["owner_id"] = inv.owner_id.fillna(inv.deal_id.map(db.frame("deals", columns=["owner_id"]).owner_id))
            live = text_codes(inv.status, ["draft", "void"]) < 0
            source("invoiced", inv.owner_id, inv.issued_at, inv.amount, inv.customer_id, live)
            pay = db.frame("payments", columns=["customer_id", "invoice_id", "paid_at", "amount"])
            pay = pay[pay.invoice_id.notna()]
            source("collected", pay.invoice_id.map(inv.owner_id), pay.paid_at, pay.amount, pay.customer_id)
        return sources, (self._line_events(line_metrics, customers) if line_metrics else None)

    def _won_deals(self, customers: bool) -> "tuple[pd.DataFrame, np.ndarray]":
        """Every deal's owner_id, closed_at and amount (and customer_id with
        ``customers``), and which count: won (on a stage of category won in
        their pipeline; a stage the pipeline lacks is open, as
        :meth:`_deals` says) with a close date. On a store the
        columns come from its column cache (the stage text as codes into its
        distinct labels, owners and times as int64 with a valid mask: no
        text and no copy per deal); on a scoped handle from ``db.frame``
        under its access rules, the stage text coded in C++."""
        db, store = self._db, self._db._core
        fields = ["pipeline_id", "stage", "owner_id", "closed_at", "amount"] + (["customer_id"] if customers else [])
        none = np.iinfo(np.int64).min
        if isinstance(store, _core.Store):
            got = store.cached_columns("deals", fields)
            stage, labels = got["stage"]
            labels = [str(x) for x in labels]
            pipeline = valid_or(got["pipeline_id"], none)
            closed, closed_ok = got["closed_at"]
            columns = {"owner_id": masked(got["owner_id"]), "closed_at": closed.view("datetime64[ns]"),
                       "amount": got["amount"]}
            if customers:
                columns["customer_id"] = masked(got["customer_id"])
            deals = pd.DataFrame(columns, index=pd.Index(got["id"]), copy=False)
            # A close date missing counts nowhere: folded into which deals count instead of made NaT in a copy.
            counts = np.ones(len(deals), dtype=bool) if closed_ok is None else closed_ok.astype(bool)
        else:
            deals = db.frame("deals", columns=fields)
            labels = sorted({str(n) for n in db.frame("pipeline_stages", columns=["name"])["name"].dropna()})
            stage = text_codes(deals.pop("stage"), labels)
            pipeline = deals.pop("pipeline_id").to_numpy(dtype=np.int64, na_value=none)
            counts = deals.closed_at.notna().to_numpy(dtype=bool)
        stages = db.frame("pipeline_stages", columns=["pipeline_id", "name", "category"])
        stages = stages[stages.pipeline_id.notna() & stages.name.isin(labels)]
        pipelines = np.unique(stages.pipeline_id.to_numpy(dtype=np.int64))
        # Won per (pipeline, stage label); the last column: a deal with no stage.
        table = np.zeros((len(pipelines), len(labels) + 1), dtype=bool)
        table[np.searchsorted(pipelines, stages.pipeline_id.to_numpy(dtype=np.int64)),
              [labels.index(str(n)) for n in stages.name]] = (stages.category == "won").to_numpy(dtype=bool)
        at = _core.id_positions(pipelines, pipeline)
        won = (at >= 0) & table[np.maximum(at, 0), np.where(stage >= 0, stage, len(labels))]
        return deals, won & counts

    def _line_events(self, line_metrics: "set[str]", customers: "pd.Series | None") -> pd.DataFrame:
        """The events of ``line_metrics`` (bookings, margin) per product line
        from the order lines: metric, owner_id, at, value, category, region."""
        db, parts = self._db, []
        lines = db.frame("order_lines", columns=["order_id", "product_id", "quantity", "unit_price", "unit_cost"])
        products = db.frame("products", columns=["category", "unit_cost"])
        orders = db.frame("orders", columns=["customer_id", "staff_id", "ordered_at"])
        of = orders.reindex(lines.order_id.to_numpy())
        sold = lines.quantity.astype(float) * lines.unit_price.astype(float)
        cost = lines.unit_cost.astype(float).fillna(lines.product_id.map(products.unit_cost).astype(float))
        category = lines.product_id.map(products.category)
        has = (category.notna() & (category.astype(str) != "")).to_numpy()  # a line of no line counts nowhere
        for name, value in (("bookings", sold), ("margin", sold - lines.quantity.astype(float) * cost.fillna(0.0))):
            if name in line_metrics:
                customer = of.customer_id.to_numpy()[has]
                parts.append(pd.DataFrame({
                    "metric": name, "owner_id": pd.array(of.staff_id.to_numpy()[has], dtype="Int64"),
                    "at": pd.to_datetime(of.ordered_at.to_numpy()[has]), "value": value.to_numpy(dtype=float)[has],
                    "category": category.to_numpy(dtype=object)[has],
                    "region": None if customers is None else pd.Series(customer).map(customers).to_numpy()}))
        return pd.concat(parts, ignore_index=True)


def _array(values: Any) -> Any:
    """A column's values without its index (a Series' array, or as given),
    so frames of columns from differently indexed Series do not align."""
    return values.array if isinstance(values, pd.Series) else values


def reporting_below(links: pd.DataFrame, staff: "set[int]") -> "dict[int, list[int]]":
    """Each person of ``staff`` with everyone at or below them in the
    reporting lines (reports_to links from a report to their manager, both
    staff), each once, whatever loops the lines hold.

    >>> links = pd.DataFrame({"src": [2, 3, 1], "dst": [1, 2, 3], "type": "reports_to"})
    >>> {k: sorted(v) for k, v in sorted(reporting_below(links, {1, 2, 3, 4}).items())}
    {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3], 4: [4]}
    """
    lines = links[(links.type == "reports_to") & links.src.isin(staff) & links.dst.isin(staff)]
    managers: "dict[int, list[int]]" = {}
    for src, dst in zip(lines.src, lines.dst):
        managers.setdefault(int(src), []).append(int(dst))
    below: "dict[int, list[int]]" = {int(p): [] for p in staff}
    for person in below:
        seen, todo = {person}, [person]
        while todo:                                   # every manager above, once
            for m in managers.get(todo.pop(), []):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        for m in seen:
            below[m].append(person)
    return below
