"""The webhooks page, registering an endpoint (its secret shown once) and deleting one."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token_from, form_values, page, partner_api_for, text_of
from tests.webhooks.helpers import post_event, receiver_of, receivers, register, register_portal_receiver


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def test_the_list_shows_each_endpoint_with_its_health_as_sir_giving_reports_it(app, signed_in):
    reported = {h.webhook_id: h for h in partner_api_for(app, signed_in).webhook_health().value}
    rows = page(signed_in.get("/webhooks/")).select("table.webhooks-table tbody tr")
    assert len(rows) == len(reported) == 2
    for row in rows:
        health = reported[row["id"].removeprefix("webhook-")]
        cells = [c.get_text(" ", strip=True) for c in row.select("td")]
        assert row.select_one("td code.path").get_text() == health.url  # whole, with <wbr> after each slash
        assert f"{health.success_rate * 100:.1f} %" in cells[3] and f"{health.failed} failed" in cells[3]
        assert "active" in cells[2]
        assert row.select_one("td:nth-of-type(5) time")["datetime"] == health.last_success_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    ledger = next(r for r in rows if "hooks.acme.example/sir" in r.get_text())
    assert "action.completed" in ledger.get_text() and "none" in ledger.select("td")[5].get_text()


def test_an_endpoint_that_keeps_failing_is_flagged_on_the_page_and_on_the_overview(signed_in):
    shown = page(signed_in.get("/webhooks/"))
    failing = [r for r in shown.select("table.webhooks-table tbody tr") if "row-flag" in r.get("class", [])]
    assert len(failing) == 1 and "legacy.acme.example" in failing[0].get_text()
    assert "in a row" in failing[0].get_text() and "All events" in failing[0].get_text()
    summary = shown.select_one(".failing-summary")
    assert "1 endpoint is failing" in summary.get_text() and "HTTP 503" in summary.get_text()
    assert "status=failed" in summary.select_one("a")["href"]
    card = page(signed_in.get("/overview/cards/webhook_health", headers={"HX-Request": "true"}))
    flagged = card.select("tr.row-flag")
    assert len(flagged) == 1 and "legacy.acme.example" in flagged[0].get_text()


def test_register_shows_the_secret_once_and_never_caches_it(app, signed_in, simulator):
    response = register(signed_in, url="https://hooks.acme.example/new", description="CRM", event_types=["action.failed"])
    assert response.status_code == 302
    assert signed_in.head(response.headers["Location"]).status_code == 200  # a link checker does not use it up
    shown = signed_in.get(response.headers["Location"])
    assert shown.headers["Cache-Control"].startswith("no-store")
    secret = page(shown).select_one("#webhook-secret").get_text()
    hook = next(h for h in simulator.webhooks.values() if h.url == "https://hooks.acme.example/new")
    assert secret == hook.secret and secret.startswith("whsec_")
    assert hook.event_types == ["action.failed"] and hook.description == "CRM"
    again = signed_in.get(response.headers["Location"])
    assert "no longer available" in text_of(again) and secret not in again.get_data(as_text=True)
    listed = next(r for r in page(signed_in.get("/webhooks/")).select("tbody tr") if "hooks.acme.example/new" in r.get_text())
    assert "action.failed" in listed.get_text() and "CRM" in listed.get_text()
    assert secret not in signed_in.get("/audit/").get_data(as_text=True)


def test_an_empty_register_submit_reports_every_fields_error_at_once_and_registers_nothing(signed_in, simulator):
    before = len(simulator.webhooks)
    data = {k: v for k, v in form_values(signed_in.get("/webhooks/new"), "form#register-webhook").items()
            if k in ("csrf_token", "submission")}
    response = signed_in.post("/webhooks/new", data=data)
    assert response.status_code == 422
    form = page(response).select_one("form#register-webhook")
    errors = [e.get_text(" ", strip=True) for e in form.select(".field-errors li")]
    assert "Enter the URL SIR Giving should deliver to, or choose the portal's own receiver." in errors
    assert "Choose at least one event type, or all events." in errors
    assert len(simulator.webhooks) == before


def test_all_events_registers_for_every_type_including_later_ones(signed_in, simulator):
    register(signed_in, url="https://hooks.acme.example/all", all_events="y")
    hook = next(h for h in simulator.webhooks.values() if h.url == "https://hooks.acme.example/all")
    assert hook.receive_all_events is True
    listed = next(r for r in page(signed_in.get("/webhooks/")).select("tbody tr") if "hooks.acme.example/all" in r.get_text())
    assert "All events" in listed.get_text()


def test_a_kept_secret_is_stored_encrypted_and_not_labelled_as_the_portal_receiver(app, signed_in):
    response = register(signed_in, url="https://hooks.acme.example/kept", event_types=["action.failed"], keep_secret="y")
    secret = page(signed_in.get(response.headers["Location"])).select_one("#webhook-secret").get_text()
    row, decrypted = receiver_of(app)
    assert decrypted == secret and secret not in row.secret_encrypted
    listed = next(r for r in page(signed_in.get("/webhooks/")).select("tbody tr") if "kept" in r.get_text())
    assert "portal receiver" not in listed.get_text() and "secret kept for the debugger" in listed.get_text()
    refused = post_event(app.test_client(), row.token, secret, {"id": "evt_1", "type": "action.failed", "data": {}})
    assert refused.status_code == 404  # the portal does not receive for an endpoint of the partner's own


def test_without_keeping_the_secret_the_portal_stores_nothing_of_it(app, signed_in):
    data = {"url": "https://hooks.acme.example/plain", "event_types": ["action.failed"]}
    form = form_values(signed_in.get("/webhooks/new"), "form#register-webhook")
    form.pop("keep_secret"), form.pop("use_portal_receiver", None)
    response = signed_in.post("/webhooks/new", data={**form, **data})
    shown = signed_in.get(response.headers["Location"])
    assert "The portal does not keep it" in text_of(shown)
    assert receivers(app) == []


def test_the_portal_receiver_gets_an_unguessable_address_of_its_own(app, signed_in, simulator):
    register_portal_receiver(signed_in)
    register_portal_receiver(signed_in)
    first, second = receivers(app)
    assert first.token != second.token and len(first.token) >= 40
    for row in (first, second):
        assert simulator.webhooks[row.webhook_id].url == f"http://localhost/hooks/{row.token}"
    listed = page(signed_in.get("/webhooks/")).select("tbody tr")
    assert sum("portal receiver" in r.get_text() for r in listed) == 2


def test_https_is_required_in_production_and_the_form_says_why(signed_in):
    signed_in.post("/environment", data={"environment": "production", "csrf_token": csrf_token_from(signed_in.get("/audit/"))})
    signed_in.post("/onboarding/create", data=form_values(signed_in.get("/onboarding/"), "form#create-portal-key"))
    hint = page(signed_in.get("/webhooks/new")).select_one("#url-hint").get_text()
    assert "HTTPS is required in production" in hint and "must not travel in the clear" in hint
    refused = register(signed_in, url="http://localhost:9000/hook", event_types=["action.failed"])
    assert refused.status_code == 422 and "Use HTTPS: events carry reward data" in text_of(refused)
    errors = page(refused).select_one("#url-errors").get_text()
    assert "Use HTTPS" in errors
    nothing = register(signed_in, url="https://x.example.org/hook")
    assert "Choose at least one event type" in text_of(nothing)


def test_plain_http_to_localhost_is_accepted_in_the_sandbox_only(signed_in, simulator):
    assert register(signed_in, url="http://localhost:9000/hook", event_types=["action.failed"]).status_code == 302
    refused = register(signed_in, url="http://hooks.acme.example/hook", event_types=["action.failed"])
    assert refused.status_code == 422 and "Use HTTPS" in text_of(refused)
    assert [h.url for h in simulator.webhooks.values()].count("http://hooks.acme.example/hook") == 0


def test_the_portal_receiver_needs_a_public_https_address_in_production(signed_in, simulator):
    signed_in.post("/environment", data={"environment": "production", "csrf_token": csrf_token_from(signed_in.get("/audit/"))})
    signed_in.post("/onboarding/create", data=form_values(signed_in.get("/onboarding/"), "form#create-portal-key"))
    before = len(simulator.webhooks)
    refused = register(signed_in, use_portal_receiver="y", event_types=["action.failed"])
    assert refused.status_code == 422 and "Set PORTAL_PUBLIC_URL" in text_of(refused)
    assert len(simulator.webhooks) == before


def test_a_public_address_is_used_for_the_portal_receiver(tmp_path):
    from tests.conftest import AuthActions, make_app

    app = make_app(tmp_path, {"PORTAL_PUBLIC_URL": "https://portal.acme.example"})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    row = receivers(app)[0]
    assert row.url == f"https://portal.acme.example/hooks/{row.token}"


def test_delete_asks_for_the_url_and_then_removes_the_endpoint_and_its_receiver(app, signed_in, simulator):
    register_portal_receiver(signed_in)
    row, secret = receiver_of(app)
    webhook_id = row.webhook_id
    form = signed_in.get(f"/webhooks/{webhook_id}/delete")
    assert page(form).select_one("#confirm_url")["data-expected"] == row.url
    wrong = signed_in.post(f"/webhooks/{webhook_id}/delete", data={**form_values(form, "form#delete-webhook"), "confirm_url": "nope"})
    assert wrong.status_code == 422 and "Type the URL exactly" in text_of(wrong)
    assert webhook_id in simulator.webhooks
    gone = signed_in.post(f"/webhooks/{webhook_id}/delete", data={**form_values(form, "form#delete-webhook"),
                                                                   "confirm_url": row.url})
    assert gone.status_code == 302
    assert webhook_id not in simulator.webhooks
    after = signed_in.get("/webhooks/")
    assert f"webhook-{webhook_id}" not in after.get_data(as_text=True) and "Deleted the endpoint" in text_of(after)
    assert receivers(app) == []
    late = post_event(app.test_client(), row.token, secret, {"id": "evt_late", "type": "action.completed", "data": {}})
    assert late.status_code == 404
    assert "webhook deleted" in text_of(signed_in.get("/audit/"))


def test_an_unknown_webhook_is_a_plain_not_found(signed_in):
    response = signed_in.get("/webhooks/whk_nope")
    assert response.status_code == 404 and "Traceback" not in response.get_data(as_text=True)
