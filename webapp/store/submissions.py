"""One-time form tokens: a double click, a resubmit or the back button runs an action once.

A page that renders a state-changing form issues a token; the view that handles the POST claims it.
Claiming is one conditional UPDATE, so two requests racing for the same token (two workers, two clicks)
cannot both win: the loser is told the action is running or already done, and is shown its result.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, or_, update

from ..sir.times import parse_time  # as UTC: SQLite keeps no zone
from .db import db
from .models import FormSubmission, utcnow


@dataclass
class Claim:
    state: str  # "claimed" (go ahead), "running", "done", "unknown"; peek also says "issued"
    result: Any = None
    taken_over: bool = False  # claimed from a "running" claim left by a request that died mid-call


def issue(partner_id: str, purpose: str) -> str:
    token = secrets.token_urlsafe(24)
    db.session.add(FormSubmission(token=token, partner_id=partner_id, purpose=purpose))
    db.session.commit()
    return token


def _abandoned(stale_before: datetime | None):
    """A "running" claim not touched since `stale_before`: the request that held it died mid-call (a killed
    worker, a restart), as rotations' "creating" claims are judged (store/rotations.py)."""
    if stale_before is None:
        return false()
    return and_(FormSubmission.state == "running", FormSubmission.updated_at < stale_before)


def claim(token: str | None, partner_id: str, purpose: str, stale_before: datetime | None = None) -> Claim:
    """Claim the token to act: one conditional UPDATE, "issued" (or an abandoned "running") → "running"."""
    if not token:
        return Claim("unknown")
    before = db.session.get(FormSubmission, token)
    was_running = before is not None and before.state == "running"
    won = db.session.execute(
        update(FormSubmission)
        .where(FormSubmission.token == token, FormSubmission.partner_id == partner_id,
               FormSubmission.purpose == purpose,
               or_(FormSubmission.state == "issued", _abandoned(stale_before)))
        .values(state="running", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    row = db.session.get(FormSubmission, token)  # reloaded: the commit expired it
    if won == 1:
        # `result` may hold notes from an earlier attempt that did not finish (e.g. a timeout).
        return Claim("claimed", json.loads(row.result) if row.result else None, taken_over=was_running)
    if row is None or row.partner_id != partner_id or row.purpose != purpose:
        return Claim("unknown")
    return Claim(row.state, json.loads(row.result) if row.result else None)


def peek(token: str | None, partner_id: str, purpose: str, stale_before: datetime | None = None) -> Claim:
    """The token's state without claiming it (a form step before the one that acts). An abandoned "running"
    claim (see `claim`) reads as "issued": the form may be sent again, and the next claim takes it over."""
    row = db.session.get(FormSubmission, token) if token else None
    if row is None or row.partner_id != partner_id or row.purpose != purpose:
        return Claim("unknown")
    state = row.state
    if state == "running" and stale_before is not None and parse_time(row.updated_at) < stale_before:
        state = "issued"
    return Claim(state, json.loads(row.result) if row.result else None)


def finish(token: str, result: Any) -> None:
    row = db.session.get(FormSubmission, token)
    row.state = "done"
    row.result = json.dumps(result)
    db.session.commit()


def release(token: str, note: Any = None) -> None:
    """The action did not finish: the same form may be submitted again. `note` is kept for that next
    attempt (for instance: "the last try timed out, look upstream before sending again")."""
    row = db.session.get(FormSubmission, token)
    if row is not None and row.state == "running":
        row.state = "issued"
        if note is not None:
            row.result = json.dumps(note)
        db.session.commit()


def issued_at(token: str):
    row = db.session.get(FormSubmission, token)
    return row.created_at if row else None
