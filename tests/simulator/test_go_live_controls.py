"""The simulator's part in the go-live checklist: a fresh sandbox-only partner with its full partner record,
SIR Giving provisioning a production pool, a sample handler that verifies section 5's signature until an
operator makes it accept forged deliveries, and 429s shown in API usage with whether the caller got through."""

from __future__ import annotations

import hashlib
import hmac
import json

from tests.conftest import release_simulator
from tests.simulator.conftest import Partner

HANDLER = "https://production.simulator.invalid/_sim/endpoints/newco"


def signed_delivery(secret: str, timestamp: str, body: bytes) -> dict:
    """Headers as section 5 has them, written from the reference alone."""
    signature = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-SIR-Timestamp": timestamp, "X-SIR-Signature": signature}


def newco(client, sim) -> Partner:
    created = client.post("/_sim/partners", json={"name": "Newco", "slug": "newco", "email": "admin@newco.example",
                                                  "password": "sandbox-demo"})
    assert created.status_code == 201, created.json
    return Partner(client, sim, "admin@newco.example", environment="production")


def test_a_new_partner_has_a_complete_partner_record_and_nothing_in_production(client, sim):
    partner = newco(client, sim)
    info = partner.jwt("GET", "/v1/partner/keys/partner-info").json
    assert set(info) == {"id", "name", "slug", "status", "features", "rateLimit"}
    assert (info["name"], info["slug"], info["status"]) == ("Newco", "newco", "active")
    assert info["features"] and info["rateLimit"] == {"requestsPerMinute": 600}
    assert partner.signed("GET", "/v1/partner/token-pools").json["data"] == []
    assert partner.signed("GET", "/v1/partner/webhooks").json["data"] == []


def test_a_second_partner_with_the_same_slug_or_email_is_refused(client, sim):
    newco(client, sim)
    again = client.post("/_sim/partners", json={"name": "Other", "slug": "newco", "email": "x@other.example",
                                                "password": "pw"})
    assert again.status_code == 409 and again.json["code"] == "CONFLICT"
    assert client.post("/_sim/partners", json={"name": "Other"}).json["code"] == "VALIDATION_ERROR"


def test_a_provisioned_production_pool_is_the_partners_active_pool(client, sim):
    partner = newco(client, sim)
    made = client.post("/_sim/partners/newco/token-pools", json={"tokens": 50_000, "lowBalanceThreshold": 5_000})
    assert made.status_code == 201
    pools = partner.signed("GET", "/v1/partner/token-pools").json["data"]
    assert [(p["environment"], p["status"], p["balance"], p["lowBalanceThreshold"]) for p in pools] == [
        ("production", "active", 50_000, 5_000)]


def test_the_sample_handler_refuses_forged_deliveries_until_told_to_accept_them(client, sim):
    partner = newco(client, sim)
    hook = partner.signed("POST", "/v1/partner/webhooks", {"url": HANDLER, "receiveAllEvents": True}).json
    body = json.dumps({"id": "evt_1", "type": "webhook.test", "createdAt": "2026-01-01T00:00:00Z", "data": {}}).encode()
    now = str(int(sim.now()))

    def post(headers):
        return client.post("/_sim/endpoints/newco", data=body, headers=headers, base_url="https://production.simulator.invalid")

    assert post(signed_delivery(hook["secret"], now, body)).status_code == 200
    assert post(signed_delivery("whsec_wrong", now, body)).status_code == 401
    assert post(signed_delivery(hook["secret"], str(int(sim.now()) - 600), body)).status_code == 401

    switched = client.post("/_sim/partners/newco/endpoints", json={"environment": "production", "acceptForged": True})
    assert switched.status_code == 200
    assert post(signed_delivery("whsec_wrong", now, body)).status_code == 200
    client.post("/_sim/partners/newco/endpoints", json={"environment": "production", "acceptForged": False})
    assert post(signed_delivery("whsec_wrong", now, body)).status_code == 401


def test_the_simulators_own_deliveries_to_the_sample_handler_stay_in_process_and_succeed(sim):
    import simulator

    app = simulator.create_app({"DELIVERY_MODE": "manual"})  # the default policy: it would refuse .invalid names
    client, sim = app.test_client(), app.extensions["sir_simulator"]
    try:
        partner = newco(client, sim)
        hook = partner.signed("POST", "/v1/partner/webhooks", {"url": HANDLER, "receiveAllEvents": True}).json
        assert partner.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test").status_code < 300
        assert sim.deliver_due() == 1
        deliveries = partner.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"]
        assert [(d["status"], d["responseStatus"]) for d in deliveries] == [("succeeded", 200)]
    finally:
        release_simulator(sim)


def test_api_usage_shows_429s_and_whether_the_caller_then_got_through(client, sim, acme):
    sim.add_fault(method="GET", path="/v1/partner/users*", status=429, count=1)
    assert acme.signed("GET", "/v1/partner/users").status_code == 429
    limited = acme.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json["rateLimited"]
    assert [(e["method"], e["path"], e["count"], e["succeededAfterAt"]) for e in limited] == [
        ("GET", "/v1/partner/users", 1, None)]
    assert acme.signed("GET", "/v1/partner/users").status_code == 200
    limited = acme.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json["rateLimited"]
    assert limited[0]["succeededAfterAt"] is not None
