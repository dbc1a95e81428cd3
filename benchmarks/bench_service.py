"""Service: SLA business hours (China's holidays and make-up working days,
9:00-18:00 at UTC+8), crmcore's C++ kernel against a vectorised NumPy
version (a table of working seconds per calendar day, cumulated, then
searchsorted), one run each. Both answers are checked equal before times
count.

5,000,000 tickets by default. Run:

    python benchmarks/bench_service.py [--tickets 5000000] [--repeat 3]
"""
import argparse

import numpy as np
from bench_sales import timed  # the scripts' directory is on the path when run

from crmcore import _holidays
from crmcore.service import business_calendar

DAY = 86_400 * 10**9
OFFSET, OPEN, CLOSE = 8 * 3600 * 10**9, 9 * 3600 * 10**9, 18 * 3600 * 10**9


class DayTableHours:
    """Working ns before each local day, from a table of calendar days (what a
    pandas user would build), vectorised in NumPy."""

    def __init__(self, first_day, last_day):
        off, work, _ = _holidays.china_days()
        days = np.arange(first_day, last_day + 1)
        weekday = (days + 3) % 7 < 5
        working = (weekday & ~np.isin(days, off)) | (~weekday & np.isin(days, work))
        self.first = first_day
        self.working = working
        self.before = np.concatenate([[0], np.cumsum(working.astype(np.int64) * (CLOSE - OPEN))])

    def until(self, t):
        local = t + OFFSET
        day = local // DAY
        i = day - self.first
        part = np.clip(local - day * DAY - OPEN, 0, CLOSE - OPEN) * self.working[i]
        return self.before[i] + part

    def between(self, a, b):
        return (self.until(b) - self.until(a)) / 3.6e12

    def add(self, a, hours):
        target = self.until(a) + np.round(hours * 3.6e12).astype(np.int64)
        k = (target - 1) // (CLOSE - OPEN)
        # the (k+1)-th working day: the first day whose cumulated count exceeds k
        counts = np.cumsum(self.working)
        i = np.searchsorted(counts, k + 1)
        rest = target - k * (CLOSE - OPEN)
        return (self.first + i) * DAY + OPEN + rest - OFFSET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    start = np.datetime64("2020-01-01", "ns").astype(np.int64)
    opened = start + rng.integers(0, 5 * 365 * DAY, args.tickets)
    closed = opened + rng.integers(0, 30 * DAY, args.tickets)
    hours = rng.choice([4.0, 8.0, 24.0, 72.0], args.tickets)
    cal = business_calendar()
    ref = DayTableHours(int(opened.min() // DAY) - 2, int(closed.max() // DAY) + 120)

    print(f"{args.tickets:,} tickets; seconds, best (median) of {args.repeat}")
    for what, ours, theirs in (
            ("hours between", lambda: cal.hours_between(opened, closed), lambda: ref.between(opened, closed)),
            ("due time", lambda: cal.add_hours(opened, hours), lambda: ref.add(opened, hours))):
        a, best_a, med_a = timed(ours, args.repeat)
        b, best_b, med_b = timed(theirs, args.repeat)
        assert np.array_equal(a, b), what
        print(f"{what:14s} crmcore {best_a:.3f} ({med_a:.3f})   day table {best_b:.3f} ({med_b:.3f})")


if __name__ == "__main__":
    main()
