"""Recovering an endpoint's failed deliveries: retry every one that failed since a time, as a bounded batch.

The batch fixes its delivery ids when it starts (oldest first), then runs in steps of RECOVERY_CHUNK retries,
one step per POST, so no request does unbounded work and the page shows progress. Each step's counts are
saved with one conditional UPDATE: two tabs stepping the same batch never count a delivery twice (a retry
itself is safe to repeat)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..actor import Actor
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.models import Webhook
from ..sir.times import to_wire
from ..store import recoveries
from ..store.models import RecoveryBatch

RECOVERY_CHUNK = 10  # retries per step: bounded work per request
RECOVERY_PAGES = 20  # at most 2,000 failed deliveries in one batch: bounded work, and the admin is told
SLOWED = (errors.RateLimited, errors.UpstreamTimeout, errors.Unreachable)  # may pass: try again next step


@dataclass(frozen=True)
class FailedSince:
    delivery_ids: list[str]  # oldest first
    capped: bool  # more failed in that time than one batch takes


def failed_since(api: PartnerApi, webhook_id: str, since: datetime) -> FailedSince:
    """The webhook's deliveries that the portal itself sees as failed and created since `since`, fresh from
    SIR Giving, oldest first (the filter is applied here as well as asked of SIR Giving, so an upstream that
    ignores it cannot add a delivery that had succeeded). Counting sends nothing."""
    listing = api.every_delivery(webhook_id, status="failed", since=to_wire(since), fresh=True,
                                 max_pages=RECOVERY_PAGES).value
    oldest_first = sorted(listing, key=lambda d: d.created_at)
    return FailedSince([d.id for d in oldest_first], not listing.complete)


def start_recovery(actor: Actor, api: PartnerApi, hook: Webhook, since: datetime) -> RecoveryBatch:
    """A batch over the deliveries that failed since `since`, as they are now. Nothing is retried yet."""
    failed = failed_since(api, hook.id, since)
    batch = recoveries.create(actor.partner_id, actor.environment, hook.id, since, failed.delivery_ids,
                              actor.email, commit=False)
    actor.audit("deliveries_recovered", f"{hook.url} ({hook.id})",
                detail=f"{len(failed.delivery_ids)} failed since {since:%Y-%m-%d %H:%M} UTC"
                       + (" (first batch of more)" if failed.capped else ""))
    return batch


@dataclass(frozen=True)
class Step:
    counted: bool  # this step's counts were kept (False: nothing to do, or another step counted first)
    slowed: bool  # SIR Giving was busy or slow: the rest of the chunk waits for the next step


def run_step(actor: Actor, api: PartnerApi, batch: RecoveryBatch) -> Step:
    """Retry the next RECOVERY_CHUNK deliveries of a running batch and count them; `batch` shows the saved
    progress afterwards. `api` is bound to the batch's environment."""
    if batch.state != "running":
        return Step(False, False)
    ids = recoveries.delivery_ids(batch)
    start = batch.done + batch.failed
    done = failed = 0
    slowed = False
    for delivery_id in ids[start:start + RECOVERY_CHUNK]:
        try:
            api.retry_delivery(batch.webhook_id, delivery_id)
            done += 1
        except errors.Conflict:
            done += 1  # it succeeded meanwhile: nothing left to recover
        except SLOWED:
            slowed = True  # try this one again on the next step
            break
        except errors.SirError:
            failed += 1
    finished = start + done + failed >= len(ids)
    counted = recoveries.claim_step(batch, start, done, failed, finished)
    if counted and finished:
        actor.audit("deliveries_recovery_finished", batch.webhook_id, environment=batch.environment,
                    outcome="success" if not batch.failed else "failure",
                    detail=f"{batch.done} retried, {batch.failed} could not be queued")
    return Step(counted, slowed)
