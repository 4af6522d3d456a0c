"""The demo shop's calendar: seasons, weekdays, hours, promotions and time zones.

Time inside the generator is **local seconds since the first day** (the shop
is in Portland, Oregon); :meth:`Calendar.to_utc` turns it into the naive UTC
epoch seconds written to the files. A behaviour's intensity over time is an
hourly curve (season x weekday x hour x promotion); purchase times are drawn
by inverting its cumulative integral (a time change of a unit Poisson process).

Examples
--------
>>> from datetime import date
>>> cal = Calendar.build(date(2026, 10, 31), years=2.0)
>>> cal.n_days, str(cal.date_of(0))
(730, '2024-11-01')
>>> [p.code for p in cal.promos if p.code.startswith("BFCM")][:1]
['BFCM25']
>>> m = cal.intensity(Rhythm())
>>> round(float(m[: cal.n_days * 24].mean()), 6)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DAY = 86_400
HOUR = 3_600
FUTURE_DAYS = 366

#: Local hour-of-day weights for online activity (0h .. 23h).
HOUR_WEIGHTS = np.array([
    0.15, 0.08, 0.05, 0.04, 0.05, 0.12, 0.35, 0.65, 0.90, 1.05, 1.15, 1.25,
    1.35, 1.25, 1.10, 1.05, 1.05, 1.15, 1.35, 1.50, 1.45, 1.20, 0.80, 0.40,
])
#: Store opening hours profile (7h .. 19h local) for point-of-sale orders.
STORE_HOUR_WEIGHTS = np.array([0] * 7 + [0.9, 1.3, 1.2, 1.0, 0.9, 1.1, 1.0, 0.9, 0.9, 0.8, 0.6, 0.3] + [0] * 5, dtype=float)
#: Monday .. Sunday.
WEEKDAY_WEIGHTS = np.array([1.05, 1.0, 0.95, 0.95, 0.9, 1.1, 1.15])

#: Recurring promotions: (code, month, day, length in days, percent off).
#: Black Friday–Cyber Monday is added from Thanksgiving each year.
PROMOTIONS = [
    ("WINTER15", 1, 14, 5, 15),
    ("SPRING15", 3, 20, 5, 15),
    ("MOM10", 5, 6, 5, 10),
    ("SUMMER10", 7, 10, 6, 10),
    ("COFFEEDAY20", 9, 26, 4, 20),
    ("BOXING15", 12, 26, 4, 15),
]
BFCM = ("BFCM25", 4, 25)


@dataclass(frozen=True)
class Promo:
    code: str
    percent: int
    first_day: int  # index into the calendar's days
    last_day: int


@dataclass(frozen=True)
class Rhythm:
    """How one behaviour follows the calendar.

    ``promo`` multiplies intensity on promotion days and ``off_promo`` on the
    others; ``season`` is the exponent applied to the holiday-season curve
    (0 = ignores the season, 1 = full December peak).
    """

    promo: float = 1.3
    off_promo: float = 1.0
    season: float = 1.0


class Calendar:
    """Days of the demo period plus one future year (for the truth's expected orders)."""

    def __init__(self, first_day: date, n_days: int) -> None:
        self.first_day = first_day
        self.n_days = n_days
        self.total_days = n_days + FUTURE_DAYS
        day0 = np.datetime64(first_day, "D")
        self.days = day0 + np.arange(self.total_days)  # datetime64[D]
        months = self.days.astype("datetime64[M]")
        self.month = months.astype(np.int64) % 12 + 1
        self.year = months.astype("datetime64[Y]").astype(np.int64) + 1970
        self.dom = (self.days - months).astype(np.int64) + 1
        self.weekday = (self.days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)
        self.epoch_day0 = int(day0.astype(np.int64))
        self.utc_offset = self._utc_offsets()
        self.promos = self._promotions()
        self.promo_of_day = np.full(self.total_days, -1, dtype=np.int64)
        for i, p in enumerate(self.promos):
            self.promo_of_day[p.first_day : p.last_day + 1] = i
        self.season = self._season()
        m, d = self.month, self.dom
        self.gift_days = ((m == 11) & (d > 20)) | ((m == 12) & (d <= 24))
        self.end = n_days * DAY  # local seconds: end of the observed period

    @classmethod
    def build(cls, end: date, years: float) -> "Calendar":
        """The period of ``years`` (rounded to whole days) that ends with the day *end*."""
        n_days = max(28, int(round(years * 365.25)))
        last = np.datetime64(end, "D")
        first = (last - np.timedelta64(n_days - 1, "D")).astype(object)
        return cls(first, n_days)

    # -- dates and zones ------------------------------------------------------
    def date_of(self, day_index: int) -> date:
        return self.days[day_index].astype(object)

    def day_index(self, d: date) -> int:
        return int((np.datetime64(d, "D") - self.days[0]).astype(np.int64))

    def _utc_offsets(self) -> np.ndarray:
        """Seconds to add to Portland local time to get UTC (US rules: DST from the
        second Sunday of March to the first Sunday of November)."""
        offset = np.full(self.total_days, 8 * HOUR, dtype=np.int64)
        for y in np.unique(self.year):
            start = _nth_weekday(int(y), 3, 6, 2)
            stop = _nth_weekday(int(y), 11, 6, 1)
            dst = (self.days >= np.datetime64(start, "D")) & (self.days < np.datetime64(stop, "D"))
            offset[dst] = 7 * HOUR
        return offset

    def to_utc(self, local_seconds: np.ndarray) -> np.ndarray:
        """Local seconds since the first day -> naive UTC epoch seconds (int64)."""
        t = np.asarray(local_seconds, dtype=np.float64)
        day = np.clip((t // DAY).astype(np.int64), 0, self.total_days - 1)
        return (self.epoch_day0 * DAY + np.floor(t)).astype(np.int64) + self.utc_offset[day]

    def to_epoch_days(self, local_seconds: np.ndarray) -> np.ndarray:
        """Local calendar day (days since 1970-01-01) of local seconds."""
        return self.epoch_day0 + (np.asarray(local_seconds) // DAY).astype(np.int64)

    # -- promotions and seasons -------------------------------------------------
    def _promotions(self) -> list[Promo]:
        out = []
        for y in range(int(self.year[0]), int(self.year[-1]) + 1):
            windows = [(code, date(y, m, d), length, pct) for code, m, d, length, pct in PROMOTIONS]
            thanksgiving = _nth_weekday(y, 11, 3, 4)
            windows.append((BFCM[0], date.fromordinal(thanksgiving.toordinal() + 1), BFCM[1], BFCM[2]))
            for code, first, length, pct in sorted(windows, key=lambda w: w[1]):
                i = self.day_index(first)
                j = i + length - 1
                if j < 0 or i >= self.total_days:
                    continue
                out.append(Promo(code, pct, max(i, 0), min(j, self.total_days - 1)))
        return out

    def in_promo(self, local_seconds: np.ndarray) -> np.ndarray:
        """Index of the promotion running at each time, or -1."""
        day = np.clip((np.asarray(local_seconds) // DAY).astype(np.int64), 0, self.total_days - 1)
        return self.promo_of_day[day]

    def _season(self) -> np.ndarray:
        m, d = self.month, self.dom
        s = np.ones(self.total_days)
        s[m == 1] = 0.85
        s[m == 2] = 0.92
        s[(m == 7) | (m == 8)] = 0.92
        s[(m == 11) & (d <= 20)] = 1.05
        s[(m == 11) & (d > 20)] = 1.3
        s[(m == 12) & (d <= 21)] = 1.8
        s[(m == 12) & (d >= 22) & (d <= 24)] = 1.3
        s[(m == 12) & (d >= 25) & (d <= 26)] = 0.45
        s[(m == 12) & (d >= 27)] = 0.9
        return s

    def is_gift_season(self, local_seconds: np.ndarray) -> np.ndarray:
        """Late November to Christmas Eve: people buy gifts."""
        day = np.clip((np.asarray(local_seconds) // DAY).astype(np.int64), 0, self.total_days - 1)
        return self.gift_days[day]

    # -- intensities ------------------------------------------------------------
    def intensity(self, rhythm: Rhythm, hours: np.ndarray = HOUR_WEIGHTS) -> np.ndarray:
        """Hourly intensity over all days, normalised to mean 1 over the observed period."""
        promo = np.where(self.promo_of_day >= 0, rhythm.promo, rhythm.off_promo)
        daily = self.season**rhythm.season * WEEKDAY_WEIGHTS[self.weekday] * promo
        m = (daily[:, None] * hours[None, :]).ravel()
        return m / m[: self.n_days * 24].mean()

    def clock(self, rhythm: Rhythm) -> "Clock":
        return Clock(self.intensity(rhythm))


class Clock:
    """Operational time of an intensity curve: ``C(t)`` in weeks of average intensity.

    A Poisson process with rate ``lam`` per week under this rhythm has its
    events at ``C^-1(C(t0) + E/lam)``; ``C`` is piecewise linear per hour.
    """

    def __init__(self, hourly: np.ndarray) -> None:
        self.edges = np.arange(hourly.size + 1, dtype=np.float64) * HOUR
        self.cum = np.r_[0.0, np.cumsum(hourly)] / (24 * 7)

    def at(self, seconds: np.ndarray) -> np.ndarray:
        return np.interp(seconds, self.edges, self.cum)

    def inverse(self, op: np.ndarray) -> np.ndarray:
        return np.interp(op, self.cum, self.edges)

    def between(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """One time per element in ``[lo, hi)`` (arrays), with density proportional to the intensity."""
        c_lo, c_hi = self.at(lo), self.at(hi)
        return self.inverse(c_lo + rng.random(np.shape(lo)) * (c_hi - c_lo))

    def sample(self, rng: np.random.Generator, size: int, lo: float, hi: float, weight: np.ndarray | None = None) -> np.ndarray:
        """Times in ``[lo, hi)`` seconds with density proportional to the intensity (x *weight* per hour)."""
        if weight is None:
            c_lo, c_hi = self.at(lo), self.at(hi)
            return self.inverse(c_lo + rng.random(size) * (c_hi - c_lo))
        hourly = np.diff(self.cum) * weight
        cum = np.r_[0.0, np.cumsum(hourly)]
        a, b = np.interp([lo, hi], self.edges, cum)
        return np.interp(a + rng.random(size) * (b - a), cum, self.edges)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday (Monday = 0) of a month."""
    first = date(year, month, 1)
    shift = (weekday - first.weekday()) % 7
    return date(year, month, 1 + shift + 7 * (n - 1))
