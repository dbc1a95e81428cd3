"""Turning DataFrame columns into the plain arrays the C++ kernels take, and
their results back into frames indexed by the user's ids."""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import _convert
from .._args import _invalid
from .._core import ValidationError

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9


def column(frame: pd.DataFrame, name: str, role: str) -> pd.Series:
    if name not in frame.columns:
        if frame.index.name == name:
            return frame.index.to_series()
        raise ValidationError(f"no {role} column {name!r} (columns: {', '.join(map(str, frame.columns))})")
    return frame[name]


class Keys:
    """Ids as int64 codes for the kernels. Integer ids pass through as they
    are; anything else (SKU strings, ...) is factorized in sorted order, so
    the kernels' ascending-code output is also ascending by label."""

    def __init__(self, values: Any, role: str):
        s = pd.Series(values) if not isinstance(values, (pd.Series, pd.Index)) else values
        if s.isna().any():
            row = int(np.flatnonzero(pd.isna(np.asarray(s, dtype=object)))[0])
            raise ValidationError(f"{role} row {row}: the id is missing")
        self.name = getattr(s, "name", None)
        if pd.api.types.is_integer_dtype(s.dtype):
            self.codes = np.asarray(s, dtype=np.int64)
            self.labels = None
        else:
            codes, self.labels = pd.factorize(np.asarray(s, dtype=object), sort=True)
            self.codes = codes.astype(np.int64)

    def subset(self, mask: np.ndarray) -> "Keys":
        """The keys of the rows in ``mask``, with the same labels."""
        out = object.__new__(Keys)
        out.name, out.labels, out.codes = self.name, self.labels, self.codes[mask]
        return out

    def index(self, codes: np.ndarray, name: str | None = None) -> pd.Index:
        values = codes if self.labels is None else np.asarray(self.labels)[codes]
        return pd.Index(values, name=name if name is not None else self.name)


def times_ns(values: Any, role: str = "date") -> np.ndarray:
    """Datetimes (any unit, naive or tz-aware) as int64 nanoseconds; NaT stays
    int64 min, which the kernels reject with the row."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        try:
            s = pd.to_datetime(s)
        except (ValueError, TypeError) as e:
            raise ValidationError(f"the {role} column is not made of dates: {e}") from None
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


def floats(values: Any) -> np.ndarray:
    return np.ascontiguousarray(pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan))


def utc_now() -> pd.Timestamp:
    """Now as the store keeps its times: UTC, without a zone. The default of
    every "now", "at" and "as_of" that means the present, whatever the
    machine's time zone (a local wall clock would put a server east of
    Greenwich in the future and one west of it in the past).

    >>> utc_now().tzinfo is None
    True
    """
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


# The times the store keeps (int64 nanoseconds since 1970, as pandas'),
# rounded inwards to the second like the core's date parser.
FIRST_TIME, LAST_TIME = pd.Timestamp(_convert.FIRST_TIME), pd.Timestamp(_convert.LAST_TIME)
TIME_RANGE = _convert.TIME_RANGE


def _date_refusal(where: str | None, field: str, reason: str) -> ValidationError:
    """The error for a bad date argument: naming the function and the
    argument when the caller says which function (``where``), else the
    argument alone, as the first callers of :func:`as_of_ns` did."""
    return _invalid(where, field, reason) if where is not None else ValidationError(f"{field} {reason}")


def as_of_ns(as_of: Any, field: str = "as_of", where: str | None = None) -> int | None:
    """``as_of`` as int64 nanoseconds (UTC for tz-aware values), None kept;
    text that is not a date, NaT, or a date outside the times the store
    keeps (pandas would raise a bare OutOfBoundsDatetime) is refused naming
    ``field`` (and ``where``, the function, when given: the error then
    carries both as ``kind`` and ``field``, like every bad argument's).
    Every date a user gives a function goes through here.

    A bare number (int, float, bool, a NumPy number) is refused too, as a
    stored time refuses one: pandas reads 5 as 1970-01-01 plus 5
    nanoseconds, where the caller meant seconds, milliseconds or a day
    number, nobody can tell (epoch integers once read as nanoseconds were a
    defect of their own). Give a date: text, a ``datetime.date`` or a
    ``pd.Timestamp`` (``pd.Timestamp(s, unit="s")`` for epoch seconds).

    >>> as_of_ns("1970-01-02")
    86400000000000
    """
    def refuse(reason: str) -> ValidationError:
        return _date_refusal(where, field, reason)

    if as_of is None:
        return None
    if isinstance(as_of, (numbers.Number, np.bool_)):
        raise refuse(f"is a bare number ({as_of!r}), not a date: seconds, milliseconds or nanoseconds? "
                     "Give a date (text such as '2024-06-30', a datetime.date or a pd.Timestamp; "
                     "pd.Timestamp(value, unit='s') for epoch seconds)")
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError, OverflowError) as e:
        if "out of bounds" in str(e).lower():
            raise refuse(f"{as_of!r} is outside the dates the store keeps ({TIME_RANGE})") from None
        raise refuse(f"{as_of!r} is not a date: {e}") from None
    if ts is pd.NaT:
        raise refuse("is missing (NaT): give a date, or None for the default")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    if not FIRST_TIME.as_unit(ts.unit) <= ts <= LAST_TIME.as_unit(ts.unit):
        raise refuse(f"{as_of!r} is outside the dates the store keeps ({TIME_RANGE})")
    return int(ts.as_unit("ns").value)


def as_of_timestamp(as_of: Any, field: str = "as_of", where: str | None = None) -> pd.Timestamp:
    """A given ``as_of`` (not None: the callers put their default first)
    checked as :func:`as_of_ns` checks it, as a Timestamp.

    >>> as_of_timestamp("2024-03-01")
    Timestamp('2024-03-01 00:00:00')
    """
    ns = as_of_ns(as_of, field, where)
    if ns is None:
        raise _date_refusal(where, field, "is missing: give a date")
    return pd.Timestamp(ns)


def _span_ends(when: Any) -> np.ndarray:
    """A time or times (Timestamp, datetime64, int64 ns, a Series or array
    of them) as int64 nanoseconds, NaT as int64 min."""
    if isinstance(when, pd.Timestamp):
        return np.asarray(np.iinfo(np.int64).min if when is pd.NaT else when.as_unit("ns").value, dtype=np.int64)
    if isinstance(when, (int, np.integer)):
        return np.asarray(when, dtype=np.int64)
    values = np.asarray(when) if not isinstance(when, (pd.Series, pd.Index)) else when
    if pd.api.types.is_integer_dtype(values.dtype):
        return np.asarray(values, dtype=np.int64)
    return times_ns(pd.Series(values) if not isinstance(values, pd.Series) else values)


def days_between(later: Any, earlier: Any) -> Any:
    """Days from ``earlier`` to ``later`` (each a Timestamp, int64
    nanoseconds, or a Series or array of times; negative when ``later`` is
    earlier), as floats, NaN where either is missing: a float for two
    single times, an array otherwise. The store keeps times from 1677 to
    2262, more than 2^63 ns apart, where ``later - earlier`` in nanoseconds
    would wrap or raise a bare OverflowError: where it would, the whole days
    are taken apart first (floor division does not overflow) and only the
    parts of a day subtracted as nanoseconds; elsewhere the span is the
    nanoseconds' quotient, as pandas divides two times. The one rule for
    every span between two times (the kernels' is scoring::days_between).

    >>> days_between(pd.Timestamp("2260-01-01"), pd.Timestamp("1700-01-01"))
    204535.0
    """
    a, b = _span_ends(later), _span_ends(earlier)
    nat = np.iinfo(np.int64).min
    whole = (a // NS_PER_DAY - b // NS_PER_DAY).astype(np.float64)
    days = whole + (a % NS_PER_DAY - b % NS_PER_DAY) / NS_PER_DAY
    # Where the nanoseconds between them fit in int64 the span is their
    # quotient, as pandas divides two times (bit for bit the same answer:
    # the sum of parts above can differ in the last bit); a difference that
    # wrapped has the sign of neither operand's distance.
    with np.errstate(over="ignore"):
        between = a - b
    wrapped = ((a ^ b) & (a ^ between)) < 0
    days = np.where(wrapped, days, between / NS_PER_DAY)
    days = np.where((a == nat) | (b == nat), np.nan, days)
    return float(days) if days.ndim == 0 else days


def shifted(when: Any, span: Any, where: str, field: str, what: str = "as_of") -> pd.Timestamp:
    """``when`` (a Timestamp or int64 nanoseconds: ``as_of``, or a date derived
    from it) moved by ``span`` (days as a number, or a Timedelta; negative
    moves it earlier), as a Timestamp. A result outside the times the store
    keeps is refused with a ValidationError naming ``where`` (the function),
    ``field`` (the span's argument) and ``what`` was moved: pandas would
    raise a bare OutOfBoundsDatetime or OverflowError, and int64 arithmetic
    would wrap. The sum is taken in Python integers, which do not overflow.

    >>> shifted(pd.Timestamp("2024-01-01"), 30, "renewals_due", "within")
    Timestamp('2024-01-31 00:00:00')
    """
    base = int(when.as_unit("ns").value) if isinstance(when, pd.Timestamp) else int(when)
    delta = int(span.as_unit("ns").value) if isinstance(span, pd.Timedelta) else round(float(span) * NS_PER_DAY)
    moved = base + delta
    if not int(FIRST_TIME.value) <= moved <= int(LAST_TIME.value):
        reason = (f"{what} {pd.Timestamp(base)} {'+' if delta >= 0 else '-'} {abs(delta) / NS_PER_DAY:g} days "
                  f"is outside the dates the store keeps ({TIME_RANGE})")
        raise _invalid(where, field, reason)
    return pd.Timestamp(moved)


def end_of_data(ns: np.ndarray) -> int | None:
    """The default ``as_of`` of every analysis: midnight (UTC) after the
    latest of the given times, so the last day of data counts in full (for
    whole-day dates, one day after the latest). None without any time."""
    known = ns[ns != np.iinfo(np.int64).min]
    if not len(known):
        return None
    latest = int(known.max())
    # (Held at the last time the store keeps: the midnight after 2262-04-11 is past what a Timestamp holds.)
    return min(latest - latest % NS_PER_DAY + NS_PER_DAY, int(LAST_TIME.value))


def resolve_as_of(as_of: Any, ns: np.ndarray, where: str | None = None) -> int:
    """``as_of`` in ns: the given point, or :func:`end_of_data` of ``ns``
    (the epoch when there are no rows at all); a bad one is refused naming
    ``where``, the function, as :func:`as_of_ns` does."""
    given = as_of_ns(as_of, where=where)
    if given is not None:
        return given
    end = end_of_data(ns)
    return 0 if end is None else end


def stamp(out: pd.DataFrame, as_of: int, start: Any = None) -> pd.DataFrame:
    """Records on a result the point it describes and the window of data it
    read: ``attrs["as_of"]`` and ``attrs["window"]`` = (first time read or
    the window's start, as_of); rows after as_of are never read."""
    as_of_ts = pd.Timestamp(as_of)
    if start is not None and not isinstance(start, pd.Timestamp):
        ns = np.asarray(start)
        first = int(ns.min()) if len(ns) else None
        # One pass over the times when none is missing (NaT is the smallest
        # int64) and the earliest is read; the masked copy (a tenth of rfm's
        # time on 10M rows) only when it is not.
        if first is None or first == np.iinfo(np.int64).min or first > as_of:
            known = ns[(ns != np.iinfo(np.int64).min) & (ns <= as_of)]
            first = int(known.min()) if len(known) else None
        start = None if first is None else pd.Timestamp(first)
    out.attrs["as_of"] = as_of_ts
    out.attrs["window"] = (start, as_of_ts)
    return out


def timestamps(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype=np.int64).view("datetime64[ns]")


def upto(tx: pd.DataFrame, customer: str, date: str, values: Sequence[str], as_of: Any, where: str | None = None):
    """The rows of a transactions frame up to ``as_of`` (default: the end of
    its data) as (customer keys, date ns, [value columns], as_of ns). The
    whole frame is checked first, so an error names the frame's own row;
    a bad ``as_of`` is refused naming ``where``, the function."""
    ids = column(tx, customer, "customer")
    # Integer ids cannot be missing; only other dtypes need the (slower) look.
    missing: Any = [] if pd.api.types.is_integer_dtype(ids.dtype) else np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        raise ValidationError(f"transactions row {int(missing[0])}, field '{customer}': the id is missing")
    ns = times_ns(column(tx, date, "date"))
    missing = np.flatnonzero(ns == np.iinfo(np.int64).min)
    if len(missing):
        raise ValidationError(f"transactions row {int(missing[0])}, field '{date}': is missing (NaT)")
    cols = []
    for name in values:
        v = floats(column(tx, name, name))
        bad = np.flatnonzero(~np.isfinite(v))
        if len(bad):
            raise ValidationError(f"transactions row {int(bad[0])}, field '{name}': is missing or not finite")
        cols.append(v)
    cut = resolve_as_of(as_of, ns, where)
    keep = ns <= cut
    if not keep.all():
        ids, ns, cols = ids[keep], ns[keep], [v[keep] for v in cols]
    keys = Keys(ids, "transactions")
    keys.name = customer
    return keys, ns, cols, cut


def transactions(tx: pd.DataFrame, customer: str, date: str, amount: str | None = None):
    """The (customer keys, date ns, amount) columns of a transactions frame."""
    keys = Keys(column(tx, customer, "customer"), "transactions")
    keys.name = customer
    ns = times_ns(column(tx, date, "date"))
    amt = floats(column(tx, amount, "amount")) if amount is not None else None
    return keys, ns, amt


class TotalOverflowWarning(RuntimeWarning):
    """A total of amounts left the range of a double (about 1.8e308).

    The rule every analysis follows: amounts are summed in double precision
    and a total beyond that range (only amounts that are data errors get
    there, e.g. two orders of 1e308) cannot be reported as a number. It is
    reported as ``inf`` (``-inf``; ``nan`` when it has parts of both signs),
    the analysis goes on for everyone else, the ids whose totals overflowed
    are listed by column in ``result.attrs["overflow"]``, and this warning
    names them. Such a total ranks above (``-inf``: below) every finite one,
    ``nan`` ranks last; it has no share of the finite total, no ABC class and
    no margin, and everyone else's shares are of the finite total.

    >>> import warnings, crmcore
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2], "date": pd.to_datetime(["2024-01-01"] * 3),
    ...                    "amount": [1e308, 1e308, 5.0]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     out = crmcore.scoring.rfm(tx)
    >>> out.attrs["overflow"], caught[0].category.__name__
    ({'monetary': [1]}, 'TotalOverflowWarning')
    """


def flag_overflow(out: pd.DataFrame, columns: Sequence[str], analysis: str, warn: bool = True) -> pd.DataFrame:
    """Applies :class:`TotalOverflowWarning`'s rule to ``out`` (whose inputs
    were checked finite, so a total that is not finite overflowed): lists the
    ids in ``out.attrs["overflow"]`` and warns once naming them (``warn=False``
    when the analysis it was derived from has warned already)."""
    bad: dict[str, list] = {}
    for name in columns:
        where = ~np.isfinite(out[name].to_numpy(dtype=np.float64))
        if where.any():
            bad[name] = out.index[where].tolist()
    if bad:
        out.attrs["overflow"] = bad
    if bad and warn:
        label = "/".join(str(n) for n in out.index.names if n is not None) or "id"
        shown = "; ".join(f"{name} of {label} {', '.join(map(str, ids[:10]))}{' ...' if len(ids) > 10 else ''}"
                          for name, ids in bad.items())
        warnings.warn(f"{analysis}: totals beyond the range of a double (|total| > 1.8e308, from amounts that "
                      f"are most likely wrong): {shown}. They are reported as inf/nan and left out of shares and "
                      "classes; the ids are in result.attrs['overflow']", TotalOverflowWarning, stacklevel=3)
    return out
