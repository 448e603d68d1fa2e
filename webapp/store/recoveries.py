"""Recovery batches: every failed delivery of a webhook since a time, retried in bounded steps and saved as
they go, so a batch survives a closed tab and two tabs stepping it never count a delivery twice."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select, update

from .db import db
from .models import RecoveryBatch


def create(partner_id: str, environment: str, webhook_id: str, since: datetime, delivery_ids: list[str],
           started_by: str, *, commit: bool = True) -> RecoveryBatch:
    """A batch over `delivery_ids`, fixed now; already finished when there is nothing to retry."""
    batch = RecoveryBatch(partner_id=partner_id, environment=environment, webhook_id=webhook_id, since=since,
                          delivery_ids=json.dumps(delivery_ids), started_by=started_by,
                          state="running" if delivery_ids else "finished")
    db.session.add(batch)
    if commit:
        db.session.commit()
    return batch


def find(partner_id: str, batch_id: int) -> RecoveryBatch | None:
    """The partner's batch, or None (never another partner's)."""
    return db.session.scalar(select(RecoveryBatch).filter_by(partner_id=partner_id, id=batch_id))


def delivery_ids(batch: RecoveryBatch) -> list[str]:
    return json.loads(batch.delivery_ids)


def refused_ids(batch: RecoveryBatch) -> list[str]:
    """The deliveries SIR Giving refused to queue (counted in `failed`)."""
    return json.loads(batch.refused_ids or "[]")


def claim_step(batch: RecoveryBatch, handled_before: int, done: int, failed: int, finished: bool,
               refused: list[str] = ()) -> bool:
    """Count a step's retries, once: the counts move only if nobody moved them since they stood at
    `handled_before` (one conditional UPDATE, so of two tabs stepping at once exactly one wins). Committed;
    `batch` is reloaded either way, so it shows the counts that were kept. True when this step won."""
    moved = db.session.execute(
        update(RecoveryBatch)
        .where(RecoveryBatch.id == batch.id, RecoveryBatch.done + RecoveryBatch.failed == handled_before)
        .values(done=RecoveryBatch.done + done, failed=RecoveryBatch.failed + failed,
                # Read with the counts this step claims from, so the list moves with them or not at all.
                refused_ids=json.dumps(refused_ids(batch) + list(refused)) if refused else RecoveryBatch.refused_ids,
                state="finished" if finished else "running"))
    db.session.commit()
    db.session.refresh(batch)
    return moved.rowcount == 1
