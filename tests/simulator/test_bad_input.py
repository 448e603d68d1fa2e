"""Bad input gets a clear JSON error naming what is wrong, and nothing changes: never a 500, never a traceback,
and nothing stored that would break a later request."""

from __future__ import annotations

import json
import re

import pytest

from simulator.api.routing import ROUTES

COLLECTIONS = ("keys", "users", "pools", "requests", "actions", "transactions", "campaigns", "webhooks",
               "deliveries", "events", "donations")
HOSTILE_BODIES = [b"[]", b'"text"', b"null", b"{}", b"{not json", b"\xff\xfe\x00", b"[" * 100_000,
                  b'{"amount": NaN}', b'{"amount": Infinity}', b'{"amount": -Infinity}', b'{"amount": 1e400}']
HOSTILE_VALUES = [None, True, 0, -1, 1.5, 10 ** 400, "", "   ", "x" * 5000, [], {}, [1], {"a": 1},
                  "http://[::1", "2026-13-01"]


def fingerprint(sim) -> tuple:
    """What a partner could observe of the domain: how many of everything, every balance, every key's state."""
    return (tuple(len(getattr(sim, name)) for name in COLLECTIONS),
            tuple(sorted((p.id, p.allocated, p.consumed, p.is_active) for p in sim.pools.values())),
            tuple(sorted((u.id, u.balance, u.debt) for u in sim.users.values())),
            tuple(sorted((k.id, k.name, k.is_active, k.expires_at, k.revoked_at) for k in sim.keys.values())),
            tuple(sorted((c.id, c.name, c.status, c.reward_multiplier) for c in sim.campaigns.values())))


@pytest.fixture
def targets(acme):
    """Real ids for every path parameter, so each request reaches its handler."""
    spare = acme.jwt("POST", "/v1/partner/keys", {"name": "spare", "environment": "sandbox", "keyType": "secret"}).json
    hook = next(h for h in acme.signed("GET", "/v1/partner/webhooks").json["data"] if h["receiveAllEvents"])
    return {"key_id": spare["id"], "slug": "american-red-cross", "donation_id": "pdn_unknown",
            "external_id": "user_0001",
            "action_id": acme.signed("GET", "/v1/partner/actions?status=COMPLETED&limit=1").json["data"][0]["actionId"],
            "pool_id": acme.signed("GET", "/v1/partner/token-pools").json["data"][0]["id"],
            "campaign_id": acme.signed("GET", "/v1/partner/campaigns").json["data"][0]["id"],
            "webhook_id": hook["id"],
            "delivery_id": acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries?status=failed").json["data"][0]["id"],
            "transaction_id": "txn_unknown", "job_id": "job_1"}


def send(client, acme, route, path, raw: bytes):
    if route["auth"] in ("hmac", "hmac-secret"):
        return acme.signed(route["method"], path, raw=raw)
    headers = {"Content-Type": "application/json"}
    if route["auth"] == "jwt":
        headers["Authorization"] = f"Bearer {acme.token}"
    elif route["auth"] == "widget":
        headers["X-Partner-Key"] = acme.key["publicKey"]
    return client.open(path, method=route["method"], data=raw, headers=headers)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r['method']} {r['path']}")
def test_no_body_or_field_value_ever_gets_a_500_or_changes_anything_when_refused(client, sim, acme, targets, route):
    path = re.sub(r":(\w+)", lambda m: targets[m.group(1)], route["path"])
    fields = sorted(set(route["body"] or {}) | {"amount", "email", "password", "stakeholders", "actions"})
    bodies = HOSTILE_BODIES + [json.dumps({name: value}).encode() for name in fields for value in HOSTILE_VALUES]
    for raw in bodies:
        before = fingerprint(sim)
        response = send(client, acme, route, path, raw)
        assert response.status_code < 500, (raw[:60], response.get_data()[:300])
        assert response.is_json and isinstance(response.json.get("statusCode", 200), int), raw[:60]
        if 400 <= response.status_code < 500:
            assert response.json["code"] and response.json["message"], raw[:60]
            assert fingerprint(sim) == before, (raw[:60], response.json)
        assert "Traceback" not in response.get_data(as_text=True)
    for query in route["query"]:
        for value in ("abc", "-1", "0", "99999999999999999999", "2026-13-01", "%ff"):
            response = send(client, acme, route, f"{path}?{query}={value}", b"" if route["method"] == "GET" else b"{}")
            assert response.status_code < 500 and response.is_json, (query, value)


def test_what_an_action_brings_is_checked_so_that_later_lists_still_work(acme):
    action = {"idempotencyKey": "poison-1", "actionType": "PURCHASE", "amount": 20, "autoCreateUsers": True,
              "stakeholders": [{"partnerUserId": "poison_user", "userEmail": {"not": "text"}, "userFirstName": ["x"]}]}
    refused = acme.signed("POST", "/v1/partner/actions/submit", action)
    assert refused.status_code == 400
    assert {d["field"] for d in refused.json["details"]} == {"stakeholders[0].userEmail", "stakeholders[0].userFirstName"}
    assert acme.signed("GET", "/v1/partner/users/poison_user").status_code == 404
    assert acme.signed("GET", "/v1/partner/users?search=poison").status_code == 200


@pytest.mark.parametrize("raw", [b'{"poolId": "p", "amount": NaN, "reason": "x"}', b'{"poolId": "p", "amount": 1e999, "reason": "x"}',
                                 b'{"poolId": "p", "amount": Infinity, "reason": "x"}'])
def test_numbers_that_are_not_numbers_are_invalid_json(acme, raw):
    response = acme.signed("POST", "/v1/partner/token-pools/request", raw=raw)
    assert response.status_code == 400 and response.json["code"] == "INVALID_JSON"


def test_a_body_nested_too_deeply_is_invalid_json(acme):
    response = acme.signed("POST", "/v1/partner/users", raw=b"[" * 200_000)
    assert response.status_code == 400 and response.json["code"] == "INVALID_JSON"


@pytest.mark.parametrize("body, fields", [
    ({"idempotencyKey": "a0", "actionType": "PURCHASE", "amount": 0, "stakeholders": [{"partnerUserId": "u"}]}, {"amount"}),
    ({"idempotencyKey": "a1", "actionType": "PURCHASE", "amount": -3, "stakeholders": [{"partnerUserId": "u"}]}, {"amount"}),
    ({"idempotencyKey": "a2", "actionType": "PURCHASE", "amount": 10 ** 30, "stakeholders": [{"partnerUserId": "u"}]}, {"amount"}),
    ({"actionType": {"PURCHASE": 1}, "stakeholders": []}, {"idempotencyKey", "actionType", "stakeholders"}),
    ({"idempotencyKey": "a3", "actionType": "VOLUNTEER", "currency": "dollars", "metadata": [],
      "autoCreateUsers": "yes", "stakeholders": [{"partnerUserId": "u"}]}, {"currency", "metadata", "autoCreateUsers"}),
])
def test_an_action_with_bad_fields_is_refused_naming_every_one(acme, sim, body, fields):
    before = fingerprint(sim)
    response = acme.signed("POST", "/v1/partner/actions/submit", body)
    assert response.status_code == 400 and response.json["code"] == "VALIDATION_ERROR"
    assert {d["field"] for d in response.json["details"]} == fields
    assert fingerprint(sim) == before


def test_a_bulk_with_one_bad_item_is_refused_whole_naming_the_item(acme, sim):
    good = {"idempotencyKey": "b-ok", "actionType": "ADVOCACY", "stakeholders": [{"partnerUserId": "user_0001"}]}
    bad = {"idempotencyKey": "b-bad", "actionType": "ADVOCACY", "amount": -1, "stakeholders": [{"partnerUserId": "user_0001"}]}
    before = fingerprint(sim)
    response = acme.signed("POST", "/v1/partner/actions/bulk", {"actions": [good, bad]})
    assert response.status_code == 400 and response.json["details"][0]["field"] == "actions[1].amount"
    assert fingerprint(sim) == before


def test_a_donation_of_zero_or_less_is_refused(client, acme):
    for amount in (0, -2500):
        response = client.post("/v1/partner/donations/create-link", headers={"X-Partner-Key": acme.key["publicKey"]},
                               json={"nonprofitSlug": "american-red-cross", "amount": amount})
        assert response.status_code == 400 and response.json["details"][0]["field"] == "amount"


@pytest.mark.parametrize("body, field", [({"password": "sandbox-demo"}, "email"), ({"email": "admin@acme.example"}, "password"),
                                         ({"email": ["admin@acme.example"], "password": "sandbox-demo"}, "email"),
                                         ({"email": "admin@acme.example", "password": 12345}, "password")])
def test_a_login_without_an_email_or_password_names_the_missing_field(client, body, field):
    response = client.post("/v1/partner/auth/login", json=body)
    assert response.status_code == 400 and [d["field"] for d in response.json["details"]] == [field]


def test_a_name_of_only_spaces_is_missing(acme):
    response = acme.jwt("POST", "/v1/partner/keys", {"name": "   ", "environment": "sandbox"})
    assert response.status_code == 400 and response.json["details"][0] == {"field": "name", "message": "is required"}


def test_a_campaign_cannot_end_before_it_starts(acme, sim):
    before = fingerprint(sim)
    created = acme.signed("POST", "/v1/partner/campaigns", {"name": "Backwards", "startsAt": "2026-06-01T00:00:00Z",
                                                            "endsAt": "2026-05-01T00:00:00Z"})
    assert created.status_code == 400 and created.json["details"][0]["field"] == "endsAt"
    active = acme.signed("GET", "/v1/partner/campaigns/active").json
    moved = acme.signed("PATCH", f"/v1/partner/campaigns/{active['id']}", {"endsAt": "2001-01-01T00:00:00Z"})
    assert moved.status_code == 400 and moved.json["details"][0]["field"] == "endsAt"
    assert fingerprint(sim) == before


@pytest.mark.parametrize("path", ["/v1/partner/campaigns/{campaign}", "/v1/partner/users/user_0001"])
def test_a_patch_that_changes_nothing_says_what_it_takes(acme, path):
    campaign = acme.signed("GET", "/v1/partner/campaigns").json["data"][0]["id"]
    response = acme.signed("PATCH", path.format(campaign=campaign), {})
    assert response.status_code == 400 and response.json["details"][0]["field"] == "body"


def test_an_unknown_campaign_is_404_before_its_fields_are_checked(acme):
    response = acme.signed("PATCH", "/v1/partner/campaigns/cmp_unknown", {"status": "nonsense"})
    assert response.status_code == 404 and response.json["code"] == "NOT_FOUND"


@pytest.mark.parametrize("url, problem", [("http://[::1", "absolute"), ("https://user:pw@hooks.partner.test/x", "user name"),
                                          ("ftp://hooks.partner.test/x", "absolute"), ("https://hooks.partner.test:99999/x", "absolute")])
def test_a_webhook_url_that_cannot_be_used_is_refused_by_name(acme, url, problem):
    response = acme.signed("POST", "/v1/partner/webhooks", {"url": url, "receiveAllEvents": True})
    assert response.status_code == 400 and response.json["details"][0]["field"] == "url"
    assert problem in response.json["details"][0]["message"]


def test_unknown_paths_and_methods_answer_json(client, acme):
    assert client.get("/v1/partner/nothing-here").json["code"] == "NOT_FOUND"
    wrong_method = client.put("/v1/partner/users")
    assert wrong_method.status_code == 405 and wrong_method.json["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("path, body, field", [
    ("/_sim/faults", {"path": "/v1/partner/users", "status": "abc"}, "status"),
    ("/_sim/faults", {"path": "/v1/partner/users", "status": 503, "delayMs": "slow"}, "delayMs"),
    ("/_sim/faults", {"path": "/v1/partner/users", "status": 503, "count": 0}, "count"),
    ("/_sim/faults", {"path": "/v1/partner/users", "status": 503, "count": float("inf")}, "count"),
    ("/_sim/faults", {"path": "/v1/partner/users", "delayMs": float("nan")}, "delayMs"),
    ("/_sim/traffic", {"latencyMs": float("inf")}, "latencyMs"),
    ("/_sim/clock", {"advanceSeconds": float("-inf")}, "advanceSeconds"),
    ("/_sim/faults", {"path": "/v1/partner/users", "method": "FETCH", "status": 503}, "method"),
    ("/_sim/faults", {"path": "/v1/partner/users"}, "status"),
    ("/_sim/traffic", {"errorRate": "often"}, "errorRate"),
    ("/_sim/traffic", {"latencyMs": -5}, "latencyMs"),
    ("/_sim/clock", {"advanceSeconds": 1e300}, "advanceSeconds"),
    ("/_sim/events", {"type": "action.completed"}, "partnerId"),
    ("/_sim/partners/acme-rewards/status", {"status": "asleep"}, "status"),
])
def test_operator_controls_refuse_bad_input_and_the_api_keeps_working(client, acme, path, body, field):
    sent = json.dumps(body)
    response = client.post(path, data=sent, content_type="application/json")
    assert response.status_code == 400
    if "Infinity" in sent or "NaN" in sent:
        # Not JSON at all: refused by the same strict parser as the SIR routes, before any field is read.
        assert response.json["code"] == "INVALID_JSON"
    else:
        assert field in {d["field"] for d in response.json["details"]}
    assert acme.signed("GET", "/v1/partner/campaigns").status_code == 200
    assert client.get("/_sim/faults").json["data"] == []
