"""Requesting a top-up: what the form suggests, and sending the request to SIR Giving exactly once.

The form's one-time token is issued with step 1, so every way back to the form (a resubmit, the back
button, "Change") carries the same token, and a request already sent is never sent again. A timeout or a
dropped connection does not mean SIR Giving did not record the request: before the admin may send it
again, the portal looks for it upstream, and it looks again first on the next try. The same goes for a try
that never finished (the portal was stopped mid-call): once its claim is abandoned (`webapp/once.py`), the
next submission looks upstream, sends if nothing is there, and otherwise says it was already sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..actor import Actor
from ..once import (LOST_ANSWERS, Outcome, abandoned_before, form_issued_since, look_first, may_have_acted,
                    run_once)
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.models import AllocationRequest, TokenPool
from ..store import submissions
from .runway import Runway, suggested_top_up

PURPOSE = "top-up"


@dataclass(frozen=True)
class TopUp:
    """A validated request: this many tokens for this pool, for this reason."""

    pool_id: str
    amount: int
    reason: str


# -- step 1: the form --------------------------------------------------------------------------------

def new_token(actor: Actor) -> str:
    """The one-time token a top-up form is issued with."""
    return submissions.issue(actor.partner_id, PURPOSE)


def earlier_submission(actor: Actor, token: str | None) -> submissions.Claim:
    """Where the form's token stands, without claiming it: "done" or "running" means already sent (an
    abandoned "running" reads as "issued": the form may be sent again, and looks upstream first)."""
    return submissions.peek(token, actor.partner_id, PURPOSE, stale_before=abandoned_before())


def pending_requests(api: PartnerApi, pool_id: str) -> list[AllocationRequest]:
    """The pool's requests still waiting for a decision; none when SIR Giving cannot say (the form works
    without the reminder)."""
    try:
        return api.allocation_requests(status="pending", pool_id=pool_id, limit=10).value.items
    except errors.SirError:
        return []


def suggested_amount(pool: TokenPool, pool_runway: Runway, pending: list[AllocationRequest]) -> int:
    """Enough for 30 days at the current pace, less what is already asked for and not yet decided."""
    waiting = sum(r.amount for r in pending)
    return suggested_top_up(replace(pool_runway, balance=pool_runway.balance + waiting), pool.threshold)


# -- step 2: send it, once ---------------------------------------------------------------------------

def request_top_up(actor: Actor, api: PartnerApi, token: str | None, top_up: TopUp) -> Outcome:
    """Ask SIR Giving for `top_up`, once per form however often it is submitted.

    `Outcome.result["requestId"]` is the request's id (done, or already done). After a lost answer the
    token is released with a note, and the request can be sent again: the next try looks upstream first,
    and when it finds the request there the outcome is "already" (sent by the earlier try), with its id."""
    found_earlier = []

    def send(note) -> dict:
        if may_have_acted(note):
            found = _recorded_upstream(api, top_up, token)
            if found is not None:
                found_earlier.append(found)
                return _requested(actor, top_up, found,
                                  confirmed="after an interrupted try" if note.get("interrupted") else "after a timeout")
        try:
            created = api.request_top_up(top_up.pool_id, top_up.amount, top_up.reason)
        except LOST_ANSWERS:
            found = _recorded_upstream(api, top_up, token)
            if found is None:
                raise
            return _requested(actor, top_up, found, confirmed="after a timeout")
        return _requested(actor, top_up, created)

    outcome = run_once(token, actor.partner_id, PURPOSE, send, note_for=look_first)
    if outcome.state == "failed":
        actor.audit("top_up_requested", top_up.pool_id, outcome="failure", detail=outcome.error.code)
    if outcome.done and found_earlier:
        return Outcome("already", outcome.result)  # an earlier try sent it: say so, with its record
    return outcome


def _recorded_upstream(api: PartnerApi, top_up: TopUp, token: str) -> AllocationRequest | None:
    """A pending request of the same pool, amount and reason, created since the form was issued: the one
    whose answer was lost. None when there is none, or SIR Giving cannot say."""
    try:
        pending = api.allocation_requests(status="pending", pool_id=top_up.pool_id, limit=100, fresh=True).value.items
    except errors.SirError:
        return None
    since = form_issued_since(token)
    return next((r for r in pending if r.amount == top_up.amount and r.reason == top_up.reason
                 and r.created_at and r.created_at >= since), None)


def _requested(actor: Actor, top_up: TopUp, created: AllocationRequest, confirmed: str | None = None) -> dict:
    detail = f"{top_up.amount:,} tokens: {top_up.reason}" + (f" (confirmed {confirmed})" if confirmed else "")
    actor.audit("top_up_requested", f"{created.pool_name} ({created.pool_id})", detail=detail, commit=False)
    return {"requestId": created.id}
