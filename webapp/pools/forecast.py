"""Each pool of the environment with its runway: the SIR Giving calls (at once) and how they combine.

No Flask here: the pools pages and the overview's runway card both call `pool_runways`, so a pool's
runway is the same number wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from .. import clock
from ..parallel import POOL
from ..sir import errors
from ..sir.api import Parsed, PartnerApi
from ..sir.models import Campaign, TokenPool
from .runway import Runway, attribute_burn, complete_days, runway

TREND_DAYS = 30


@dataclass(frozen=True)
class Forecast:
    rows: list[tuple[TokenPool, Runway]]
    campaign: Campaign | None  # the running campaign whose tokens were counted against its pool
    active_campaign_id: str | None = None  # the running campaign, whichever pool it draws on (a hint for next time)

    def pool(self, pool_id: str) -> tuple[TokenPool, Runway] | tuple[None, None]:
        return next(((p, r) for p, r in self.rows if p.id == pool_id), (None, None))

    @property
    def pools(self) -> list[TokenPool]:
        return [p for p, _ in self.rows]


def pool_runways(api: PartnerApi, *, fresh: bool = False,
                 pools_call: Callable[[], Parsed] | None = None,
                 trends_call: Callable[[], Parsed] | None = None,
                 campaign_call: Callable[[], Parsed] | None = None,
                 campaign_hint: str | None = None) -> Parsed:
    """A Parsed whose value is a Forecast and whose reply is the pool list's (for "updated at" marks).

    Every call at once: the pool list (whose balances are the ones shown: the list carries every figure the
    per-pool balance call does, so 30 pools cost one call, not 31), the trends and the running campaign with
    its analytics (asked alongside for `campaign_hint`, the running campaign's id seen last). `pools_call`,
    `trends_call` and `campaign_call` let the overview share the answers its other cards fetch in the same
    round, and a page the pool list its banner already asked for."""
    trends_future = POOL.submit(trends_call or (lambda: api.trends(TREND_DAYS)))
    campaign_future = POOL.submit(campaign_call or (lambda: active_campaign_with_analytics(api, campaign_hint, fresh)))
    pools = pools_call() if pools_call else api.token_pools(fresh=fresh)
    trends = trends_future.result().value
    try:
        active = campaign_future.result().value
    except errors.SirError:
        active = None  # the forecast falls back to shares of consumption
    campaigns = [active] if active is not None else []
    forecast = _assemble(pools.value, trends, campaigns)
    if active is not None:
        forecast = Forecast(forecast.rows, forecast.campaign, active[0].id)
    return Parsed(forecast, pools.reply)


def active_campaign_with_analytics(api: PartnerApi, hint: str | None = None, fresh: bool = False) -> Parsed:
    """The running campaign and its analytics, or a Parsed of None when no campaign runs. With `hint` (the
    running campaign's id seen last) both calls go at once; a campaign that changed costs one more. `fresh`: which
    campaign runs is asked of SIR Giving, not the cache (an admin's Refresh)."""
    prefetch = POOL.submit(api.campaign_analytics, hint) if hint else None
    active = api.active_campaign(fresh)
    if active.value is None:
        return active
    analytics = None
    if prefetch is not None and active.value.id == hint:
        try:
            analytics = prefetch.result()
        except errors.SirError:
            analytics = None
    analytics = analytics or api.campaign_analytics(active.value.id)
    return Parsed((active.value, analytics.value), analytics.reply)


def _assemble(pools: list[TokenPool], trends, campaigns) -> Forecast:
    dates = [d.date for d in trends.daily]
    today = dates[-1] if dates else clock.now().date().isoformat()
    drawing = [p for p in pools if p.status != "inactive"]
    drawn = attribute_burn(dates, [d.tokens for d in trends.daily], drawing, campaigns)
    rows = []
    for pool in pools:
        series = drawn.get(pool.id, [0.0] * len(dates))
        since = pool.created_at.date() if pool.created_at else None
        rows.append((pool, runway(pool.balance, complete_days(dates, series, today, since),
                                  date.fromisoformat(today))))
    ids = {p.id for p in drawing}
    campaign = next((c for c, _ in campaigns if c.pool_id in ids), None)
    return Forecast(rows, campaign=campaign)
