"""Exactly-once forms: claim the form's one-time token, act, then finish (or release on failure).

A page that renders a state-changing form issues a token with it (`submissions.issue`); the view that
handles the POST hands the token and the action to `run_once`. A double click, a resubmit or the back
button finds the token already claimed and gets the first submission's result instead of acting twice.
Callable without a request: the partner and purpose are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .sir.errors import SirError
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


def run_once(token: str | None, partner_id: str, purpose: str, act: Callable[[Any], dict],
             *, note_for: Callable[[SirError], Any] = lambda error: None) -> Outcome:
    """Run `act` once for this token. `act(note)` gets the note an earlier attempt left (None the first
    time), does the upstream call and any writes (uncommitted: they commit with the token's "done"), and
    returns the result to remember, e.g. `{"reveal": token}`. If it raises a SirError the token is released
    for another try, keeping `note_for(error)` for it (e.g. "the last try timed out: look before resending")."""
    claim = submissions.claim(token, partner_id, purpose)
    if claim.state in ("done", "running"):
        return Outcome("already", claim.result if claim.state == "done" else None)
    if claim.state != "claimed":
        return Outcome("expired")
    try:
        result = act(claim.result)
    except SirError as error:
        rollback()  # nothing `act` wrote before it failed is kept
        submissions.release(token, note_for(error))
        return Outcome("failed", error=error)
    submissions.finish(token, result)
    return Outcome("done", result)
