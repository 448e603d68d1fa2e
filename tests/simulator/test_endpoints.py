"""Every endpoint with its documented auth; one consistent domain model; isolation; lists; bad input."""

import re
from pathlib import Path

import pytest

from simulator.api.routing import ROUTES


def concrete(path: str) -> str:
    return re.sub(r":\w+", "x_unknown", path)


# The project's own statement of the contract: the reference's endpoint table, restated.
CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "sir-contract.md"


def test_every_endpoint_of_the_contract_is_served():
    shape = lambda path: re.sub(r":\w+", ":_", path)  # noqa: E731 - parameter names may differ
    served = {(r["method"], shape(r["path"])) for r in ROUTES}
    documented = {(m, shape(p)) for m, p in re.findall(r"^\| (GET|POST|PATCH|DELETE) \| `(/v1/partner/[^`]+)` \|",
                                                        CONTRACT.read_text(), re.M)}
    assert len(documented) == 49
    assert documented <= served, sorted(documented - served)


@pytest.mark.parametrize("route", [r for r in ROUTES if r["auth"] != "public"], ids=lambda r: f"{r['method']} {r['path']}")
def test_each_endpoint_refuses_a_request_without_its_auth(client, route):
    response = client.open(concrete(route["path"]), method=route["method"], json={} if route["method"] != "GET" else None)
    assert response.status_code == 401
    assert response.json["code"] == ("UNAUTHORIZED" if route["auth"] == "jwt" else "INVALID_API_KEY")


@pytest.mark.parametrize("route", [r for r in ROUTES if r["auth"] == "hmac-secret"], ids=lambda r: f"{r['method']} {r['path']}")
def test_secret_key_endpoints_refuse_a_publishable_key(acme, route):
    response = acme.signed(route["method"], concrete(route["path"]), {}, key=acme.key["publicKey"])
    assert response.status_code == 403 and response.json["code"] == "SECRET_KEY_REQUIRED"


@pytest.mark.parametrize("route", [r for r in ROUTES if r["auth"] == "jwt"], ids=lambda r: f"{r['method']} {r['path']}")
def test_jwt_endpoints_do_not_take_a_signed_key(acme, route):
    assert acme.signed(route["method"], concrete(route["path"]), {}).status_code == 401


def test_widget_endpoints_take_a_publishable_key_alone(client, acme):
    headers = {"X-Partner-Key": acme.key["publicKey"]}
    assert client.get("/v1/partner/config", headers=headers).json["partnerName"] == "Acme Rewards"
    link = client.post("/v1/partner/donations/create-link", headers=headers,
                       json={"nonprofitSlug": "american-red-cross", "amount": 2500, "currency": "USD", "frequency": "once"})
    assert link.status_code == 201 and link.json["donationLink"].startswith("https://")
    status = client.get(f"/v1/partner/donations/status/{link.json['partnerDonationId']}", headers=headers)
    assert status.json["status"] == "PENDING"
    assert client.get("/v1/partner/organizations/american-red-cross", headers=headers).json["name"] == "American Red Cross"


def test_an_action_debits_its_pool_credits_its_user_and_agrees_across_endpoints(acme):
    before_pools = {p["id"]: p["balance"] for p in acme.signed("GET", "/v1/partner/token-pools").json["data"]}
    before_user = acme.signed("GET", "/v1/partner/users/user_0042/balance").json["balance"]
    before_summary = acme.signed("GET", "/v1/partner/dashboard/summary").json
    action = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "order-1", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0042"}]}).json
    assert action["status"] == "COMPLETED" and action["tokensDistributed"] > 0
    pools = {p["id"]: p["balance"] for p in acme.signed("GET", "/v1/partner/token-pools").json["data"]}
    assert before_pools[action["poolId"]] - pools[action["poolId"]] == action["tokensDistributed"]
    assert acme.signed("GET", "/v1/partner/users/user_0042/balance").json["balance"] == before_user + action["tokensDistributed"]
    transaction = acme.signed("GET", f"/v1/partner/transactions/{action['transactionIds'][0]}").json
    assert transaction["tokens"] == action["tokensDistributed"] and transaction["externalUserId"] == "user_0042"
    summary = acme.signed("GET", "/v1/partner/dashboard/summary").json
    assert summary["tokensDistributedToday"] == before_summary["tokensDistributedToday"] + action["tokensDistributed"]
    assert summary["pool"]["balance"] == sum(pools.values())
    trends = acme.signed("GET", "/v1/partner/dashboard/trends?days=7").json
    assert trends["totals"]["tokens"] == summary["tokensDistributed7d"]
    recent = acme.signed("GET", "/v1/partner/dashboard/recent-activity?limit=1").json["data"][0]
    assert recent["actionId"] == action["actionId"]


def test_a_repeated_idempotency_key_returns_the_original_and_rewards_once(acme):
    body = {"idempotencyKey": "purchase_98765", "actionType": "PURCHASE", "amount": 49.99, "currency": "USD",
            "stakeholders": [{"partnerUserId": "new_user_1", "userEmail": "n@example.com"}], "autoCreateUsers": True}
    first = acme.signed("POST", "/v1/partner/actions/submit", body)
    second = acme.signed("POST", "/v1/partner/actions/submit", body)
    assert first.status_code == 201 and second.status_code == 200 and first.json == second.json
    assert acme.signed("GET", "/v1/partner/users/new_user_1/balance").json["balance"] == first.json["tokensDistributed"]


def test_a_reversal_gives_tokens_back_and_may_leave_debt(acme):
    action = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "rev-1", "actionType": "REFERRAL", "stakeholders": [{"partnerUserId": "debtor"}],
        "autoCreateUsers": True}).json
    pool_before = next(p for p in acme.signed("GET", "/v1/partner/token-pools").json["data"] if p["id"] == action["poolId"])
    acme.sim.users[(acme.partner_id, "sandbox", "debtor")].balance = 30  # the user spent most of it
    reversal = acme.signed("POST", f"/v1/partner/actions/{action['actionId']}/reverse",
                           {"reversalPercentage": 100, "reason": "Order refunded", "refundIdempotencyKey": "refund-1"}).json
    assert reversal["status"] == "REVERSED" and reversal["debtCreated"] == action["tokensDistributed"] - 30
    balance = acme.signed("GET", "/v1/partner/users/debtor/balance").json
    assert balance["balance"] == 0 and balance["debt"] == action["tokensDistributed"] - 30
    pool_after = next(p for p in acme.signed("GET", "/v1/partner/token-pools").json["data"] if p["id"] == action["poolId"])
    assert pool_after["balance"] == pool_before["balance"] + action["tokensDistributed"]
    again = acme.signed("POST", f"/v1/partner/actions/{action['actionId']}/reverse",
                        {"reversalPercentage": 100, "reason": "Order refunded", "refundIdempotencyKey": "refund-1"}).json
    assert again == reversal


def test_an_approved_request_raises_the_pool_and_a_rejected_one_does_not(acme, sim, client):
    pool = next(p for p in acme.signed("GET", "/v1/partner/token-pools").json["data"] if p["isLow"])
    created = acme.signed("POST", "/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 50000, "reason": "Top-up"}).json
    assert created["status"] == "pending"
    approved = client.post(f"/_sim/token-pools/requests/{created['id']}/approve").json
    assert approved["status"] == "approved" and approved["decidedAt"]
    after = acme.signed("GET", f"/v1/partner/token-pools/{pool['id']}/balance").json
    assert after["balance"] == pool["balance"] + 50000 and not after["isLow"]
    other = acme.signed("POST", "/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 10, "reason": "x"}).json
    assert client.post(f"/_sim/token-pools/requests/{other['id']}/reject").json["status"] == "rejected"
    assert acme.signed("GET", f"/v1/partner/token-pools/{pool['id']}/balance").json["balance"] == after["balance"]
    pending = acme.signed("GET", "/v1/partner/token-pools/requests?status=pending").json["data"]
    assert all(r["status"] == "pending" for r in pending) and created["id"] not in {r["id"] for r in pending}


def test_partners_and_environments_see_only_their_own_data(acme, globex, client, sim):
    from tests.simulator.conftest import Partner

    acme_pools = {p["id"] for p in acme.signed("GET", "/v1/partner/token-pools").json["data"]}
    globex_pools = {p["id"] for p in globex.signed("GET", "/v1/partner/token-pools").json["data"]}
    assert acme_pools and globex_pools and acme_pools.isdisjoint(globex_pools)
    for pool_id in globex_pools:
        assert acme.signed("GET", f"/v1/partner/token-pools/{pool_id}/balance").status_code == 404
    globex_key = globex.key["id"]
    assert acme.jwt("GET", f"/v1/partner/keys/{globex_key}").status_code == 404
    assert acme.jwt("DELETE", f"/v1/partner/keys/{globex_key}").status_code == 404
    live = Partner(client, sim, "admin@acme.example", environment="production")
    live_pools = {p["id"] for p in live.signed("GET", "/v1/partner/token-pools").json["data"]}
    assert live_pools.isdisjoint(acme_pools)
    assert {p["environment"] for p in live.signed("GET", "/v1/partner/token-pools").json["data"]} == {"production"}


def test_lists_share_one_pagination_scheme(acme):
    first = acme.signed("GET", "/v1/partner/users?page=1&limit=25").json
    second = acme.signed("GET", "/v1/partner/users?page=2&limit=25").json
    assert first["pagination"] == {"page": 1, "limit": 25, "total": first["pagination"]["total"],
                                   "totalPages": -(-first["pagination"]["total"] // 25), "hasMore": True}
    assert {u["id"] for u in first["data"]}.isdisjoint({u["id"] for u in second["data"]})
    assert acme.signed("GET", "/v1/partner/users?limit=101").json["code"] == "VALIDATION_ERROR"
    completed = acme.signed("GET", "/v1/partner/actions?status=FAILED&limit=100").json["data"]
    assert completed and all(a["status"] == "FAILED" for a in completed)


@pytest.mark.parametrize("body, status, code, field", [
    (b"{not json", 400, "INVALID_JSON", None),
    (b'{"poolId": "p", "amount": 0, "reason": "x"}', 400, "VALIDATION_ERROR", "amount"),
    (b'{"poolId": "p", "amount": -5, "reason": "x"}', 400, "VALIDATION_ERROR", "amount"),
    (b'{"poolId": "p", "amount": 10}', 400, "VALIDATION_ERROR", "reason"),
    (b'{"poolId": "pool_nope", "amount": 10, "reason": "x"}', 404, "NOT_FOUND", None),
])
def test_bad_input_gets_a_clear_error_and_changes_nothing(acme, sim, body, status, code, field):
    before = len(sim.requests)
    response = acme.signed("POST", "/v1/partner/token-pools/request", raw=body)
    assert response.status_code == status and response.json["code"] == code
    if field:
        assert any(d["field"] == field for d in response.json["details"])
    assert len(sim.requests) == before


def test_a_body_over_one_mebibyte_is_413(acme):
    response = acme.signed("POST", "/v1/partner/users", raw=b'{"x":"' + b"a" * (1024 * 1024) + b'"}')
    assert response.status_code == 413 and response.json["code"] == "PAYLOAD_TOO_LARGE"


def test_bulk_takes_at_most_100_actions(acme, sim):
    action = lambda n: {"idempotencyKey": f"bulk-{n}", "actionType": "ADVOCACY", "stakeholders": [{"partnerUserId": "user_0001"}]}  # noqa: E731
    refused = acme.signed("POST", "/v1/partner/actions/bulk", {"actions": [action(n) for n in range(101)]})
    assert refused.status_code == 400 and "at most 100" in refused.json["message"]
    accepted = acme.signed("POST", "/v1/partner/actions/bulk", {"actions": [action(n) for n in range(100)]}).json
    assert accepted["total"] == 100 and accepted["completed"] == 100
    assert acme.signed("GET", "/v1/partner/actions/bulk/job_1").status_code == 410


def test_unknown_ids_are_404_and_no_request_ever_gets_a_traceback(acme, client):
    assert acme.signed("GET", "/v1/partner/actions/act_nope").json["code"] == "NOT_FOUND"
    assert client.get("/v1/partner/no-such-thing").json["code"] == "NOT_FOUND"


def test_key_records_carry_last_used_at_and_usage_per_key(acme, sim):
    assert acme.jwt("GET", f"/v1/partner/keys/{acme.key['id']}").json["lastUsedAt"] is None
    for _ in range(3):
        acme.signed("GET", "/v1/partner/campaigns")
    record = acme.jwt("GET", f"/v1/partner/keys/{acme.key['id']}").json
    assert record["lastUsedAt"] is not None
    usage = acme.signed("GET", f"/v1/partner/dashboard/api-usage?days=1&keyId={acme.key['id']}").json
    mine = usage["byKey"][0]
    assert mine["keyId"] == acme.key["id"] and mine["requestsLastHour"] >= 3 and mine["requests"] >= 3


def test_a_past_expiry_is_refused(acme):
    response = acme.jwt("PATCH", f"/v1/partner/keys/{acme.key['id']}", {"expiresAt": "2001-01-01T00:00:00Z"})
    assert response.status_code == 400 and response.json["details"][0]["field"] == "expiresAt"


def test_the_openapi_document_describes_every_path(client):
    document = client.get("/partner-api/openapi.json").json
    assert document["openapi"].startswith("3.")
    described = {(m.upper(), re.sub(r"{(\w+)}", r":\1", p)) for p, ops in document["paths"].items() for m in ops}
    assert described == {(r["method"], r["path"]) for r in ROUTES}
    assert "Partner API" in client.get("/partner-api").get_data(as_text=True)


def test_recent_activity_is_newest_first(acme):
    recent = acme.signed("GET", "/v1/partner/dashboard/recent-activity?limit=50").json["data"]
    times = [a["createdAt"] for a in recent]
    assert len(times) == 50 and times == sorted(times, reverse=True)
    listed = acme.signed("GET", "/v1/partner/actions?limit=50").json["data"]
    assert [a["actionId"] for a in listed] == [a["actionId"] for a in recent]


def test_per_key_usage_counts_the_last_hour_and_day_even_after_the_clock_moved_back(acme, sim):
    usage = lambda: acme.signed("GET", f"/v1/partner/dashboard/api-usage?days=1&hours=2&keyId={acme.key['id']}").json  # noqa: E731
    for _ in range(3):
        acme.signed("GET", "/v1/partner/campaigns")  # at t0
    sim.advance_clock(7200)
    for _ in range(2):
        acme.signed("GET", "/v1/partner/campaigns")  # at t0 + 2 h
    mine = usage()["byKey"][0]  # counted itself once answered, at t0 + 2 h too
    assert (mine["requestsLastHour"], mine["requestsLast24h"]) == (2, 5)
    sim.advance_clock(-7000)
    acme.signed("GET", "/v1/partner/campaigns")  # at t0 + 200 s, after later ones
    sim.advance_clock(7100)  # now t0 + 7300 s: the last hour holds only the three made at t0 + 7200 s
    reply = usage()
    mine = reply["byKey"][0]
    assert (mine["requestsLastHour"], mine["requestsLast24h"]) == (3, 7)
    assert reply["lastHours"] == {"requests": 4}  # two hours back reaches t0 + 200 s, not t0
    other = next(k for k in acme.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json["byKey"]
                 if k["name"] == "Backend integration")
    assert other["requestsLastHour"] == 0 and other["lastUsedAt"] is not None


REFERENCE_AUTH = {"JWT": "jwt", "Widget": "widget", "HMAC": "hmac", "HMAC, secret key": "hmac-secret",
                  "Email/password": "public"}


def test_every_endpoint_has_the_auth_the_contract_documents_and_the_docs_say_so(client):
    from bs4 import BeautifulSoup

    shape = lambda path: re.sub(r":\w+", ":_", path)  # noqa: E731
    documented = {(m, shape(p)): REFERENCE_AUTH[a] for m, p, a in re.findall(
        r"^\| (GET|POST|PATCH|DELETE) \| `(/v1/partner/[^`]+)` \| ([^|]+?) \|", CONTRACT.read_text(), re.M)}
    served = {(r["method"], shape(r["path"])): r["auth"] for r in ROUTES}
    assert {k: served[k] for k in documented} == documented
    document = client.get("/partner-api/openapi.json").json
    for route in ROUTES:
        operation = document["paths"][re.sub(r":(\w+)", r"{\1}", route["path"])][route["method"].lower()]
        schemes = {name for requirement in operation["security"] for name in requirement}
        expected = {"jwt": {"bearer"}, "widget": {"partnerKey"}, "hmac": {"partnerKey", "timestamp", "signature"},
                    "hmac-secret": {"partnerKey", "timestamp", "signature"}, "public": set()}[route["auth"]]
        assert schemes == expected, route["path"]
        assert ("secret key" in operation["x-auth"]) is (route["auth"] == "hmac-secret")
    rows = BeautifulSoup(client.get("/partner-api").get_data(as_text=True), "html.parser").select("tbody tr")
    listed = {(r.select("td")[0].get_text(strip=True), r.select("td")[1].get_text(strip=True)) for r in rows}
    assert listed == {(r["method"], r["path"]) for r in ROUTES}


def test_every_endpoint_answers_its_documented_success_with_its_documented_auth():
    """The positive side of the auth table: every route, called as its auth says (JWT, pk_ alone, or signed sk_),
    with valid input, succeeds; only the deprecated bulk-job lookup answers 410."""
    from simulator.shapes import Caller, scenario

    caller = Caller()
    scenario(caller)
    statuses = {key: seen[2] for key, seen in caller.seen.items()}
    assert set(statuses) == {(r["method"], r["path"]) for r in ROUTES}
    failures = {key: status for key, status in statuses.items() if not 200 <= status < 300}
    assert failures == {("GET", "/v1/partner/actions/bulk/:job_id"): 410}


def test_idempotency_keys_are_per_partner_and_environment_and_hold_in_bulk(client, sim, acme, globex):
    from tests.simulator.conftest import Partner

    body = {"idempotencyKey": "order_1001", "actionType": "REFERRAL", "stakeholders": [{"partnerUserId": "user_0020"}]}
    first = acme.signed("POST", "/v1/partner/actions/submit", body).json
    live = Partner(client, sim, "admin@acme.example", environment="production")
    others = [globex.signed("POST", "/v1/partner/actions/submit", body), live.signed("POST", "/v1/partner/actions/submit", body)]
    assert [r.status_code for r in others] == [201, 201]
    assert len({first["actionId"], *(r.json["actionId"] for r in others)}) == 3
    balance = acme.signed("GET", "/v1/partner/users/user_0020/balance").json["balance"]
    bulk = acme.signed("POST", "/v1/partner/actions/bulk", {"actions": [body, {**body, "idempotencyKey": "order_1002"}]}).json
    assert [r["duplicate"] for r in bulk["results"]] == [True, False]
    assert bulk["results"][0]["actionId"] == first["actionId"]
    again = acme.signed("GET", "/v1/partner/users/user_0020/balance").json["balance"]
    assert again == balance + bulk["results"][1]["tokensDistributed"]
