"""How long a token pool lasts at the current pace: pure functions, no I/O.

The pace is the average daily burn over the last 7 days ("current"), with the 30-day average beside it
for context. Trends are per environment, not per pool, so a pool is given its share of the burn: the
share of the environment's consumption it has carried so far (a pool that has never been drawn on burns
nothing). The days of data may be fewer than the window (a new partner): the average is over the days
there are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

TOP_UP_HORIZON_DAYS = 30
ROUND_TO = 1_000


@dataclass(frozen=True)
class Runway:
    daily_burn: float  # tokens a day at the current pace, for this pool
    daily_burn_30d: float
    days: float | None  # None: nothing is being spent, so the pace sets no end
    until: date | None
    share: float  # this pool's share of the environment's burn

    @property
    def is_unlimited(self) -> bool:
        return self.days is None

    def shorter_than(self, days: float) -> bool:
        return self.days is not None and self.days < days


def average_burn(daily_tokens: list[int], window: int) -> float:
    """Average tokens a day over the last `window` days of data (fewer when there are fewer)."""
    recent = daily_tokens[-window:]
    return sum(max(0, t) for t in recent) / len(recent) if recent else 0.0


def runway(balance: int, daily_tokens: list[int], share: float = 1.0, today: date | None = None) -> Runway:
    """Runway of a pool with `balance` tokens, given the environment's daily tokens (oldest first)."""
    today = today or date.today()
    burn_7 = average_burn(daily_tokens, 7) * share
    burn_30 = average_burn(daily_tokens, 30) * share
    if burn_7 <= 0:
        return Runway(0.0, burn_30, None, None, share)
    days = max(0.0, balance / burn_7)
    return Runway(burn_7, burn_30, days, today + timedelta(days=math.floor(days)), share)


def shares(pools) -> dict[str, float]:
    """Each pool's share of the consumption of all the pools of an environment."""
    total = sum(max(0, p.consumed) for p in pools)
    return {p.id: (max(0, p.consumed) / total if total else 0.0) for p in pools}


def suggested_top_up(balance: int, daily_burn: float, horizon_days: int = TOP_UP_HORIZON_DAYS) -> int:
    """An amount that makes the pool last `horizon_days` at the current pace, rounded up to 1,000."""
    needed = daily_burn * horizon_days - max(0, balance)
    if needed <= 0:
        return 0
    return int(math.ceil(needed / ROUND_TO) * ROUND_TO)
