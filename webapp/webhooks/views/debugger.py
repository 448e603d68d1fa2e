"""The signature debugger page: paste a delivery, or pick a received event."""

from __future__ import annotations

from flask import g, request

from ...store import events as received
from ...upstream import current_environment, vault
from ...web import get_for_partner, render_htmx_template
from .. import bp
from ..debugger import check_pasted, check_received, received_headers, secret_label
from ..forms import DebuggerForm
from .common import kept_receivers


@bp.route("/debugger", methods=["GET", "POST"], endpoint="debugger")
def debugger_page():
    """Paste a delivery, or pick a received event (checked at once, on the exact bytes the receiver kept)."""
    kept = kept_receivers()
    form = DebuggerForm()
    report, picked = None, None
    if request.method == "GET" and request.args.get("event"):
        picked = get_for_partner(received.find, request.args.get("event", type=int))
        receiver = next((r for r in kept.values() if r.id == picked.receiver_id), None)
        form.headers.data, form.body.data = received_headers(picked), picked.raw_body
        form.receiver.data = receiver.webhook_id if receiver else ""
        report = check_received(picked, receiver, vault())
    if request.method == "POST":
        if form.validate_on_submit():
            report = check_pasted(form.headers.data or "", form.body.data or "", (form.secret.data or "").strip(),
                                  kept.get(form.receiver.data or ""), kept, vault())
        form.secret.data = ""  # never echoed back
    recent = received.newest_first(g.partner["id"], current_environment(), limit=30)
    return render_htmx_template("webhooks/debugger.html", "webhooks/_debugger_result.html", form=form,
                                receivers=kept, report=report, recent=recent, picked=picked,
                                secret_label=secret_label)
