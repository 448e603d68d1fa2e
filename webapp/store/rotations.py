"""Key rotations as saved rows: the queries and the conditional UPDATEs of `keys/rotation.py`'s state machine.

Each step that must run once is claimed with one conditional UPDATE (`started → creating`, `created →
confirmed`…): of two requests racing for it (two workers, a double click, a second tab) one wins, and
the row is reloaded so the loser sees what the winner did.

Committing: like `store/audit.py`, a function that writes takes `commit=`; `save` commits a rotation with
whatever was written alongside it (its audit entries, the vault's credential) in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, update

from .db import db
from ..sir.times import parse_time  # as UTC: SQLite keeps no zone
from .models import AuditEntry, KeyRotation

FINISHED = ("completed", "cancelled")


def in_progress_for(partner_id: str, key_id: str | None = None) -> list[KeyRotation]:
    """The partner's rotations that are not finished, newest first; only those of the old key `key_id` if given."""
    query = select(KeyRotation).filter(KeyRotation.partner_id == partner_id, KeyRotation.state.notin_(FINISHED))
    if key_id:
        query = query.filter(KeyRotation.old_key_id == key_id)
    return list(db.session.scalars(query.order_by(KeyRotation.created_at.desc())))


def _not_cancelled(partner_id: str) -> list[KeyRotation]:
    return list(db.session.scalars(select(KeyRotation).filter(KeyRotation.partner_id == partner_id,
                                                              KeyRotation.state != "cancelled")
                                   .order_by(KeyRotation.created_at)))


def latest_by_old_key(partner_id: str) -> dict[str, KeyRotation]:
    """The latest rotation (in progress or completed, not cancelled) of each key that was rolled, by its id."""
    return {row.old_key_id: row for row in _not_cancelled(partner_id)}


def standing(partner_id: str) -> tuple[list[KeyRotation], dict[str, KeyRotation]]:
    """`in_progress_for(partner_id)` and `latest_by_old_key(partner_id)` from one read (the keys page and the
    banner on every other page want both)."""
    rows = _not_cancelled(partner_id)
    return [row for row in reversed(rows) if row.state not in FINISHED], {row.old_key_id: row for row in rows}


def switched_at(rotation: KeyRotation) -> datetime | None:
    """When the portal moved its credential from the rotation's old key to the new one: the audit entry written
    in the same transaction as the switch (None when the portal never signed with the old key)."""
    if not rotation.was_portal_key or rotation.new_key_id is None:
        return None
    moment = db.session.scalar(select(AuditEntry.at).filter_by(
        partner_id=rotation.partner_id, action="portal_credential_switched", outcome="success",
        target=f"{rotation.new_key_name} ({rotation.new_key_id})").order_by(AuditEntry.at.desc()).limit(1))
    return parse_time(moment) if moment else None


def of_partner(partner_id: str, rotation_id: int) -> KeyRotation | None:
    """One rotation, only if it is this partner's."""
    return db.session.scalar(select(KeyRotation).filter_by(id=rotation_id, partner_id=partner_id))


def create(*, partner_id: str, environment: str, old_key_id: str, old_key_name: str, key_type: str, grace: str,
           was_portal_key: bool, started_by: str, commit: bool = True) -> KeyRotation:
    """A new rotation in state "started"; it has its id at once, even uncommitted."""
    rotation = KeyRotation(partner_id=partner_id, environment=environment, old_key_id=old_key_id,
                           old_key_name=old_key_name, key_type=key_type, grace=grace,
                           was_portal_key=was_portal_key, started_by=started_by)
    db.session.add(rotation)
    db.session.flush()
    if commit:
        db.session.commit()
    return rotation


def save(rotation: KeyRotation) -> None:
    """Commit the rotation's changes, with the audit entries and vault change made alongside them."""
    db.session.add(rotation)
    db.session.commit()


def _transition(rotation: KeyRotation, *conditions, commit: bool, **values) -> bool:
    """One conditional UPDATE of the rotation's row; True when this request won it. The row is reloaded
    either way, so the caller sees the state the winner left."""
    won = db.session.execute(
        update(KeyRotation).where(KeyRotation.id == rotation.id, *conditions).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if commit:
        db.session.commit()
    db.session.refresh(rotation)
    return won


def claim_creation(rotation: KeyRotation, name: str, now: datetime, stale_before: datetime) -> bool:
    """"started" → "creating", naming the replacement (unless an earlier try named it). A "creating" claim
    not touched since `stale_before` belongs to a request that died mid-call, and may be taken over."""
    return _transition(rotation,
                       or_(KeyRotation.state == "started",
                           and_(KeyRotation.state == "creating", KeyRotation.updated_at < stale_before)),
                       commit=True, state="creating", new_key_name=rotation.new_key_name or name, updated_at=now)


def mark_secrets_shown(rotation: KeyRotation, now: datetime) -> bool:
    """The replacement's secrets are being shown: True for the one request that may show them."""
    return _transition(rotation, KeyRotation.state == "created", KeyRotation.secrets_shown_at.is_(None),
                       commit=True, secrets_shown_at=now)


def confirm_stored(rotation: KeyRotation, now: datetime, commit: bool = True) -> bool:
    """"created" → "confirmed": the admin stored the replacement's secrets."""
    return _transition(rotation, KeyRotation.state == "created", commit=commit, state="confirmed", updated_at=now)


def forget_replacement(rotation: KeyRotation, replacement_id: str, now: datetime, commit: bool = True) -> bool:
    """"created" → "started" again, forgetting the replacement `replacement_id` (revoked: its secrets were
    not stored), so that another is made. Only while that replacement is still the rotation's."""
    return _transition(rotation, KeyRotation.state == "created", KeyRotation.new_key_id == replacement_id,
                       commit=commit, state="started", new_key_id=None, new_key_name=None,
                       new_secrets_encrypted=None, secrets_shown_at=None, error=None, updated_at=now)
