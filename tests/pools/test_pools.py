"""Token pools: balances as SIR Giving has them, runway, exactly-once top-up requests, the low-balance banner."""

from datetime import date

import pytest

from tests.conftest import AuthActions, form_values, make_app, page, partner_api_for, text_of
from webapp.pools.runway import runway, shares, suggested_top_up


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def low_pool(app, client):
    return next(p for p in partner_api_for(app, client).get("/v1/partner/token-pools").data["data"] if p["isLow"])


def pending_requests(app, client, pool_id):
    data = partner_api_for(app, client).get("/v1/partner/token-pools/requests",
                                            {"status": "pending", "poolId": pool_id, "limit": 100}, fresh=True).data
    return data["data"]


def review(client, pool_id, amount="25000", reason="Holiday campaign is running faster than planned"):
    form_page = client.get(f"/token-pools/{pool_id}/top-up")
    data = form_values(form_page, "form#top-up-form")
    data.update(amount=amount, reason=reason)
    return client.post(f"/token-pools/{pool_id}/top-up", data=data)


def test_a_known_burn_gives_a_known_runway():
    r = runway(7000, [1000] * 30, today=date(2026, 11, 25))
    assert r.days == 7 and r.until == date(2026, 12, 2) and r.daily_burn == 1000
    assert runway(7000, [0] * 7 + [700] * 7).days == 10  # the current pace is the last 7 days
    half = runway(7000, [1000] * 7, share=0.5)
    assert half.days == 14
    assert runway(5000, [0] * 30).is_unlimited and runway(5000, []).is_unlimited
    assert runway(5000, [3000, 2000]).days == 2  # two days of data: the average of those two


def test_the_suggested_top_up_covers_thirty_days():
    assert suggested_top_up(7000, 1000) == 23000
    assert suggested_top_up(50_000, 1000) == 0
    assert suggested_top_up(0, 333.3) == 10000


def test_the_balances_shown_are_the_simulators(app, signed_in):
    pools = partner_api_for(app, signed_in).get("/v1/partner/token-pools").data["data"]
    shown = page(signed_in.get("/token-pools/"))
    for pool in pools:
        card = shown.select_one(f"#pool-{pool['id']}")
        assert card.select_one(".pool-balance").get_text(strip=True) == f"{pool['balance']:,}"
        badge = card.select_one(".card-header .badge").get_text(strip=True)
        assert badge == ("low" if pool["isLow"] else "healthy")


def test_the_runway_shown_follows_the_trends(app, signed_in):
    api = partner_api_for(app, signed_in)
    pools = [__import__("webapp.sir.models", fromlist=["TokenPool"]).TokenPool.parse(p)
             for p in api.get("/v1/partner/token-pools").data["data"]]
    daily = [d["tokens"] for d in api.get("/v1/partner/dashboard/trends", {"days": 30}).data["daily"]]
    expected = runway(pools[0].balance, daily, shares(pools)[pools[0].id])
    card = page(signed_in.get("/token-pools/")).select_one(f"#pool-{pools[0].id}")
    assert card.select_one(".runway-days").get_text(strip=True).startswith(f"{round(expected.days)} day")


@pytest.mark.parametrize("amount, reason, message", [
    ("", "A good reason to top up", "Enter how many tokens to request."),
    ("12.5", "A good reason to top up", "Enter a whole number of tokens, like 25000."),
    ("0", "A good reason to top up", "The amount must be more than zero."),
    ("20000000", "A good reason to top up", "At most 10,000,000 tokens per request"),
    ("5000", "", "Say why the pool needs more tokens"),
    ("5000", "short", "Write between 10 and 1,000 characters."),
])
def test_bad_input_is_refused_in_place_and_sends_nothing(app, signed_in, simulator, amount, reason, message):
    pool = low_pool(app, signed_in)
    before = len(simulator.requests)
    response = review(signed_in, pool["id"], amount, reason)
    assert response.status_code == 422 and message in text_of(response)
    assert len(simulator.requests) == before


def test_htmx_validation_swaps_only_the_form(app, signed_in):
    pool = low_pool(app, signed_in)
    data = form_values(signed_in.get(f"/token-pools/{pool['id']}/top-up"), "form#top-up-form")
    data.update(amount="abc")
    response = signed_in.post(f"/token-pools/{pool['id']}/top-up", data=data, headers={"HX-Request": "true"})
    soup = page(response)
    assert soup.select_one("header.topbar") is None and soup.select_one("form#top-up-form .field-errors")


def test_the_confirmation_shows_the_resulting_runway_then_one_request_however_often_it_is_sent(app, signed_in, simulator):
    pool = low_pool(app, signed_in)
    reviewed = review(signed_in, pool["id"])
    shown = text_of(reviewed)
    assert "Balance after approval" in shown and f"{pool['balance'] + 25000:,} tokens" in shown
    assert "Runway after approval" in shown
    data = form_values(reviewed, "form#top-up-confirm")
    first = signed_in.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)
    second = signed_in.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)  # double click / back + resend
    assert first.status_code == second.status_code == 302
    mine = [r for r in pending_requests(app, signed_in, pool["id"]) if r["amount"] == 25000]
    assert len(mine) == 1
    listing = text_of(signed_in.get(first.headers["Location"]))
    assert "Requested 25,000 tokens" in listing and "That request was already sent; it is not sent twice." in listing
    audit = text_of(signed_in.get("/audit/?action=top_up_requested"))
    assert "top up requested" in audit and "25,000 tokens" in audit


def test_a_resubmit_after_a_timeout_that_was_recorded_sends_nothing_more(tmp_path):
    app = make_app(tmp_path, read_timeout=0.5)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    pool = low_pool(app, client)
    data = form_values(review(client, pool["id"]), "form#top-up-confirm")
    # SIR Giving records the request but answers too late: the portal's call times out.
    simulator.add_fault(method="POST", path="/v1/partner/token-pools/request", delay_ms=1200, count=1)
    first = client.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)
    import time

    deadline = time.time() + 10  # the slow request finishes upstream meanwhile
    while not any(r.amount == 25000 and r.pool_id == pool["id"] for r in simulator.requests.values()) and time.time() < deadline:
        time.sleep(0.05)
    second = client.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)
    assert 302 in (first.status_code, second.status_code)
    assert len([r for r in pending_requests(app, client, pool["id"]) if r["amount"] == 25000]) == 1


def test_a_timeout_with_nothing_recorded_can_be_sent_again(tmp_path):
    app = make_app(tmp_path, read_timeout=0.5)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    pool = low_pool(app, client)
    data = form_values(review(client, pool["id"]), "form#top-up-confirm")
    simulator.add_fault(method="POST", path="/v1/partner/token-pools/request", drop=True, count=1)
    failed = client.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)
    assert failed.status_code == 502 and "safe to send again" in text_of(failed)
    sent = client.post(f"/token-pools/{pool['id']}/top-up/confirm", data=form_values(failed, "form#top-up-confirm"))
    assert sent.status_code == 302
    assert len([r for r in pending_requests(app, client, pool["id"]) if r["amount"] == 25000]) == 1


def test_an_approval_raises_the_balance_changes_the_runway_and_clears_the_banner(app, signed_in, simulator):
    pool = low_pool(app, signed_in)
    assert "is below its threshold" in text_of(signed_in.get("/audit/"))
    before = page(signed_in.get("/token-pools/")).select_one(f"#pool-{pool['id']} .runway-days").get_text(strip=True)
    data = form_values(review(signed_in, pool["id"], amount="100000"), "form#top-up-confirm")
    signed_in.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)
    request_id = next(r["id"] for r in pending_requests(app, signed_in, pool["id"]) if r["amount"] == 100000)
    simulator.decide_allocation_request(request_id, approve=True)
    after = page(signed_in.get("/token-pools/?refresh=1"))
    assert after.select_one(f"#pool-{pool['id']} .pool-balance").get_text(strip=True) == f"{pool['balance'] + 100000:,}"
    assert after.select_one(f"#pool-{pool['id']} .runway-days").get_text(strip=True) != before
    assert "is below its threshold" not in text_of(signed_in.get("/audit/"))
    approved = page(signed_in.get("/token-pools/requests?status=approved&refresh=1")).select_one(f"#request-{request_id}")
    assert "approved" in approved.get_text() and "Requested" in approved.select_one(".timeline").get_text()


def test_a_rejected_request_shows_as_rejected_and_the_filter_works(app, signed_in, simulator):
    pool = low_pool(app, signed_in)
    data = form_values(review(signed_in, pool["id"], amount="7000"), "form#top-up-confirm")
    signed_in.post(f"/token-pools/{pool['id']}/top-up/confirm", data=data)
    request_id = next(r["id"] for r in pending_requests(app, signed_in, pool["id"]) if r["amount"] == 7000)
    simulator.decide_allocation_request(request_id, approve=False, note="Please wait for the quarterly review")
    rejected = page(signed_in.get("/token-pools/requests?status=rejected&refresh=1"))
    row = rejected.select_one(f"#request-{request_id}")
    assert "rejected" in row.get_text() and "quarterly review" in row.get_text()
    assert all("rejected" in r.select_one(".badge").get_text() for r in rejected.select("tbody tr"))


def test_a_pending_request_warns_when_the_pool_runs_out_before_requests_are_usually_decided(signed_in):
    shown = text_of(signed_in.get("/token-pools/requests"))
    assert "may come too late" in shown and "Holiday promotions" in shown


def test_the_banner_links_to_the_top_up_form_of_that_pool(app, signed_in):
    pool = low_pool(app, signed_in)
    banner = next(a for a in page(signed_in.get("/audit/")).select(".banner a") if "token-pools" in a["href"])
    assert banner["href"] == f"/token-pools/{pool['id']}/top-up" and banner.get_text() == "Request a top-up"


def test_another_partners_pool_is_not_found(app, signed_in):
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    globex_pool = partner_api_for(app, other).get("/v1/partner/token-pools").data["data"][0]
    assert signed_in.get(f"/token-pools/{globex_pool['id']}/top-up").status_code == 404
