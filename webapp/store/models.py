"""Tables of the portal. Each holds what the portal itself must remember; SIR Giving's data is not copied."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .db import db


def utcnow() -> datetime:
    """The portal's one clock (SIR Giving's now, see webapp/clock.py): stored times compare with its times."""
    from ..clock import now

    return now()


class VaultCredential(db.Model):
    """The credential the portal signs with, one per (partner, environment); secrets only encrypted."""

    __tablename__ = "vault_credentials"
    __table_args__ = (UniqueConstraint("partner_id", "environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(64))
    key_prefix: Mapped[str] = mapped_column(String(32))  # e.g. "sk_test_4f3a" — safe to show
    secret_key_encrypted: Mapped[str] = mapped_column(Text)
    hmac_secret_encrypted: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # "created", "pasted", "rolled" ("rotated" in older rows)
    stored_by: Mapped[str] = mapped_column(String(255))
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(db.Model):
    """One state-changing thing the portal did: when, who, partner, environment, what, target, outcome."""

    __tablename__ = "audit_entries"
    # The log's pages, newest first, by keyset (time, then id); and the same per action (a filter, and the
    # partner's distinct actions without reading every entry).
    __table_args__ = (Index("ix_audit_partner_at_id", "partner_id", "at", "id"),
                      Index("ix_audit_partner_action_at", "partner_id", "action", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    partner_id: Mapped[str | None] = mapped_column(String(64))
    environment: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))  # "success" or "failure"
    detail: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class FormSubmission(db.Model):
    """A one-time token per rendered form, so a double click or a resubmit runs the action once.

    `state` goes "issued" → "running" → "done" (with `result`) or back to "issued" when the action
    failed before reaching SIR Giving. A resubmit of a "done" token shows the first result again.
    """

    __tablename__ = "form_submissions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="issued")
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class RevealedSecret(db.Model):
    """A new key's secrets, encrypted, between the request that created it and the one page that shows them.

    The row is deleted as that page is rendered, so the secrets exist in plaintext only in that response."""

    __tablename__ = "revealed_secrets"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KeyRotation(db.Model):
    """A key rotation in progress, saved at every step so it can be resumed or cancelled.

    States: "started" → "created" (replacement exists) → "confirmed" (secrets stored by the admin) →
    "verified" (a signed call worked) → "switched" (vault uses the new key, when it used the old one) →
    "grace" (old key expires later) → "completed"; or "cancelled". `error` holds the last failure."""

    __tablename__ = "key_rotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    old_key_id: Mapped[str] = mapped_column(String(64))
    old_key_name: Mapped[str] = mapped_column(String(255))
    key_type: Mapped[str] = mapped_column(String(16))
    grace: Mapped[str] = mapped_column(String(8))  # now, 1h, 24h, 3d, 7d
    state: Mapped[str] = mapped_column(String(16), default="started")
    was_portal_key: Mapped[bool] = mapped_column(default=False)
    new_key_id: Mapped[str | None] = mapped_column(String(64))
    new_key_name: Mapped[str | None] = mapped_column(String(255))
    new_secrets_encrypted: Mapped[str | None] = mapped_column(Text)  # until the vault no longer needs them
    secrets_shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    old_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def in_progress(self) -> bool:
        return self.state not in ("completed", "cancelled")


class ReceiverEndpoint(db.Model):
    """The portal's own receiver for one registered webhook: an unguessable path and the signing secret
    (encrypted) it verifies deliveries with."""

    __tablename__ = "receiver_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    webhook_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReceivedEvent(db.Model):
    """An event the portal's receiver accepted: verified, stored once per event id, before the 2xx."""

    __tablename__ = "received_events"
    __table_args__ = (UniqueConstraint("partner_id", "environment", "event_id"),
                      Index("ix_received_partner_at", "partner_id", "received_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(16))
    receiver_id: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    raw_body: Mapped[str] = mapped_column(Text)
    signature_timestamp: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))
    redeliveries: Mapped[int] = mapped_column(Integer, default=0)
    dismissed: Mapped[bool] = mapped_column(default=False)


class RecoveryBatch(db.Model):
    """Retry every failed delivery of a webhook since a time: a bounded batch, run in chunks, saved as it goes."""

    __tablename__ = "recovery_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    webhook_id: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivery_ids: Mapped[str] = mapped_column(Text)  # JSON list, fixed when the batch starts
    refused_ids: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list: SIR Giving would not queue these
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running, finished
    started_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PartnerHint(db.Model):
    """A small fact about a partner's SIR Giving data that lets a page ask in one round what would otherwise
    take two (the running campaign's id: its analytics are asked at once). Never a secret; a wrong hint costs
    one more call, not a wrong page. One row per (partner, environment, name)."""

    __tablename__ = "partner_hints"

    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    environment: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
