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

    def pool(self, pool_id: str) -> tuple[TokenPool, Runway] | tuple[None, None]:
        return next(((p, r) for p, r in self.rows if p.id == pool_id), (None, None))

    @property
    def pools(self) -> list[TokenPool]:
        return [p for p, _ in self.rows]


def pool_runways(api: PartnerApi, *, fresh: bool = False, balances: bool = False,
                 pools_call: Callable[[], Parsed] | None = None,
                 trends_call: Callable[[], Parsed] | None = None,
                 campaign_call: Callable[[], Parsed] | None = None) -> Parsed:
    """A Parsed whose value is a Forecast and whose reply is the pool list's (for "updated at" marks).

    `balances`: also ask `GET /token-pools/:id/balance` for each pool (the pools page does; the overview
    and the banner make do with the list). `pools_call`, `trends_call` and `campaign_call` let the
    overview share the answers its other cards fetch in the same round."""
    trends_future = POOL.submit(trends_call or (lambda: api.trends(TREND_DAYS)))
    campaign_future = POOL.submit(campaign_call or (lambda: active_campaign_with_analytics(api)))
    pools = pools_call() if pools_call else api.token_pools(fresh=fresh)
    listed = pools.value
    if balances:
        futures = [POOL.submit(api.pool_balance, pool.id, fresh) for pool in listed]
        listed = [_merge(pool, future) for pool, future in zip(listed, futures)]
    trends = trends_future.result().value
    try:
        active = campaign_future.result().value
    except errors.SirError:
        active = None  # the forecast falls back to shares of consumption
    campaigns = [active] if active is not None else []
    return Parsed(_assemble(listed, trends, campaigns), pools.reply)


def active_campaign_with_analytics(api: PartnerApi) -> Parsed:
    """The running campaign and its analytics, or a Parsed of None when no campaign runs."""
    active = api.active_campaign()
    if active.value is None:
        return active
    analytics = api.campaign_analytics(active.value.id)
    return Parsed((active.value, analytics.value), analytics.reply)


def _merge(listed: TokenPool, balance_future) -> TokenPool:
    """The pool from the list with the figures of its balance endpoint (the newest ones); the list's own
    figures, a few seconds older, when that call fails."""
    try:
        balance = balance_future.result().value
    except errors.SirError:
        return listed
    # Only what the balance reply said: a figure it left out keeps the list's.
    said = balance.model_fields_set & {"balance", "allocated", "consumed", "threshold", "status"}
    return listed.model_copy(update={name: getattr(balance, name) for name in said})


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
