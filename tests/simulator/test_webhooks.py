"""Webhooks per section 5: domain changes raise the documented events, each delivered signed, retried with
backoff, never blocking the request that caused it; HTTPS except loopback in the sandbox."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import threading
import time

import pytest
import simulator

from tests.addresses import http_receiver
from tests.simulator.conftest import Partner

BACKOFF = [30, 120, 600, 3600, 21_600]


def verify_from_section_5(secret: str, headers: dict, body: bytes, now: float) -> dict:
    """A receiver written from section 5 alone: check the headers, the signature over timestamp + "." + raw body
    in constant time, the 5-minute age, and return the event envelope."""
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "SIRGiving-Webhooks/1.0"
    timestamp = headers["X-SIR-Timestamp"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.{body.decode()}".encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, headers["X-SIR-Signature"]), "bad signature"
    assert abs(now - int(timestamp)) <= 300, "stale timestamp"
    event = json.loads(body)
    assert set(event) == {"id", "type", "createdAt", "data"} and event["id"].startswith("evt_")
    assert event["createdAt"].endswith("Z")
    return event


@pytest.fixture
def receiver(acme, sim, sim_app):
    """A webhook that wants every event, and the events it received, verified."""
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://receiver.partner.test/sir", "receiveAllEvents": True}).json

    def received() -> list[dict]:
        sim.deliver_due()
        return [verify_from_section_5(hook["secret"], d["headers"], d["body"], sim.now())
                for d in sim_app.delivered if d["url"] == hook["url"]]

    return received


def types(events) -> list[str]:
    return [e["type"] for e in events]


def test_draining_a_pool_raises_low_balance_then_depleted_and_a_top_up_refilled(acme, sim, client, receiver):
    pool = next(p for p in acme.signed("GET", "/v1/partner/token-pools").json["data"] if not p["isLow"])
    for other in sim.pools_for(acme.partner_id, "sandbox"):
        other.is_active = other.id == pool["id"]
    for campaign in sim.campaigns.values():
        campaign.status = "paused" if campaign.status == "active" else campaign.status  # reward 1× from this pool
    per_action = 100  # REFERRAL
    sim.pools[pool["id"]].consumed = sim.pools[pool["id"]].allocated - (pool["lowBalanceThreshold"] + per_action // 2)
    n = 0

    def referral():
        nonlocal n
        n += 1
        return acme.signed("POST", "/v1/partner/actions/submit", {
            "idempotencyKey": f"drain-{n}", "actionType": "REFERRAL", "stakeholders": [{"partnerUserId": "user_0002"}]}).json

    assert referral()["status"] == "COMPLETED"
    low = [e for e in receiver() if e["type"] == "token_pool.low_balance"]
    assert len(low) == 1 and low[0]["data"]["poolId"] == pool["id"]
    assert low[0]["data"]["balance"] < pool["lowBalanceThreshold"]
    sim.pools[pool["id"]].consumed = sim.pools[pool["id"]].allocated - per_action
    assert referral()["status"] == "COMPLETED"
    balance = acme.signed("GET", f"/v1/partner/token-pools/{pool['id']}/balance").json
    assert balance["balance"] == 0 and balance["status"] == "depleted"
    assert types(receiver()).count("token_pool.depleted") == 1
    refused = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "drain-empty", "actionType": "REFERRAL", "stakeholders": [{"partnerUserId": "user_0002"}]})
    assert refused.status_code == 422 and refused.json["code"] == "NO_SANDBOX_POOL"
    asked = acme.signed("POST", "/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 5000, "reason": "Refill"}).json
    client.post(f"/_sim/token-pools/requests/{asked['id']}/approve", json={"note": "Enjoy"})
    after = receiver()
    assert {"token_pool_request.approved", "token_pool.refilled"} <= set(types(after))
    refilled = next(e for e in after if e["type"] == "token_pool.refilled")
    assert refilled["data"]["balance"] == 5000
    assert acme.signed("GET", f"/v1/partner/token-pools/{pool['id']}/balance").json["status"] == "active"


def test_actions_reversals_requests_and_campaigns_raise_their_events(acme, client, receiver):
    done = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "ev-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0003"}]}).json
    failed = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "ev-2", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "nobody_yet"}]}).json
    assert failed["status"] == "FAILED" and failed["failureCode"] == "USER_NOT_FOUND"
    acme.signed("POST", f"/v1/partner/actions/{done['actionId']}/reverse", {"reversalPercentage": 50, "reason": "Refund"})
    pool = acme.signed("GET", "/v1/partner/token-pools").json["data"][0]
    asked = acme.signed("POST", "/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 10, "reason": "x"}).json
    client.post(f"/_sim/token-pools/requests/{asked['id']}/reject")
    campaign = acme.signed("POST", "/v1/partner/campaigns", {"name": "Flash week"}).json
    for status in ("active", "paused", "completed"):
        acme.signed("PATCH", f"/v1/partner/campaigns/{campaign['id']}", {"status": status})
    events = receiver()
    assert types(events) == ["transaction.completed", "action.completed", "action.failed", "transaction.reversed",
                             "action.reversed", "token_pool_request.rejected", "campaign.activated", "campaign.paused",
                             "campaign.completed"]
    completed = events[1]["data"]
    assert completed["actionId"] == done["actionId"] and completed["tokensDistributed"] == done["tokensDistributed"]
    assert events[4]["data"]["reversedTokens"] == done["tokensDistributed"] // 2


def test_a_key_near_its_expiry_raises_api_key_expiring_once(acme, sim, receiver):
    in_ten_days = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sim.now() + 10 * 86_400))
    acme.jwt("PATCH", f"/v1/partner/keys/{acme.key['id']}", {"expiresAt": in_ten_days})
    assert "api_key.expiring" not in types(receiver())
    sim.advance_clock(4 * 86_400)
    sim.advance_clock(60)
    expiring = [e for e in receiver() if e["type"] == "api_key.expiring" and e["data"]["keyId"] == acme.key["id"]]
    assert len(expiring) == 1 and expiring[0]["data"]["expiresAt"] == in_ten_days


def test_a_webhook_gets_only_the_types_it_asked_for_and_only_its_partners_and_environments(acme, globex, client, sim, sim_app):
    only_failed = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://failed-only.partner.test/x",
                                                               "eventTypes": ["action.failed"]}).json
    theirs = globex.signed("POST", "/v1/partner/webhooks", {"url": "https://globex-all.partner.test/x", "receiveAllEvents": True}).json
    live = Partner(client, sim, "admin@acme.example", environment="production")
    live_hook = live.signed("POST", "/v1/partner/webhooks", {"url": "https://live-all.partner.test/x", "receiveAllEvents": True}).json
    acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "only-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0004"}]})
    acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "only-2", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "ghost"}]})
    sim.deliver_due()
    sent = lambda url: [json.loads(d["body"])["type"] for d in sim_app.delivered if d["url"] == url]  # noqa: E731
    assert sent(only_failed["url"]) == ["action.failed"]
    assert sent(theirs["url"]) == [] and sent(live_hook["url"]) == []


def test_a_failing_endpoint_is_retried_on_the_documented_schedule_then_given_up(acme, sim, sim_app):
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://fail.partner.test/x", "receiveAllEvents": True}).json
    acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test")
    gaps = []
    assert sim.deliver_due() == 1
    for wait in BACKOFF:
        delivery = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"][0]
        gaps.append(round(time.mktime(time.strptime(delivery["nextRetryAt"], "%Y-%m-%dT%H:%M:%SZ"))
                          - time.mktime(time.strptime(delivery["lastAttemptAt"], "%Y-%m-%dT%H:%M:%SZ"))))
        sim.advance_clock(wait - 2)
        assert sim.deliver_due() == 0  # not before its time
        sim.advance_clock(3)
        assert sim.deliver_due() == 1
    assert gaps == BACKOFF
    final = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"][0]
    assert final["attempts"] == 6 and final["status"] == "failed" and final["nextRetryAt"] is None
    assert final["responseStatus"] == 500 and final["responseBodyExcerpt"] == "nope"
    sim.advance_clock(86_400)
    assert sim.deliver_due() == 0
    assert len([d for d in sim_app.delivered if d["url"] == hook["url"]]) == 6
    retried = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/deliveries/{final['id']}/retry")
    assert retried.status_code == 202 and retried.json["status"] == "pending"
    assert sim.deliver_due() == 1


def test_a_succeeded_delivery_cannot_be_retried_and_a_deleted_webhook_gets_nothing_more(acme, sim, sim_app):
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://ok.partner.test/x", "receiveAllEvents": True}).json
    test = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test").json
    sim.deliver_due()
    again = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/deliveries/{test['deliveryId']}/retry")
    assert again.status_code == 409 and again.json["code"] == "CONFLICT"
    acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test")
    assert acme.signed("DELETE", f"/v1/partner/webhooks/{hook['id']}").json == {"id": hook["id"], "deleted": True}
    sim.deliver_due()
    assert len([d for d in sim_app.delivered if d["url"] == hook["url"]]) == 1
    assert acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").status_code == 404


def test_delivery_runs_in_the_background_and_never_blocks_the_request_that_caused_it():
    arrived, release = [], threading.Event()

    def slow_receiver(url, headers, body, timeout):
        release.wait(timeout=10)
        arrived.append(json.loads(body)["type"])
        return 200, "ok"

    app = simulator.create_app({"DELIVER": slow_receiver})  # the default: a background worker delivers
    sim = app.extensions["sir_simulator"]
    try:
        acme = Partner(app.test_client(), sim, "admin@acme.example")
        hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://slow.partner.test/x", "receiveAllEvents": True}).json
        test = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test")
        assert test.status_code == 202 and arrived == []  # answered while the receiver is still busy
        release.set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not arrived:
            time.sleep(0.02)
        assert arrived == ["webhook.test"]
        while time.monotonic() < deadline:
            status = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"][0]["status"]
            if status == "succeeded":
                break
            time.sleep(0.02)
        assert status == "succeeded"
    finally:
        sim.deliverer.stop()


@pytest.mark.parametrize("url, environment, accepted", [
    ("https://hooks.partner.test/x", "production", True),
    ("http://localhost:5000/hooks", "sandbox", True),
    ("http://127.0.0.1/hooks", "sandbox", True),
    ("http://127.0.0.2:8080/hooks", "sandbox", True),
    ("http://[::1]:5000/hooks", "sandbox", True),
    ("http://localhost:5000/hooks", "production", False),
    ("http://10.0.0.5/hooks", "sandbox", False),
    ("http://hooks.partner.test/x", "sandbox", False),
    ("http://127.0.0.1.nip.io/x", "sandbox", False),
])
def test_webhook_urls_need_https_except_loopback_in_the_sandbox(client, sim, url, environment, accepted):
    partner = Partner(client, sim, "admin@acme.example", environment=environment)
    response = partner.signed("POST", "/v1/partner/webhooks", {"url": url, "receiveAllEvents": True})
    assert (response.status_code == 201) is accepted, response.json
    if not accepted:
        assert response.json["details"][0]["field"] == "url" and "HTTPS" in response.json["details"][0]["message"]


def test_the_secret_is_shown_once_and_each_webhook_has_its_own(acme):
    first = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://a.partner.test/x", "receiveAllEvents": True}).json
    second = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://b.partner.test/x", "receiveAllEvents": True}).json
    assert first["secret"].startswith("whsec_") and first["secret"] != second["secret"]
    listed = acme.signed("GET", "/v1/partner/webhooks?limit=100").json["data"]
    assert all("secret" not in hook for hook in listed)
    deliveries = acme.signed("GET", f"/v1/partner/webhooks/{first['id']}/deliveries").json
    assert first["secret"] not in json.dumps(deliveries) and first["secret"] not in json.dumps(listed)


def test_a_simulator_told_to_deliver_anywhere_really_posts_and_a_section_5_receiver_accepts_it():
    """Over a real socket: a simulator told to deliver anywhere POSTs to the registered URL; a plain http.server
    receiver that knows only section 5 verifies the raw bytes it read."""
    # The standalone simulator's way on loopback: a real HTTP POST, to localhost too.
    app = simulator.create_app({"DELIVERY_MODE": "manual", "DELIVER_TO": "anywhere"})
    sim = app.extensions["sir_simulator"]
    with http_receiver() as (port, received):
        acme = Partner(app.test_client(), sim, "admin@acme.example")
        url = f"http://127.0.0.1:{port}/hooks/sir"
        hook = acme.signed("POST", "/v1/partner/webhooks", {"url": url, "eventTypes": ["action.completed"]}).json
        action = acme.signed("POST", "/v1/partner/actions/submit", {
            "idempotencyKey": "wire-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0009"}]}).json
        sim.deliver_due()
        assert len(received) == 1 and received[0][0] == "/hooks/sir"
        _, headers, body = received[0]
        event = verify_from_section_5(hook["secret"], headers, body, time.time())
        assert event["type"] == "action.completed" and event["data"]["actionId"] == action["actionId"]
        assert event["data"]["tokensDistributed"] == action["tokensDistributed"]
        delivery = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"][0]
        assert delivery["status"] == "succeeded" and delivery["responseStatus"] == 204
        assert delivery["payload"] == event


def test_a_campaign_whose_end_comes_is_completed_everywhere_and_says_so_once(acme, sim, receiver):
    active = acme.signed("GET", "/v1/partner/campaigns/active").json
    ends = calendar.timegm(time.strptime(active["endsAt"], "%Y-%m-%dT%H:%M:%SZ"))
    sim.advance_clock(ends - sim.now() + 60)
    assert acme.signed("GET", f"/v1/partner/campaigns/{active['id']}").json["status"] == "completed"
    assert acme.signed("GET", "/v1/partner/campaigns?status=active").json["data"] == []
    assert acme.signed("GET", "/v1/partner/campaigns/active").status_code == 404
    completed = [e for e in receiver() if e["type"] == "campaign.completed"]
    assert [e["data"]["id"] for e in completed] == [active["id"]]
    assert acme.signed("GET", f"/v1/partner/campaigns/{active['id']}/analytics").json["status"] == "completed"
    assert [e for e in receiver() if e["type"] == "campaign.completed"] == completed


def test_each_delivery_keeps_every_attempt_with_its_time_outcome_duration_response_and_signed_headers(acme, sim, sim_app):
    hook = acme.signed("POST", "/v1/partner/webhooks", {"url": "https://fail.partner.test/x", "receiveAllEvents": True}).json
    sent = acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test").json
    sim.deliver_due()
    sim.advance_clock(BACKOFF[0] + 1)
    sim.deliver_due()
    delivery = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries?eventId={sent['eventId']}").json["data"]
    assert [d["id"] for d in delivery] == [sent["deliveryId"]]
    history = delivery[0]["attemptHistory"]
    posted = [d for d in sim_app.delivered if d["url"] == hook["url"]]
    assert len(history) == len(posted) == delivery[0]["attempts"] == 2
    for attempt, request in zip(history, posted):
        assert attempt["status"] == "failed" and attempt["responseStatus"] == 500
        assert attempt["responseBodyExcerpt"] == "nope" and attempt["error"] == "HTTP 500"
        assert isinstance(attempt["durationMs"], (int, float)) and attempt["durationMs"] >= 0
        assert attempt["requestHeaders"] == request["headers"]  # exactly what went over the wire
        verify_from_section_5(hook["secret"], attempt["requestHeaders"], request["body"],
                              int(attempt["requestHeaders"]["X-SIR-Timestamp"]))
    first, second = (calendar.timegm(time.strptime(a["attemptedAt"], "%Y-%m-%dT%H:%M:%SZ")) for a in history)
    assert second - first == BACKOFF[0] + 1 and history[-1]["attemptedAt"] == delivery[0]["lastAttemptAt"]
    other = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries?eventId=evt_nope").json
    assert other["data"] == []
