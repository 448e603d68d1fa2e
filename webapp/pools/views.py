from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

from flask import abort, flash, g, request, url_for

from .. import charts
from ..dashboard.cards import POOL
from ..sir import errors
from ..store import audit, submissions
from ..upstream import current_environment, partner_api
from ..web import go, render_htmx_template
from . import bp
from .forms import ConfirmTopUpForm, TopUpForm
from .runway import runway, shares, suggested_top_up

STATUSES = ("pending", "approved", "rejected")


def pools_with_runway(api, fresh: bool = False):
    """The environment's pools, each with its runway; the two calls run at once."""
    trends_future = POOL.submit(api.trends, 30)
    pools = api.token_pools(fresh=fresh)
    daily = [d.tokens for d in trends_future.result().value.daily]
    share = shares(pools.value)
    return pools, [(pool, runway(pool.balance, daily, share[pool.id])) for pool in pools.value]


def pool_or_404(pools, pool_id):
    return next((pool for pool, _ in pools if pool.id == pool_id), None) or abort(404)


@bp.get("/")
def index():
    api = partner_api()
    fresh = request.args.get("refresh") == "1"
    pools, rows = pools_with_runway(api, fresh=fresh)
    pending = api.allocation_requests(status="pending", fresh=fresh).value.items
    pending_by_pool = {}
    for item in pending:
        pending_by_pool.setdefault(item.pool_id, []).append(item)
    figure = charts.pools_chart([pool for pool, _ in rows]) if rows else None
    return render_htmx_template("pools/page.html", "pools/_pools.html", rows=rows, reply=pools.reply,
                                pending_by_pool=pending_by_pool, figure=figure)


def _top_up_page(form, pools, pool, pool_runway, status=200):
    suggestion = suggested_top_up(pool.balance, pool_runway.daily_burn) if pool_runway else 0
    return render_htmx_template("pools/top_up.html", "pools/_top_up_form.html", status=status, form=form,
                                pool=pool, pool_runway=pool_runway, suggestion=suggestion, pools=pools)


@bp.route("/<pool_id>/top-up", methods=["GET", "POST"])
def request_top_up(pool_id):
    """Step 1: choose pool, amount and reason (validated in place); step 2 shows the effect and confirms."""
    _, rows = pools_with_runway(partner_api())
    pool = pool_or_404(rows, pool_id)
    pool_runway = dict((p.id, r) for p, r in rows)[pool.id]
    form = TopUpForm(pool_id=pool.id)
    form.pool_id.choices = [(p.id, f"{p.name} — {p.balance:,} left") for p, _ in rows if p.status != "inactive"]
    if request.method == "GET":
        suggestion = suggested_top_up(pool.balance, pool_runway.daily_burn)
        if suggestion:
            form.amount.data = str(suggestion)
        return _top_up_page(form, rows, pool, pool_runway)
    if not form.validate_on_submit():
        return _top_up_page(form, rows, pool, pool_runway, status=422)
    chosen = pool_or_404(rows, form.pool_id.data)
    chosen_runway = dict((p.id, r) for p, r in rows)[chosen.id]
    amount = form.amount.tokens
    after = runway(chosen.balance + amount, [], 1.0) if chosen_runway.is_unlimited else None
    confirm = ConfirmTopUpForm(pool_id=chosen.id, amount=str(amount), reason=form.reason.data.strip(),
                               submission=submissions.issue(g.partner["id"], "top-up"))
    days_after = None if chosen_runway.is_unlimited else (chosen.balance + amount) / chosen_runway.daily_burn
    return render_htmx_template("pools/top_up.html", "pools/_top_up_confirm.html", confirm=confirm, pool=chosen,
                                amount=amount, pool_runway=chosen_runway, days_after=days_after, after=after,
                                form=form, pools=rows, suggestion=0)


@bp.post("/<pool_id>/top-up/confirm")
def confirm_top_up(pool_id):
    form = ConfirmTopUpForm()
    if not form.validate_on_submit():
        abort(400)
    token = form.submission.data
    claim = submissions.claim(token, g.partner["id"], "top-up")
    if claim.state in ("done", "running"):
        flash("That request was already sent; it is not sent twice.", "info")
        return _to_requests()
    if claim.state != "claimed":
        flash("That confirmation has expired; start the request again.", "warning")
        return go(url_for("pools.request_top_up", pool_id=pool_id))
    try:
        amount = int(form.amount.data)
    except ValueError:
        abort(400)
    reason = form.reason.data.strip()
    api = partner_api()
    if claim.result and claim.result.get("timed_out"):
        found = _already_recorded(api, form.pool_id.data, amount, reason, submissions.issued_at(token))
        if found is not None:
            return _recorded(token, found, amount, reason, reconciled=True)
    try:
        created = api.request_top_up(form.pool_id.data, amount, reason)
    except (errors.UpstreamTimeout, errors.Unreachable) as error:
        # SIR Giving may have recorded it before the answer was lost: look before letting anyone resend.
        found = _already_recorded(api, form.pool_id.data, amount, reason, submissions.issued_at(token))
        if found is not None:
            return _recorded(token, found, amount, reason, reconciled=True)
        submissions.release(token, {"timed_out": True})
        audit.record(actor=g.admin["email"], action="top_up_requested", outcome="failure", partner_id=g.partner["id"],
                     environment=current_environment(), target=form.pool_id.data, detail=error.code)
        return _confirm_again(form, pool_id, error)
    except errors.SirError as error:
        submissions.release(token)
        audit.record(actor=g.admin["email"], action="top_up_requested", outcome="failure", partner_id=g.partner["id"],
                     environment=current_environment(), target=form.pool_id.data, detail=error.code)
        if isinstance(error, errors.Unauthorized):
            raise
        return _confirm_again(form, pool_id, error)
    return _recorded(token, created, amount, reason)


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
    flash(f"Requested {amount:,} tokens for “{created.pool_name}”. SIR Giving reviews it; it is pending until then.",
          "success")
    return _to_requests()


def _confirm_again(form, pool_id, error):
    _, rows = pools_with_runway(partner_api())
    pool = pool_or_404(rows, form.pool_id.data)
    pool_runway = dict((p.id, r) for p, r in rows)[pool.id]
    amount = int(form.amount.data)
    days_after = None if pool_runway.is_unlimited else (pool.balance + amount) / pool_runway.daily_burn
    return render_htmx_template("pools/top_up.html", "pools/_top_up_confirm.html", status=502, confirm=form,
                                pool=pool, amount=amount, pool_runway=pool_runway, days_after=days_after,
                                upstream_error=error, form=None, pools=rows, suggestion=0)



def _to_requests():
    return go(url_for("pools.requests", status="pending"))


@bp.get("/requests")
def requests():
    api = partner_api()
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    fresh = request.args.get("refresh") == "1"
    listing = api.allocation_requests(status=status, page=page, limit=25, fresh=fresh)
    decided = api.allocation_requests(status=None, limit=100, fresh=fresh).value.items
    waits = [r.waited.total_seconds() / 86400 for r in decided if r.waited is not None]
    typical_days = statistics.median(waits) if waits else None
    warnings = []
    if typical_days is not None and any(r.status == "pending" for r in decided):
        _, rows = pools_with_runway(api, fresh=fresh)
        runways = {pool.id: (pool, r) for pool, r in rows}
        for item in (r for r in decided if r.status == "pending"):
            pool, pool_runway = runways.get(item.pool_id, (None, None))
            if pool is not None and pool_runway.shorter_than(typical_days):
                warnings.append((item, pool, pool_runway))
    return render_htmx_template("pools/requests.html", "pools/_requests.html", listing=listing.value,
                                reply=listing.reply, status=status, typical_days=typical_days, warnings=warnings)
