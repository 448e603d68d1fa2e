"""One round per page: a page's independent SIR Giving calls, its banners' included, go out together.

Every upstream call takes at least LATENCY_MS (the simulator's latency); the calls a page made form one round
when they overlap in time: the last to start started before the first to end had ended. Read from the SIR
client's own call records (start stamps and durations), not from a clock around the page.
"""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions, expire_cached_answers, make_app, partner_api_for, text_of

# The key banner's list is read from the sign-in host and from the production host, which manages live keys
# (SIR_LIVE_KEYS_HOST=production, the default): two calls, made at once.
KEY_LISTS = ["/v1/partner/keys", "/v1/partner/keys"]
LATENCY_MS = 300  # well above the few milliseconds between the calls of one round starting, on a busy machine


@pytest.fixture
def slow(tmp_path):
    """Signed in as Acme on a simulator whose every call takes LATENCY_MS; `calls` are the upstream calls seen."""
    app = make_app(tmp_path, simulator_config={"LATENCY_MS": LATENCY_MS})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    calls = []
    sir = app.extensions["sir_client"]
    earlier = sir.observe

    def observe(call):
        calls.append(call)
        earlier(call)

    sir.observe = observe
    return app, client, calls


def view(app, client, calls, url):
    """The page at `url` with nothing cached and the key banner's list out of date (every call the page and
    its banners make goes upstream); the calls it made."""
    expire_cached_answers(app)  # not clear(): that closes the connection a call still finishing may be using
    with client.session_transaction() as session:
        session.pop("key_flags", None)
    calls.clear()
    response = client.get(url)
    assert response.status_code == 200, text_of(response)
    return [c for c in calls if not c.from_cache]


def waves(calls) -> int:
    """How many rounds the calls took: each wave is the calls that started before the earliest-ending call of
    the wave ended."""
    count, left = 0, sorted(calls, key=lambda c: c.started)
    while left:
        first_end = min(c.ended for c in left if c.started <= left[0].ended)
        left = [c for c in left if c.started >= first_end]
        count += 1
    return count


def paths(calls) -> list[str]:
    return sorted(c.path for c in calls)


def test_the_keys_page_reads_the_keys_and_their_usage_and_the_banners_pools_in_one_round(slow):
    app, client, calls = slow
    made = view(app, client, calls, "/keys/")
    assert paths(made) == ["/v1/partner/dashboard/api-usage", *KEY_LISTS, "/v1/partner/token-pools"]
    assert waves(made) == 1


def test_the_webhooks_page_reads_endpoints_health_and_both_banners_in_one_round(slow):
    app, client, calls = slow
    made = view(app, client, calls, "/webhooks/")
    assert paths(made) == ["/v1/partner/dashboard/webhooks/health", *KEY_LISTS, "/v1/partner/token-pools",
                           "/v1/partner/webhooks"]
    assert waves(made) == 1


def test_an_endpoints_deliveries_page_asks_for_the_endpoint_and_its_deliveries_at_once(slow):
    app, client, calls = slow
    hook_id = _first_webhook_id(app, client)
    made = view(app, client, calls, f"/webhooks/{hook_id}")
    assert paths(made) == sorted(["/v1/partner/dashboard/webhooks/health", *KEY_LISTS,
                                  "/v1/partner/token-pools", "/v1/partner/webhooks",
                                  f"/v1/partner/webhooks/{hook_id}/deliveries"])
    assert waves(made) == 1


def test_the_campaigns_page_asks_for_the_running_campaigns_analytics_with_the_list_once_it_knows_it(slow):
    app, client, calls = slow
    first = view(app, client, calls, "/campaigns")  # the first view learns which campaign runs
    assert waves(first) == 2
    made = view(app, client, calls, "/campaigns")
    assert len([p for p in paths(made) if p.endswith("/analytics")]) == 1
    assert {"/v1/partner/campaigns", "/v1/partner/keys", "/v1/partner/token-pools"} <= set(paths(made))
    assert waves(made) == 1


def test_a_campaign_asked_for_by_name_comes_with_the_list_in_one_round(slow):
    app, client, calls = slow
    other = next(c for c in partner_api_for(app, client).campaigns().value if c.status != "active")
    made = view(app, client, calls, f"/campaigns?campaign={other.id}")
    assert f"/v1/partner/dashboard/campaigns/{other.id}/analytics" in paths(made)
    assert waves(made) == 1


def test_the_pools_page_asks_its_list_requests_trends_and_campaign_in_one_round(slow):
    app, client, calls = slow
    view(app, client, calls, "/token-pools/")  # the first view learns which campaign runs
    made = view(app, client, calls, "/token-pools/")
    assert paths(made).count("/v1/partner/token-pools") == 1  # the banner's and the page's are one call
    assert {"/v1/partner/token-pools/requests", "/v1/partner/dashboard/trends", "/v1/partner/campaigns/active",
            "/v1/partner/keys"} <= set(paths(made))
    assert waves(made) == 1


def test_a_page_that_makes_no_call_of_its_own_asks_for_its_banners_at_once(slow):
    app, client, calls = slow
    made = view(app, client, calls, "/audit/")
    assert paths(made) == [*KEY_LISTS, "/v1/partner/token-pools"]
    assert waves(made) == 1


def test_the_first_overview_after_signing_in_again_asks_the_running_campaigns_analytics_in_its_one_round(slow):
    app, client, calls = slow
    view(app, client, calls, "/")  # this sign-in's first overview learns which campaign runs
    AuthActions(client).sign_in("acme")  # a new session: nothing of the last one's is left in it
    made = view(app, client, calls, "/")
    assert "/v1/partner/campaigns/active" in paths(made)
    assert any(path.endswith("/analytics") for path in paths(made))
    assert waves(made) == 1  # the campaign's id was kept for the partner, past the session


def test_a_campaign_that_changed_since_the_kept_hint_costs_one_more_round_and_the_hint_is_corrected(slow):
    app, client, calls = slow
    view(app, client, calls, "/")
    with app.app_context():
        from webapp.store import hints

        partner_id = _partner_id(client)
        hints.keep(partner_id, "sandbox", "active_campaign", "cmp_ended_long_ago")
    AuthActions(client).sign_in("acme")
    made = view(app, client, calls, "/")
    assert waves(made) == 2  # the kept id was wrong: the running campaign's analytics asked after
    with app.app_context():
        assert hints.read(partner_id, "sandbox", "active_campaign") != "cmp_ended_long_ago"


def test_the_runway_of_thirty_pools_costs_a_handful_of_calls_not_one_per_pool(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    partner_id = _partner_id(client)
    for number in range(30 - len(simulator.pools_for(partner_id, "sandbox"))):
        simulator.provision_pool(partner_id, "sandbox", f"Extra pool {number + 1}", 50_000, 5_000)
    calls = []
    app.extensions["sir_client"].observe = calls.append
    view(app, client, calls, "/token-pools/")
    made = view(app, client, calls, "/token-pools/")
    shown = text_of(client.get("/token-pools/"))
    assert "Extra pool 28" in shown
    assert not [c for c in made if c.path.endswith("/balance")]
    # pools, requests, trends, active campaign, its analytics, the key banner's lists (one per host)
    assert len(made) <= 5 + len(KEY_LISTS)


def _partner_id(client) -> str:
    with client.session_transaction() as session:
        return session["partner"]["id"]


def _first_webhook_id(app, client) -> str:
    return partner_api_for(app, client).webhooks().value[0].id
