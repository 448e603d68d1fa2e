"""An upstream that ignores `page`, `limit`, `status` and `since` (the simulator's `ignore-query` variant):
recovery counts and retries only what the portal itself sees as failed inside the window, and the list,
its filter and the CSV count only what matches."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import AuthActions, make_app, page, text_of
from tests.webhooks.acting import acting_as
from tests.webhooks.test_recovery import failed_of, since_the
from webapp.store import recoveries
from webapp.webhooks.recovery import failed_since, run_step, start_recovery


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, simulator_config={"VARIANT": "ignore-query"})


@pytest.fixture
def simulator(app):
    return app.extensions["simulator_app"].extensions["sir_simulator"]


def legacy_hook(simulator):
    return next(h for h in simulator.webhooks.values() if "legacy.acme.example" in h.url)


def test_recovery_never_counts_or_retries_a_delivery_that_had_succeeded(app, simulator):
    hook = legacy_hook(simulator)
    mine = [d for d in simulator.deliveries.values() if d.webhook_id == hook.id]
    assert any(d.status == "succeeded" for d in mine)
    failed = failed_of(simulator, hook.id)
    since = since_the(failed[-5])
    in_window = {d.id for d in failed if d.created_at >= since.timestamp()}
    attempts_before = {d.id: (d.status, d.attempts) for d in mine}
    with app.app_context():
        actor, api = acting_as(app)
        counted = failed_since(api, hook.id, since)
        assert set(counted.delivery_ids) <= in_window and counted.delivery_ids  # never more than truly failed
        if not counted.capped:
            assert set(counted.delivery_ids) == in_window
        batch = start_recovery(actor, api, hook, since)
        while batch.state == "running":
            run_step(actor, api, batch)
        retried = set(recoveries.delivery_ids(batch))
    assert retried <= in_window
    for d in mine:  # every delivery outside the failed-in-window set is as it was
        if d.id not in retried:
            assert (d.status, d.attempts) == attempts_before[d.id]


def test_the_deliveries_filter_and_csv_count_only_what_matches(app, simulator):
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    hook = legacy_hook(simulator)
    listed = client.get(f"/webhooks/{hook.id}?status=succeeded")
    assert listed.status_code == 200
    statuses = {cell.get_text(strip=True).lower() for cell in page(listed).select("table tbody tr td .badge")}
    assert statuses == {"succeeded"}, statuses
    exported = client.get(f"/webhooks/{hook.id}/deliveries.csv?status=failed")
    assert exported.status_code == 200, text_of(exported)
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert rows and {row["status"] for row in rows} == {"failed"}
