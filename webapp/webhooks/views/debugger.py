"""The signature debugger page: paste a delivery, or pick a received event."""

from __future__ import annotations

from flask import g, request

from ...store import events as received
from ...upstream import current_environment, vault
from ...web import get_for_partner, render_htmx_template
from .. import bp
from ... import clock
from ..debugger import check_delivery, check_pasted, check_received, received_headers, secret_label
from ..detail import debugger_headers, envelope_bytes, sent_headers
from ..forms import DebuggerForm
from .common import kept_receivers, webhook_or_404
from .detail import delivery_or_404


@bp.route("/debugger", methods=["GET", "POST"], endpoint="debugger")
def debugger_page():
    """Paste a delivery, or pick a received event (checked at once, on the exact bytes the receiver kept)."""
    kept = kept_receivers()
    form = DebuggerForm()
    report, picked, from_delivery = None, None, None
    if request.method == "GET" and request.args.get("event"):
        picked = get_for_partner(received.find, request.args.get("event", type=int))
        receiver = next((r for r in kept.values() if r.id == picked.receiver_id), None)
        form.headers.data, form.body.data = received_headers(picked), picked.raw_body
        form.receiver.data = receiver.webhook_id if receiver else ""
        report = check_received(picked, receiver, vault())
    elif request.method == "GET" and request.args.get("delivery"):
        report, from_delivery = _prefill_from_delivery(form, kept)
    if request.method == "POST":
        if form.validate_on_submit():
            report = check_pasted(form.headers.data or "", form.body.data or "", (form.secret.data or "").strip(),
                                  kept.get(form.receiver.data or ""), kept, vault())
        form.secret.data = ""  # never echoed back
    recent = received.newest_first(g.partner["id"], current_environment(), limit=30)
    return render_htmx_template("webhooks/debugger.html", "webhooks/_debugger_result.html", form=form,
                                receivers=kept, report=report, recent=recent, picked=picked,
                                secret_label=secret_label, from_delivery=from_delivery)


def _prefill_from_delivery(form: DebuggerForm, kept: dict):
    """The form filled from a delivery SIR Giving reports (the partner's endpoint, or 404), checked at once
    with the endpoint's kept secret, if any: the page answers only yes or no, as for a received event."""
    hook = webhook_or_404(request.args.get("webhook", ""))
    delivery = delivery_or_404(hook, request.args.get("delivery", "")).value
    header_text, body = debugger_headers(delivery), envelope_bytes(delivery)
    if header_text is None or body is None:
        return None, delivery
    receiver = kept.get(hook.id)
    form.headers.data, form.body.data = header_text, body.decode()
    form.receiver.data = hook.id if receiver else ""
    stamp = sent_headers(delivery)["x-sir-timestamp"]
    sent_at = int(stamp) if stamp.isdigit() else clock.timestamp()
    return check_delivery(header_text, body, receiver, vault(), sent_at), delivery
