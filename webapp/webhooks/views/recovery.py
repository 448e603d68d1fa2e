"""Recover an endpoint's failed deliveries: count them since a moment, start a batch, step it with progress."""

from __future__ import annotations

from datetime import datetime

from flask import flash, request, url_for

from ...errors import in_place
from ...sir import errors

from ... import clock
from ...actor import current_actor
from ...sir.times import parse_moment, to_local_input
from ...store import recoveries
from ...upstream import partner_api
from ...web import get_for_partner, go, render_htmx_template
from .. import bp
from ..forms import RecoverForm
from ..recovery import OUTCOMES, RECOVERY_CHUNK, Probe, failed_since, probe_outcome, report, run_step, send_probe, start_recovery
from .common import webhook_or_404

BUSY = "SIR Giving is busy or slow to answer; the portal tries the next chunk again in a moment."
PROBE_POLLS = 30  # a probe is asked after every 2 s this many times (a minute), then the page stops asking


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
    api = partner_api(batch.environment)
    hook = next((h for h in api.webhooks().value if h.id == batch.webhook_id), None)
    # The full page shows how each delivery landed too; a step (htmx) returns only the progress.
    landed = None if request.headers.get("HX-Request") == "true" else report(api, batch)
    return render_htmx_template("webhooks/recovery.html", "webhooks/_recovery_progress.html", batch=batch,
                                total=len(recoveries.delivery_ids(batch)), hook=hook, note=note, report=landed,
                                outcomes=OUTCOMES)


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


@bp.post("/<webhook_id>/probe")
def probe(webhook_id):
    """Send the endpoint a test event before a recovery, and show whether it answers (polled)."""
    hook = webhook_or_404(webhook_id)
    try:
        sent = send_probe(current_actor(), partner_api(), hook)
    except errors.SirError as error:
        return render_htmx_template("webhooks/probe.html", "webhooks/_probe.html", hook=hook, probe=None,
                                    polls=0, error=in_place(error), max_polls=PROBE_POLLS)
    return render_htmx_template("webhooks/probe.html", "webhooks/_probe.html", hook=hook, probe=sent, polls=0,
                                error=None, max_polls=PROBE_POLLS)


@bp.get("/<webhook_id>/probe")
def probe_status(webhook_id):
    """How the test event sent before a recovery went: waiting, answering or failing."""
    hook = webhook_or_404(webhook_id)
    sent = Probe(request.args.get("event", ""), request.args.get("delivery") or None)
    if not sent.event_id and not sent.delivery_id:
        return go(url_for("webhooks.deliveries", webhook_id=hook.id))
    polls = request.args.get("polls", 0, type=int) + 1
    return render_htmx_template("webhooks/probe.html", "webhooks/_probe.html", hook=hook,
                                probe=probe_outcome(partner_api(), hook.id, sent), polls=polls, error=None,
                                max_polls=PROBE_POLLS)


@bp.get("/recoveries/<int:batch_id>/report")
def recovery_report(batch_id):
    """How each delivery of a batch landed, as SIR Giving reports it now; polled until it settles."""
    batch = _batch_or_404(batch_id)
    if request.headers.get("HX-Request") != "true":
        return go(url_for("webhooks.recovery", batch_id=batch.id))
    return render_htmx_template("webhooks/recovery.html", "webhooks/_recovery_report.html", batch=batch,
                                report=report(partner_api(batch.environment), batch), outcomes=OUTCOMES)
