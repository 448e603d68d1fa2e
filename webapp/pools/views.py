from __future__ import annotations

from flask import abort, flash, g, request, url_for

from .. import clock
from .. import charts
from ..actor import current_actor
from ..auth.kept_forms import restored_form
from ..dashboard.campaign_hint import campaign_hint, remember_campaign
from ..errors import in_place
from ..upstream import partner_api
from ..web import go, render_htmx_template
from . import bp, top_ups
from .approvals import follow_up, pools_with_requests
from .banner import pools_call, share_forecast
from .forecast import pool_runways
from .forms import MAX_TOP_UP, REASON_MAX, REASON_MIN, ConfirmTopUpForm, TopUpForm

STATUSES = ("pending", "approved", "rejected")
LIVE_FIELDS = ("amount", "reason")


def _shared(forecast) -> None:
    """The forecast to the banner, and the running campaign's id for the next page's round."""
    share_forecast(forecast)
    remember_campaign(forecast.value.active_campaign_id)


@bp.get("/")
def index():
    api, fresh = partner_api(), request.args.get("refresh") == "1"
    shown = pools_with_requests(api, fresh=fresh, pools_call=pools_call(api, fresh),
                                campaign_hint=campaign_hint())
    _shared(shown.forecast)
    rows = shown.forecast.value.rows
    return render_htmx_template("pools/page.html", "pools/_pools.html", rows=rows, reply=shown.forecast.reply,
                                campaign=shown.forecast.value.campaign, pending_by_pool=shown.pending_by_pool,
                                figure=charts.pools_chart([pool for pool, _ in rows]) if rows else None)


# -- request a top-up: step 1 ----------------------------------------------------------------------

def _pool_or_404(api, pool_id):
    """The forecast (shared with the banner), and the pool in it."""
    forecast = pool_runways(api, pools_call=pools_call(api), campaign_hint=campaign_hint())
    _shared(forecast)
    pool, pool_runway = forecast.value.pool(pool_id)
    if pool is None:
        abort(404)
    return forecast.value, pool, pool_runway


def _step_one(api, pool_id):
    forecast, pool, pool_runway = _pool_or_404(api, pool_id)
    form = TopUpForm(pool_id=pool.id)
    form.offer(forecast.pools, pool.id)
    return forecast, pool, pool_runway, form


def _form_page(api, form, pool, pool_runway, status=200, suggest=False):
    """Step 1; `suggest` fills in the suggested amount (a new form, or another pool chosen)."""
    pending = top_ups.pending_requests(api, pool.id)
    suggestion = top_ups.suggested_amount(pool, pool_runway, pending)
    if suggest:
        form.amount.data = str(suggestion) if suggestion else ""
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
    form.reason.data = request.args.get("reason", "")[:REASON_MAX]
    form.submission.data = request.args.get("submission") or top_ups.new_token(current_actor())
    return _form_page(api, form, pool, pool_runway, suggest=True)


@bp.route("/<pool_id>/top-up", methods=["GET", "POST"])
def request_top_up(pool_id):
    """Step 1: pool, amount and reason, validated in place; valid, it shows step 2 (the effect, to confirm).

    The one-time token is issued with the form, so every way back to this step (a resubmit, the back
    button, "Change") carries the same token, and a request already sent is never sent again."""
    api, actor = partner_api(), current_actor()
    forecast, pool, pool_runway, form = _step_one(api, pool_id)
    if request.method == "GET":
        kept = restored_form("pools.request_top_up", g.partner["id"])
        if kept:
            form.process(formdata=kept)
        form.submission.data = top_ups.new_token(actor)
        return _form_page(api, form, pool, pool_runway, suggest=not kept)
    sent = top_ups.earlier_submission(actor, form.submission.data)
    if sent.state in ("done", "running"):
        return _already_sent(sent.result if sent.state == "done" else None)
    if sent.state == "unknown":  # a token from another session, or none: this form gets its own
        form.submission.data = top_ups.new_token(actor)
    if request.form.get("edit") or not form.validate_on_submit():
        return _form_page(api, form, pool, pool_runway, status=200 if request.form.get("edit") else 422)
    chosen, chosen_runway = forecast.pool(form.pool_id.data)
    top_up = form.top_up()
    return _confirm_page(ConfirmTopUpForm.of(top_up, form.submission.data), chosen, chosen_runway, top_up.amount)


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
    top_up = form.top_up() if form.validate_on_submit() else None
    if top_up is None:
        abort(400)  # step 1 checked these; a confirmation that breaks them was not made by this portal
    api = partner_api()
    outcome = top_ups.request_top_up(current_actor(), api, form.submission.data, top_up)
    if outcome.state == "already":
        return _already_sent(outcome.result)
    if outcome.state == "expired":
        flash("That form has expired; nothing was sent. Fill it in again.", "warning")
        return go(url_for("pools.request_top_up", pool_id=pool_id))
    if outcome.state == "failed":
        error = in_place(outcome.error)
        _, pool, pool_runway = _pool_or_404(api, top_up.pool_id)
        return _confirm_page(form, pool, pool_runway, top_up.amount, upstream_error=error, status=502)
    # The requests page says "requested" for `new`: unlike a flash, that survives a double navigation.
    return go(url_for("pools.top_up_requests", status="pending", new=outcome.result["requestId"]))


def _already_sent(result):
    flash("That request was already sent; it is not sent twice.", "info")
    request_id = (result or {}).get("requestId")
    return go(url_for("pools.top_up_requests", status="pending", new=request_id) if request_id
              else url_for("pools.top_up_requests", status="pending"))


# -- the requests ----------------------------------------------------------------------------------

@bp.get("/requests")
def top_up_requests():
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    api = partner_api()
    shown = follow_up(api, status, page, pools_call=pools_call(api), campaign_hint=campaign_hint())
    if shown.forecast is not None:
        _shared(shown.forecast)
    return render_htmx_template("pools/requests.html", "pools/_requests.html", listing=shown.listing.value,
                                reply=shown.listing.reply, status_filter=status, times=shown.times,
                                warnings=shown.warnings, now=clock.now(),
                                new_id=request.args.get("new"), new_request=shown.request(request.args.get("new")))
