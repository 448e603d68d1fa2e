"""The recovery workflow, called directly: a batch retries only the deliveries that failed since the chosen
moment, RECOVERY_CHUNK at a time, and of two steps claimed at once only one is counted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.webhooks.acting import acting_as, audited
from webapp.store import recoveries
from webapp.webhooks.recovery import RECOVERY_CHUNK, failed_since, run_step, start_recovery


@pytest.fixture
def acme(app):
    with app.app_context():
        actor, api = acting_as(app)
        hook = next(h for h in api.webhooks().value if "legacy.acme.example" in h.url)
        yield actor, api, hook


def failed_of(simulator, hook_id):
    return sorted((d for d in simulator.deliveries.values() if d.webhook_id == hook_id and d.status == "failed"),
                  key=lambda d: d.created_at)


def since_the(delivery) -> datetime:
    return datetime.fromtimestamp(int(delivery.created_at), timezone.utc)  # whole seconds, as a form sends it


def test_a_batch_retries_only_what_failed_since_the_moment_in_chunks(app, simulator, acme):
    actor, api, hook = acme
    failed = failed_of(simulator, hook.id)
    since = since_the(failed[-15])
    wanted = [d for d in failed if d.created_at >= since.timestamp()]
    older = [d for d in failed if d.created_at < since.timestamp()]
    assert len(wanted) > RECOVERY_CHUNK and older

    counted = failed_since(api, hook.id, since)
    assert counted.delivery_ids == [d.id for d in wanted] and not counted.capped
    batch = start_recovery(actor, api, hook, since)
    assert batch.state == "running" and recoveries.delivery_ids(batch) == [d.id for d in wanted]
    assert all(d.status == "failed" for d in failed)  # starting a batch retries nothing yet
    assert "failed since" in audited(app, actor, "deliveries_recovered")[-1].detail

    step = run_step(actor, api, batch)
    assert step.counted and not step.slowed and (batch.done, batch.failed) == (RECOVERY_CHUNK, 0)
    pending = {d.id for d in simulator.deliveries.values() if d.webhook_id == hook.id and d.status == "pending"}
    assert pending == {d.id for d in wanted[:RECOVERY_CHUNK]}  # oldest first

    while batch.state == "running":
        assert run_step(actor, api, batch).counted
    assert batch.done == len(wanted)
    assert all(d.status == "pending" for d in wanted) and all(d.status == "failed" for d in older)
    (finished,) = audited(app, actor, "deliveries_recovery_finished")
    assert finished.outcome == "success" and finished.detail == f"{len(wanted)} retried, 0 could not be queued"
    assert not run_step(actor, api, batch).counted  # a finished batch sends nothing more


def test_of_two_steps_claimed_at_once_only_one_is_counted(app, simulator, acme):
    actor, api, hook = acme
    batch_id = start_recovery(actor, api, hook, since_the(failed_of(simulator, hook.id)[-15])).id
    first_tab = recoveries.find(actor.partner_id, batch_id)
    assert (first_tab.done, first_tab.failed) == (0, 0)
    with app.app_context():  # another request, with a database session of its own, steps the batch meanwhile
        other_tab = recoveries.find(actor.partner_id, batch_id)
        assert run_step(actor, api, other_tab).counted and other_tab.done == RECOVERY_CHUNK
    late = run_step(actor, api, first_tab)  # still believes nothing was done: retries the same chunk again
    assert not late.counted
    assert (first_tab.done, first_tab.failed) == (RECOVERY_CHUNK, 0)  # counted once, not twice


def test_a_step_claim_moves_the_counts_only_from_where_they_stood(app, simulator, acme):
    actor, api, hook = acme
    batch = start_recovery(actor, api, hook, since_the(failed_of(simulator, hook.id)[-15]))
    assert recoveries.claim_step(batch, 0, RECOVERY_CHUNK, 0, finished=False)
    assert not recoveries.claim_step(batch, 0, RECOVERY_CHUNK, 0, finished=False)
    assert (batch.done, batch.state) == (RECOVERY_CHUNK, "running")


def test_another_partner_cannot_find_the_batch(app, simulator, acme):
    actor, api, hook = acme
    batch = start_recovery(actor, api, hook, since_the(failed_of(simulator, hook.id)[-1]))
    globex, _ = acting_as(app, "globex")
    assert recoveries.find(globex.partner_id, batch.id) is None


def test_a_busy_sir_giving_leaves_the_rest_of_the_chunk_for_the_next_step(app, simulator, acme):
    actor, api, hook = acme
    batch = start_recovery(actor, api, hook, since_the(failed_of(simulator, hook.id)[-15]))
    simulator.add_fault("POST", f"/v1/partner/webhooks/{hook.id}/deliveries/*/retry", status=429, count=1)
    step = run_step(actor, api, batch)
    assert step.slowed and step.counted and batch.done == 0 and batch.state == "running"
    assert run_step(actor, api, batch).counted and batch.done == RECOVERY_CHUNK
