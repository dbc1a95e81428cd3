"""Chinese public holidays, make-up working days and festivals, from
maintained packages rather than hand-made tables: ``chinesecalendar``
(import name ``chinese_calendar``: the State Council's yearly holiday
arrangements) and ``lunardate`` (lunar to Gregorian dates).

The C++ business-hours kernel knows no country; this module turns the
packages' dates into the day numbers it takes.
"""
from __future__ import annotations

import datetime as _dt
import functools

import numpy as np

_EPOCH = _dt.date(1970, 1, 1)

#: Festivals that follow the lunar calendar: (month, day) in the lunar year.
#: New Year's Eve is the day before Spring Festival, computed separately.
LUNAR_FESTIVALS = {
    "Spring Festival": (1, 1),
    "Lantern Festival": (1, 15),
    "Dragon Boat Festival": (5, 5),
    "Qixi Festival": (7, 7),
    "Mid-Autumn Festival": (8, 15),
    "Double Ninth Festival": (9, 9),
}
#: Festivals on fixed Gregorian dates.
SOLAR_FESTIVALS = {
    "New Year's Day": (1, 1),
    "Women's Day": (3, 8),
    "Labour Day": (5, 1),
    "Children's Day": (6, 1),
    "Teachers' Day": (9, 10),
    "National Day": (10, 1),
    "Christmas": (12, 25),
}


def day_numbers(dates) -> np.ndarray:
    """Dates as days since 1970-01-01 (int64), the form the kernels take."""
    return np.array([(d - _EPOCH).days for d in dates], dtype=np.int64)


@functools.lru_cache(maxsize=1)
def china_days() -> "tuple[np.ndarray, np.ndarray, tuple[int, int]]":
    """China's official days off (weekend days among them) and make-up
    working days, as day numbers, with the years the package covers (beyond
    them only weekends are known)."""
    import chinese_calendar

    holidays = sorted(chinese_calendar.holidays)
    workdays = sorted(chinese_calendar.workdays)
    covered = (min(holidays).year, max(holidays).year)
    return day_numbers(holidays), day_numbers(workdays), covered


def festivals(start: _dt.date, end: _dt.date) -> "list[tuple[_dt.date, str]]":
    """The festivals from `start` to `end` (inclusive), lunar and fixed, in
    date order: Spring Festival, Mid-Autumn, ... via ``lunardate``.

    >>> import datetime as dt
    >>> festivals(dt.date(2025, 1, 1), dt.date(2025, 2, 1))
    [(datetime.date(2025, 1, 1), "New Year's Day"), (datetime.date(2025, 1, 28), "Spring Festival's Eve"), (datetime.date(2025, 1, 29), 'Spring Festival')]
    """
    from lunardate import LunarDate

    out = []
    for year in range(start.year - 1, end.year + 1):
        for name, (month, day) in LUNAR_FESTIVALS.items():
            try:
                when = LunarDate(year, month, day).to_solar_date()
            except ValueError:  # outside the package's years
                continue
            out.append((when, name))
            if name == "Spring Festival":
                out.append((when - _dt.timedelta(days=1), "Spring Festival's Eve"))
        for name, (month, day) in SOLAR_FESTIVALS.items():
            out.append((_dt.date(year, month, day), name))
    return sorted((d, n) for d, n in set(out) if start <= d <= end)
