"""Recovering an endpoint's failed deliveries: retry every one that failed since a time, as a bounded batch.

The batch fixes its delivery ids when it starts (oldest first), then runs in steps of RECOVERY_CHUNK retries,
one step per POST, so no request does unbounded work and the page shows progress. Each step's counts are
saved with one conditional UPDATE: two tabs stepping the same batch never count a delivery twice (a retry
itself is safe to repeat)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from ..actor import Actor
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.models import Attempt, Delivery, Webhook
from ..sir.times import to_wire
from ..store import recoveries
from ..store.models import RecoveryBatch
from .filters import TEST_EVENT_TYPE

RECOVERY_CHUNK = 10  # retries per step: bounded work per request
RECOVERY_PAGES = 20  # at most 2,000 failed deliveries in one batch: bounded work, and the admin is told
SLOWED = (errors.RateLimited, errors.UpstreamTimeout, errors.Unreachable)  # may pass: try again next step


@dataclass(frozen=True)
class FailedSince:
    delivery_ids: list[str]  # oldest first
    capped: bool  # more failed in that time than one batch takes


def failed_since(api: PartnerApi, webhook_id: str, since: datetime) -> FailedSince:
    """The webhook's deliveries (test events aside) that the portal itself sees as failed and created since
    `since`, fresh from SIR Giving, oldest first (the filter is applied here as well as asked of SIR Giving, so an upstream that
    ignores it cannot add a delivery that had succeeded). Counting sends nothing."""
    listing = api.every_delivery(webhook_id, status="failed", since=to_wire(since), fresh=True,
                                 max_pages=RECOVERY_PAGES).value
    # A test event is no missed event (and the probe sent before a recovery must not join it).
    oldest_first = sorted((d for d in listing if d.event_type != TEST_EVENT_TYPE), key=lambda d: d.created_at)
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
    refused = []
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
            refused.append(delivery_id)
    finished = start + done + failed >= len(ids)
    counted = recoveries.claim_step(batch, start, done, failed, finished, refused)
    if counted and finished:
        actor.audit("deliveries_recovery_finished", batch.webhook_id, environment=batch.environment,
                    outcome="success" if not batch.failed else "failure",
                    detail=f"{batch.done} retried, {batch.failed} could not be queued")
    return Step(counted, slowed)


# -- before: is the endpoint answering now? ------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """A test event sent to see whether the endpoint answers, and how it went (`state`): waiting (not tried
    yet), answering (a 2xx), failing (anything else); `attempt` is the try that decided it."""

    event_id: str
    delivery_id: str | None
    state: str = "waiting"
    attempt: Attempt | None = None


def send_probe(actor: Actor, api: PartnerApi, hook: Webhook) -> Probe:
    """Have SIR Giving send the endpoint a test event (audited like any test event). Raises the SirError
    that says why SIR Giving refused."""
    try:
        sent = api.send_test_event(hook.id)
    except errors.SirError as error:
        actor.audit("test_event_sent", hook.url, outcome="failure", detail=error.code)
        raise
    event_id = str(sent.get("eventId") or "")
    actor.audit("test_event_sent", f"{hook.url} ({hook.id})", detail=f"{event_id} (is it answering before recovery?)")
    return Probe(event_id, sent.get("deliveryId") or None)


def probe_outcome(api: PartnerApi, webhook_id: str, probe: Probe) -> Probe:
    """The probe as SIR Giving reports it now (fresh): found by its delivery id, or else by its event id."""
    if probe.delivery_id:
        try:
            delivery = api.find_delivery(webhook_id, probe.delivery_id, event_id=probe.event_id or None,
                                         fresh=True).value
        except errors.NotFound:
            return probe
    else:
        found = api.deliveries_of_event([webhook_id], probe.event_id, fresh=True) if probe.event_id else []
        if not found:
            return probe
        delivery = found[0]
    if delivery.status == "pending" or not (delivery.attempts or delivery.attempt_history):
        return replace(probe, delivery_id=delivery.id)
    history = delivery.attempt_history or ()
    attempt = history[-1] if history else Attempt(attempted_at=delivery.last_attempt_at,
                                                   response_status=delivery.response_status,
                                                   response_excerpt=delivery.response_excerpt, error=delivery.error,
                                                   status=delivery.status)
    return replace(probe, delivery_id=delivery.id, attempt=attempt,
                   state="answering" if delivery.status == "succeeded" else "failing")


# -- after: how did each retried delivery land? --------------------------------------------------------

OUTCOMES = {
    "landed": "Landed",
    "failed_again": "Failed again",
    "pending": "Still pending",
    "waiting": "Not retried yet",
    "not_queued": "Not queued",
    "unknown": "Not found",
}


@dataclass(frozen=True)
class Landing:
    delivery_id: str
    outcome: str  # a key of OUTCOMES
    delivery: Delivery | None


@dataclass(frozen=True)
class Report:
    rows: list[Landing]
    counts: dict[str, int]
    settled: bool  # the batch is finished and no retried delivery is still pending: nothing will change


def report(api: PartnerApi, batch: RecoveryBatch) -> Report:
    """Each delivery of the batch as SIR Giving reports it now (fresh): landed, failed again, still pending,
    not retried yet, or not queued (SIR Giving refused the retry). A retry makes a delivery pending at once,
    so a retried delivery that reads as failed has failed again since."""
    ids = recoveries.delivery_ids(batch)
    handled = batch.done + batch.failed
    refused = set(recoveries.refused_ids(batch))
    listing = api.every_delivery(batch.webhook_id, since=to_wire(batch.since), fresh=True,
                                 max_pages=RECOVERY_PAGES).value
    by_id = {d.id: d for d in listing}
    rows = []
    for index, delivery_id in enumerate(ids):
        delivery = by_id.get(delivery_id)
        if index >= handled:
            outcome = "waiting"
        elif delivery_id in refused:
            outcome = "not_queued"
        elif delivery is None:
            outcome = "unknown"
        else:
            outcome = {"succeeded": "landed", "failed": "failed_again"}.get(delivery.status, "pending")
        rows.append(Landing(delivery_id, outcome, delivery))
    counts = {key: sum(1 for r in rows if r.outcome == key) for key in OUTCOMES}
    return Report(rows, counts, batch.state == "finished" and not counts["pending"] and not counts["waiting"])
