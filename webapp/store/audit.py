"""The audit log: record every state-changing thing the portal does, and read it back with filters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from .db import db
from .models import AuditEntry

PAGE_SIZE = 50


def record(*, actor: str, action: str, outcome: str = "success", partner_id: str | None = None,
           environment: str | None = None, target: str | None = None, detail: str | None = None,
           remote_addr: str | None = None, commit: bool = True) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, outcome=outcome, partner_id=partner_id,
                       environment=environment, target=target, detail=detail, remote_addr=remote_addr)
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def entries_query(partner_id: str, *, action: str | None = None, outcome: str | None = None,
                  environment: str | None = None, actor: str | None = None,
                  since: datetime | None = None, until: datetime | None = None):
    query = select(AuditEntry).filter(AuditEntry.partner_id == partner_id)
    if action:
        query = query.filter(AuditEntry.action == action)
    if outcome:
        query = query.filter(AuditEntry.outcome == outcome)
    if environment:
        query = query.filter(AuditEntry.environment == environment)
    if actor:
        query = query.filter(AuditEntry.actor == actor)
    if since:
        query = query.filter(AuditEntry.at >= since)
    if until:
        query = query.filter(AuditEntry.at < until)
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def entries_page(partner_id: str, page: int, **filters) -> tuple[list[AuditEntry], int]:
    """One page (PAGE_SIZE entries, newest first) of the partner's entries matching `filters`, and how many match."""
    query = entries_query(partner_id, **filters)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    entries = db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return entries, total


def entries_for_export(partner_id: str, limit: int, **filters):
    """The partner's entries matching `filters`, newest first, at most `limit`, read as they are written out."""
    return db.session.scalars(entries_query(partner_id, **filters).limit(limit).execution_options(yield_per=500))


def actions_for(partner_id: str) -> list[str]:
    return list(db.session.scalars(
        select(AuditEntry.action).filter(AuditEntry.partner_id == partner_id).distinct().order_by(AuditEntry.action)))


def signed_in_since(since: datetime) -> int:
    """How many admins, of any partner, signed in since `since` and did not sign out after: who is probably
    signed in now. Only a count leaves here; nothing of another partner's log is shown."""
    rows = db.session.execute(
        select(AuditEntry.actor, AuditEntry.action)
        .filter(AuditEntry.action.in_(("sign_in", "sign_out")), AuditEntry.outcome == "success", AuditEntry.at >= since)
        .order_by(AuditEntry.at, AuditEntry.id))
    latest = {actor: action for actor, action in rows}
    return sum(1 for action in latest.values() if action == "sign_in")


def latest(partner_id: str, action: str, environment: str | None = None) -> AuditEntry | None:
    """The partner's newest entry of `action` (in `environment`), or None."""
    return db.session.scalars(entries_query(partner_id, action=action, environment=environment).limit(1)).first()
