"""Alerts drawn from received events, on every page: for a day after SIR Giving sends them, until dismissed."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import g, url_for

from .. import clock
from ..store import events
from ..templating import Banner
from ..upstream import current_environment

ALERT_TYPES = ("token_pool.low_balance", "token_pool.depleted", "api_key.expiring", "token_pool_request.approved",
               "token_pool_request.rejected")
WINDOW = timedelta(hours=24)


def alert_events() -> list[tuple[int, str, dict]]:
    """The events that make banners: received in the last day and not dismissed, as (id, type, data), read once
    per request; plain values, which a commit later in the request cannot expire."""
    if "alert_events" not in g:
        g.alert_events = [(event.id, event.event_type, json.loads(event.raw_body).get("data") or {})
                          for event in events.alerts(g.partner["id"], current_environment(), ALERT_TYPES,
                                                     clock.now() - WINDOW, limit=5)]
    return g.alert_events


def event_banners() -> list[Banner]:
    banners = []
    for event_id, event_type, data in alert_events():
        count = len(banners)
        if event_type in ("token_pool.low_balance", "token_pool.depleted"):
            word = "is empty" if event_type.endswith("depleted") else "ran low"
            banners.append(Banner("danger" if word == "is empty" else "warning",
                                  f"SIR Giving reports: pool “{data.get('poolName', data.get('poolId', '?'))}” {word} "
                                  f"({int(data.get('balance', 0)):,} tokens left).",
                                  url_for("pools.request_top_up", pool_id=data["poolId"]) if data.get("poolId") else
                                  url_for("pools.index"), "Request a top-up"))
        elif event_type == "api_key.expiring":
            banners.append(Banner("warning", f"SIR Giving reports: key “{data.get('name', data.get('keyId'))}” expires soon.",
                                  url_for("keys.roll_key", key_id=data["keyId"]) if data.get("keyId") else url_for("keys.index"),
                                  "Roll this key"))
        else:
            outcome = "approved" if event_type.endswith("approved") else "rejected"
            banners.append(Banner("warning" if outcome == "rejected" else "info",
                                  f"SIR Giving {outcome} the top-up of {int(data.get('amount', 0)):,} tokens for “{data.get('poolName', '')}”.",
                                  url_for("pools.top_up_requests", status=outcome), "See requests"))
        if len(banners) > count:  # dismissed where it shows, not only on the events page
            banners[-1].dismiss_url = url_for("webhooks.dismiss_event", event_id=event_id)
    return banners
