"""Recover an endpoint's failed deliveries: count them since a moment, start a batch, step it with progress."""

from __future__ import annotations

from datetime import datetime

from flask import flash, request, url_for

from ... import clock
from ...actor import current_actor
from ...sir.times import parse_moment, to_local_input
from ...store import recoveries
from ...upstream import partner_api
from ...web import get_for_partner, go, render_htmx_template
from .. import bp
from ..forms import RecoverForm
from ..recovery import RECOVERY_CHUNK, failed_since, run_step, start_recovery
from .common import webhook_or_404

BUSY = "SIR Giving is busy or slow to answer; the portal tries the next chunk again in a moment."


def _since_or_problem(form: RecoverForm) -> tuple[datetime | None, str | None]:
    since = parse_moment(form.since.data)
    if since is None:
        return None, "Enter a date and time like 2026-11-24 09:30 (UTC)."
    if since > clock.now():
        return None, "That moment is in the future: choose one in the past."
    return since, None


@bp.route("/<webhook_id>/recover", methods=["GET", "POST"])
def recover(webhook_id):
    """GET counts the failed deliveries since the moment (sending nothing); POST starts the batch."""
    hook = webhook_or_404(webhook_id)
    form = RecoverForm(formdata=request.form if request.method == "POST" else request.args)
    since, problem = _since_or_problem(form)
    context = dict(hook=hook, form=form, count=None, capped=False, chunk=RECOVERY_CHUNK)
    if problem:
        form.since.errors = [problem]
        return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html", status=422, **context)
    form.since.data = to_local_input(since)
    if request.method == "POST" and form.validate_on_submit():
        batch = start_recovery(current_actor(), partner_api(), hook, since)
        return go(url_for("webhooks.recovery", batch_id=batch.id))
    failed = failed_since(partner_api(), hook.id, since)
    return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html",
                                **{**context, "count": len(failed.delivery_ids), "capped": failed.capped})


def _batch_or_404(batch_id: int):
    return get_for_partner(recoveries.find, batch_id)


def _progress(batch, note=None):
    hook = next((h for h in partner_api(batch.environment).webhooks().value if h.id == batch.webhook_id), None)
    return render_htmx_template("webhooks/recovery.html", "webhooks/_recovery_progress.html", batch=batch,
                                total=len(recoveries.delivery_ids(batch)), hook=hook, note=note)


@bp.get("/recoveries/<int:batch_id>")
def recovery(batch_id):
    """The progress of a recovery batch. Showing it changes nothing; the page steps the batch with POSTs."""
    return _progress(_batch_or_404(batch_id))


@bp.post("/recoveries/<int:batch_id>/step")
def recovery_step(batch_id):
    """Run the next bounded chunk of retries and show the progress (htmx), or come back to it (no script)."""
    batch = _batch_or_404(batch_id)
    if batch.state == "running":  # a finished batch needs no key of its environment to be shown
        note = BUSY if run_step(current_actor(), partner_api(batch.environment), batch).slowed else None
    else:
        note = None
    if request.headers.get("HX-Request") == "true":
        return _progress(batch, note=note)
    if note:
        flash(note, "warning")
    return go(url_for("webhooks.recovery", batch_id=batch.id))
