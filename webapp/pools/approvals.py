"""Top-up requests after they are sent: how long SIR Giving takes to decide, which pending requests may
come too late, and what a decision changes (the balances the portal has cached).

Requests are always asked fresh (one small call): a request's status changes on SIR Giving's side, and a
reload must show it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime, timedelta

from ..parallel import POOL
from ..sir import errors
from ..sir.api import Parsed, PartnerApi
from ..sir.models import AllocationRequest, TokenPool
from .forecast import pool_runways
from .runway import Runway

EVERY_REQUEST = 100  # how many of the newest requests the statistics and warnings look at


@dataclass(frozen=True)
class ApprovalTimes:
    """How long decisions have taken, in days: the median ("typical") and the slowest, over `decided`."""

    typical_days: float | None
    slowest_days: float | None
    decided: int

    @classmethod
    def of(cls, items: list[AllocationRequest]) -> "ApprovalTimes":
        waits = approval_times(items)
        return cls(statistics.median(waits) if waits else None, max(waits) if waits else None, len(waits))


class TooLate(NamedTuple):
    """The pending requests of a pool that runs out (or has run out) before approvals usually come."""

    pool: TokenPool
    pool_runway: Runway
    requests: list[AllocationRequest]


def approval_times(items: list[AllocationRequest]) -> list[float]:
    """Days each decided request took; approvals when there are any, else every decision."""
    approved = [r.waited.total_seconds() / 86400 for r in items if r.status == "approved" and r.waited]
    return approved or [r.waited.total_seconds() / 86400 for r in items if r.waited]


def decided_since(items: list[AllocationRequest], moment: datetime) -> bool:
    """Whether SIR Giving decided a request after `moment` (when a cached answer was fetched). Its times
    are whole seconds, so a decision in the same second as the fetch counts as after it."""
    return any(r.decided_at and r.decided_at + timedelta(seconds=1) > moment for r in items)


def too_late(items: list[AllocationRequest], runways: dict[str, tuple[TokenPool, Runway]],
             typical_days: float | None) -> list[TooLate]:
    """One warning per pool (in list order) whose pending requests may come too late: the pool is empty,
    or lasts fewer days than approvals typically take."""
    if typical_days is None:
        return []
    pending = [r for r in items if r.status == "pending"]
    warnings = []
    for pool_id in dict.fromkeys(r.pool_id for r in pending):
        pool, pool_runway = runways.get(pool_id, (None, None))
        if pool is not None and (pool.is_depleted or pool_runway.shorter_than(typical_days)):
            warnings.append(TooLate(pool, pool_runway, [r for r in pending if r.pool_id == pool_id]))
    return warnings


def pending_by_pool(items: list[AllocationRequest]) -> dict[str, list[AllocationRequest]]:
    grouped: dict[str, list[AllocationRequest]] = {}
    for item in items:
        if item.status == "pending":
            grouped.setdefault(item.pool_id, []).append(item)
    return grouped


def every_request(api: PartnerApi) -> Parsed:
    return api.allocation_requests(status=None, limit=EVERY_REQUEST, fresh=True)


def runways_after_decisions(api: PartnerApi, items: list[AllocationRequest], forecast: Parsed) -> Parsed:
    """`forecast` (from `pool_runways`), or a fresh one when a request was decided after its balances were
    fetched: those balances are out of date."""
    if decided_since(items, forecast.reply.fetched_at):
        return pool_runways(api, fresh=True, campaign_hint=forecast.value.active_campaign_id)
    return forecast


# -- the pages' data ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolsWithRequests:
    forecast: Parsed  # value: Forecast
    pending_by_pool: dict[str, list[AllocationRequest]]


def pools_with_requests(api: PartnerApi, fresh: bool = False, pools_call=None,
                        campaign_hint: str | None = None) -> PoolsWithRequests:
    """Every pool with its balance, runway and pending requests, asked at once (see `pool_runways` for
    `pools_call` and `campaign_hint`)."""
    requests_future = POOL.submit(every_request, api)
    forecast = pool_runways(api, fresh=fresh, pools_call=pools_call, campaign_hint=campaign_hint)
    items = requests_future.result().value.items
    if not fresh:
        forecast = runways_after_decisions(api, items, forecast)
    return PoolsWithRequests(forecast, pending_by_pool(items))


@dataclass(frozen=True)
class FollowUp:
    listing: Parsed  # value: Page[AllocationRequest], the page of the list asked for
    items: list[AllocationRequest]  # the newest requests, whatever their status
    times: ApprovalTimes
    warnings: list[TooLate]
    forecast: Parsed | None  # value: Forecast; None when the runways could not be worked out

    def request(self, request_id: str | None) -> AllocationRequest | None:
        return next((r for r in self.items if r.id == request_id), None) if request_id else None


def follow_up(api: PartnerApi, status: str | None = None, page: int = 1, pools_call=None,
              campaign_hint: str | None = None) -> FollowUp:
    """A page of the requests (of one status, or all), with how long approvals take and a warning for each
    pool whose pending requests may come too late."""
    everything_future = POOL.submit(every_request, api)
    runways_future = POOL.submit(pool_runways, api, pools_call=pools_call, campaign_hint=campaign_hint)
    listing = api.allocation_requests(status=status, page=page, limit=25, fresh=True)
    items = everything_future.result().value.items
    times = ApprovalTimes.of(items)
    try:
        forecast = runways_after_decisions(api, items, runways_future.result())
    except errors.SirError:
        forecast = None  # the list stands on its own; only the too-late warning needs the runways
    runways = {pool.id: (pool, r) for pool, r in forecast.value.rows} if forecast else {}
    return FollowUp(listing, items, times, too_late(items, runways, times.typical_days), forecast)
