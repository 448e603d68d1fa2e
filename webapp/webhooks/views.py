from __future__ import annotations

import csv
import io
import json
import secrets as secrets_module
from datetime import datetime, timedelta, timezone

from flask import Response, abort, current_app, flash, g, render_template, request, url_for
from sqlalchemy import func, select, update
from werkzeug.utils import secure_filename

from ..sir import errors
from ..sir.times import parse_moment, to_local_input, to_wire
from ..store import audit, db, reveal, submissions
from ..store.models import ReceivedEvent, ReceiverEndpoint, RecoveryBatch
from ..upstream import current_environment, partner_api, vault
from ..web import get_for_partner, go, render_htmx_template, shown_once, take_revealed
from . import bp, debugger
from .alerts import ALERT_TYPES
from .filters import DELIVERY_EVENT_TYPES, DELIVERY_STATUSES, DeliveryFilter
from .forms import DebuggerForm, DeleteWebhookForm, RecoverForm, RegisterWebhookForm

RECOVERY_CHUNK = 10  # retries per step: bounded work per request


def _webhook_or_404(webhook_id):
    hooks = partner_api().webhooks().value
    return next((h for h in hooks if h.id == webhook_id), None) or abort(404)


def _receivers() -> dict[str, ReceiverEndpoint]:
    rows = db.session.scalars(select(ReceiverEndpoint).filter_by(partner_id=g.partner["id"],
                                                                 environment=current_environment()))
    return {row.webhook_id: row for row in rows}


def _is_portal_receiver(receiver: ReceiverEndpoint | None, hook=None) -> bool:
    """The portal receives this webhook's deliveries itself (rather than only keeping its secret)."""
    if receiver is None:
        return False
    url = hook.url if hook is not None else receiver.url
    return url == receiver.url and url.rstrip("/").endswith(f"/hooks/{receiver.token}")


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
    receivers = _receivers()
    portal = {h.id for h in hooks.value if _is_portal_receiver(receivers.get(h.id), h)}
    failing = [h for h in hooks.value if health and health.get(h.id) and health[h.id].is_failing]
    return render_template("webhooks/page.html", hooks=hooks.value, reply=hooks.reply, health=health,
                           receivers=receivers, portal=portal, failing=failing)


# -- register and delete -----------------------------------------------------------------------------

def _receiver_base() -> str:
    """The portal's address as SIR Giving reaches it: PORTAL_PUBLIC_URL, or the address the admin uses."""
    return (current_app.config["SETTINGS"].public_url or request.host_url).rstrip("/")


def _receiver_url(token: str) -> str:
    return _receiver_base() + url_for("receiver.receive", token=token)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = RegisterWebhookForm(current_environment(), _receiver_base())
    if request.method == "GET":
        form.submission.data = submissions.issue(g.partner["id"], "register-webhook")
        form.keep_secret.data = True
        return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form,
                                    receiver_base=_receiver_base())
    if not form.validate_on_submit():
        return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form, status=422,
                                    receiver_base=_receiver_base())
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
                target = ((form.use_portal_receiver if form.use_portal_receiver.data else form.url)
                          if problem.get("field") == "url" else form.event_types)
                target.errors.append(problem.get("message", error.message))
        else:
            (form.use_portal_receiver if form.use_portal_receiver.data else form.url).errors.append(
                f"{error.title}: {error.message} {error.next_step}")
        return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form, status=502,
                                    receiver_base=_receiver_base())
    if form.use_portal_receiver.data or form.keep_secret.data:
        db.session.add(ReceiverEndpoint(partner_id=g.partner["id"], environment=current_environment(),
                                        webhook_id=created["id"], url=url, token=receiver_token,
                                        secret_encrypted=vault().encrypt(created["secret"])))
    reveal_token = reveal.stash(vault(), g.partner["id"], created["id"], {"url": url, "secret": created["secret"]})
    audit.record(actor=g.admin["email"], action="webhook_registered", partner_id=g.partner["id"],
                 environment=current_environment(), target=f"{url} ({created['id']})",
                 detail="delivered to the portal's receiver" if form.use_portal_receiver.data else None, commit=False)
    submissions.finish(form.submission.data, {"reveal": reveal_token})
    return go(url_for("webhooks.secret", token=reveal_token))


@bp.get("/secret/<token>")
@shown_once
def secret(token):
    """The one page that shows a new endpoint's signing secret: never cached, and gone once rendered."""
    revealed, shown = take_revealed(token)
    receiver = db.session.scalar(select(ReceiverEndpoint).filter_by(partner_id=g.partner["id"], webhook_id=revealed.key_id))
    return render_template("webhooks/secret.html", shown=shown, revealed=revealed, receiver=receiver,
                           portal_receiver=_is_portal_receiver(receiver))


@bp.route("/<webhook_id>/delete", methods=["GET", "POST"])
def delete(webhook_id):
    hook = _webhook_or_404(webhook_id)
    form = DeleteWebhookForm(hook.url)
    if request.method == "GET" or not form.validate_on_submit():
        return render_htmx_template("webhooks/delete.html", "webhooks/_delete_form.html", hook=hook, form=form,
                                    status=200 if request.method == "GET" else 422)
    try:
        partner_api().delete_webhook(hook.id)
    except errors.NotFound:
        pass  # deleted meanwhile (another admin, another tab): the outcome the admin asked for
    except errors.SirError as error:
        if isinstance(error, errors.Unauthorized):
            raise
        _audit("webhook_deleted", hook.url, "failure", error.code)
        form.confirm_url.errors.append(f"{error.title}: {error.message} {error.next_step}")
        return render_htmx_template("webhooks/delete.html", "webhooks/_delete_form.html", hook=hook, form=form, status=502)
    receiver = _receivers().get(hook.id)
    if receiver is not None:
        db.session.delete(receiver)  # its path answers 404 from now on
    _audit("webhook_deleted", f"{hook.url} ({hook.id})")
    flash(f"Deleted the endpoint {hook.url}. SIR Giving sends nothing more to it.", "success")
    return go(url_for("webhooks.index"))


# -- deliveries ---------------------------------------------------------------------------------------

def _deliveries_context(hook, fresh: bool):
    chosen = DeliveryFilter.from_args(request.args)
    listing = partner_api().deliveries(hook.id, page=chosen.page, fresh=fresh, **chosen.api_params())
    return dict(hook=hook, listing=listing.value, reply=listing.reply, chosen=chosen,
                event_types=DELIVERY_EVENT_TYPES, statuses=DELIVERY_STATUSES, receiver=_receivers().get(hook.id))


@bp.get("/<webhook_id>")
def deliveries(webhook_id):
    hook = _webhook_or_404(webhook_id)
    context = _deliveries_context(hook, fresh=request.args.get("refresh") == "1")
    health = None
    try:
        health = next((h for h in partner_api().webhook_health().value if h.webhook_id == hook.id), None)
    except errors.SirError:
        pass  # the deliveries are what this page is for; the health line is a bonus
    since = datetime.now(timezone.utc) - timedelta(days=1)
    return render_htmx_template("webhooks/deliveries.html", "webhooks/_deliveries.html", health=health,
                                recover_form=RecoverForm(formdata=None, since=to_local_input(since)),
                                portal_receiver=_is_portal_receiver(context["receiver"], hook), **context)


@bp.post("/<webhook_id>/deliveries/<delivery_id>/retry")
def retry(webhook_id, delivery_id):
    hook = _webhook_or_404(webhook_id)
    chosen = DeliveryFilter.from_args(request.args)
    back = url_for("webhooks.deliveries", webhook_id=hook.id,
                   **chosen.args(refresh=1, page=chosen.page if chosen.page > 1 else None))
    try:
        partner_api().retry_delivery(hook.id, delivery_id)
    except errors.Conflict:
        flash("That delivery has already succeeded; there is nothing to retry.", "info")
    except errors.SirError as error:
        if isinstance(error, errors.Unauthorized):
            raise
        _audit("delivery_retried", delivery_id, "failure", error.code)
        flash(f"{error.title}: {error.message} {error.next_step}", "error")
    else:
        _audit("delivery_retried", f"{delivery_id} ({hook.url})")
        flash(f"Retry queued for delivery {delivery_id}: SIR Giving sends it again now; its row updates below.",
              "success")
    return go(back)


@bp.post("/<webhook_id>/test")
def send_test(webhook_id):
    hook = _webhook_or_404(webhook_id)
    try:
        sent = partner_api().send_test_event(hook.id)
    except errors.SirError as error:
        if isinstance(error, errors.Unauthorized):
            raise
        _audit("test_event_sent", hook.url, "failure", error.code)
        flash(f"{error.title}: {error.message} {error.next_step}", "error")
        return go(url_for("webhooks.deliveries", webhook_id=hook.id))
    _audit("test_event_sent", f"{hook.url} ({hook.id})", detail=sent.get("eventId"))
    where = (" It lands on the Events page as soon as the portal's receiver has verified it."
             if _is_portal_receiver(_receivers().get(hook.id), hook) else "")
    flash(f"Test event {sent.get('eventId', '')} sent: its delivery appears at the top of the list within seconds."
          + where, "success")
    return go(url_for("webhooks.deliveries", webhook_id=hook.id, refresh=1))


CSV_PAGES = 50  # at most 5,000 rows: a bounded export


@bp.get("/<webhook_id>/deliveries.csv")
def deliveries_csv(webhook_id):
    """The deliveries the list shows with the same filters, every page, without payloads or response bodies."""
    hook = _webhook_or_404(webhook_id)
    chosen = DeliveryFilter.from_args(request.args)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["delivery_id", "event_id", "event_type", "status", "attempts", "response_status", "error",
                     "created_at", "last_attempt_at", "next_retry_at"])
    for page in range(1, CSV_PAGES + 1):
        listing = partner_api().deliveries(hook.id, page=page, limit=100, fresh=True, **chosen.api_params()).value
        for d in listing.items:
            writer.writerow([d.id, d.event_id, d.event_type, d.status, d.attempts, d.response_status or "",
                             d.error or "", to_wire(d.created_at), to_wire(d.last_attempt_at), to_wire(d.next_retry_at)])
        if not listing.has_more:
            break
    name = "-".join(["deliveries", hook.id] + [v for v in chosen.args().values()])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{secure_filename(name)}.csv"'
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# -- recover: retry every failed delivery since a time, as a bounded batch with progress --------------------

RECOVERY_PAGES = 20  # at most 2,000 failed deliveries in one batch: bounded work, and the admin is told


def _failed_since(hook_id: str, since: datetime) -> tuple[list[str], bool]:
    """The ids of the webhook's failed deliveries created since `since`, oldest first, and whether there were
    more than one batch takes."""
    ids, page = [], 1
    while True:
        listing = partner_api().deliveries(hook_id, status="failed", page=page, limit=100,
                                           since=to_wire(since), fresh=True).value
        ids += [d.id for d in listing.items]
        if not listing.has_more:
            return ids[::-1], False
        if page >= RECOVERY_PAGES:
            return ids[::-1], True
        page += 1


@bp.route("/<webhook_id>/recover", methods=["GET", "POST"])
def recover(webhook_id):
    hook = _webhook_or_404(webhook_id)
    form = RecoverForm(formdata=request.form if request.method == "POST" else request.args)
    since = parse_moment(form.since.data)
    context = dict(hook=hook, form=form, count=None, capped=False, chunk=RECOVERY_CHUNK)
    if since is None:
        form.since.errors = ["Enter a date and time like 2026-11-24 09:30 (UTC)."]
        return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html", status=422, **context)
    if since > datetime.now(timezone.utc):
        form.since.errors = ["That moment is in the future: choose one in the past."]
        return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html", status=422, **context)
    form.since.data = to_local_input(since)
    if request.method == "GET" or not form.validate_on_submit():
        ids, capped = _failed_since(hook.id, since)
        return render_htmx_template("webhooks/recover.html", "webhooks/_recover.html",
                                    **{**context, "count": len(ids), "capped": capped})
    ids, capped = _failed_since(hook.id, since)
    batch = RecoveryBatch(partner_id=g.partner["id"], environment=current_environment(), webhook_id=hook.id, since=since,
                          delivery_ids=json.dumps(ids), started_by=g.admin["email"], state="running" if ids else "finished")
    db.session.add(batch)
    _audit("deliveries_recovered", f"{hook.url} ({hook.id})",
           detail=f"{len(ids)} failed since {since:%Y-%m-%d %H:%M} UTC" + (" (first batch of more)" if capped else ""))
    return go(url_for("webhooks.recovery", batch_id=batch.id))


def _recovery_view(batch, note=None):
    hook = next((h for h in partner_api(batch.environment).webhooks().value if h.id == batch.webhook_id), None)
    return render_htmx_template("webhooks/recovery.html", "webhooks/_recovery_progress.html", batch=batch,
                                total=len(json.loads(batch.delivery_ids)), hook=hook, note=note)


@bp.get("/recoveries/<int:batch_id>")
def recovery(batch_id):
    """The progress of a recovery batch. Showing it changes nothing; the page steps the batch with POSTs."""
    return _recovery_view(get_for_partner(RecoveryBatch, id=batch_id))


@bp.post("/recoveries/<int:batch_id>/step")
def recovery_step(batch_id):
    """Run the next bounded chunk of retries and show the progress. Two tabs stepping at once never count a
    delivery twice: the counts move only if nobody else moved them meanwhile (a retry is safe to repeat)."""
    batch = get_for_partner(RecoveryBatch, id=batch_id)
    if batch.state == "running":
        ids = json.loads(batch.delivery_ids)
        start = batch.done + batch.failed
        api = partner_api(batch.environment)
        done = failed = 0
        slowed = False
        for delivery_id in ids[start:start + RECOVERY_CHUNK]:
            try:
                api.retry_delivery(batch.webhook_id, delivery_id)
                done += 1
            except errors.Conflict:
                done += 1  # it succeeded meanwhile: nothing left to recover
            except (errors.RateLimited, errors.UpstreamTimeout, errors.Unreachable):
                slowed = True  # try this one again on the next step
                break
            except errors.SirError:
                failed += 1
        finished = start + done + failed >= len(ids)
        moved = db.session.execute(
            update(RecoveryBatch)
            .where(RecoveryBatch.id == batch.id, RecoveryBatch.done + RecoveryBatch.failed == start)
            .values(done=RecoveryBatch.done + done, failed=RecoveryBatch.failed + failed,
                    state="finished" if finished else "running"))
        db.session.commit()
        db.session.refresh(batch)
        if moved.rowcount and finished:
            _audit("deliveries_recovery_finished", batch.webhook_id,
                   "success" if not batch.failed else "failure",
                   detail=f"{batch.done} retried, {batch.failed} could not be queued")
            db.session.commit()
        note = ("SIR Giving is busy or slow to answer; the portal tries the next chunk again in a moment."
                if slowed else None)
    else:
        note = None
    if request.headers.get("HX-Request") == "true":
        return _recovery_view(batch, note=note)
    if note:
        flash(note, "warning")
    return go(url_for("webhooks.recovery", batch_id=batch.id))


# -- events received by the portal ---------------------------------------------------------------------

EVENTS_PAGE_SIZE = 50


@bp.get("/events")
def events():
    """Received events, newest first; the first page polls for new ones while it is open."""
    scope = dict(partner_id=g.partner["id"], environment=current_environment())
    types = sorted(db.session.scalars(select(ReceivedEvent.event_type).filter_by(**scope).distinct()).all())
    event_type = request.args.get("type") or None
    problem = None
    if event_type and event_type not in types and event_type not in DELIVERY_EVENT_TYPES:
        problem, event_type = f"“{event_type}” is not an event type SIR Giving sends; showing every type.", None
    query = select(ReceivedEvent).filter_by(**scope)
    if event_type:
        query = query.filter_by(event_type=event_type)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // EVENTS_PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    rows = db.session.scalars(query.order_by(ReceivedEvent.received_at.desc(), ReceivedEvent.id.desc())
                              .offset((page - 1) * EVENTS_PAGE_SIZE).limit(EVENTS_PAGE_SIZE)).all()
    receivers = _receivers()
    by_receiver = {r.id: r for r in receivers.values()}
    return render_htmx_template("webhooks/events.html", "webhooks/_events.html", events=rows, event_type=event_type,
                                types=types, receivers=receivers, by_receiver=by_receiver, total=total, page=page,
                                pages=pages, problem=problem, alert_types=ALERT_TYPES,
                                portal_receivers=[r for r in receivers.values() if _is_portal_receiver(r)])


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
    return (datetime.now(timezone.utc) - _utc(moment)).total_seconds() if moment else float("inf")


@bp.post("/events/<int:event_id>/dismiss")
def dismiss_event(event_id):
    event = get_for_partner(ReceivedEvent, id=event_id)
    event.dismissed = True
    db.session.commit()
    back = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else None
    return go(back or url_for("webhooks.events"))


# -- signature debugger ---------------------------------------------------------------------------------

def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite keeps no zone


def _secret_label(receiver: ReceiverEndpoint) -> str:
    return f"the portal's receiver ({receiver.webhook_id})" if _is_portal_receiver(receiver) else receiver.url


@bp.route("/debugger", methods=["GET", "POST"], endpoint="debugger")
def debugger_page():
    """Paste a delivery, or pick a received event (checked at once, on the exact bytes the receiver kept)."""
    receivers = _receivers()
    scope = dict(partner_id=g.partner["id"], environment=current_environment())
    recent = db.session.scalars(select(ReceivedEvent).filter_by(**scope)
                                .order_by(ReceivedEvent.received_at.desc(), ReceivedEvent.id.desc()).limit(30)).all()
    form = DebuggerForm()
    report, picked = None, None
    if request.method == "GET" and request.args.get("event"):
        picked = get_for_partner(ReceivedEvent, id=request.args.get("event", type=int))
        form.headers.data = f"X-SIR-Timestamp: {picked.signature_timestamp}\nX-SIR-Signature: {picked.signature}"
        form.body.data = picked.raw_body
        receiver = next((r for r in receivers.values() if r.id == picked.receiver_id), None)
        form.receiver.data = receiver.webhook_id if receiver else ""
        report = debugger.diagnose(form.headers.data, picked.raw_body.encode(),
                                   vault().decrypt(receiver.secret_encrypted) if receiver else None,
                                   f"secret of {_secret_label(receiver)}" if receiver else None,
                                   {}, now=_utc(picked.received_at).timestamp(), checked_at="when it arrived")
    if request.method == "POST":
        if form.validate_on_submit():
            chosen = receivers.get(form.receiver.data or "")
            pasted_secret = (form.secret.data or "").strip()
            secret = pasted_secret or (vault().decrypt(chosen.secret_encrypted) if chosen else None)
            label = "pasted secret" if pasted_secret else (f"secret of {_secret_label(chosen)}" if chosen else None)
            others = {_secret_label(r): vault().decrypt(r.secret_encrypted)
                      for r in receivers.values() if pasted_secret or r is not chosen}
            report = debugger.diagnose(form.headers.data or "", (form.body.data or "").encode(), secret, label,
                                       others, pasted=True)
        form.secret.data = ""  # never echoed back
    return render_htmx_template("webhooks/debugger.html", "webhooks/_debugger_result.html", form=form,
                                receivers=receivers, report=report, recent=recent, picked=picked,
                                secret_label=_secret_label)
