"""One endpoint's deliveries: the list (with its live refresh), retry one, send a test event, CSV export."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, request, url_for
from werkzeug.utils import secure_filename

from ... import clock
from ...actor import current_actor
from ...csv_export import csv_response
from ...errors import in_place
from ...parallel import POOL
from ...sir import errors
from ...sir.times import to_local_input
from ...upstream import partner_api
from ...web import go, render_htmx_template
from .. import bp
from ..deliveries import CSV_COLUMNS, delivery_rows, retry_delivery, send_test_event
from ..filters import DELIVERY_EVENT_TYPES, DELIVERY_STATUSES, DeliveryFilter
from ..forms import RecoverForm
from ..registration import delivers_to_portal
from .common import kept_receivers, webhook_or_404


@bp.get("/<webhook_id>")
def deliveries(webhook_id):
    chosen = DeliveryFilter.from_args(request.args)
    api = partner_api()
    # The endpoint, its deliveries and its health at once: one round for the page.
    hook_call = POOL.submit(api.webhook, webhook_id)
    health_call = POOL.submit(api.webhook_health)
    listing_call = POOL.submit(api.deliveries, webhook_id, page=chosen.page,
                               fresh=request.args.get("refresh") == "1", **chosen.api_params())
    hook = webhook_or_404(webhook_id, hook_call.result())
    listing = listing_call.result()
    try:
        health = next((h for h in health_call.result().value if h.webhook_id == hook.id), None)
    except errors.SirError:
        health = None  # the deliveries are what this page is for; the health line is a bonus
    receiver = kept_receivers().get(hook.id)
    since = clock.now() - timedelta(days=1)
    return render_htmx_template("webhooks/deliveries.html", "webhooks/_deliveries.html", hook=hook,
                                listing=listing.value, reply=listing.reply, chosen=chosen, health=health,
                                event_types=DELIVERY_EVENT_TYPES, statuses=DELIVERY_STATUSES, receiver=receiver,
                                recover_form=RecoverForm(formdata=None, since=to_local_input(since)),
                                portal_receiver=delivers_to_portal(receiver, hook))


@bp.post("/<webhook_id>/deliveries/<delivery_id>/retry")
def retry(webhook_id, delivery_id):
    hook = webhook_or_404(webhook_id)
    chosen = DeliveryFilter.from_args(request.args)
    try:
        queued = retry_delivery(current_actor(), partner_api(), hook, delivery_id)
    except errors.SirError as error:
        flash(in_place(error).sentence, "error")
    else:
        flash(f"Retry queued for delivery {delivery_id}: SIR Giving sends it again now; its row updates below."
              if queued else "That delivery has already succeeded; there is nothing to retry.",
              "success" if queued else "info")
    if request.args.get("from") == "detail":
        return go(url_for("webhooks.delivery", webhook_id=hook.id, delivery_id=delivery_id, refresh=1))
    return go(url_for("webhooks.deliveries", webhook_id=hook.id,
                      **chosen.args(refresh=1, page=chosen.page if chosen.page > 1 else None)))


@bp.post("/<webhook_id>/test")
def send_test(webhook_id):
    hook = webhook_or_404(webhook_id)
    try:
        event_id = send_test_event(current_actor(), partner_api(), hook)
    except errors.SirError as error:
        flash(in_place(error).sentence, "error")
        return go(url_for("webhooks.deliveries", webhook_id=hook.id))
    where = (" It lands on the Events page as soon as the portal's receiver has verified it."
             if delivers_to_portal(kept_receivers().get(hook.id), hook) else "")
    flash(f"Test event {event_id} sent: its delivery appears at the top of the list within seconds." + where,
          "success")
    return go(url_for("webhooks.deliveries", webhook_id=hook.id, refresh=1))


@bp.get("/<webhook_id>/deliveries.csv")
def deliveries_csv(webhook_id):
    """The deliveries the list shows with the same filters, every page, without payloads or response bodies."""
    hook = webhook_or_404(webhook_id)
    chosen = DeliveryFilter.from_args(request.args)
    rows = delivery_rows(partner_api(), hook, chosen)
    name = "-".join(["deliveries", hook.id] + [v for v in chosen.args().values()])
    return csv_response(f"{secure_filename(name)}.csv", CSV_COLUMNS, rows)
