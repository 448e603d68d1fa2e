"""Reward batches from a CSV: the batch and one row per action, saved as they are sent, so a batch survives a
crash, a closed tab or a restart and resumes where it was. Each row keeps its idempotency key from upload to
the end: a row sent twice (an answer lost, a worker killed after SIR Giving applied a chunk) is recognised
upstream by that key and never rewards twice."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from sqlalchemy import (DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, delete, func, or_,
                        select, update)
from sqlalchemy.orm import Mapped, mapped_column

from .db import db
from .models import utcnow

# Row states: "pending" (not sent, or sent without a readable answer: it goes again with the same key),
# "COMPLETED" and "FAILED" (as SIR Giving answered).
PENDING = "pending"


class RewardBatch(db.Model):
    """One uploaded file: validated rows, then confirmed, then sent in chunks (`state`: "ready" → "sending" (↔
    "paused") → "finished"). `fingerprint` is the file's SHA-256: the derived idempotency keys come from it, so the same
    file uploaded twice gets the same keys, and a resend is recognised upstream."""

    __tablename__ = "reward_batches"
    __table_args__ = (Index("ix_reward_batches_partner_created", "partner_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    planned_tokens: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="ready")  # ready, sending, paused, finished
    uploaded_by: Mapped[str] = mapped_column(String(255))
    confirmed_by: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)  # why the last chunk did not go (shown on the page)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class RewardBatchRow(db.Model):
    """One row of the file as it will be sent (`payload`: the action's JSON), and what became of it."""

    __tablename__ = "reward_batch_rows"
    __table_args__ = (UniqueConstraint("batch_id", "row_number"),
                      Index("ix_reward_batch_rows_batch_status", "batch_id", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("reward_batches.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)  # the line of the file (the header is line 1)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    planned_tokens: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    action_id: Mapped[str | None] = mapped_column(String(64))
    tokens: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # re-sends of a failed row (its key gets a suffix)


# -- creating --------------------------------------------------------------------------------------

def create(partner_id: str, environment: str, filename: str, fingerprint: str, uploaded_by: str) -> RewardBatch:
    """A new, empty batch (uncommitted: rows are added, then `finish_upload` or `discard`)."""
    batch = RewardBatch(partner_id=partner_id, environment=environment, filename=filename[:255],
                        fingerprint=fingerprint, uploaded_by=uploaded_by, state="ready")
    db.session.add(batch)
    db.session.flush()
    return batch


def add_rows(batch: RewardBatch, rows: Iterable[tuple[int, str, dict, int]]) -> None:
    """Insert (row number, key, payload, planned tokens) in one executemany: 10,000 rows stay cheap."""
    values = [{"batch_id": batch.id, "row_number": number, "idempotency_key": key,
               "payload": json.dumps(payload, separators=(",", ":")), "planned_tokens": tokens,
               "status": PENDING, "attempts": 0} for number, key, payload, tokens in rows]
    if values:
        db.session.execute(RewardBatchRow.__table__.insert(), values)


def finish_upload(batch: RewardBatch, rows: int, planned_tokens: int) -> None:
    batch.rows, batch.planned_tokens = rows, planned_tokens


def discard() -> None:
    """A file with a bad row keeps nothing."""
    db.session.rollback()


# -- reading ---------------------------------------------------------------------------------------

def find(partner_id: str, batch_id: int) -> RewardBatch | None:
    """The partner's batch, or None (never another partner's)."""
    return db.session.scalar(select(RewardBatch).filter_by(partner_id=partner_id, id=batch_id))


def recent(partner_id: str, limit: int = 20) -> list[RewardBatch]:
    return list(db.session.scalars(select(RewardBatch).filter_by(partner_id=partner_id)
                                   .order_by(RewardBatch.created_at.desc(), RewardBatch.id.desc()).limit(limit)))


def earlier_upload(partner_id: str, environment: str, fingerprint: str, before_id: int) -> RewardBatch | None:
    """An earlier batch of the same file in the same environment (its keys are the same)."""
    return db.session.scalar(select(RewardBatch).where(
        RewardBatch.partner_id == partner_id, RewardBatch.environment == environment,
        RewardBatch.fingerprint == fingerprint, RewardBatch.id < before_id).order_by(RewardBatch.id))


def counts(batch: RewardBatch) -> dict[str, int]:
    """Rows by status, with tokens distributed: {"pending": …, "COMPLETED": …, "FAILED": …, "tokens": …}."""
    found = {PENDING: 0, "COMPLETED": 0, "FAILED": 0, "tokens": 0}
    for status, number, tokens in db.session.execute(
            select(RewardBatchRow.status, func.count(), func.coalesce(func.sum(RewardBatchRow.tokens), 0))
            .where(RewardBatchRow.batch_id == batch.id).group_by(RewardBatchRow.status)):
        found[status] = number
        found["tokens"] += int(tokens or 0)
    return found


def next_pending(batch: RewardBatch, limit: int) -> list[RewardBatchRow]:
    """The next rows to send, in file order."""
    return list(db.session.scalars(select(RewardBatchRow).filter_by(batch_id=batch.id, status=PENDING)
                                   .order_by(RewardBatchRow.row_number).limit(limit)))


def rows_of(batch_id: int, page_size: int = 500) -> Iterator[RewardBatchRow]:
    """Every row in file order, read a page at a time (the result file of 10,000 rows is streamed)."""
    after = 0
    while True:
        page = list(db.session.scalars(select(RewardBatchRow).where(RewardBatchRow.batch_id == batch_id,
                                                                    RewardBatchRow.row_number > after)
                                       .order_by(RewardBatchRow.row_number).limit(page_size)))
        if not page:
            return
        yield from page
        after = page[-1].row_number


def failed_rows(batch: RewardBatch, limit: int = 50) -> list[RewardBatchRow]:
    return list(db.session.scalars(select(RewardBatchRow).filter_by(batch_id=batch.id, status="FAILED")
                                   .order_by(RewardBatchRow.row_number).limit(limit)))


# -- sending ---------------------------------------------------------------------------------------

def lease(batch: RewardBatch, seconds: float) -> bool:
    """Take the batch to send its next chunk: one conditional UPDATE, so of two tabs (or workers) stepping at
    once one sends and the other waits. A lease left by a worker that died mid-chunk runs out by itself.
    Committed; True when taken."""
    now = utcnow()
    taken = db.session.execute(
        update(RewardBatch)
        .where(RewardBatch.id == batch.id, RewardBatch.state == "sending",
               or_(RewardBatch.leased_until.is_(None), RewardBatch.leased_until < now))
        .values(leased_until=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    db.session.refresh(batch)
    return taken == 1


def release(batch: RewardBatch, *, error: str | None = None, finished: bool = False) -> None:
    """Give the lease back (committed), with the reason the last chunk did not go, or the batch finished."""
    db.session.execute(update(RewardBatch).where(RewardBatch.id == batch.id)
                       .values(leased_until=None, last_error=error,
                               state="finished" if finished else RewardBatch.state)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(batch)


def record_results(results: Iterable[tuple[RewardBatchRow, str, str | None, int | None, str | None]]) -> None:
    """Store what SIR Giving answered for each row of a chunk (status, action id, tokens, error); committed
    together, so a chunk is recorded whole or not at all (and is then sent again, with the same keys)."""
    for row, status, action_id, tokens, error in results:
        row.status, row.action_id, row.tokens, row.error = status, action_id, tokens, error
    db.session.commit()


def start(batch: RewardBatch, confirmed_by: str) -> None:
    """Confirmed: the batch is sending (uncommitted: it commits with the audit entry)."""
    batch.state, batch.confirmed_by, batch.last_error = "sending", confirmed_by, None


def pause(batch: RewardBatch) -> None:
    """SIR Giving refused a chunk for a reason that does not pass by itself: the batch waits for the admin."""
    batch.state = "paused"
    db.session.commit()


def resume(batch: RewardBatch) -> None:
    """Uncommitted: it commits with the audit entry."""
    batch.state, batch.last_error = "sending", None


def requeue_failed(batch: RewardBatch) -> int:
    """Failed rows go back to pending, each with one more attempt (its key's suffix), and the batch sends again.
    Uncommitted; returns how many."""
    requeued = db.session.execute(
        update(RewardBatchRow).where(RewardBatchRow.batch_id == batch.id, RewardBatchRow.status == "FAILED")
        .values(status=PENDING, attempts=RewardBatchRow.attempts + 1, action_id=None, tokens=None)
        .execution_options(synchronize_session=False)).rowcount
    if requeued:
        batch.state, batch.last_error = "sending", None
    return requeued


def delete_batch(batch: RewardBatch) -> None:
    db.session.execute(delete(RewardBatchRow).where(RewardBatchRow.batch_id == batch.id))
    db.session.delete(batch)
    db.session.commit()
