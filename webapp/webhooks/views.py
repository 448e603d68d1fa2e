from __future__ import annotations

import csv
import io
import json
import secrets as secrets_module
from datetime import datetime, timedelta, timezone

from flask import Response, abort, current_app, flash, g, make_response, render_template, request, url_for
from sqlalchemy import select

from ..sir import errors
from ..store import audit, db, reveal, submissions
from ..store.models import ReceivedEvent, ReceiverEndpoint, RecoveryBatch
from ..upstream import current_environment, partner_api, vault
from ..web import get_for_partner, go, no_store, render_htmx_template
from . import bp, debugger
from .forms import DebuggerForm, DeleteWebhookForm, RecoverForm, RegisterWebhookForm

DELIVERY_STATUSES = ("pending", "succeeded", "failed")
RECOVERY_CHUNK = 10  # retries per progress poll: bounded work per request


def _webhook_or_404(webhook_id):
    hooks = partner_api().webhooks().value
    return next((h for h in hooks if h.id == webhook_id), None) or abort(404)


def _receivers() -> dict[str, ReceiverEndpoint]:
    rows = db.session.scalars(select(ReceiverEndpoint).filter_by(partner_id=g.partner["id"],
                                                                 environment=current_environment()))
    return {row.webhook_id: row for row in rows}


def _audit(action, target, outcome="success", detail=None):
    audit.record(actor=g.admin["email"], action=action, outcome=outcome, partner_id=g.partner["id"],
                 environment=current_environment(), target=target, detail=detail)


@bp.get("/")
def index():
    api = partner_api()
    hooks = api.webhooks()
    try:
        health = {h.webhook_id: h for h in api.webhook_health().value}
    except errors.SirError:
        health = None
    return render_template("webhooks/page.html", hooks=hooks.value, reply=hooks.reply, health=health,
                           receivers=_receivers())


# -- register and delete -----------------------------------------------------------------------------

def _receiver_url(token: str) -> str:
    base = current_app.config["SETTINGS"].public_url or request.host_url.rstrip("/")
    return f"{base}/hooks/{token}"


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = RegisterWebhookForm(current_environment())
    if request.method == "GET":
        form.submission.data = submissions.issue(g.partner["id"], "register-webhook")
        form.keep_secret.data = True
        return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form)
    if not form.validate_on_submit():
        return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form, status=422)
    claim = submissions.claim(form.submission.data, g.partner["id"], "register-webhook")
    if claim.state in ("done", "running"):
        token = (claim.result or {}).get("reveal")
        return go(url_for("webhooks.secret", token=token) if token else url_for("webhooks.index"))
    if claim.state != "claimed":
        return go(url_for("webhooks.new"))
    receiver_token = secrets_module.token_urlsafe(32)
    url = _receiver_url(receiver_token) if form.use_portal_receiver.data else form.url.data.strip()
    try:
        created = partner_api().register_webhook(url, form.description.data or None,
                                                 [] if form.all_events.data else form.event_types.data, form.all_events.data)
    except errors.SirError as error:
        submissions.release(form.submission.data)
        _audit("webhook_registered", url, "failure", error.code)
        if isinstance(error, errors.Unauthorized):
            raise
        if isinstance(error, errors.ValidationFailed) and error.fields:
            for problem in error.fields:
                target = form.url if problem.get("field") == "url" else form.event_types
                target.errors.append(problem.get("message", error.message))
        else:
            form.url.errors.append(f"{error.title}: {error.message} {error.next_step}")
        return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form, status=502)
    if form.use_portal_receiver.data or form.keep_secret.data:
        db.session.add(ReceiverEndpoint(partner_id=g.partner["id"], environment=current_environment(),
                                        webhook_id=created["id"], url=url, token=receiver_token,
                                        secret_encrypted=vault().encrypt(created["secret"])))
    shown_once = reveal.stash(vault(), g.partner["id"], created["id"], {"url": url, "secret": created["secret"]})
    audit.record(actor=g.admin["email"], action="webhook_registered", partner_id=g.partner["id"],
                 environment=current_environment(), target=f"{url} ({created['id']})",
                 detail="delivered to the portal's receiver" if form.use_portal_receiver.data else None, commit=False)
    submissions.finish(form.submission.data, {"reveal": shown_once})
    return go(url_for("webhooks.secret", token=shown_once))


@bp.get("/secret/<token>")
def secret(token):
    revealed, shown = reveal.take(vault(), token, g.partner["id"])
    if revealed is None:
        abort(404)
    receiver = db.session.scalar(select(ReceiverEndpoint).filter_by(partner_id=g.partner["id"], webhook_id=revealed.key_id))
    return no_store(make_response(render_template("webhooks/secret.html", shown=shown, revealed=revealed, receiver=receiver)))


@bp.route("/<webhook_id>/delete", methods=["GET", "POST"])
def delete(webhook_id):
    hook = _webhook_or_404(webhook_id)
    form = DeleteWebhookForm(hook.url)
    if request.method == "GET" or not form.validate_on_submit():
        return render_htmx_template("webhooks/delete.html", "webhooks/_delete_form.html", hook=hook, form=form,
                                    status=200 if request.method == "GET" else 422)
    try:
        partner_api().delete_webhook(hook.id)
    except errors.SirError as error:
        _audit("webhook_deleted", hook.url, "failure", error.code)
        form.confirm_url.errors.append(f"{error.title}: {error.message}")
        return render_htmx_template("webhooks/delete.html", "webhooks/_delete_form.html", hook=hook, form=form, status=502)
    receiver = _receivers().get(hook.id)
    if receiver is not None:
        db.session.delete(receiver)  # its path answers 404 from now on
    _audit("webhook_deleted", f"{hook.url} ({hook.id})")
    flash(f"Deleted the endpoint {hook.url}. SIR Giving sends nothing more to it.", "success")
    return go(url_for("webhooks.index"))


# -- deliveries ---------------------------------------------------------------------------------------

@bp.get("/<webhook_id>")
def deliveries(webhook_id):
    hook = _webhook_or_404(webhook_id)
    status = request.args.get("status") if request.args.get("status") in DELIVERY_STATUSES else None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    listing = partner_api().deliveries(hook.id, status=status, page=page, fresh=request.args.get("refresh") == "1")
    return render_htmx_template("webhooks/deliveries.html", "webhooks/_deliveries.html", hook=hook,
                                listing=listing.value, reply=listing.reply, status=status,
                                receiver=_receivers().get(hook.id), recover_form=RecoverForm(
                                    since=(datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")))


@bp.post("/<webhook_id>/deliveries/<delivery_id>/retry")
def retry(webhook_id, delivery_id):
    hook = _webhook_or_404(webhook_id)
    try:
        partner_api().retry_delivery(hook.id, delivery_id)
    except errors.SirError as error:
        _audit("delivery_retried", delivery_id, "failure", error.code)
        flash(f"{error.title}: {error.message}", "error")
    else:
        _audit("delivery_retried", f"{delivery_id} ({hook.url})")
        flash("Retry queued: SIR Giving sends the delivery again now.", "success")
    return go(url_for("webhooks.deliveries", webhook_id=hook.id, status=request.args.get("status"), refresh=1))


@bp.post("/<webhook_id>/test")
def send_test(webhook_id):
    hook = _webhook_or_404(webhook_id)
    try:
        sent = partner_api().send_test_event(hook.id)
    except errors.SirError as error:
        _audit("test_event_sent", hook.url, "failure", error.code)
        flash(f"{error.title}: {error.message}", "error")
        return go(url_for("webhooks.deliveries", webhook_id=hook.id))
    _audit("test_event_sent", f"{hook.url} ({hook.id})", detail=sent.get("eventId"))
    flash("Test event sent. It appears below within seconds"
          + (", and on the Events page once the portal's receiver has it." if _receivers().get(hook.id) else "."), "success")
    return go(url_for("webhooks.deliveries", webhook_id=hook.id, refresh=1))


@bp.get("/<webhook_id>/deliveries.csv")
def deliveries_csv(webhook_id):
    hook = _webhook_or_404(webhook_id)
    status = request.args.get("status") if request.args.get("status") in DELIVERY_STATUSES else None
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["delivery_id", "event_id", "event_type", "status", "attempts", "response_status", "created_at",
                     "last_attempt_at", "next_retry_at"])
    page = 1
    while page <= 50:  # at most 5,000 rows: a bounded export
        listing = partner_api().deliveries(hook.id, status=status, page=page, limit=100).value
        for d in listing.items:
            writer.writerow([d.id, d.event_id, d.event_type, d.status, d.attempts, d.response_status or "",
                             _iso(d.created_at), _iso(d.last_attempt_at), _iso(d.next_retry_at)])
        if not listing.has_more:
            break
        page += 1
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="deliveries-{hook.id}.csv"'})


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


# -- recover: retry every failed delivery since a time, as a bounded batch with progress --------------------

def _failed_since(hook_id: str, since: datetime) -> list[str]:
    ids, page = [], 1
    while page <= 20:
        listing = partner_api().deliveries(hook_id, status="failed", page=page, limit=100,
                                           since=since.strftime("%Y-%m-%dT%H:%M:%SZ"), fresh=True).value
        ids += [d.id for d in listing.items]
        if not listing.has_more:
            break
        page += 1
    return ids


def _parse_since(raw: str) -> datetime | None:
    try:
        return datetime.strptime((raw or "").strip(), "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


@bp.route("/<webhook_id>/recover", methods=["GET", "POST"])
def recover(webhook_id):
    hook = _webhook_or_404(webhook_id)
    form = RecoverForm()
    since = _parse_since(form.since.data if request.method == "POST" else request.args.get("since"))
    if since is None:
        form.since.errors = ["Enter a date like 2026-11-24."]
        return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html", hook=hook, form=form,
                                    count=None, batch=None, status=422)
    if request.method == "GET" or not form.validate_on_submit():
        count = len(_failed_since(hook.id, since))
        form.since.data = since.strftime("%Y-%m-%d")
        return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html", hook=hook, form=form,
                                    count=count, batch=None)
    ids = _failed_since(hook.id, since)
    batch = RecoveryBatch(partner_id=g.partner["id"], environment=current_environment(), webhook_id=hook.id, since=since,
                          delivery_ids=json.dumps(ids), started_by=g.admin["email"], state="running" if ids else "finished")
    db.session.add(batch)
    _audit("deliveries_recovered", f"{hook.url} ({hook.id})", detail=f"{len(ids)} failed since {since:%Y-%m-%d}")
    return go(url_for("webhooks.recovery", batch_id=batch.id))


@bp.get("/recoveries/<int:batch_id>")
def recovery(batch_id):
    """Each poll runs one bounded chunk of retries and shows the progress; polling stops when done."""
    batch = get_for_partner(RecoveryBatch, id=batch_id)
    ids = json.loads(batch.delivery_ids)
    if batch.state == "running":
        api = partner_api(batch.environment)
        for delivery_id in ids[batch.done + batch.failed: batch.done + batch.failed + RECOVERY_CHUNK]:
            try:
                api.retry_delivery(batch.webhook_id, delivery_id)
                batch.done += 1
            except errors.SirError:
                batch.failed += 1
        if batch.done + batch.failed >= len(ids):
            batch.state = "finished"
        db.session.commit()
    return render_htmx_template("webhooks/recovery.html", "webhooks/_recovery_progress.html", batch=batch, total=len(ids))


# -- events received by the portal ---------------------------------------------------------------------

@bp.get("/events")
def events():
    event_type = request.args.get("type") or None
    query = select(ReceivedEvent).filter_by(partner_id=g.partner["id"], environment=current_environment())
    if event_type:
        query = query.filter_by(event_type=event_type)
    rows = db.session.scalars(query.order_by(ReceivedEvent.received_at.desc(), ReceivedEvent.id.desc()).limit(100)).all()
    types = db.session.scalars(select(ReceivedEvent.event_type).filter_by(partner_id=g.partner["id"]).distinct()).all()
    return render_htmx_template("webhooks/events.html", "webhooks/_events.html", events=rows, event_type=event_type,
                                types=sorted(types), receivers=_receivers())


@bp.post("/events/<int:event_id>/dismiss")
def dismiss_event(event_id):
    event = get_for_partner(ReceivedEvent, id=event_id)
    event.dismissed = True
    db.session.commit()
    return go(request.referrer if request.referrer and request.referrer.startswith(request.host_url) else url_for("webhooks.events"))


# -- signature debugger ---------------------------------------------------------------------------------

@bp.route("/debugger", methods=["GET", "POST"], endpoint="debugger")
def debugger_page():
    receivers = _receivers()
    form = DebuggerForm()
    if request.method == "GET" and request.args.get("event"):
        event = get_for_partner(ReceivedEvent, id=request.args.get("event", type=int))
        form.headers.data = f"X-SIR-Timestamp: {event.signature_timestamp}\nX-SIR-Signature: {event.signature}"
        form.body.data = event.raw_body
        receiver = next((r for r in receivers.values() if r.id == event.receiver_id), None)
        form.receiver.data = receiver.webhook_id if receiver else ""
    report = None
    if request.method == "POST" and form.validate_on_submit():
        chosen = receivers.get(form.receiver.data or request.form.get("receiver_choice", ""))
        secret = form.secret.data.strip() if form.secret.data else (vault().decrypt(chosen.secret_encrypted) if chosen else None)
        others = {r.url: vault().decrypt(r.secret_encrypted) for r in receivers.values() if r is not chosen}
        report = debugger.diagnose(form.headers.data or "", (form.body.data or "").encode(), secret,
                                   "pasted secret" if form.secret.data else (f"secret of {chosen.url}" if chosen else None),
                                   others)
        form.secret.data = ""  # never echoed back
    return render_htmx_template("webhooks/debugger.html", "webhooks/_debugger_result.html", form=form,
                                receivers=receivers, report=report)
