"""Events the portal's receiver accepted: kept once per event id, listed newest first, drawn on for alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .db import db
from .models import ReceivedEvent


def store_once(*, partner_id: str, environment: str, receiver_id: int, event_id: str, event_type: str,
               raw_body: str, created_at: datetime | None, signature_timestamp: str, signature: str) -> bool:
    """Keep a verified event, committed before this returns: an event the receiver acknowledges is never lost.
    The event id is the idempotency key: a redelivery of a kept event is counted, not kept twice (False)."""
    db.session.add(ReceivedEvent(partner_id=partner_id, environment=environment, receiver_id=receiver_id,
                                 event_id=event_id, event_type=event_type, raw_body=raw_body, created_at=created_at,
                                 signature_timestamp=signature_timestamp, signature=signature))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        db.session.execute(update(ReceivedEvent).where(
            ReceivedEvent.partner_id == partner_id, ReceivedEvent.environment == environment,
            ReceivedEvent.event_id == event_id).values(redeliveries=ReceivedEvent.redeliveries + 1))
        db.session.commit()
        return False
    return True


def find(partner_id: str, event_id: int) -> ReceivedEvent | None:
    """The partner's event by its row id, or None (never another partner's)."""
    return db.session.scalar(select(ReceivedEvent).filter_by(partner_id=partner_id, id=event_id))


def _of(partner_id: str, environment: str, event_type: str | None):
    query = select(ReceivedEvent).filter_by(partner_id=partner_id, environment=environment)
    return query.filter_by(event_type=event_type) if event_type else query


def event_types(partner_id: str, environment: str) -> list[str]:
    """The types the partner has received in this environment, sorted."""
    return sorted(db.session.scalars(select(ReceivedEvent.event_type)
                                     .filter_by(partner_id=partner_id, environment=environment).distinct()))


def count(partner_id: str, environment: str, event_type: str | None = None) -> int:
    return db.session.scalar(select(func.count()).select_from(_of(partner_id, environment, event_type).subquery()))


def newest_first(partner_id: str, environment: str, event_type: str | None = None, *, offset: int = 0,
                 limit: int = 50) -> list[ReceivedEvent]:
    query = _of(partner_id, environment, event_type)
    return db.session.scalars(query.order_by(ReceivedEvent.received_at.desc(), ReceivedEvent.id.desc())
                              .offset(offset).limit(limit)).all()


def alerts(partner_id: str, environment: str, types: tuple[str, ...], since: datetime,
           limit: int = 5) -> list[ReceivedEvent]:
    """Events of `types` received since `since` and not dismissed, newest first."""
    return db.session.scalars(select(ReceivedEvent).filter(
        ReceivedEvent.partner_id == partner_id, ReceivedEvent.environment == environment,
        ReceivedEvent.event_type.in_(types), ReceivedEvent.dismissed.is_(False),
        ReceivedEvent.received_at >= since).order_by(ReceivedEvent.received_at.desc()).limit(limit)).all()


def dismiss(event: ReceivedEvent, *, commit: bool = True) -> None:
    """Its alert goes away; the event stays listed."""
    event.dismissed = True
    if commit:
        db.session.commit()
