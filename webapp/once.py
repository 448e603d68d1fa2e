"""Exactly-once forms: claim the form's one-time token, act, then finish (or release on failure).

A page that renders a state-changing form issues a token with it (`submissions.issue`); the view that
handles the POST hands the token and the action to `run_once`. A double click, a resubmit or the back
button finds the token already claimed and gets the first submission's result instead of acting twice.
Callable without a request: the partner and purpose are arguments.

A claim cannot get stuck: one left "running" for longer than the action can take (a worker killed mid-call,
a restart) is taken over by the next submission, whose action is told so (`note["interrupted"]`) and looks
upstream before it sends again, as a try after a timeout does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from flask import current_app

from . import clock
from .sir import errors
from .sir.errors import SirError
from .sir.times import parse_time
from .store import submissions
from .store.db import rollback


@dataclass
class Outcome:
    state: str  # "done" (acted now), "already" (running, or done by an earlier submission), "expired", "failed"
    result: Any = None  # what `act` returned (done), or what the earlier submission stored (already)
    error: SirError | None = None  # why it failed (failed)

    @property
    def done(self) -> bool:
        return self.state == "done"


# A timeout or a dropped connection does not mean SIR Giving did not act: the next try must look first.
LOST_ANSWERS = (errors.UpstreamTimeout, errors.Unreachable)


def look_first(error: SirError) -> dict | None:
    """The note a failed try leaves for the next (`run_once(note_for=...)`): look upstream after a lost answer."""
    return {"timed_out": True} if isinstance(error, LOST_ANSWERS) else None


def may_have_acted(note) -> bool:
    """An earlier try of this form may have reached SIR Giving: its answer was lost, or it never finished."""
    return bool(note) and bool(note.get("timed_out") or note.get("interrupted"))


# SIR Giving's clock and the portal's may disagree a little: look this far before the form was issued.
CLOCK_SLACK = timedelta(minutes=1)


def form_issued_since(token: str) -> datetime:
    """The earliest time (SIR Giving's clock, give or take) a record made for this form can carry: what an
    earlier try made is looked for from here."""
    return parse_time(submissions.issued_at(token)) - CLOCK_SLACK  # as UTC: SQLite keeps no zone


# SIR Giving calls an action makes at most (look upstream, send, look again after a lost answer, revoke
# an orphan): a claim older than this many call timeouts belongs to a request that is no longer running.
CALLS_PER_ACTION = 4


def abandoned_before() -> datetime:
    """Claims still "running" that were last touched before this moment are abandoned (see the module)."""
    connect, read = current_app.extensions["sir_client"].timeout
    return clock.now() - timedelta(seconds=CALLS_PER_ACTION * (connect + read))


def run_once(token: str | None, partner_id: str, purpose: str, act: Callable[[Any], dict],
             *, note_for: Callable[[SirError], Any] = lambda error: None) -> Outcome:
    """Run `act` once for this token. `act(note)` gets the note an earlier attempt left (None the first
    time; with `"interrupted": True` when it died mid-call), does the upstream call and any writes
    (uncommitted: they commit with the token's "done"), and returns the result to remember, e.g.
    `{"reveal": token}`. If it raises a SirError the token is released for another try, keeping
    `note_for(error)` for it (e.g. "the last try timed out: look before resending")."""
    claim = submissions.claim(token, partner_id, purpose, stale_before=abandoned_before())
    if claim.state in ("done", "running"):
        return Outcome("already", claim.result if claim.state == "done" else None)
    if claim.state != "claimed":
        return Outcome("expired")
    note = {**(claim.result or {}), "interrupted": True} if claim.taken_over else claim.result
    try:
        result = act(note)
    except SirError as error:
        rollback()  # nothing `act` wrote before it failed is kept
        submissions.release(token, note_for(error))
        return Outcome("failed", error=error)
    submissions.finish(token, result)
    return Outcome("done", result)
