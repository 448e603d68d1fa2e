"""Events the portal's receiver accepted: newest first, filtered by type, live; dismissing an alert."""

from __future__ import annotations

import json
from datetime import datetime

from flask import g, request, url_for

from ... import clock
from ...sir.times import parse_time
from ...store import events as received
from ...upstream import current_environment
from ...web import get_for_partner, go, render_htmx_template
from .. import bp
from ..alerts import ALERT_TYPES
from ..filters import DELIVERY_EVENT_TYPES
from ..registration import delivers_to_portal
from .common import kept_receivers

EVENTS_PAGE_SIZE = 50


@bp.get("/events")
def events():
    """Received events, newest first; the first page polls for new ones while it is open."""
    partner_id, environment = g.partner["id"], current_environment()
    types = received.event_types(partner_id, environment)
    event_type, problem = request.args.get("type") or None, None
    if event_type and event_type not in types and event_type not in DELIVERY_EVENT_TYPES:
        problem, event_type = f"“{event_type}” is not an event type SIR Giving sends; showing every type.", None
    total = received.count(partner_id, environment, event_type)
    pages = max(1, -(-total // EVENTS_PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    rows = received.newest_first(partner_id, environment, event_type, offset=(page - 1) * EVENTS_PAGE_SIZE,
                                 limit=EVENTS_PAGE_SIZE)
    kept = kept_receivers()
    return render_htmx_template("webhooks/events.html", "webhooks/_events.html", events=rows, event_type=event_type,
                                types=types, by_receiver={r.id: r for r in kept.values()},
                                total=total, page=page, pages=pages, problem=problem, alert_types=ALERT_TYPES,
                                portal_receivers=[r for r in kept.values() if delivers_to_portal(r)])


@bp.app_template_filter("event_data")
def event_data(raw_body: str) -> str:
    """The `data` object of a stored envelope, compact, for the events list (the whole body if it has none)."""
    try:
        data = json.loads(raw_body).get("data")
    except (ValueError, AttributeError):
        return raw_body
    return json.dumps(data, separators=(", ", ": "), ensure_ascii=False) if data is not None else raw_body


@bp.app_template_filter("age_seconds")
def age_seconds(moment: datetime | None) -> float:
    return (clock.now() - parse_time(moment)).total_seconds() if moment else float("inf")


@bp.post("/events/<int:event_id>/dismiss")
def dismiss_event(event_id):
    received.dismiss(get_for_partner(received.find, event_id))
    back = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else None
    return go(back or url_for("webhooks.events"))
