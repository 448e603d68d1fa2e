"""When SIR Giving fails, every webhook page says so in plain words with a next step, changes nothing, and
never shows a traceback."""

from __future__ import annotations

import pytest

from tests.conftest import page, text_of
from tests.webhooks.helpers import csrf, receivers, register, webhook_id_of


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def test_registering_while_sir_giving_fails_says_so_in_place_and_stores_nothing(app, signed_in, simulator):
    before = len(simulator.webhooks)
    simulator.add_fault("POST", "/v1/partner/webhooks", status=503, count=1)
    response = register(signed_in, url="https://hooks.acme.example/x", event_types=["action.failed"], keep_secret="y")
    assert response.status_code == 502
    errors = page(response).select_one("#url-errors").get_text(" ", strip=True)
    assert errors.startswith("SIR Giving had an internal error") and "Traceback" not in response.get_data(as_text=True)
    assert page(response).select_one("input[name=url]")["value"] == "https://hooks.acme.example/x"
    assert len(simulator.webhooks) == before and receivers(app) == []
    again = register(signed_in, url="https://hooks.acme.example/x", event_types=["action.failed"])
    assert again.status_code == 302  # the same form works once SIR Giving is back


def test_a_failing_deliveries_list_explains_itself_and_its_live_refresh_offers_a_retry(signed_in, simulator):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    simulator.add_fault("GET", f"/v1/partner/webhooks/{hook}/deliveries*", status=500, count=10)
    full = signed_in.get(f"/webhooks/{hook}?refresh=1")
    assert full.status_code == 502 and "Traceback" not in full.get_data(as_text=True)
    assert "SIR Giving had an internal error" in page(full).select_one("[role=alert]").get_text(" ", strip=True)
    partial = signed_in.get(f"/webhooks/{hook}?refresh=1", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and page(partial).select_one("[role=alert]") is not None
    assert page(partial).select_one("button[hx-get]") is not None


def test_a_test_event_sir_giving_refuses_is_reported_and_audited(signed_in, simulator):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    simulator.add_fault("POST", f"/v1/partner/webhooks/{hook}/test", status=503, count=1)
    response = signed_in.post(f"/webhooks/{hook}/test", data={"csrf_token": csrf(signed_in)})
    flashes = page(signed_in.get(response.headers["Location"])).select(".flash")
    assert [f["class"] for f in flashes] == [["flash", "flash-error"]] and "SIR Giving" in flashes[0].get_text()
    audit = page(signed_in.get("/audit/?outcome=failure")).get_text()
    assert "test event sent" in audit


def test_the_webhooks_page_still_lists_endpoints_when_health_is_unavailable(signed_in, simulator):
    simulator.add_fault("GET", "/v1/partner/dashboard/webhooks/health*", status=503, count=10)
    response = signed_in.get("/webhooks/")
    assert response.status_code == 200
    assert "Delivery health is not available right now" in text_of(response)
    assert len(page(response).select("table.webhooks-table tbody tr")) == 2


def test_a_recovery_step_that_sir_giving_slows_down_waits_and_then_finishes(signed_in, simulator):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    preview = signed_in.get(f"/webhooks/{hook}/recover?since=2026-01-01T00:00")
    count = int(page(preview).select_one(".recover-count strong").get_text())
    from tests.conftest import form_values

    started = signed_in.post(f"/webhooks/{hook}/recover", data=form_values(preview, "form#recover-form"))
    step = page(signed_in.get(started.headers["Location"])).select_one("#recovery-progress")["hx-post"]
    simulator.add_fault("POST", f"/v1/partner/webhooks/{hook}/deliveries/*/retry", status=429, count=1)
    slowed = page(signed_in.post(step, headers={"HX-Request": "true", "X-CSRFToken": csrf(signed_in)}))
    assert "busy or slow" in slowed.get_text() and slowed.select_one("progress")["value"] == "0"
    assert slowed.select_one("#recovery-progress")["hx-trigger"] == "load delay:3s"
    for _ in range(10):
        fragment = page(signed_in.post(step, headers={"HX-Request": "true", "X-CSRFToken": csrf(signed_in)}))
        if fragment.select_one("#recovery-progress")["data-state"] == "finished":
            break
    assert f"{count} of {count} retried: how each one landed is below." in fragment.get_text()
    assert simulator.deliver_due() == count
