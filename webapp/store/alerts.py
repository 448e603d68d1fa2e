"""Alerts outside the portal: where each partner's alerts go, which alerts went (at most one per condition,
subject and day), and which scheduled run claimed which interval (so several workers or machines run the
checks once per interval).

Claims are plain INSERTs on a unique key: the database says who was first, on SQLite and PostgreSQL alike,
with no lock held while e-mails and chat messages are sent.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, Integer, String, Text, UniqueConstraint, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from .db import db
from .models import utcnow


class AlertSettings(db.Model):
    """Where one partner's alerts go. The chat webhook URL is a secret (whoever has it can post to the
    channel): stored only encrypted with the vault key. Recipients' addresses are not secrets."""

    __tablename__ = "alert_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), unique=True)
    partner_name: Mapped[str] = mapped_column(String(255), default="")
    email_recipients: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    chat_url_encrypted: Mapped[str | None] = mapped_column(Text)
    chat_url_hint: Mapped[str | None] = mapped_column(String(255))  # scheme and host only, safe to show
    failing_after: Mapped[int] = mapped_column(Integer, default=3)  # a webhook failing this many times in a row
    portal_url: Mapped[str | None] = mapped_column(String(2048))  # the trusted address links in alerts point to
    known_keys: Mapped[str | None] = mapped_column(Text)  # JSON: the keys (and expiries) the portal last read
    email_status: Mapped[str | None] = mapped_column(Text)  # the last test or alert e-mail: what happened
    email_ok: Mapped[bool | None] = mapped_column()
    email_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    chat_status: Mapped[str | None] = mapped_column(Text)
    chat_ok: Mapped[bool | None] = mapped_column()
    chat_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    @property
    def recipients(self) -> list[str]:
        return [r.strip() for r in (self.email_recipients or "").split(",") if r.strip()]

    @property
    def keys(self) -> list[dict]:
        return json.loads(self.known_keys) if self.known_keys else []


class AlertSent(db.Model):
    """One alert that went (or was claimed to go): the row is the claim, inserted before sending."""

    __tablename__ = "alerts_sent"
    __table_args__ = (UniqueConstraint("partner_id", "condition", "subject", "day"),
                      Index("ix_alerts_sent_partner_at", "partner_id", "sent_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    condition: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD on the portal's clock (UTC)
    environment: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    email_result: Mapped[str | None] = mapped_column(Text)
    chat_result: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # when it was claimed
    # When every channel was tried. None: being sent, or its run died before it could (`claim_alert` takes over).
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertRun(db.Model):
    """One interval's scheduled run; its primary key is the interval's number, so only one worker claims it."""

    __tablename__ = "alert_runs"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runner: Mapped[str] = mapped_column(String(255))
    sent: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[str | None] = mapped_column(Text)


# -- settings --------------------------------------------------------------------------------------------

def settings_for(partner_id: str) -> AlertSettings | None:
    return db.session.scalar(select(AlertSettings).filter_by(partner_id=partner_id))


def settings_or_new(partner_id: str, partner_name: str) -> AlertSettings:
    row = settings_for(partner_id)
    if row is None:
        row = AlertSettings(partner_id=partner_id, partner_name=partner_name, email_recipients="", failing_after=3)
        db.session.add(row)
    return row


def every_settings() -> list[AlertSettings]:
    return list(db.session.scalars(select(AlertSettings).order_by(AlertSettings.id)))


def remember_keys(partner_id: str, keys: list[dict]) -> None:
    """The keys an admin's key list just showed (id, name, environment, status, expiresAt): the scheduled checks
    have no admin sign-in to list them, so they judge expiry from the newest list the portal read. Only for
    partners who set up alerts."""
    try:
        row = settings_for(partner_id)
        if row is None:
            return
        encoded = json.dumps(keys, sort_keys=True)
        if row.known_keys != encoded:
            row.known_keys = encoded
            db.session.commit()
    except SQLAlchemyError:  # a page's banner must never fail for the alerts' sake; the next read tries again
        db.session.rollback()


def commit() -> None:
    db.session.commit()


# -- claims ----------------------------------------------------------------------------------------------

# A claim left unfinished this long was abandoned (its run crashed or was killed mid-send): a send takes at most
# the mail server's steps (10 s each) and the chat post (10 s).
ABANDONED_AFTER = timedelta(minutes=15)


def sent_before(partner_id: str, condition: str, subject: str) -> bool:
    """Whether this alert went on any day (a stage of a key's expiry, a decision: once, ever), or is going now.
    A claim abandoned mid-send does not count: the alert is sent again."""
    abandoned = utcnow() - ABANDONED_AFTER
    return db.session.scalar(select(AlertSent.id).filter_by(partner_id=partner_id, condition=condition,
                                                            subject=subject)
                             .filter(or_(AlertSent.finished_at.is_not(None), AlertSent.sent_at > abandoned))
                             .limit(1)) is not None


def claim_alert(partner_id: str, condition: str, subject: str, day: str, environment: str | None, message: str,
                link: str | None) -> AlertSent | None:
    """The claim to send this alert today, or None when another run (this one earlier, or another worker) has it.
    A claim of today's that was abandoned mid-send is taken over (one conditional UPDATE: of two runs, one wins)."""
    row = AlertSent(partner_id=partner_id, condition=condition, subject=subject[:255], day=day,
                    environment=environment, message=message, link=link)
    db.session.add(row)
    try:
        db.session.commit()
        return row
    except IntegrityError:
        db.session.rollback()
    now = utcnow()
    taken = db.session.execute(
        update(AlertSent).where(AlertSent.partner_id == partner_id, AlertSent.condition == condition,
                                AlertSent.subject == subject[:255], AlertSent.day == day,
                                AlertSent.finished_at.is_(None), AlertSent.sent_at <= now - ABANDONED_AFTER)
        .values(sent_at=now, message=message, link=link, email_result=None, chat_result=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if taken.rowcount != 1:
        return None
    return db.session.scalar(select(AlertSent).filter_by(partner_id=partner_id, condition=condition,
                                                         subject=subject[:255], day=day))


def sent_for(partner_id: str, limit: int = 20) -> list[AlertSent]:
    return list(db.session.scalars(select(AlertSent).filter_by(partner_id=partner_id)
                                   .order_by(AlertSent.sent_at.desc(), AlertSent.id.desc()).limit(limit)))


def claim_run(slot: int, runner: str) -> AlertRun | None:
    """The claim to run the checks for interval `slot`, or None when another worker has it."""
    row = AlertRun(slot=slot, runner=runner[:255], sent=0)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return row


def finish_run(row: AlertRun, sent: int, problems: list[str]) -> None:
    row.finished_at = utcnow()
    row.sent = sent
    row.problems = "\n".join(problems) or None
    db.session.commit()


def last_run() -> AlertRun | None:
    return db.session.scalar(select(AlertRun).order_by(AlertRun.slot.desc()).limit(1))


def rollback_quietly() -> None:
    db.session.rollback()
