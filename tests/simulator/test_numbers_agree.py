"""One consistent domain model: what one endpoint says agrees with what every other endpoint says, on the
seeded data and after live traffic."""

from __future__ import annotations

import math
import time
from collections import Counter

import pytest


def every(partner, path: str) -> list[dict]:
    """Every item of a list endpoint, page by page."""
    items, page = [], 1
    while True:
        reply = partner.signed("GET", f"{path}{'&' if '?' in path else '?'}limit=100&page={page}").json
        items += reply["data"]
        if not reply["pagination"]["hasMore"]:
            return items
        page += 1


@pytest.fixture
def traffic(acme):
    """Live traffic on top of the seed: actions, a failure, a partial reversal that leaves a debt."""
    done = [acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": f"agree-{n}", "actionType": "PURCHASE", "amount": 30 + n,
        "stakeholders": [{"partnerUserId": "user_0010"}, {"partnerUserId": "user_0011"}]}).json for n in range(3)]
    acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "agree-ghost", "actionType": "REFERRAL", "stakeholders": [{"partnerUserId": "nobody"}]})
    acme.sim.users[(acme.partner_id, "sandbox", "user_0011")].balance = 10
    acme.signed("POST", f"/v1/partner/actions/{done[0]['actionId']}/reverse", {"reversalPercentage": 60, "reason": "Refund"})
    return done


def test_every_pool_has_consumed_exactly_what_its_transactions_say(acme, traffic):
    by_pool = Counter()
    for txn in every(acme, "/v1/partner/transactions"):
        by_pool[txn["poolId"]] += txn["tokens"]
    pools = acme.signed("GET", "/v1/partner/token-pools").json["data"]
    assert {p["id"]: p["consumed"] for p in pools} == {p["id"]: by_pool[p["id"]] for p in pools}
    for pool in pools:
        assert pool["balance"] == pool["allocated"] - pool["consumed"]
        balance = acme.signed("GET", f"/v1/partner/token-pools/{pool['id']}/balance").json
        assert (balance["balance"], balance["allocated"], balance["consumed"]) == (pool["balance"], pool["allocated"], pool["consumed"])
    summary = acme.signed("GET", "/v1/partner/dashboard/summary").json["pool"]
    assert summary["balance"] == sum(p["balance"] for p in pools) and summary["lowPools"] == sum(p["isLow"] for p in pools)


@pytest.mark.parametrize("user", ["user_0001", "user_0010", "user_0011"])
def test_a_users_balance_debt_and_lifetime_agree_with_their_transactions(acme, traffic, user):
    txns = every(acme, f"/v1/partner/users/{user}/transactions")
    assert txns == every(acme, f"/v1/partner/transactions?externalUserId={user}")
    record = acme.signed("GET", f"/v1/partner/users/{user}").json
    balance = acme.signed("GET", f"/v1/partner/users/{user}/balance").json
    assert balance["lifetimeTokens"] == record["lifetimeTokens"] == sum(t["tokens"] for t in txns)
    # No earnings came after the reversal, so none of its debt has been repaid yet.
    assert balance["debt"] == record["debt"] == sum(t["debtCreated"] for t in txns)
    assert balance["availableBalance"] == balance["balance"] - balance["debt"]
    if user == "user_0011":
        assert record["debt"] > 0 and record["balance"] == 0


def test_an_actions_transactions_add_up_to_what_it_distributed(acme, traffic):
    for action in traffic:
        detail = acme.signed("GET", f"/v1/partner/actions/{action['actionId']}").json
        tokens = [acme.signed("GET", f"/v1/partner/transactions/{t}").json["tokens"] for t in detail["transactionIds"]]
        assert sum(tokens) == detail["tokensDistributed"] == action["tokensDistributed"]
    reversed_ = acme.signed("GET", f"/v1/partner/actions/{traffic[0]['actionId']}").json
    assert reversed_["status"] == "PARTIALLY_REVERSED"
    reversals = [t for t in every(acme, "/v1/partner/transactions?type=reversal") if t["actionId"] == reversed_["id"]]
    assert -sum(t["tokens"] for t in reversals) == reversed_["reversedTokens"] > 0


def test_the_summary_trends_and_recent_activity_tell_the_same_story(acme, traffic):
    summary = acme.signed("GET", "/v1/partner/dashboard/summary").json
    week = acme.signed("GET", "/v1/partner/dashboard/trends?days=7").json
    assert summary["actions7d"]["total"] == week["totals"]["actions"]
    assert summary["actions7d"]["failed"] == week["totals"]["failed"]
    assert summary["tokensDistributed7d"] == week["totals"]["tokens"]
    assert summary["actionsToday"] == week["daily"][-1]["actions"]
    today = week["daily"][-1]["date"]
    listed = every(acme, f"/v1/partner/actions?since={today}T00:00:00Z")
    assert len(listed) == summary["actionsToday"]
    assert sum(1 for a in listed if a["status"] == "FAILED") == week["daily"][-1]["failed"]
    assert summary["totalUsers"] == acme.signed("GET", "/v1/partner/users?limit=1").json["pagination"]["total"]
    recent = acme.signed("GET", f"/v1/partner/dashboard/recent-activity?limit={min(100, len(listed))}").json["data"]
    assert [a["actionId"] for a in recent] == [a["actionId"] for a in listed[:len(recent)]]


def test_top_earners_are_ranked_by_the_tokens_their_transactions_show(acme, traffic):
    top = acme.signed("GET", "/v1/partner/dashboard/top-earners?limit=5&days=90").json["data"]
    assert [e["rank"] for e in top] == [1, 2, 3, 4, 5]
    assert [e["tokens"] for e in top] == sorted((e["tokens"] for e in top), reverse=True)
    for earner in top[:2]:
        txns = every(acme, f"/v1/partner/users/{earner['externalUserId']}/transactions")
        assert earner["tokens"] == sum(t["tokens"] for t in txns)  # every seeded action is within 90 days
        assert earner["balance"] == acme.signed("GET", f"/v1/partner/users/{earner['externalUserId']}/balance").json["balance"]


def test_webhook_health_counts_the_deliveries_the_lists_show(acme, sim):
    # Health looks back 7 days from now; move the clock so that this edge falls between two deliveries, then
    # the lists filtered from that edge (to the second) must hold exactly what health counted.
    times = sorted(d.created_at for d in sim.deliveries.values() if d.partner_id == acme.partner_id)
    edge = sim.now() - 7 * 86_400
    later = next(i for i, t in enumerate(times) if t > edge)
    gap = max(range(later, min(later + 20, len(times))), key=lambda i: times[i] - times[i - 1])
    sim.advance_clock((times[gap - 1] + times[gap]) / 2 - edge)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.ceil(sim.now() - 7 * 86_400)))
    health = acme.signed("GET", "/v1/partner/dashboard/webhooks/health").json
    for endpoint in health["endpoints"]:
        base = f"/v1/partner/webhooks/{endpoint['webhookId']}/deliveries?since={since}"
        assert endpoint["delivered"] == len(every(acme, f"{base}&status=succeeded"))
        assert endpoint["failed"] == len(every(acme, f"{base}&status=failed"))
    failing = [e for e in health["endpoints"] if e["status"] == "failing"]
    assert failing and all(e["consecutiveFailures"] >= 3 for e in failing)
    check = next(c for c in acme.signed("GET", "/v1/partner/dashboard/integration-health").json["checks"] if c["id"] == "webhooks")
    assert check["status"] == "fail" and failing[0]["url"] in check["reason"]


def test_api_usage_per_key_adds_up_to_the_total_and_counts_what_was_served(acme, globex):
    before = acme.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json
    assert sum(k["requests"] for k in before["byKey"]) == before["totals"]["requests"]
    acme.signed("GET", "/v1/partner/users")
    acme.signed("GET", "/v1/partner/actions/act_missing")  # a 404 is a request served, and an error
    acme.signed("GET", "/v1/partner/users", secret="0" * 64)  # refused, but from this key: counted as an error
    globex.signed("GET", "/v1/partner/users")  # another partner's: not counted here
    after = acme.signed("GET", "/v1/partner/dashboard/api-usage?days=1").json
    assert after["totals"]["requests"] == before["totals"]["requests"] + 4  # the three, and the first usage call
    assert after["totals"]["errors"] == before["totals"]["errors"] + 2
    assert sum(k["requests"] for k in after["byKey"]) == after["totals"]["requests"]
    mine = next(k for k in after["byKey"] if k["keyId"] == acme.key["id"])
    assert mine["requests"] == 4 and mine["errors"] == 2  # its first signed call was the usage call above
    assert after["daily"][-1]["requests"] == after["totals"]["requests"]
    assert any(e["path"] == "/v1/partner/actions/:action_id" and e["errors"] >= 1 for e in after["byEndpoint"])


def test_a_debt_is_paid_back_from_the_next_earnings_first(acme, traffic):
    before = acme.signed("GET", "/v1/partner/users/user_0011/balance").json
    assert before["debt"] > 0
    earned = acme.signed("POST", "/v1/partner/actions/submit", {
        "idempotencyKey": "agree-repay", "actionType": "VOLUNTEER", "stakeholders": [{"partnerUserId": "user_0011"}]}).json
    after = acme.signed("GET", "/v1/partner/users/user_0011/balance").json
    repaid = min(before["debt"], earned["tokensDistributed"])
    assert after["debt"] == before["debt"] - repaid
    assert after["balance"] == before["balance"] + earned["tokensDistributed"] - repaid
    assert after["lifetimeTokens"] == before["lifetimeTokens"] + earned["tokensDistributed"]
