"""Webhook endpoint replacements as saved rows: the table and the conditional UPDATEs of
`webhooks/replacement.py`'s state machine (the same shape as `rotations.py` for key rolls).

A step that must run once is claimed with one conditional UPDATE (`started → registering`, `registered →
deployed`…): of two requests racing for it (two workers, a double click, a second tab) one wins, and the row
is reloaded so the loser sees what the winner did. `save` commits the row with its audit entries and any
receiver change made alongside, in one transaction."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Text, and_, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from .db import db
from .models import ReceiverEndpoint, RevealedSecret, utcnow

FINISHED = ("completed", "cancelled")
# While both endpoints exist and the replacement shares the old one's receiver address, that receiver verifies
# deliveries with either secret.
OVERLAP = ("registered", "deployed", "proven")


class WebhookReplacement(db.Model):
    """One endpoint replaced by another (a new URL, new event types, or only a new signing secret), saved at every
    step so a closed browser, a crash or a SIR Giving failure leaves it resumable.

    States: "started" → "registering" (claimed) → "registered" (the replacement exists; its secret waits to be
    shown once) → "deployed" (the admin deployed the new secret; both endpoints receive) → "proven" (a test event
    to the replacement was answered 2xx) → "completed" (the old endpoint deleted); or "cancelled" (the replacement
    deleted, the old endpoint untouched). `error` holds the last failure."""

    __tablename__ = "webhook_replacements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    old_webhook_id: Mapped[str] = mapped_column(String(64))
    old_url: Mapped[str] = mapped_column(String(2048))
    old_event_types: Mapped[str] = mapped_column(Text)  # JSON list
    old_receive_all: Mapped[bool] = mapped_column(Boolean, default=False)
    new_url: Mapped[str] = mapped_column(String(2048))
    new_description: Mapped[str | None] = mapped_column(String(200))
    new_event_types: Mapped[str] = mapped_column(Text)  # JSON list
    new_receive_all: Mapped[bool] = mapped_column(Boolean, default=False)
    to_portal: Mapped[bool] = mapped_column(Boolean, default=False)  # the replacement delivers to the portal
    shares_receiver: Mapped[bool] = mapped_column(Boolean, default=False)  # same portal address as the old one
    keep_secret: Mapped[bool] = mapped_column(Boolean, default=False)  # the portal keeps the new secret
    receiver_token: Mapped[str | None] = mapped_column(String(64))  # the new receiver row's path, when one is made
    known_webhook_ids: Mapped[str] = mapped_column(Text)  # JSON: the endpoints before, to find one a lost answer made
    state: Mapped[str] = mapped_column(String(16), default="started")
    new_webhook_id: Mapped[str | None] = mapped_column(String(64))
    new_secret_encrypted: Mapped[str | None] = mapped_column(Text)  # a shared receiver's second secret, until done
    reveal_token: Mapped[str | None] = mapped_column(String(64))  # the once-only page of the new secret
    test_delivery_id: Mapped[str | None] = mapped_column(String(64))
    test_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def in_progress(self) -> bool:
        return self.state not in FINISHED

    @property
    def old_types(self) -> list[str]:
        return json.loads(self.old_event_types or "[]")

    @property
    def new_types(self) -> list[str]:
        return json.loads(self.new_event_types or "[]")

    @property
    def known_ids(self) -> set[str]:
        return set(json.loads(self.known_webhook_ids or "[]"))


def create(*, commit: bool = True, **fields) -> WebhookReplacement:
    for name in ("old_event_types", "new_event_types", "known_webhook_ids"):
        fields[name] = json.dumps(sorted(fields[name]))
    row = WebhookReplacement(**fields)
    db.session.add(row)
    db.session.flush()
    if commit:
        db.session.commit()
    return row


def save(row: WebhookReplacement) -> None:
    db.session.add(row)
    db.session.commit()


def of_partner(partner_id: str, replacement_id) -> WebhookReplacement | None:
    try:
        replacement_id = int(replacement_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(select(WebhookReplacement).filter_by(partner_id=partner_id, id=replacement_id))


def in_progress(partner_id: str, environment: str) -> list[WebhookReplacement]:
    """The partner's unfinished replacements in one environment, oldest first."""
    return list(db.session.scalars(select(WebhookReplacement).filter(
        WebhookReplacement.partner_id == partner_id, WebhookReplacement.environment == environment,
        WebhookReplacement.state.notin_(FINISHED)).order_by(WebhookReplacement.created_at)))


def in_progress_for(partner_id: str, webhook_id: str) -> WebhookReplacement | None:
    """The unfinished replacement of endpoint `webhook_id` (as the old one or as the replacement), if any."""
    return db.session.scalar(select(WebhookReplacement).filter(
        WebhookReplacement.partner_id == partner_id, WebhookReplacement.state.notin_(FINISHED),
        or_(WebhookReplacement.old_webhook_id == webhook_id, WebhookReplacement.new_webhook_id == webhook_id)))


def overlap_secret_for(receiver: ReceiverEndpoint) -> str | None:
    """The second secret (encrypted) the receiver accepts while its webhook is being replaced by one that shares
    its address, or None."""
    return db.session.scalar(select(WebhookReplacement.new_secret_encrypted).filter(
        WebhookReplacement.partner_id == receiver.partner_id, WebhookReplacement.shares_receiver.is_(True),
        WebhookReplacement.old_webhook_id == receiver.webhook_id, WebhookReplacement.state.in_(OVERLAP),
        WebhookReplacement.new_secret_encrypted.isnot(None)))


def secret_shown(row: WebhookReplacement) -> bool:
    """The replacement's secret was shown on its once-only page (or that page's secret was erased unseen)."""
    if row.reveal_token is None:
        return False
    stashed = db.session.get(RevealedSecret, row.reveal_token)
    return stashed is None or not stashed.secrets_encrypted


def _transition(row: WebhookReplacement, *conditions, commit: bool, **values) -> bool:
    won = db.session.execute(
        update(WebhookReplacement).where(WebhookReplacement.id == row.id, *conditions).values(**values)
        .execution_options(synchronize_session=False)).rowcount == 1
    if commit:
        db.session.commit()
    db.session.refresh(row)
    return won


def claim_registration(row: WebhookReplacement, now: datetime, stale_before: datetime) -> bool:
    """"started" → "registering"; a claim untouched since `stale_before` belongs to a request that died mid-call."""
    return _transition(row, or_(WebhookReplacement.state == "started",
                                and_(WebhookReplacement.state == "registering",
                                     WebhookReplacement.updated_at < stale_before)),
                       commit=True, state="registering", updated_at=now)


def advance(row: WebhookReplacement, before: str, after: str, now: datetime, *, commit: bool = False) -> bool:
    """`before` → `after`, for the one request that wins it."""
    return _transition(row, WebhookReplacement.state == before, commit=commit, state=after, updated_at=now)
