from __future__ import annotations

from flask import abort, flash, redirect, render_template, session, url_for

from .. import clock as portal_clock
from ..actor import current_actor
from ..sir import errors
from ..upstream import partner_api, simulator_controls as controls
from . import bp, clock
from .forms import CLOCK_STEPS, ClockForm, DecisionForm


def pending_requests():
    return partner_api().allocation_requests(status="pending", limit=100, fresh=True).value.items


def get_pending_request(request_id: str):
    """One of this partner's pending requests in this environment, or 404 (never another partner's)."""
    found = next((r for r in pending_requests() if r.id == request_id), None)
    if found is None:
        abort(404)
    return found


@bp.get("/")
def index():
    return _page()


def _page(decision_form: DecisionForm | None = None, clock_form: ClockForm | None = None, status: int = 200):
    now = controls().clock()
    return render_template("demo/page.html", pending=pending_requests(), clock=now, reach=clock.reach(now),
                           decision_form=decision_form or DecisionForm(), clock_form=clock_form or ClockForm(),
                           failed_request_id=decision_form.request_id.data if decision_form and decision_form.errors else None), status


@bp.post("/requests/decide")
def decide_request():
    form = DecisionForm()
    if not form.validate():
        return _page(decision_form=form, status=422)
    pending = get_pending_request(form.request_id.data)
    approve = form.decision.data == "approve"
    note = (form.note.data or "").strip() or None
    action = "simulator_request_approved" if approve else "simulator_request_rejected"
    target = f"{pending.amount:,} tokens for {pending.pool_name} ({pending.id})"
    try:
        controls().decide_allocation_request(pending.id, approve, note)
    except errors.SirError as error:
        current_actor().audit(action, target, outcome="failure", detail=error.code)
        raise
    current_actor().audit(action, target, detail=note)
    flash(f"SIR Giving (simulated) {'approved' if approve else 'rejected'} the top-up of {pending.amount:,} tokens "
          f"for “{pending.pool_name}”.", "success")
    return redirect(url_for("pools.top_up_requests", status="approved" if approve else "rejected"))


@bp.post("/clock")
def move_clock():
    form = ClockForm()
    if not form.validate():
        return _page(clock_form=form, status=422)
    label = dict(CLOCK_STEPS)[form.seconds.data]
    clock.move(current_actor(), controls(), int(form.seconds.data), label)
    ends = session.get("jwt_expires_at")
    if ends is not None and portal_clock.timestamp() >= ends:
        # The portal reads the moved clock, so the mover's own sign-in ended with the move: say so, not "expired".
        session.clear()
        flash(f"The simulator's clock moved forward by {label}. Your sign-in ended with the move, as every "
              "admin's older than that did: sign in again to continue.", "success")
        return redirect(url_for("auth.login", next=url_for("demo.index")))
    flash(f"The simulator's clock moved forward by {label}.", "success")
    return redirect(url_for("demo.index"))

