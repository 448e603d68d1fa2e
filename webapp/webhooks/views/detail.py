"""One delivery's page (its attempts, headers and envelope; retry; the debugger prefilled) and the look-up
of a delivery by event id across the partner's endpoints."""

from __future__ import annotations

from flask import abort, request

from ...sir import errors
from ...upstream import partner_api
from ...web import render_htmx_template
from .. import bp
from ..detail import attempts_of, debugger_headers, envelope_bytes, envelope_text, event_id_problem, headers_shown
from .common import kept_receivers, webhook_or_404


def delivery_or_404(hook, delivery_id: str, fresh: bool = False):
    """The endpoint's delivery, or 404: the endpoint is the signed-in partner's (webhook_or_404), and the
    delivery must be in that endpoint's own list."""
    try:
        return partner_api().find_delivery(hook.id, delivery_id, event_id=request.args.get("event") or None,
                                           fresh=fresh)
    except errors.NotFound:
        abort(404)


@bp.get("/<webhook_id>/deliveries/<delivery_id>")
def delivery(webhook_id, delivery_id):
    hook = webhook_or_404(webhook_id)
    found = delivery_or_404(hook, delivery_id, fresh=request.args.get("refresh") == "1")
    d = found.value
    attempts, all_attempts = attempts_of(d)
    return render_htmx_template("webhooks/delivery.html", "webhooks/_delivery_attempts.html", hook=hook, d=d,
                                reply=found.reply, attempts=attempts, all_attempts=all_attempts,
                                headers=headers_shown(d), envelope=envelope_text(d),
                                can_debug=envelope_bytes(d) is not None and debugger_headers(d) is not None,
                                secret_kept=hook.id in kept_receivers())


@bp.get("/search")
def search():
    """Every delivery of one event, on any of the partner's endpoints (in this environment)."""
    event_id = (request.args.get("event") or "").strip()
    problem = event_id_problem(event_id)
    results = []
    hooks = {}
    if not problem:
        api = partner_api()
        hooks = {h.id: h for h in api.webhooks().value}
        results = api.deliveries_of_event(list(hooks), event_id, fresh=True)
    return render_htmx_template("webhooks/search.html", "webhooks/_search_results.html",
                                status=422 if problem and "event" in request.args else 200,
                                event_id=event_id, problem=problem if "event" in request.args else None,
                                results=results, hooks=hooks)
