"""The overview shows what SIR Giving returned, card by card; one failing call spoils only its own card."""

import json

import pytest

from tests.conftest import AuthActions, expire_cached_answers, make_app, page, partner_api_for, read_timeout, text_of


@pytest.fixture
def signed_in(app, client, auth):
    auth.sign_in("acme")
    return client


def signed_in_partner(client) -> str:
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


def card(response, card_id):
    found = page(response).select_one(f"#card-{card_id}")
    assert found is not None, f"no card {card_id}"
    return found


def card_text(response, card_id):
    return " ".join(card(response, card_id).get_text(" ").split())


def test_every_card_is_filled_on_the_first_response(client, auth, caplog):
    auth.sign_in_through_the_forms("acme")  # the set-up page's key list is part of the count below
    response = client.get("/")
    response.get_data()  # the body streams: its calls are counted once it has been sent
    for card_id in ("summary", "trends", "runway", "top-earners", "integration-health", "webhook-health", "api-usage",
                    "recent-activity", "campaign"):
        shown = card(response, card_id)
        assert "is-loading" not in shown.get("class", []), card_id
        assert shown.select_one(".updated") is not None, card_id
    # Ten calls for nine cards and the banners: the campaign card makes two; the runway card shares the trends
    # card's 30-day trends and, with the low-pool banner, one token-pools call (the key list for the expiring-key
    # banner was fetched by the set-up page a moment ago and is remembered for a minute).
    assert "streamed" in response.headers["Server-Timing"]  # sent before the calls were made
    line = next(r.getMessage() for r in caplog.records if r.name == "portal.requests" and "GET / " in r.getMessage())
    assert "SIR Giving: 10 call(s)" in line


def test_the_top_earner_and_amount_are_the_simulators(app, signed_in):
    def top_earner():
        leader = partner_api_for(app, signed_in).get("/v1/partner/dashboard/top-earners",
                                                     {"limit": 10, "days": 30}).data["data"][0]
        return leader["name"], f"{leader['tokens']:,}"

    # The 30-day window slides while the page is built (an old reward may leave it): the page agrees with
    # SIR Giving just before or just after.
    before = top_earner()
    rows = card(signed_in.get("/"), "top-earners").select("table.top-earners tbody tr")
    after = top_earner()
    assert len(rows) == 10
    first = [cell.get_text(" ", strip=True) for cell in rows[0].select("td")]
    assert any(first[1].startswith(name) and first[2] == tokens for name, tokens in (before, after))


def test_the_earners_limit_changes_only_that_card_and_stays_in_the_url(signed_in):
    fragment = signed_in.get("/overview/cards/top_earners?earners_limit=25", headers={"HX-Request": "true"})
    soup = page(fragment)
    assert soup.select_one("header.topbar") is None and len(soup.select("table.top-earners tbody tr")) == 25
    link = soup.select_one("nav.card-controls a[aria-current=true]")
    assert link.get_text(strip=True) == "25 users" and link["href"] == "/?trend_days=30&earners_limit=25&usage_days=7"
    assert fragment.headers["HX-Push-Url"] == "/?trend_days=30&earners_limit=25&usage_days=7"
    reloaded = signed_in.get("/?earners_limit=5")
    assert len(card(reloaded, "top-earners").select("table.top-earners tbody tr")) == 5


def test_a_range_change_keeps_the_other_cards_ranges_of_the_page_url(signed_in):
    page_url = "http://localhost/?trend_days=90&earners_limit=25&usage_days=1"
    fragment = signed_in.get("/overview/cards/trends?trend_days=7", headers={"HX-Request": "true", "HX-Current-URL": page_url})
    assert fragment.headers["HX-Push-Url"] == "/?trend_days=7&earners_limit=25&usage_days=1"
    links = {a.get_text(strip=True): a for a in page(fragment).select("nav.card-controls a")}
    assert links["30 days"]["href"] == "/?trend_days=30&earners_limit=25&usage_days=1"
    assert links["30 days"]["hx-get"] == "/overview/cards/trends?trend_days=30"
    # A refresh names no range: it keeps the page's and changes no URL.
    refreshed = signed_in.get("/overview/cards/top_earners", headers={"HX-Request": "true", "HX-Current-URL": page_url})
    assert "HX-Push-Url" not in refreshed.headers
    assert len(page(refreshed).select("table.top-earners tbody tr")) == 25


def test_the_trend_total_for_a_range_is_the_simulators(app, signed_in):
    for days in (7, 90):
        expected = partner_api_for(app, signed_in).get("/v1/partner/dashboard/trends", {"days": days}).data["totals"]
        shown = card_text(signed_in.get(f"/?trend_days={days}"), "trends")
        assert f"{expected['tokens']:,} tokens from {expected['actions']:,} actions in the last {days} days" in shown


def test_the_summary_tiles_are_the_simulators(app, signed_in):
    expected = partner_api_for(app, signed_in).get("/v1/partner/dashboard/summary").data
    shown = card_text(signed_in.get("/"), "summary")
    assert f"Pool balance {expected['pool']['balance']:,}" in shown
    assert f"Tokens, 7 days {expected['tokensDistributed7d']:,}" in shown
    assert f"Active users {expected['activeUsers']:,}" in shown
    assert f"{expected['successRate7d'] * 100:.1f} %" in shown


def test_the_failing_webhook_endpoint_is_flagged(signed_in):
    rows = card(signed_in.get("/"), "webhook-health").select("tbody tr")
    flagged = [row for row in rows if "row-flag" in row.get("class", [])]
    assert len(flagged) == 1
    assert "https://legacy.acme.example/webhooks" in flagged[0].get_text() and "in a row" in flagged[0].get_text()


def test_api_usage_totals_and_endpoints_are_the_simulators(app, signed_in):
    for days in (1, 30):
        # Asked first, so the card's own call is answered from the cache with the very same body.
        expected = partner_api_for(app, signed_in).get("/v1/partner/dashboard/api-usage", {"days": days}).data
        requests = sum(d["requests"] for d in expected["daily"])
        errors = sum(d["errors"] for d in expected["daily"])
        shown = card(signed_in.get(f"/?usage_days={days}"), "api-usage")
        if requests == 0:  # just after midnight UTC, the seeded day is yesterday: "1 day" has had no call yet
            assert days == 1 and "No API requests in this period" in shown.get_text(" ")
            continue
        assert f"{requests:,} requests, {errors:,} errors" in " ".join(shown.get_text(" ").split())
        by_endpoint = next(t for t in shown.select("table") if t.caption and t.caption.get_text() == "Requests by endpoint")
        rows = [[c.get_text(" ", strip=True) for c in row.select("td")] for row in by_endpoint.select("tbody tr")]
        busiest = expected["byEndpoint"][0]
        assert rows[0][:3] == [f"{busiest['method']} {busiest['path']}", f"{busiest['requests']:,}", f"{busiest['errors']:,}"]


def test_the_usage_card_shows_the_portals_own_calls_apart_from_the_integrations(app, signed_in, simulator):
    from simulator.model import day_of

    with app.app_context():
        portal_key = app.extensions["vault"].credential_for(signed_in_partner(signed_in), "sandbox").key_id

    def portal_served_today() -> int:
        return simulator.usage.by_key[(portal_key, day_of(simulator.now()))][0]

    signed_in.get("/")  # the portal reads for its overview with its own key
    before = portal_served_today()
    # Asked first, so the card's own call is answered from the cache with the very same body.
    expected = partner_api_for(app, signed_in).get("/v1/partner/dashboard/api-usage", {"days": 1}).data
    after = portal_served_today()
    portal = next(k for k in expected["byKey"] if k["keyId"] == portal_key)
    assert before <= portal["requests"] <= after and portal["requests"] > 0, (before, portal, after)
    integration = sum(d["requests"] for d in expected["daily"]) - portal["requests"]
    shown = card(signed_in.get("/?usage_days=1"), "api-usage")
    said = " ".join(shown.select_one(".usage-split").get_text(" ").split())
    assert f"Your integration: {integration:,} call" in said and f"The portal: {portal['requests']:,} call" in said
    rows = shown.select("table.usage-by-key tbody tr")
    marked = [r for r in rows if "usage-portal-key" in r.get("class", [])]
    assert len(marked) == 1 and marked[0] is rows[-1] and "(the portal)" in marked[0].get_text()
    assert marked[0].select("td")[1].get_text(strip=True) == f"{portal['requests']:,}"
    others = sum(int(r.select("td")[1].get_text(strip=True).replace(",", "")) for r in rows[:-1])
    assert others == integration


def test_recent_activity_lists_the_simulators_latest_actions(app, signed_in):
    def latest():
        actions = partner_api_for(app, signed_in).get("/v1/partner/dashboard/recent-activity", {"limit": 10}).data["data"]
        return [(f"{a['tokensDistributed']:,}", a["status"].replace("_", " ").lower()) for a in actions]

    # Compared with SIR Giving's answer just before and just after the page: an action may land in between.
    before = latest()
    rows = card(signed_in.get("/"), "recent-activity").select("tbody tr")
    after = latest()
    shown = [([c.get_text(" ", strip=True) for c in row.select("td")][3], row.select_one(".badge").get_text(strip=True))
             for row in rows]
    assert len(rows) == 10 and shown in (before, after)


def test_integration_health_lists_each_check_with_its_reason(signed_in):
    shown = card_text(signed_in.get("/"), "integration-health")
    assert "WARN Token pools Below threshold: Holiday promotions." in shown
    assert "FAIL Webhooks" in shown and "Overall: Failing" in shown


def test_an_injected_500_spoils_only_its_own_card_which_offers_a_retry(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/top-earners*", status=500, count=1)
    response = signed_in.get("/")
    broken = card(response, "top-earners")
    assert "SIR Giving had an internal error" in broken.get_text()
    retry = broken.select_one("button[hx-get]")
    assert retry.get_text(strip=True) == "Retry" and retry["hx-get"].startswith("/overview/cards/top_earners")
    for other in ("summary", "trends", "api-usage", "recent-activity", "campaign"):
        assert card(response, other).select_one(".error-state") is None, other
    retried = signed_in.get(retry["hx-get"], headers={"HX-Request": "true"})
    assert page(retried).select_one(".error-state") is None and page(retried).select("table.top-earners tbody tr")


@pytest.mark.slow
def test_a_timeout_spoils_only_its_own_card(app, signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/api-usage*", delay_ms=3000, count=1)
    with read_timeout(app, 1.0):  # the other cards' calls take milliseconds
        response = signed_in.get("/")
    assert "SIR Giving took too long" in card_text(response, "api-usage")
    assert card(response, "summary").select_one(".error-state") is None


def test_a_card_that_misses_the_pages_budget_is_sent_as_a_skeleton_that_loads_itself(tmp_path):
    app = make_app(tmp_path, {"OVERVIEW_BUDGET_SECONDS": "1"})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/api-usage*", delay_ms=2500, count=1)
    response = client.get("/")
    late = card(response, "api-usage")
    assert late["aria-busy"] == "true" and late["hx-trigger"].startswith("load")
    loaded = client.get(late["hx-get"], headers={"HX-Request": "true"})  # what the skeleton asks for itself
    assert loaded.status_code == 200 and "Your integration" in text_of(loaded)
    assert card(response, "summary").get("aria-busy") is None


def test_a_stale_answer_is_marked_with_its_time(app, signed_in, simulator):
    signed_in.get("/").get_data()  # read, as a browser does: the cards' answers are cached as the body streams
    expire_cached_answers(app)  # everything is past its TTL now
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/summary", status=503, count=2)
    shown = card(signed_in.get("/"), "summary")
    assert shown.select_one(".stale-mark") is not None and "Stale since" in shown.get_text()
    assert "Pool balance" in shown.get_text()


def test_chart_json_is_a_valid_titled_figure(signed_in):
    soup = page(signed_in.get("/"))
    charts = soup.select('script[type="application/json"][data-chart]')
    assert {c["data-chart"] for c in charts} >= {"chart-trends", "chart-top-earners", "chart-api-usage", "chart-campaign"}
    for script in charts:
        figure = json.loads(script.string)
        assert figure["data"] and figure["layout"]["title"]["text"]
        assert soup.find(id=script["data-chart"]) is not None


def test_a_card_url_opened_directly_goes_to_the_overview(signed_in):
    response = signed_in.get("/overview/cards/trends?trend_days=7")
    assert response.status_code == 302 and response.headers["Location"].startswith("/?trend_days=7")


def test_an_environment_without_webhooks_shows_an_empty_state(app, signed_in):
    from tests.conftest import csrf_token_from, form_values

    signed_in.post("/environment", data={"environment": "production", "csrf_token": csrf_token_from(signed_in.get("/audit/"))})
    signed_in.post("/onboarding/create", data=form_values(signed_in.get("/onboarding/"), "form#create-portal-key"))
    response = signed_in.get("/")
    assert "No webhook endpoints yet" in card_text(response, "webhook-health")
    assert "Launch week" in card_text(response, "campaign")


def test_the_campaigns_page_lists_campaigns_and_shows_any_campaigns_analytics(app, signed_in):
    listing = page(signed_in.get("/campaigns"))
    names = [a.get_text(strip=True) for a in listing.select("tbody a")]
    assert {"Holiday double rewards", "Back to school", "Spring volunteering"} <= set(names)
    target = next(a for a in listing.select("tbody a") if a.get_text(strip=True) == "Back to school")
    detail = signed_in.get(target["href"])
    campaign_id = target["href"].split("campaign=")[1]
    expected = partner_api_for(app, signed_in).get(f"/v1/partner/dashboard/campaigns/{campaign_id}/analytics").data
    assert f"Tokens {expected['totals']['tokens']:,}" in " ".join(text_of(detail).split())


def test_a_completed_campaign_shows_what_it_earned_while_it_ran(signed_in):
    listing = page(signed_in.get("/campaigns"))
    row = next(tr for tr in listing.select("tbody tr") if tr.select_one("a").get_text(strip=True) == "Back to school")
    assert row.select_one(".badge").get_text(strip=True) == "completed"
    detail = signed_in.get(row.select_one("a")["href"])
    analytics = page(detail).select_one("#analytics")
    tokens = analytics.select_one(".tile-value").get_text(strip=True)
    assert int(tokens.replace(",", "")) > 0
    assert "No activity" not in analytics.get_text() and analytics.select_one("#chart-campaign-detail") is not None


def test_the_overview_shows_each_pools_runway(app, signed_in):
    shown = card(signed_in.get("/"), "runway")
    pools = partner_api_for(app, signed_in).get("/v1/partner/token-pools").data["data"]
    low = next(p for p in pools if p["isLow"])
    item = shown.select_one(f"#runway-{low['id']}")
    assert low["name"] in item.get_text() and "low" in item.select_one(".badge").get_text()
    assert item.select_one("a")["href"] == f"/token-pools/{low['id']}/top-up"
