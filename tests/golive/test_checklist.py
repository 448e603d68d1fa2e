"""The go-live page, through the embedded simulator: a fresh sandbox-only partner sees every item with its state
and fixing action; each turns green as the admin fixes it; a handler that accepts forged events is caught."""

from __future__ import annotations

import pytest

from tests.addresses import resolver
from tests.conftest import PASSWORD, form_values, page, partner_api_for, post_form, session_jwt, text_of
from webapp.golive.probe import classify_address

NEWCO = "admin@newco.example"
ENDPOINT = "https://production.simulator.invalid/_sim/endpoints/newco"


@pytest.fixture
def newco(app, client, simulator, auth):
    """Signed in as the admin of a partner that has just signed up: sandbox only, with the portal's sandbox key."""
    partner = simulator.add_partner("Newco", "newco", NEWCO, PASSWORD)
    assert auth.login(NEWCO).status_code == 302
    onboarding = client.get("/onboarding/")
    assert client.post("/onboarding/create", data=form_values(onboarding, "form#create-portal-key")).status_code == 302
    return partner


def rows(response) -> dict[str, dict]:
    found = {}
    for row in page(response).select("li.golive-row"):
        action = row.select_one(".golive-action")
        found[row["id"].removeprefix("golive-")] = {
            "state": row["data-state"], "text": " ".join(row.get_text(" ").split()),
            "action": " ".join(action.get_text(" ").split()) if action else None}
    return found


def checklist(client) -> dict[str, dict]:
    response = client.get("/go-live/?refresh=1")
    assert response.status_code == 200, text_of(response)
    return rows(response)


def states(client) -> dict[str, str]:
    return {row_id: row["state"] for row_id, row in checklist(client).items()}


def nav_has_go_live(client) -> bool:
    return page(client.get("/audit/")).select_one("nav.mainnav a[href='/go-live/']") is not None


def switch_to_production(client):
    csrf = form_values(client.get("/go-live/"), "form.env-switch")["csrf_token"]
    client.post("/environment", data={"environment": "production", "next": "/go-live/", "csrf_token": csrf})


def test_a_fresh_sandbox_only_partner_sees_every_item_with_its_state_and_fixing_action(client, newco):
    shown = checklist(client)
    assert {k: v["state"] for k, v in shown.items()} == {
        "partner_record": "passed", "live_keys": "needs you", "credential_signs": "needs you",
        "production_pool": "unknown", "webhook_endpoint": "unknown", "signature_check": "unknown",
        "idempotency": "needs you", "retries": "needs you"}
    assert "Status: active" in shown["partner_record"]["text"] and "Rate limit: 600 requests a minute" in shown["partner_record"]["text"]
    assert "Create a live key pair" in shown["live_keys"]["action"]
    assert "Give the portal a production key" in shown["credential_signs"]["action"]
    assert "No sandbox actions yet" in shown["idempotency"]["text"]
    assert "No 429 answers" in shown["retries"]["text"]
    assert nav_has_go_live(client)


def test_each_item_turns_green_as_the_admin_fixes_it(app, client, simulator, newco):
    # Live keys, used by the portal too: the key pair and the signing rows pass.
    created = post_form(client, "/keys/new", "form#create-key", name="Live backend", environment="production",
                        key_type="secret", use_for_portal="y")
    assert created.status_code == 302, text_of(created)
    now = states(client)
    assert now["live_keys"] == now["credential_signs"] == "passed"
    assert now["production_pool"] == "needs you" and now["webhook_endpoint"] == "needs you"

    # SIR Giving approves a production pool.
    simulator.provision_pool(newco.id, "production", "Production pool", 50_000, 5_000)
    assert states(client)["production_pool"] == "passed"

    # A production endpoint that verifies signatures, with a delivery that succeeded.
    switch_to_production(client)
    registered = post_form(client, "/webhooks/new", "form#register-webhook", url=ENDPOINT, all_events="y", keep_secret="y")
    assert registered.status_code == 302, text_of(registered)
    production = partner_api_for(app, client, "production")
    hook = production.webhooks().value[0]
    production.send_test_event(hook.id)
    assert simulator.deliver_due() == 1
    shown = checklist(client)
    assert shown["webhook_endpoint"]["state"] == "passed", shown["webhook_endpoint"]
    assert shown["signature_check"]["state"] == "needs you"

    check = post_form(client, "/go-live/", "form[action='/go-live/signature-check']", "/go-live/signature-check")
    assert check.status_code == 302
    shown = checklist(client)
    assert shown["signature_check"]["state"] == "passed", shown["signature_check"]
    assert "Wrong signature → HTTP 401" in shown["signature_check"]["text"]
    assert "Timestamp 10 minutes old → HTTP 401" in shown["signature_check"]["text"]

    # Test actions under stable keys, and a 429 the caller came back from.
    sandbox = partner_api_for(app, client, "sandbox")
    sandbox.post("/v1/partner/actions/submit", {"idempotencyKey": "order_1", "actionType": "PURCHASE", "amount": 10,
                                                "currency": "USD", "autoCreateUsers": True,
                                                "stakeholders": [{"stakeholderTypeCode": "CUSTOMER", "partnerUserId": "u1"}]})
    simulator.add_fault(method="GET", path="/v1/partner/users*", status=429, count=1)
    app.extensions["sir_client"].sleep = lambda seconds: None  # the client waits Retry-After before its retry
    sandbox.get("/v1/partner/users", {"limit": 2}, fresh=True)
    assert set(states(client).values()) == {"passed"}
    assert not nav_has_go_live(client)


def test_a_handler_that_accepts_forged_events_is_caught(app, client, simulator, newco):
    post_form(client, "/keys/new", "form#create-key", name="Live backend", environment="production", key_type="secret",
              use_for_portal="y")
    switch_to_production(client)
    post_form(client, "/webhooks/new", "form#register-webhook", url=ENDPOINT, all_events="y")
    simulator.set_endpoint_accepts_forged(newco.id, "production", True)

    answer = post_form(client, "/go-live/?refresh=1", "form[action='/go-live/signature-check']", "/go-live/signature-check",
                       headers={"HX-Request": "true"})
    row = rows(answer)["signature_check"]
    assert row["state"] == "failing"
    assert "Your handler accepts forged events" in row["text"] and "Wrong signature → HTTP 200" in row["text"]
    logged = text_of(client.get("/audit/?action=webhook_signature_checked"))
    assert "accepted a forged delivery" in logged and ENDPOINT in logged


def test_an_endpoint_is_judged_by_where_its_name_resolves_without_being_sent_anything():
    names = resolver({"hooks.partner.example.com": ["93.184.216.34"], "intranet.partner.example.com": ["10.0.0.5"]})
    assert classify_address("http://hooks.partner.example.com/sir", names, False)[0] is False
    assert classify_address("https://intranet.partner.example.com/sir", names, False) == (
        False, "Not a public address: 10.0.0.5 (intranet.partner.example.com) is not a public address")
    assert classify_address("https://nowhere.partner.example.com/sir", names, False) == (False, "Its host name does not resolve")
    assert classify_address("https://hooks.partner.example.com/sir", names, False) == (
        True, "https, and its host resolves to 93.184.216.34, a public address")


def submit(api, key: str, user: str = "u1", amount: int = 10):
    return api.post("/v1/partner/actions/submit", {"idempotencyKey": key, "actionType": "PURCHASE", "amount": amount,
                                                   "currency": "USD", "autoCreateUsers": True,
                                                   "stakeholders": [{"stakeholderTypeCode": "CUSTOMER", "partnerUserId": user}]}).data


def test_a_retry_sent_under_a_new_idempotency_key_is_shown_as_a_likely_duplicate(app, client, newco):
    sandbox = partner_api_for(app, client, "sandbox")
    first, second = submit(sandbox, "order_1"), submit(sandbox, "order_1-retry")
    submit(sandbox, "order_2", user="u2")  # another user: not a duplicate
    submit(sandbox, "order_1")  # the same key again: what idempotency is for, not a duplicate
    row = checklist(client)["idempotency"]
    assert row["state"] == "failing"
    assert "1 likely duplicate in your latest sandbox actions" in row["text"]
    assert f"u1 PURCHASE 10: {first['actionId']} (key order_1) and {second['actionId']} (key order_1-retry)" in row["text"]


def test_a_429_the_caller_never_came_back_from_fails_the_retries_item(app, client, simulator, newco):
    from webapp.sir.api import AccountApi, PartnerApi
    from webapp.sir.client import Credential

    # The partner's own backend key: the portal's calls (with its own key) are not the partner's retries.
    sir = app.extensions["sir_client"]
    made = AccountApi(sir, session_jwt(app, client)).create_key("Backend", "sandbox")
    sandbox = PartnerApi(sir, Credential(made["id"], made["secretKey"], made["hmacSecret"]), "sandbox")
    simulator.add_fault(method="POST", path="/v1/partner/actions/submit", status=429, count=1)
    with pytest.raises(Exception):
        submit(sandbox, "order_1")  # a write is never retried by the portal's client
    row = checklist(client)["retries"]
    assert row["state"] == "failing"
    assert "1× 429 on POST /v1/partner/actions/submit, and no success since" in row["text"]
