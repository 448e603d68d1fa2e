"""Webhook delivery per section 5, faults, the clock, determinism and persistence."""

import hashlib
import hmac
import json
import time

import simulator


def verify_from_section_5(secret: str, headers: dict, body: bytes, now: float) -> bool:
    """Written from the reference alone: sha256=HMAC(secret, timestamp + "." + rawBody), 300 s window."""
    timestamp = headers["X-SIR-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-SIR-Signature"]) and abs(now - int(timestamp)) <= 300


def test_a_registered_webhook_gets_signed_deliveries_of_domain_events(acme, sim, sim_app):
    registered = acme.signed("POST", "/v1/partner/webhooks", {
        "url": "https://hooks.partner.test/sir", "eventTypes": ["action.completed"], "receiveAllEvents": False})
    assert registered.status_code == 201 and registered.json["secret"].startswith("whsec_")
    listed = acme.signed("GET", "/v1/partner/webhooks").json["data"]
    assert all("secret" not in hook for hook in listed)
    acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "wh-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0001"}]})
    assert sim.deliver_due() >= 1
    sent = [d for d in sim_app.delivered if d["url"] == "https://hooks.partner.test/sir"]
    assert len(sent) == 1
    headers, body = sent[0]["headers"], sent[0]["body"]
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"] == "SIRGiving-Webhooks/1.0"
    assert verify_from_section_5(registered.json["secret"], headers, body, time.time())
    event = json.loads(body)
    assert set(event) == {"id", "type", "createdAt", "data"} and event["type"] == "action.completed"
    deliveries = acme.signed("GET", f"/v1/partner/webhooks/{registered.json['id']}/deliveries").json["data"]
    assert deliveries[0]["status"] == "succeeded" and deliveries[0]["responseStatus"] == 200


def test_failed_deliveries_are_retried_with_backoff_and_by_hand(acme, sim, sim_app):
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://fail.partner.test/x", "receiveAllEvents": True}).json
    test = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test")
    assert test.status_code == 202
    sim.deliver_due()
    delivery = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries?status=failed").json["data"][0]
    assert delivery["attempts"] == 1 and delivery["nextRetryAt"] and delivery["responseStatus"] == 500
    assert sim.deliver_due() == 0  # not due yet
    sim.advance_clock(31)
    assert sim.deliver_due() == 1
    retried = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 202 and sim.deliver_due() == 1
    assert acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"][0]["attempts"] == 3


def test_http_webhook_urls_are_refused_except_loopback_in_the_sandbox(acme, client, sim):
    from tests.simulator.conftest import Partner

    refused = acme.signed("POST", "/v1/partner/webhooks", {"url": "http://hooks.example.org/x", "receiveAllEvents": True})
    assert refused.status_code == 400 and refused.json["details"][0]["field"] == "url"
    assert acme.signed("POST", "/v1/partner/webhooks", {"url": "http://127.0.0.1:5000/hooks/abc", "receiveAllEvents": True}).status_code == 201
    live = Partner(client, sim, "admin@acme.example", environment="production")
    assert live.signed("POST", "/v1/partner/webhooks", {"url": "http://127.0.0.1:5000/hooks/abc", "receiveAllEvents": True}).status_code == 400


def test_faults_can_be_injected_and_cleared_over_http(acme, client):
    client.post("/_sim/faults", json={"method": "GET", "path": "/v1/partner/campaigns", "status": 503, "count": 1})
    assert acme.signed("GET", "/v1/partner/campaigns").status_code == 503
    assert acme.signed("GET", "/v1/partner/campaigns").status_code == 200
    client.post("/_sim/faults", json={"path": "/v1/partner/users*", "malformed": True})
    assert acme.signed("GET", "/v1/partner/users").content_type.startswith("text/html")
    client.delete("/_sim/faults")
    assert acme.signed("GET", "/v1/partner/users").status_code == 200


def test_the_rate_limit_answers_429_with_retry_after(sim, acme):
    sim.set_traffic(rate_limit=3)
    statuses = [acme.signed("GET", "/v1/partner/campaigns").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = acme.signed("GET", "/v1/partner/campaigns")
    assert limited.json["code"] == "RATE_LIMITED" and int(limited.headers["Retry-After"]) >= 1


def test_an_error_rate_of_one_answers_500(sim, acme):
    sim.set_traffic(error_rate=1.0)
    assert acme.signed("GET", "/v1/partner/campaigns").status_code == 500


def test_what_was_created_at_run_time_survives_a_restart(tmp_path):
    from tests.simulator.conftest import Partner

    path = str(tmp_path / "state.bin")
    first = simulator.create_app({"STATE_PATH": path, "DELIVERY_MODE": "manual"})
    acme = Partner(first.test_client(), first.extensions["sir_simulator"], "admin@acme.example")
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://h.partner.test/x", "receiveAllEvents": True}).json
    first.extensions["sir_simulator"].flush()
    second = simulator.create_app({"STATE_PATH": path, "DELIVERY_MODE": "manual"})
    again = Partner.__new__(Partner)
    again.client, again.sim, again.key = second.test_client(), second.extensions["sir_simulator"], acme.key
    assert again.signed("GET", "/v1/partner/webhooks").json["data"][-1]["id"] == hook["id"]
