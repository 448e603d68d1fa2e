"""The portal's own receivers: one row per registered webhook whose deliveries the portal receives, or whose
signing secret it keeps (encrypted) for the signature debugger."""

from __future__ import annotations

from sqlalchemy import select

from .db import db
from .models import ReceiverEndpoint


def of_partner(partner_id: str, environment: str) -> dict[str, ReceiverEndpoint]:
    """The partner's receivers in one environment, by webhook id."""
    rows = db.session.scalars(select(ReceiverEndpoint).filter_by(partner_id=partner_id, environment=environment))
    return {row.webhook_id: row for row in rows}


def for_webhook(partner_id: str, webhook_id: str) -> ReceiverEndpoint | None:
    return db.session.scalar(select(ReceiverEndpoint).filter_by(partner_id=partner_id, webhook_id=webhook_id))


def at_address(token: str) -> ReceiverEndpoint | None:
    """The receiver whose path is `/hooks/<token>`."""
    return db.session.scalar(select(ReceiverEndpoint).filter_by(token=token))


def add(partner_id: str, environment: str, webhook_id: str, url: str, token: str, secret_encrypted: str,
        *, commit: bool = True) -> ReceiverEndpoint:
    row = ReceiverEndpoint(partner_id=partner_id, environment=environment, webhook_id=webhook_id, url=url,
                           token=token, secret_encrypted=secret_encrypted)
    db.session.add(row)
    if commit:
        db.session.commit()
    return row


def remove(receiver: ReceiverEndpoint, *, commit: bool = True) -> None:
    """Its path answers 404 from then on."""
    db.session.delete(receiver)
    if commit:
        db.session.commit()
