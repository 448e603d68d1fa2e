"""The seeded demo data holds what the issue lists, the same seed gives the same data, nothing of one partner
or environment is visible to another, lists page and filter one way, and concurrent requests never fail."""

from __future__ import annotations

import statistics
import sys
import threading
from collections import Counter
from datetime import date

import pytest
import simulator
from simulator import seed as seed_module
from simulator.api.routing import ROUTES

from tests.simulator.conftest import Partner

LISTS = [r["path"] for r in ROUTES if r["method"] == "GET" and "page" in r["query"] and ":" not in r["path"]
         and r["auth"] != "jwt"]


@pytest.mark.parametrize("email, name", [("admin@acme.example", "Acme Rewards"), ("admin@globex.example", "Globex Giving")])
def test_each_demo_partner_has_what_the_issue_lists(client, sim, email, name):
    partner = Partner(client, sim, email)
    assert partner.jwt("GET", "/v1/partner/keys/partner-info").json["name"] == name
    keys = partner.jwt("GET", "/v1/partner/keys?limit=100").json["data"]
    seeded = [k for k in keys if k["name"] != "tests"]
    assert {(k["environment"], k["keyType"]) for k in seeded} >= {("sandbox", "secret"), ("sandbox", "publishable"),
                                                                    ("production", "secret"), ("production", "publishable")}
    pools = partner.signed("GET", "/v1/partner/token-pools").json["data"]
    assert len(pools) >= 2 and any(p["balance"] < p["lowBalanceThreshold"] for p in pools)
    assert any(p["balance"] >= p["lowBalanceThreshold"] for p in pools)
    live = Partner(client, sim, email, environment="production")
    assert live.signed("GET", "/v1/partner/token-pools").json["data"][0]["environment"] == "production"
    assert partner.signed("GET", "/v1/partner/users?limit=1").json["pagination"]["total"] >= 200
    daily = partner.signed("GET", "/v1/partner/dashboard/trends?days=90").json["daily"]
    assert len(daily) == 90 and all(d["actions"] > 0 for d in daily[:-1])
    weekday = [d["actions"] for d in daily[:-1] if date.fromisoformat(d["date"]).weekday() < 5]
    weekend = [d["actions"] for d in daily[:-1] if date.fromisoformat(d["date"]).weekday() >= 5]
    assert statistics.mean(weekday) > 1.5 * statistics.mean(weekend)  # a weekly rhythm
    campaigns = partner.signed("GET", "/v1/partner/campaigns").json["data"]
    assert [c["status"] for c in campaigns].count("active") == 1
    assert partner.signed("GET", "/v1/partner/campaigns/active").json["status"] == "active"
    outcomes = Counter()
    for hook in partner.signed("GET", "/v1/partner/webhooks").json["data"]:
        for status in ("succeeded", "failed"):
            outcomes[status] += partner.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries?status={status}").json["pagination"]["total"]
    assert outcomes["succeeded"] > 0 and outcomes["failed"] > 0
    requests = partner.signed("GET", "/v1/partner/token-pools/requests?limit=100").json["data"]
    assert {"pending", "approved", "rejected"} <= {r["status"] for r in requests}
    health = partner.signed("GET", "/v1/partner/dashboard/webhooks/health").json
    assert health["overall"]["delivered"] > 0 and health["overall"]["failed"] > 0


def test_the_demo_passwords_are_sandbox_demo(client):
    for email in ("admin@acme.example", "admin@globex.example"):
        assert client.post("/v1/partner/auth/login", json={"email": email, "password": "sandbox-demo"}).status_code == 200


def fingerprint_over_http(app) -> tuple:
    partner = Partner(app.test_client(), app.extensions["sir_simulator"], "admin@globex.example")
    get = lambda path: partner.signed("GET", path).json  # noqa: E731
    return (get("/v1/partner/actions?limit=100&page=3")["data"],
            [(p["id"], p["balance"]) for p in get("/v1/partner/token-pools")["data"]],
            [(e["externalUserId"], e["tokens"]) for e in get("/v1/partner/dashboard/top-earners?limit=20")["data"]],
            [(d["date"], d["actions"], d["tokens"]) for d in get("/v1/partner/dashboard/trends?days=90")["daily"]],
            [(k["id"], k["publicKey"]) for k in partner.jwt("GET", "/v1/partner/keys?limit=100").json["data"] if k["name"] != "tests"])


@pytest.mark.slow
def test_the_same_seed_gives_the_same_data_over_the_api_and_another_seed_does_not():
    def fresh(seed):
        seed_module._CACHE.clear()  # build it again from the seed, not a cached copy
        return simulator.create_app({"SEED": seed, "DELIVERY_MODE": "manual"})

    first = fingerprint_over_http(fresh(11))
    strip_times = lambda fp: ([{k: v for k, v in a.items() if k != "createdAt"} for a in fp[0]], *fp[1:])  # noqa: E731
    assert strip_times(first) == strip_times(fingerprint_over_http(fresh(11)))
    assert strip_times(first) != strip_times(fingerprint_over_http(fresh(12)))


def ids_in(reply) -> set:
    return {item.get("id") or item.get("actionId") for item in reply["data"]}


@pytest.mark.parametrize("path", LISTS)
def test_no_list_shows_anything_of_another_partner_or_environment(client, sim, acme, globex, path):
    live = Partner(client, sim, "admin@acme.example", environment="production")
    seen = {name: ids_in(who.signed("GET", f"{path}?limit=100").json)
            for name, who in (("acme", acme), ("globex", globex), ("live", live))}
    assert seen["acme"].isdisjoint(seen["globex"]) and seen["acme"].isdisjoint(seen["live"])
    for item in acme.signed("GET", f"{path}?limit=100").json["data"]:
        assert item.get("environment", "sandbox") == "sandbox"


@pytest.mark.parametrize("collection, path", [("actions", "/v1/partner/actions/{}"), ("transactions", "/v1/partner/transactions/{}"),
                                              ("campaigns", "/v1/partner/campaigns/{}"), ("pools", "/v1/partner/token-pools/{}/balance"),
                                              ("webhooks", "/v1/partner/webhooks/{}/deliveries"),
                                              ("campaigns", "/v1/partner/dashboard/campaigns/{}/analytics")])
def test_another_partners_or_environments_ids_are_404(client, sim, acme, globex, collection, path):
    live = Partner(client, sim, "admin@acme.example", environment="production")
    if collection == "webhooks":  # the demo registers sandbox webhooks only: give production one
        live.signed("POST", "/v1/partner/webhooks", {"url": "https://live.partner.test/x", "receiveAllEvents": True})
    for other, environment in ((globex.partner_id, "sandbox"), (acme.partner_id, "production")):
        item = next(i for i in getattr(sim, collection).values() if i.partner_id == other and i.environment == environment)
        assert acme.signed("GET", path.format(item.id)).status_code == 404
    mine = next(i for i in getattr(sim, collection).values() if i.partner_id == acme.partner_id and i.environment == "sandbox")
    assert acme.signed("GET", path.format(mine.id)).status_code == 200
    assert live.signed("GET", path.format(mine.id)).status_code == 404


def test_the_same_external_user_id_is_a_different_user_per_partner_and_environment(client, sim, acme, globex):
    live = Partner(client, sim, "admin@acme.example", environment="production")
    ids = {who.signed("GET", "/v1/partner/users/user_0001").json["id"] for who in (acme, globex, live)}
    assert len(ids) == 3


@pytest.mark.parametrize("path", LISTS)
def test_every_list_pages_the_same_way(acme, path):
    whole = acme.signed("GET", f"{path}?limit=100").json
    total = whole["pagination"]["total"]
    walked, page = [], 1
    while True:
        reply = acme.signed("GET", f"{path}?limit=7&page={page}").json
        assert reply["pagination"] == {"page": page, "limit": 7, "total": total, "totalPages": max(1, -(-total // 7)),
                                       "hasMore": page < max(1, -(-total // 7))}
        walked += [item.get("id") or item.get("actionId") for item in reply["data"]]
        if not reply["pagination"]["hasMore"] or page >= 20:
            break
        page += 1
    if total <= 140:
        assert len(walked) == total and len(set(walked)) == total
    beyond = acme.signed("GET", f"{path}?limit=7&page={max(1, -(-total // 7)) + 1}").json
    assert beyond["data"] == [] and beyond["pagination"]["hasMore"] is False
    for bad in ("limit=0", "limit=101", "page=0", "page=two"):
        refused = acme.signed("GET", f"{path}?{bad}")
        assert refused.status_code == 400 and refused.json["details"][0]["field"] == bad.split("=")[0]


def test_actions_filter_by_status_type_and_date(acme):
    day = acme.signed("GET", "/v1/partner/dashboard/trends?days=10").json["daily"][0]
    since, until = f"{day['date']}T00:00:00Z", f"{day['date']}T23:59:59Z"
    that_day = acme.signed("GET", f"/v1/partner/actions?since={since}&until={until}&limit=100").json
    assert that_day["pagination"]["total"] == day["actions"]
    assert all(since <= a["createdAt"] < until for a in that_day["data"])
    failed = acme.signed("GET", f"/v1/partner/actions?status=FAILED&since={since}&until={until}&limit=100").json
    assert failed["pagination"]["total"] == day["failed"]
    volunteer = acme.signed("GET", "/v1/partner/actions?actionType=VOLUNTEER&limit=100").json["data"]
    assert volunteer and {a["actionType"] for a in volunteer} == {"VOLUNTEER"}
    assert acme.signed("GET", "/v1/partner/actions?since=yesterday").json["details"][0]["field"] == "since"


def test_deliveries_filter_by_status_event_type_and_time(acme, sim):
    hook = next(h for h in acme.signed("GET", "/v1/partner/webhooks").json["data"] if h["receiveAllEvents"])
    base = f"/v1/partner/webhooks/{hook['id']}/deliveries"
    every = acme.signed("GET", f"{base}?limit=100").json
    failed = acme.signed("GET", f"{base}?status=failed&limit=100").json
    succeeded = acme.signed("GET", f"{base}?status=succeeded&limit=100").json
    assert failed["pagination"]["total"] + succeeded["pagination"]["total"] == every["pagination"]["total"]
    assert {d["status"] for d in failed["data"]} == {"failed"}
    middle = sorted(d["createdAt"] for d in every["data"])[len(every["data"]) // 2]
    older = acme.signed("GET", f"{base}?until={middle}&limit=100").json
    newer = acme.signed("GET", f"{base}?since={middle}&limit=100").json
    assert older["pagination"]["total"] + newer["pagination"]["total"] == every["pagination"]["total"]
    assert all(d["createdAt"] < middle for d in older["data"]) and all(d["createdAt"] >= middle for d in newer["data"])
    by_type = 0
    for event_type in {d["eventType"] for d in every["data"]}:
        kinds = acme.signed("GET", f"{base}?eventType={event_type}&limit=100").json
        assert kinds["data"] and {d["eventType"] for d in kinds["data"]} == {event_type}
        by_type += kinds["pagination"]["total"]
    assert by_type == every["pagination"]["total"]
    assert acme.signed("GET", f"{base}?status=lost").json["details"][0]["field"] == "status"


def test_allocation_requests_filter_by_status(acme):
    every = acme.signed("GET", "/v1/partner/token-pools/requests?limit=100").json["pagination"]["total"]
    counted = 0
    for status in ("pending", "approved", "rejected"):
        reply = acme.signed("GET", f"/v1/partner/token-pools/requests?status={status}&limit=100").json
        assert reply["data"] and {r["status"] for r in reply["data"]} == {status}
        counted += reply["pagination"]["total"]
    assert counted == every


@pytest.fixture
def busy_threads():
    """Switch threads as often as possible, so that a race shows up in a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_concurrent_writes_and_reads_never_fail_and_agree(sim_app, sim, acme, busy_threads):
    statuses, created = Counter(), []

    def as_thread() -> Partner:
        twin = Partner.__new__(Partner)
        twin.__dict__.update(acme.__dict__)
        twin.client = sim_app.test_client()
        return twin

    def writer(n):
        me = as_thread()
        for i in range(60):
            reply = me.signed("POST", "/v1/partner/users", {"externalUserId": f"race_{n}_{i}"})
            statuses[reply.status_code] += 1
            created.append(reply.json.get("externalUserId"))
            statuses[me.signed("POST", "/v1/partner/webhooks", {"url": f"https://h{n}.partner.test/{i}",
                                                                 "receiveAllEvents": True}).status_code] += 1
            statuses[me.signed("POST", "/v1/partner/actions/submit", {
                "idempotencyKey": f"race_{n}_{i}", "actionType": "ADVOCACY",
                "stakeholders": [{"partnerUserId": "user_0001"}]}).status_code] += 1

    def reader():
        me = as_thread()
        for _ in range(60):
            for path in ("/v1/partner/users?limit=1", "/v1/partner/webhooks?limit=1", "/v1/partner/dashboard/summary",
                         "/v1/partner/actions?limit=1", "/v1/partner/dashboard/webhooks/health"):
                statuses[me.signed("GET", path).status_code] += 1

    before = acme.signed("GET", "/v1/partner/dashboard/summary").json["pool"]["balance"]
    lifetime = acme.signed("GET", "/v1/partner/users/user_0001/balance").json["lifetimeTokens"]
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)] + [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) == {200, 201}, statuses
    users = acme.signed("GET", "/v1/partner/users?search=race_&limit=100").json["pagination"]["total"]
    assert users == len(set(created)) == 180
    rewarded = [a for a in sim.actions.values() if a.idempotency_key.startswith("race_")]
    assert len(rewarded) == 180  # once each; those past the promotion pool's last tokens fail, as they should
    assert {a.failure_code for a in rewarded if a.status != "COMPLETED"} <= {"INSUFFICIENT_POOL_BALANCE"}
    spent = sum(a.tokens_distributed for a in rewarded)
    assert acme.signed("GET", "/v1/partner/dashboard/summary").json["pool"]["balance"] == before - spent
    assert acme.signed("GET", "/v1/partner/users/user_0001/balance").json["lifetimeTokens"] == lifetime + spent


def test_no_partner_or_environment_can_change_or_read_anothers_things_by_id(client, sim, acme, globex):
    live = Partner(client, sim, "admin@acme.example", environment="production")
    action = acme.signed("GET", "/v1/partner/actions?status=COMPLETED&limit=1").json["data"][0]
    hook = next(h for h in acme.signed("GET", "/v1/partner/webhooks").json["data"] if h["receiveAllEvents"])
    delivery = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries?status=failed").json["data"][0]
    campaign = acme.signed("GET", "/v1/partner/campaigns").json["data"][0]
    pool = acme.signed("GET", "/v1/partner/token-pools").json["data"][0]
    link = client.post("/v1/partner/donations/create-link", headers={"X-Partner-Key": acme.key["publicKey"]},
                       json={"nonprofitSlug": "feeding-america", "amount": 1000}).json
    own_hook = globex.signed("POST", "/v1/partner/webhooks", {"url": "https://g.partner.test/x", "receiveAllEvents": True}).json
    before = (sim.actions[action["actionId"]].status, len(sim.requests), len(sim.deliveries), hook["id"] in sim.webhooks,
              sim.campaigns[campaign["id"]].name)
    for intruder in (globex, live):
        attempts = [
            intruder.signed("POST", f"/v1/partner/actions/{action['actionId']}/reverse", {"reversalPercentage": 100, "reason": "x"}),
            intruder.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test"),
            intruder.signed("POST", f"/v1/partner/webhooks/{hook['id']}/deliveries/{delivery['id']}/retry"),
            intruder.signed("DELETE", f"/v1/partner/webhooks/{hook['id']}"),
            intruder.signed("PATCH", f"/v1/partner/campaigns/{campaign['id']}", {"name": "Taken over"}),
            intruder.signed("POST", "/v1/partner/token-pools/request", {"poolId": pool["id"], "amount": 10, "reason": "x"}),
            client.get(f"/v1/partner/donations/status/{link['partnerDonationId']}",
                       headers={"X-Partner-Key": intruder.key["publicKey"]}),
        ]
        assert [r.status_code for r in attempts] == [404] * len(attempts)
    # A delivery of one webhook cannot be retried through another webhook of one's own either.
    crossed = globex.signed("POST", f"/v1/partner/webhooks/{own_hook['id']}/deliveries/{delivery['id']}/retry")
    assert crossed.status_code == 404
    after = (sim.actions[action["actionId"]].status, len(sim.requests), len(sim.deliveries), hook["id"] in sim.webhooks,
             sim.campaigns[campaign["id"]].name)
    assert after == before


def test_nothing_seeded_happened_after_the_moment_it_was_seeded():
    # The portal shows "last attempt" and "last failure" as past times: a fresh start must not seed the future.
    now = 1_796_040_000.5  # any moment; exact=True builds at exactly this one
    state = seed_module.seeded_state(11, now, exact=True)
    attempts = [d.last_attempt_at for d in state["deliveries"].values()]
    assert attempts and max(attempts) <= now
    assert max(d.created_at for d in state["deliveries"].values()) <= now
    assert max(e["createdAt"] for e in state["events"]) <= simulator.model.iso(now)
