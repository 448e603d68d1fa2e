from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from flask import abort, flash, g, request, url_for

from .. import charts
from ..parallel import POOL
from ..sir import errors
from ..sir.api import Parsed
from ..store import audit, submissions
from ..upstream import current_environment, partner_api
from ..web import go, render_htmx_template
from . import bp
from .forecast import pool_runways
from .forms import MAX_TOP_UP, REASON_MAX, REASON_MIN, ConfirmTopUpForm, TopUpForm, parse_tokens
from .runway import suggested_top_up

STATUSES = ("pending", "approved", "rejected")
PURPOSE = "top-up"
LIVE_FIELDS = ("amount", "reason")


def _forecast(api, fresh: bool = False):
    """The pools with their runway, balances from `GET /token-pools/:id/balance`; the banner reuses them."""
    forecast = pool_runways(api, fresh=fresh, balances=True)
    g.token_pools = Parsed(forecast.value.pools, forecast.reply)
    return forecast


@bp.get("/")
def index():
    api = partner_api()
    fresh = request.args.get("refresh") == "1"
    # Requests are always asked fresh (one small call): a decision since the balances were cached means
    # those balances are out of date, so they are asked again.
    requests_future = POOL.submit(api.allocation_requests, status=None, limit=100, fresh=True)
    forecast = _forecast(api, fresh)
    everything = requests_future.result().value.items
    if not fresh and _decided_since(everything, forecast.reply.fetched_at):
        forecast = _forecast(api, fresh=True)
    pending_by_pool = {}
    for item in everything:
        if item.status == "pending":
            pending_by_pool.setdefault(item.pool_id, []).append(item)
    rows = forecast.value.rows
    figure = charts.pools_chart([pool for pool, _ in rows]) if rows else None
    return render_htmx_template("pools/page.html", "pools/_pools.html", rows=rows, reply=forecast.reply,
                                campaign=forecast.value.campaign, pending_by_pool=pending_by_pool,
                                figure=figure)


def _decided_since(items, moment) -> bool:
    """Whether SIR Giving decided a request after `moment` (when a cached answer was fetched). Its times
    are whole seconds, so a decision in the same second as the fetch counts as after it."""
    return any(r.decided_at and r.decided_at + timedelta(seconds=1) > moment for r in items)


# -- request a top-up: step 1 ----------------------------------------------------------------------

def _step_one(api, pool_id):
    forecast = _forecast(api).value
    pool, pool_runway = forecast.pool(pool_id)
    if pool is None:
        abort(404)
    form = TopUpForm(pool_id=pool.id)
    form.pool_id.choices = [(p.id, f"{p.name} — {p.balance:,} tokens left") for p in forecast.pools
                            if p.status != "inactive" or p.id == pool.id]
    return forecast, pool, pool_runway, form


def _pending_for(api, pool_id):
    try:
        return api.allocation_requests(status="pending", pool_id=pool_id, limit=10).value.items
    except errors.SirError:
        return []  # the form works without the reminder


def _suggestion(pool, pool_runway, pending) -> int:
    """Enough for 30 days at the current pace, less what is already asked for and not yet decided."""
    waiting = sum(r.amount for r in pending)
    return suggested_top_up(replace(pool_runway, balance=pool_runway.balance + waiting), pool.threshold)


def _form_page(form, pool, pool_runway, pending, status=200):
    suggestion = _suggestion(pool, pool_runway, pending)
    return render_htmx_template("pools/top_up.html", "pools/_top_up_form.html", status=status, form=form,
                                pool=pool, pool_runway=pool_runway, suggestion=suggestion, pending=pending,
                                waiting=sum(r.amount for r in pending), max_top_up=MAX_TOP_UP,
                                reason_min=REASON_MIN, reason_max=REASON_MAX)


@bp.get("/top-up")
def choose_pool():
    """The form for the pool chosen in its pool list (htmx swaps it in; the reason typed so far stays)."""
    pool_id = request.args.get("pool_id", "")
    if not request.headers.get("HX-Request"):
        return go(url_for("pools.request_top_up", pool_id=pool_id)) if pool_id else go(url_for("pools.index"))
    api = partner_api()
    _, pool, pool_runway, form = _step_one(api, pool_id)
    pending = _pending_for(api, pool.id)
    suggestion = _suggestion(pool, pool_runway, pending)
    form.amount.data = str(suggestion) if suggestion else ""
    form.reason.data = request.args.get("reason", "")[:REASON_MAX]
    form.submission.data = request.args.get("submission") or submissions.issue(g.partner["id"], PURPOSE)
    return _form_page(form, pool, pool_runway, pending)


@bp.route("/<pool_id>/top-up", methods=["GET", "POST"])
def request_top_up(pool_id):
    """Step 1: pool, amount and reason, validated in place; valid, it shows step 2 (the effect, to confirm).

    The one-time token is issued with the form, so every way back to this step (a resubmit, the back
    button, "Change") carries the same token, and a request already sent is never sent again."""
    api = partner_api()
    forecast, pool, pool_runway, form = _step_one(api, pool_id)
    if request.method == "GET":
        pending = _pending_for(api, pool.id)
        suggestion = _suggestion(pool, pool_runway, pending)
        form.amount.data = str(suggestion) if suggestion else ""
        form.submission.data = submissions.issue(g.partner["id"], PURPOSE)
        return _form_page(form, pool, pool_runway, pending)
    sent = submissions.peek(form.submission.data, g.partner["id"], PURPOSE)
    if sent.state in ("done", "running"):
        return _already_sent(sent)
    if sent.state == "unknown":  # a token from another session, or none: this form gets its own
        form.submission.data = submissions.issue(g.partner["id"], PURPOSE)
    if request.form.get("edit") or not form.validate_on_submit():
        status = 200 if request.form.get("edit") else 422
        return _form_page(form, pool, pool_runway, _pending_for(api, pool.id), status=status)
    chosen, chosen_runway = forecast.pool(form.pool_id.data)
    confirm = ConfirmTopUpForm(pool_id=chosen.id, amount=str(form.amount.tokens), reason=form.reason.data.strip(),
                               submission=form.submission.data)
    return _confirm_page(confirm, chosen, chosen_runway, form.amount.tokens)


@bp.post("/<pool_id>/top-up/check/<name>")
def check_field(pool_id, name):
    """Live validation: one field, checked as the admin leaves it; the answer is that field again."""
    if name not in LIVE_FIELDS:
        abort(404)
    form = TopUpForm()
    form.validate_one(name)
    return render_htmx_template("pools/top_up.html", "pools/_top_up_field.html", form=form, name=name,
                                pool_id=pool_id, suggestion=request.form.get("suggestion", type=int) or 0,
                                waiting=request.form.get("waiting", type=int) or 0,
                                max_top_up=MAX_TOP_UP, reason_min=REASON_MIN, reason_max=REASON_MAX)


def _confirm_page(confirm, pool, pool_runway, amount, upstream_error=None, status=200):
    return render_htmx_template("pools/top_up.html", "pools/_top_up_confirm.html", status=status, confirm=confirm,
                                pool=pool, amount=amount, pool_runway=pool_runway,
                                days_after=pool_runway.days_with(amount), upstream_error=upstream_error)


# -- request a top-up: step 2 ----------------------------------------------------------------------

@bp.post("/<pool_id>/top-up/confirm")
def confirm_top_up(pool_id):
    form = ConfirmTopUpForm()
    if not form.validate_on_submit():
        abort(400)
    amount = parse_tokens(form.amount.data)
    reason = (form.reason.data or "").strip()
    if amount is None or not 0 < amount <= MAX_TOP_UP or not REASON_MIN <= len(reason) <= REASON_MAX:
        abort(400)  # step 1 checked these; a confirmation that breaks them was not made by this portal
    token = form.submission.data
    claim = submissions.claim(token, g.partner["id"], PURPOSE)
    if claim.state in ("done", "running"):
        return _already_sent(claim)
    if claim.state != "claimed":
        flash("That form has expired; nothing was sent. Fill it in again.", "warning")
        return go(url_for("pools.request_top_up", pool_id=pool_id))
    api = partner_api()
    since = submissions.issued_at(token)
    if claim.result and claim.result.get("timed_out"):
        found = _already_recorded(api, form.pool_id.data, amount, reason, since)
        if found is not None:
            return _recorded(token, found, amount, reason, reconciled=True)
    try:
        created = api.request_top_up(form.pool_id.data, amount, reason)
    except (errors.UpstreamTimeout, errors.Unreachable) as error:
        # SIR Giving may have recorded it before the answer was lost: look before letting anyone resend.
        found = _already_recorded(api, form.pool_id.data, amount, reason, since)
        if found is not None:
            return _recorded(token, found, amount, reason, reconciled=True)
        submissions.release(token, {"timed_out": True})
        _audit_failure(form.pool_id.data, error)
        return _confirm_again(api, form, amount, error)
    except errors.SirError as error:
        submissions.release(token)
        _audit_failure(form.pool_id.data, error)
        if isinstance(error, errors.Unauthorized):
            raise
        return _confirm_again(api, form, amount, error)
    return _recorded(token, created, amount, reason)


def _already_sent(claim):
    flash("That request was already sent; it is not sent twice.", "info")
    request_id = (claim.result or {}).get("requestId") if claim.state == "done" else None
    return go(url_for("pools.top_up_requests", status="pending", new=request_id) if request_id
              else url_for("pools.top_up_requests", status="pending"))


def _already_recorded(api, pool_id, amount, reason, since):
    try:
        pending = api.allocation_requests(status="pending", pool_id=pool_id, limit=100, fresh=True).value.items
    except errors.SirError:
        return None
    since = (since.replace(tzinfo=since.tzinfo or timezone.utc) if since else datetime.now(timezone.utc)) - timedelta(minutes=1)
    return next((r for r in pending if r.amount == amount and r.reason == reason and r.created_at and r.created_at >= since), None)


def _recorded(token, created, amount, reason, reconciled=False):
    submissions.finish(token, {"requestId": created.id})
    audit.record(actor=g.admin["email"], action="top_up_requested", partner_id=g.partner["id"],
                 environment=current_environment(), target=f"{created.pool_name} ({created.pool_id})",
                 detail=f"{amount:,} tokens: {reason}" + (" (confirmed after a timeout)" if reconciled else ""))
    # The requests page says "requested" for `new`: unlike a flash, that survives a double navigation.
    return go(url_for("pools.top_up_requests", status="pending", new=created.id))


def _audit_failure(pool_id, error):
    audit.record(actor=g.admin["email"], action="top_up_requested", outcome="failure", partner_id=g.partner["id"],
                 environment=current_environment(), target=pool_id, detail=error.code)


def _confirm_again(api, form, amount, error):
    pool, pool_runway = _forecast(api).value.pool(form.pool_id.data)
    if pool is None:
        abort(404)
    return _confirm_page(form, pool, pool_runway, amount, upstream_error=error, status=502)


# -- the requests ----------------------------------------------------------------------------------

def approval_times(items) -> list[float]:
    """Days each decided request took; approvals when there are any, else every decision."""
    approved = [r.waited.total_seconds() / 86400 for r in items if r.status == "approved" and r.waited]
    return approved or [r.waited.total_seconds() / 86400 for r in items if r.waited]


@bp.get("/requests")
def top_up_requests():
    """Always asked fresh: a request's status changes on SIR Giving's side, and a reload must show it."""
    api = partner_api()
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    everything_future = POOL.submit(api.allocation_requests, status=None, limit=100, fresh=True)
    listing = api.allocation_requests(status=status, page=page, limit=25, fresh=True)
    everything = everything_future.result().value.items
    waits = approval_times(everything)
    typical_days = statistics.median(waits) if waits else None
    pending = [r for r in everything if r.status == "pending"]
    warnings, runways = [], {}
    try:
        forecast = pool_runways(api)
        if _decided_since(everything, forecast.reply.fetched_at):
            forecast = pool_runways(api, fresh=True)  # a decision since: the balances changed
        g.token_pools = Parsed(forecast.value.pools, forecast.reply)
        runways = {pool.id: (pool, r) for pool, r in forecast.value.rows}
    except errors.SirError:
        pass  # the list stands on its own; only the too-late warning needs the runways
    if typical_days is not None:
        for pool_id in dict.fromkeys(r.pool_id for r in pending):  # one warning per pool, in list order
            pool, pool_runway = runways.get(pool_id, (None, None))
            if pool is not None and (pool.is_depleted or pool_runway.shorter_than(typical_days)):
                warnings.append((pool, pool_runway, [r for r in pending if r.pool_id == pool_id]))
    return render_htmx_template("pools/requests.html", "pools/_requests.html", listing=listing.value,
                                reply=listing.reply, status_filter=status, typical_days=typical_days,
                                slowest_days=max(waits) if waits else None, decided=len(waits),
                                warnings=warnings, now=datetime.now(timezone.utc),
                                new_id=request.args.get("new"),
                                new_request=next((r for r in everything if r.id == request.args.get("new")), None))
