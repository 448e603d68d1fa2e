"""How long a token pool lasts at the current pace: pure functions, no I/O.

The pace comes from the daily tokens of the dashboard's 30-day trends: the average over the last 7
complete days is the "current pace"; the average over all of them (29: today is left out, as it is not
over and would understate the pace) is the "30-day pace" shown beside it. The days before the pool
existed are left out too: a new pool is judged on the days it has, and one with no complete day yet
gets no forecast at all.

Trends are per environment, not per pool. `attribute_burn` gives each pool its part of every day: the
running campaign's tokens (from its analytics) go to the pool the campaign draws from; what it does not
explain is split over the pools in proportion to what each has consumed outside it (so a pool that only
the campaign uses gets none of the rest). With no campaign running, or none known, each pool gets its
share of the consumption so far.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

TOP_UP_HORIZON_DAYS = 30
ROUND_TO = 1_000
CURRENT_WINDOW = 7
LONG_WINDOW = 30


@dataclass(frozen=True)
class Runway:
    balance: int
    daily_burn: float  # tokens a day at the current pace (last 7 complete days)
    daily_burn_30d: float  # tokens a day over the last 30 complete days
    data_days: int  # complete days of data behind the averages (at most 30)
    today: date | None

    @property
    def has_data(self) -> bool:
        return self.data_days > 0

    @property
    def is_short(self) -> bool:
        """Fewer days than the current window: the pace is a rough guide."""
        return 0 < self.data_days < CURRENT_WINDOW

    @property
    def is_depleted(self) -> bool:
        return self.balance <= 0

    @property
    def days(self) -> float | None:
        """Days left at the current pace; None when nothing is drawn (or nothing is known)."""
        return _days(self.balance, self.daily_burn)

    @property
    def days_30d(self) -> float | None:
        return _days(self.balance, self.daily_burn_30d)

    @property
    def until(self) -> date | None:
        return _until(self.today, self.days)

    @property
    def until_30d(self) -> date | None:
        return _until(self.today, self.days_30d)

    @property
    def is_unlimited(self) -> bool:
        """The pace sets no end: nothing was drawn in the last 7 days (or there is no data yet)."""
        return self.days is None

    @property
    def pace(self) -> float:
        """The pace a forecast uses: the current one, or the 30-day one when nothing moved this week."""
        return self.daily_burn or self.daily_burn_30d

    def shorter_than(self, days: float) -> bool:
        return self.days is not None and self.days < days

    def days_with(self, extra_tokens: int) -> float | None:
        """Days left after `extra_tokens` more, at the pace a forecast uses."""
        return _days(self.balance + extra_tokens, self.pace)


def _days(balance: int, burn: float) -> float | None:
    if burn <= 0:
        return None
    return max(0.0, balance / burn)


def _until(today: date | None, days: float | None) -> date | None:
    if today is None or days is None:
        return None
    return today + timedelta(days=math.floor(days))


def average_burn(daily_tokens: list[float], window: int) -> float:
    """Average tokens a day over the last `window` days of data (fewer when there are fewer)."""
    recent = daily_tokens[-window:]
    return sum(max(0, t) for t in recent) / len(recent) if recent else 0.0


def runway(balance: int, daily_tokens: list[float], today: date | None = None) -> Runway:
    """Runway of a pool with `balance` tokens, given its tokens drawn on each complete day (oldest first)."""
    window = daily_tokens[-LONG_WINDOW:]
    return Runway(balance=balance, daily_burn=average_burn(window, CURRENT_WINDOW),
                  daily_burn_30d=average_burn(window, LONG_WINDOW), data_days=len(window), today=today)


def complete_days(dates: list[str], series: list[float], today: str, since: date | None = None) -> list[float]:
    """The values of `series` for the days before `today` and after `since` (the pool's first, partial day)."""
    return [value for day, value in zip(dates, series)
            if day < today and (since is None or day > since.isoformat())]


def shares(pools) -> dict[str, float]:
    """Each pool's share of the consumption of all the pools of an environment."""
    total = sum(max(0, p.consumed) for p in pools)
    return {p.id: (max(0, p.consumed) / total if total else 1 / len(pools)) for p in pools}


def attribute_burn(dates: list[str], env_tokens: list[int], pools, campaigns) -> dict[str, list[float]]:
    """Each pool's tokens drawn on each day of `dates`, out of the environment's `env_tokens`.

    `campaigns` are (Campaign, CampaignAnalytics or None) pairs; a campaign whose pool is not one of
    `pools`, or whose analytics are missing, explains nothing."""
    ids = {p.id for p in pools}
    index = {day: i for i, day in enumerate(dates)}
    drawn = {p.id: [0.0] * len(dates) for p in pools}
    explained = [0.0] * len(dates)
    lifetime = defaultdict(int)
    for campaign, analytics in campaigns:
        if analytics is None or campaign.pool_id not in ids:
            continue
        lifetime[campaign.pool_id] += max(0, analytics.tokens)
        for day in analytics.daily:
            i = index.get(day.date)
            if i is not None and day.tokens > 0:
                drawn[campaign.pool_id][i] += day.tokens
                explained[i] += day.tokens
    unexplained = {p.id: max(0, p.consumed - lifetime[p.id]) for p in pools}
    total = sum(unexplained.values())
    weights = {pid: value / total for pid, value in unexplained.items()} if total else shares(pools) if pools else {}
    for i, tokens in enumerate(env_tokens):
        rest = max(0.0, tokens - explained[i])
        for pid, weight in weights.items():
            drawn[pid][i] += rest * weight
    return drawn


def suggested_top_up(pool_runway: Runway, threshold: int = 0, horizon_days: int = TOP_UP_HORIZON_DAYS) -> int:
    """An amount that makes the pool last `horizon_days` at the current pace, rounded up to 1,000.

    A pool below its threshold that the pace alone would not refill is brought back over the threshold."""
    balance = max(0, pool_runway.balance)
    needed = pool_runway.pace * horizon_days - balance
    if needed <= 0 and balance < threshold:
        needed = threshold - balance + 1
    if needed <= 0:
        return 0
    return int(math.ceil(needed / ROUND_TO) * ROUND_TO)
