"""One endpoint's deliveries: retry one, send a test event, export them as CSV."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from ..actor import Actor
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.models import Webhook
from ..sir.times import to_wire
from .filters import DeliveryFilter

CSV_PAGES = 50  # at most 5,000 rows: a bounded export
CSV_COLUMNS = ["delivery_id", "event_id", "event_type", "status", "attempts", "response_status", "error",
               "created_at", "last_attempt_at", "next_retry_at"]


def retry_delivery(actor: Actor, api: PartnerApi, hook: Webhook, delivery_id: str) -> bool:
    """Ask SIR Giving to send one delivery again: True when it is queued, False when it had succeeded already
    (nothing to retry). Raises the SirError that says why SIR Giving refused."""
    try:
        api.retry_delivery(hook.id, delivery_id)
    except errors.Conflict:
        return False
    except errors.SirError as error:
        actor.audit("delivery_retried", delivery_id, outcome="failure", detail=error.code)
        raise
    actor.audit("delivery_retried", f"{delivery_id} ({hook.url})")
    return True


def send_test_event(actor: Actor, api: PartnerApi, hook: Webhook) -> str:
    """Have SIR Giving send the endpoint a `webhook.test` event; its event id. Raises the SirError that says
    why SIR Giving refused."""
    try:
        sent = api.send_test_event(hook.id)
    except errors.SirError as error:
        actor.audit("test_event_sent", hook.url, outcome="failure", detail=error.code)
        raise
    actor.audit("test_event_sent", f"{hook.url} ({hook.id})", detail=sent.get("eventId"))
    return sent.get("eventId", "")


def delivery_rows(api: PartnerApi, hook: Webhook, chosen: DeliveryFilter) -> Iterator[list]:
    """The deliveries the list shows with the same filters (applied by the portal as well as asked of SIR
    Giving), every page up to CSV_PAGES of 100, fresh from SIR Giving, without payloads or response bodies:
    one row of CSV_COLUMNS each.

    The first page is asked for now, so a refusal from SIR Giving is a page that says so, not a broken download;
    the others while the CSV streams. One that fails then ends the download unfinished, which the browser shows
    as failed rather than as a file that looks whole."""
    _, pages = api.delivery_pages(hook.id, fresh=True, max_pages=CSV_PAGES, **chosen.api_params())
    first = next(pages, [])
    return (_row(d) for page in chain([first], pages) for d in page)


def _row(d) -> list:
    return [d.id, d.event_id, d.event_type, d.status, d.attempts, d.response_status or "", d.error or "",
            to_wire(d.created_at), to_wire(d.last_attempt_at), to_wire(d.next_retry_at)]
