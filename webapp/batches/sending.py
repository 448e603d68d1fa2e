"""Sending a confirmed batch: chunks of at most 100 through `POST /v1/partner/actions/bulk`, exactly once.

The batch page steps the batch with POSTs (htmx polls while it is sending), each step sending chunks for a few
seconds under a lease (one conditional UPDATE), so two tabs never send the same chunk at once, and a closed tab,
a crash or a restart leaves the batch where it was: the next step (any worker, any app instance on the same
database) goes on from the first row without a stored answer.

Exactly once rests on the idempotency keys, not on the portal's bookkeeping: a chunk whose answer was lost (a
timeout, a dropped connection, a worker killed after SIR Giving applied it) is sent again with the same keys,
and SIR Giving answers with the actions it already made (`duplicate: true`), rewarding nobody twice. A row is
recorded only from SIR Giving's answer, and a chunk's answers are committed together.

A failed row sent again gets its key with a suffix (`….r1`): SIR Giving keeps the first answer for a key, so
the same key would only repeat the failure. The failed action issued no tokens, so a new key cannot double one.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from ..actor import Actor
from ..once import LOST_ANSWERS
from ..sir import errors
from ..sir.api import PartnerApi
from ..store import batches as store
from ..store.db import rollback
from .plan import CHUNK

STEP_BUDGET_SECONDS = 3.0  # one step sends chunks for about this long, then shows the progress


NEXT_STEP_SECONDS, AFTER_TROUBLE_SECONDS, LONGEST_WAIT_SECONDS = 0.2, 3.0, 60.0


@dataclass(frozen=True)
class Step:
    sent: int = 0  # rows answered in this step
    note: str | None = None  # why it stopped early (shown)
    wait: float = NEXT_STEP_SECONDS  # before the page asks for the next step: longer after trouble, as told on a 429


def key_for(row: store.RewardBatchRow) -> str:
    return row.idempotency_key if not row.attempts else f"{row.idempotency_key}.r{row.attempts}"


def step(actor: Actor, api: PartnerApi, batch: store.RewardBatch, lease_seconds: float,
         budget: float = STEP_BUDGET_SECONDS) -> Step:
    """Send the batch's next chunks for about `budget` seconds."""
    if batch.state != "sending":
        return Step()
    if not store.lease(batch, lease_seconds):
        return Step(note="This batch is being sent from another tab or worker; its progress shows here.")
    sent, note, wait, finished, released = 0, None, NEXT_STEP_SECONDS, False, False
    started = time.monotonic()
    try:
        while time.monotonic() - started < budget:
            rows = store.next_pending(batch, CHUNK)
            if not rows:
                finished = True
                break
            try:
                reply = api.bulk_actions([{**_payload(row), "idempotencyKey": key_for(row)} for row in rows])
            except LOST_ANSWERS:
                note = ("SIR Giving's answer to the last chunk was lost; it goes again with the same idempotency "
                        "keys, so nothing is rewarded twice.")
                wait = AFTER_TROUBLE_SECONDS
                break
            except errors.RateLimited as error:
                wait = min(LONGEST_WAIT_SECONDS, max(AFTER_TROUBLE_SECONDS, error.retry_after or 0))
                note = f"SIR Giving's rate limit for this key is reached: the next chunk goes in {wait:.0f} seconds."
                break
            except errors.ValidationFailed as error:
                refused = _refused_items(rows, error)
                if refused:  # nothing of the chunk was processed: the refused rows fail, the others go again
                    sent += len(refused)
                    continue
                note = f"{error.message} {error.next_step}"
                store.release(batch, error=note)
                store.pause(batch)
                released = True
                actor.audit("batch_paused", _target(batch), outcome="failure", detail=error.code)
                break
            except errors.SirError as error:
                note = f"{error.message} {error.next_step}"
                wait = AFTER_TROUBLE_SECONDS
                if not error.retryable:
                    store.release(batch, error=note)
                    store.pause(batch)
                    released = True
                    actor.audit("batch_paused", _target(batch), outcome="failure", detail=error.code)
                break
            sent += _record(rows, reply)
        if finished:
            found = store.counts(batch)
            store.release(batch, finished=True)
            released = True
            actor.audit("batch_finished", _target(batch), environment=batch.environment,
                        detail=f"{found['COMPLETED']:,} completed, {found['FAILED']:,} failed, "
                               f"{found['tokens']:,} tokens")
    finally:
        if not released:  # whatever stopped the step (an error, a worker shutting down), the next may go on
            store.release(batch, error=note)
    return Step(sent, note, wait)


ITEM = re.compile(r"actions\[(\d+)\]\.?(.*)")


def _refused_items(rows: list[store.RewardBatchRow], error: errors.ValidationFailed) -> list:
    """The rows SIR Giving named when it refused a chunk (`actions[i].field`), recorded as failed with its reason.
    The portal checks rows as SIR Giving does, so this is for a rule it learned since the file was read."""
    reasons: dict[int, list[str]] = {}
    for item in error.fields:
        found = ITEM.fullmatch(str(item.get("field", ""))) if isinstance(item, dict) else None
        if found and int(found.group(1)) < len(rows):
            reasons.setdefault(int(found.group(1)), []).append(f"{found.group(2)} {item.get('message', '')}".strip())
    refused = [(rows[index], "FAILED", None, None, "Refused by SIR Giving: " + "; ".join(texts))
               for index, texts in sorted(reasons.items())]
    store.record_results(refused)
    return refused


def _payload(row: store.RewardBatchRow) -> dict:
    return json.loads(row.payload)


def _record(rows: list[store.RewardBatchRow], reply) -> int:
    """Each row's answer, matched by its key; a row SIR Giving did not answer stays pending (sent again)."""
    answers = {}
    for result in (reply or {}).get("results") or []:
        if isinstance(result, dict) and isinstance(result.get("idempotencyKey"), str):
            answers[result["idempotencyKey"]] = result
    recorded = []
    for row in rows:
        answer = answers.get(key_for(row))
        if answer is None or not isinstance(answer.get("status"), str):
            continue
        status = answer["status"][:16]
        error = answer.get("failureReason") or answer.get("failureCode")
        tokens = answer.get("tokensDistributed")
        recorded.append((row, status, (answer.get("actionId") or answer.get("id") or None),
                         int(tokens) if isinstance(tokens, (int, float)) else None,
                         str(error)[:500] if error else None))
    store.record_results(recorded)
    return len(recorded)


def _target(batch: store.RewardBatch) -> str:
    return f"batch {batch.id} ({batch.filename})"


def start(actor: Actor, batch: store.RewardBatch) -> None:
    """Confirmed: from now on the batch sends (committed with its audit entry)."""
    store.start(batch, actor.email)
    actor.audit("batch_started", _target(batch), environment=batch.environment,
                detail=f"{batch.rows:,} actions, about {batch.planned_tokens:,} tokens before the campaign")


def resume(actor: Actor, batch: store.RewardBatch) -> None:
    """A paused batch (SIR Giving refused a chunk for a reason that does not pass) sends again."""
    store.resume(batch)
    actor.audit("batch_resumed", _target(batch), environment=batch.environment)


def resend_failed(actor: Actor, batch: store.RewardBatch) -> int:
    """The failed rows alone go again, each with a new key suffix; returns how many."""
    count = store.requeue_failed(batch)
    if count:
        actor.audit("batch_failed_rows_resent", _target(batch), environment=batch.environment,
                    detail=f"{count:,} rows")
    else:
        rollback()
    return count


RESULT_HEADER = ("row", "partner_user_id", "action_type", "amount", "currency", "idempotency_key", "status",
                 "action_id", "tokens", "error")


def result_rows(batch_id: int):
    """The result file's rows, read lazily a page at a time (the file streams while the rows are read)."""
    for row in store.rows_of(batch_id):
        payload = json.loads(row.payload)
        user = (payload.get("stakeholders") or [{}])[0].get("partnerUserId", "")
        yield (row.row_number, user, payload.get("actionType", ""), payload.get("amount", ""),
               payload.get("currency", ""), key_for(row), row.status, row.action_id or "",
               "" if row.tokens is None else row.tokens, row.error or "")
