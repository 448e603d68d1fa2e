"""Token pools: balances as SIR Giving has them, runway, exactly-once top-up requests, the low-balance banner."""

import re
import time
from collections import Counter
from datetime import date

import pytest

from tests.conftest import AuthActions, form_values, page, partner_api_for, read_timeout, text_of
from webapp.pools.runway import attribute_burn, complete_days, runway, suggested_top_up
from webapp.sir.models import Campaign, CampaignAnalytics, CampaignDay, TokenPool

REASON = "Holiday campaign is running faster than planned"


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def partner_id_of(client):
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


def sim_pools(simulator, client, environment="sandbox"):
    return sorted(simulator.pools_for(partner_id_of(client), environment), key=lambda p: p.created_at)


def low_pool(simulator, client):
    return next(p for p in sim_pools(simulator, client) if 0 < p.balance < p.low_balance_threshold)


def healthy_pool(simulator, client):
    return next(p for p in sim_pools(simulator, client) if p.balance >= p.low_balance_threshold)


def pending_requests(app, client, pool_id):
    data = partner_api_for(app, client).get("/v1/partner/token-pools/requests",
                                            {"status": "pending", "poolId": pool_id, "limit": 100}, fresh=True).data
    return data["data"]


def review(client, pool_id, amount="25000", reason=REASON, headers=None):
    form_page = client.get(f"/token-pools/{pool_id}/top-up")
    data = form_values(form_page, "form#top-up-form")
    data.update(amount=amount, reason=reason)
    return client.post(f"/token-pools/{pool_id}/top-up", data=data, headers=headers or {})


def send(client, pool_id, amount="25000", reason=REASON):
    """Review and confirm; returns the confirmation's answer."""
    data = form_values(review(client, pool_id, amount, reason), "form#top-up-confirm")
    return client.post(f"/token-pools/{pool_id}/top-up/confirm", data=data)


def banner_text(client, path="/audit/"):
    return " ".join(b.get_text(" ", strip=True) for b in page(client.get(path)).select(".banner"))


# -- the runway, as pure arithmetic ----------------------------------------------------------------

def test_a_known_burn_gives_a_known_runway():
    r = runway(7000, [1000] * 30, today=date(2026, 11, 25))
    assert r.daily_burn == 1000 and r.days == 7 and r.until == date(2026, 12, 2)
    paced = runway(7000, [100] * 23 + [700] * 7, today=date(2026, 11, 25))
    assert paced.days == 10  # the current pace is the last 7 days
    assert paced.daily_burn_30d == (100 * 23 + 700 * 7) / 30 and round(paced.days_30d) == 29
    assert runway(500, [1000] * 7).days == 0.5


def test_no_burn_and_short_data_give_a_sensible_runway():
    idle = runway(5000, [0] * 30)
    assert idle.is_unlimited and idle.has_data and idle.days_30d is None
    quiet_week = runway(23_000, [1000] * 23 + [0] * 7)
    assert quiet_week.is_unlimited and quiet_week.days_30d == 30  # the 30-day pace still gives a date
    assert not runway(5000, []).has_data
    short = runway(5000, [3000, 2000])
    assert short.days == 2 and short.is_short and short.data_days == 2


def test_today_and_the_days_before_the_pool_existed_are_left_out():
    dates = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
    assert complete_days(dates, [1, 2, 3, 4], today="2026-11-23") == [1, 2, 3]
    assert complete_days(dates, [1, 2, 3, 4], today="2026-11-23", since=date(2026, 11, 20)) == [2, 3]


def test_the_suggested_top_up_covers_thirty_days():
    assert suggested_top_up(runway(7000, [1000] * 7)) == 23000
    assert suggested_top_up(runway(50_000, [1000] * 7)) == 0
    assert suggested_top_up(runway(0, [333.3] * 7)) == 10000
    # Below its threshold with nothing drawn: enough to be back over the threshold.
    assert suggested_top_up(runway(4000, [0] * 7), threshold=10_000) == 7000


def pool(pool_id, consumed):
    return TokenPool(pool_id, pool_id, "sandbox", "active", 1000, consumed + 1000, consumed, 100)


def test_a_campaigns_tokens_are_drawn_from_its_pool_and_the_rest_from_the_others():
    dates = ["d1", "d2", "d3"]
    promo = Campaign("c1", "Promo", "active", None, None, None, 2.0, None, pool_id="promo")
    analytics = CampaignAnalytics("c1", 0, 900, 0, None, None, [CampaignDay("d2", 0, 400, 0), CampaignDay("d3", 0, 500, 0)])
    drawn = attribute_burn(dates, [300, 400, 600], [pool("main", 5000), pool("promo", 900)], [(promo, analytics)])
    assert drawn["promo"] == [0, 400, 500]
    assert drawn["main"] == [300, 0, 100]  # what the campaign does not explain: all consumption of main is its own


def test_without_campaigns_pools_share_the_burn_by_consumption():
    drawn = attribute_burn(["d1"], [1000], [pool("a", 3000), pool("b", 1000)], [])
    assert drawn == {"a": [750], "b": [250]}


# -- the pools page --------------------------------------------------------------------------------

def test_the_pools_page_shows_every_pool_as_the_simulator_has_it(signed_in, simulator):
    shown = page(signed_in.get("/token-pools/"))
    pools = sim_pools(simulator, signed_in)
    assert len(shown.select(".pool-card")) == len(pools) == 2
    for p in pools:
        card = shown.select_one(f"#pool-{p.id}")
        assert card.select_one(".card-title").get_text(strip=True) == p.name
        assert card.select_one(".pool-balance").get_text(strip=True) == f"{p.balance:,}"
        assert card.select_one(".pool-threshold").get_text(strip=True) == f"{p.low_balance_threshold:,}"
        assert card.select_one(".pool-allocated").get_text(strip=True) == f"{p.allocated:,}"
        assert card.select_one(".pool-consumed").get_text(strip=True) == f"{p.consumed:,}"
        assert card.select_one(".pool-status-value").get_text(strip=True) == p.status
        badge = card.select_one(".pool-badges .badge").get_text(strip=True)
        assert badge == ("low" if p.balance < p.low_balance_threshold else "healthy")
    chart = shown.select_one('script[data-chart="chart-pools"]').string
    for p in pools:
        assert str(p.balance) in chart and str(p.low_balance_threshold) in chart


def test_the_pools_page_asks_the_pool_list_once_and_no_balance_per_pool(signed_in):
    sim_app = signed_in.application.extensions["simulator_app"]
    paths, inner = [], sim_app.wsgi_app

    def recording(environ, start_response):
        paths.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    sim_app.wsgi_app = recording
    for url in ("/token-pools/?refresh=1", "/token-pools/"):
        paths.clear()
        signed_in.application.extensions["sir_client"].cached.cache.clear()
        assert signed_in.get(url).status_code == 200
        assert paths.count("/v1/partner/token-pools") == 1  # the banner's and the page's are one call
        assert not [p for p in paths if p.endswith("/balance")]  # the list's balances are the ones shown


def test_a_depleted_pool_is_badged_empty_and_bannered(signed_in, simulator):
    drained = low_pool(simulator, signed_in)
    drained.consumed = drained.allocated
    card = page(signed_in.get("/token-pools/")).select_one(f"#pool-{drained.id}")
    assert card.select_one(".pool-badges .badge").get_text(strip=True) == "depleted"
    assert "Empty." in card.select_one(".runway").get_text()
    assert f"Token pool “{drained.name}” is empty" in banner_text(signed_in)


def pool_daily_truth(simulator, client, pool_id):
    """Tokens drawn from one pool on each day, from the simulator's own record of actions."""
    from simulator.model import day_of

    partner = partner_id_of(client)
    per_day = Counter()
    for action in simulator.actions.values():
        if action.partner_id == partner and action.environment == "sandbox" and action.pool_id == pool_id:
            per_day[day_of(action.created_at)] += action.tokens_distributed
    days = simulator.days(31)
    return [per_day[d] for d in days[:-1]], days[-1]  # the 30 complete days before today, and today


def test_the_runway_shown_is_each_pools_own_pace(signed_in, simulator):
    shown = page(signed_in.get("/token-pools/"))
    promo = low_pool(simulator, signed_in)
    truth, _ = pool_daily_truth(simulator, signed_in, promo.id)
    pace = sum(truth[-7:]) / 7
    text = shown.select_one(f"#pool-{promo.id} .runway").get_text(" ", strip=True)
    shown_pace = int(re.search(r"current pace \(([\d,]+) tokens a day", text).group(1).replace(",", ""))
    assert abs(shown_pace - pace) / pace < 0.05  # reversals move the figures by a little
    expected = promo.balance / pace
    days = shown.select_one(f"#pool-{promo.id} .runway-days").get_text(strip=True)
    assert days == ("less than a day" if expected < 1 else f"{round(expected)} days")
    main = healthy_pool(simulator, signed_in)
    main_truth, _ = pool_daily_truth(simulator, signed_in, main.id)
    if sum(main_truth[-7:]) == 0:  # the holiday campaign draws every reward from the promotions pool
        assert "Nothing drawn from this pool in the last 7 days" in shown.select_one(f"#pool-{main.id} .runway").get_text()


def test_the_overview_shows_the_same_runway_as_the_pools_page(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    on_pools = page(signed_in.get("/token-pools/")).select_one(f"#pool-{promo.id} .runway-days").get_text(strip=True)
    overview = page(signed_in.get("/"))
    item = overview.select_one(f"#runway-{promo.id}")
    assert item is not None and item.select_one(".runway-days").get_text(strip=True) == on_pools
    assert item.select_one("a")["href"] == f"/token-pools/{promo.id}/top-up"


# -- requesting a top-up ---------------------------------------------------------------------------

def test_the_form_suggests_thirty_days_less_what_is_pending_and_names_the_pending_request(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    shown = page(signed_in.get(f"/token-pools/{promo.id}/top-up"))
    hint = shown.select_one("#amount-hint").get_text()
    suggestion = int(shown.select_one("#amount")["value"])
    assert f"Suggested: {suggestion:,} tokens, enough for 30 days" in hint and "20,000 already pending" in hint
    assert suggestion > 0 and suggestion % 1000 == 0
    assert "A request for 20,000 tokens for this pool is already pending" in shown.select_one(".alert-info").get_text()


@pytest.mark.parametrize("amount, reason, message", [
    ("", REASON, "Enter how many tokens to request."),
    ("12.5", REASON, "Enter a whole number of tokens, like 25000."),
    ("-5", REASON, "Enter a whole number of tokens, like 25000."),
    ("0", REASON, "The amount must be more than zero."),
    ("10000001", REASON, "At most 10,000,000 tokens per request"),
    ("5000", "", "Say why the pool needs more tokens"),
    ("5000", "short", "Write between 10 and 1,000 characters."),
    ("5000", "x" * 1001, "Write between 10 and 1,000 characters."),
])
def test_bad_input_is_refused_in_place_and_sends_nothing(signed_in, simulator, amount, reason, message):
    promo = low_pool(simulator, signed_in)
    before = len(simulator.requests)
    response = review(signed_in, promo.id, amount, reason)
    assert response.status_code == 422
    errors = " ".join(e.get_text(" ", strip=True) for e in page(response).select("form#top-up-form .field-errors"))
    assert message in errors
    assert len(simulator.requests) == before


def test_htmx_validation_swaps_only_the_form(signed_in, simulator):
    response = review(signed_in, low_pool(simulator, signed_in).id, amount="abc", headers={"HX-Request": "true"})
    soup = page(response)
    assert soup.select_one("header.topbar") is None and soup.select_one("form#top-up-form .field-errors")


def test_a_field_is_checked_as_the_admin_leaves_it(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    data = form_values(signed_in.get(f"/token-pools/{promo.id}/top-up"), "form#top-up-form")
    headers = {"HX-Request": "true", "X-CSRFToken": data["csrf_token"]}
    bad = page(signed_in.post(f"/token-pools/{promo.id}/top-up/check/amount", data={**data, "amount": "12,5x"}, headers=headers))
    assert bad.select_one(".live-field #amount-errors").get_text(strip=True) == "Enter a whole number of tokens, like 25000."
    assert bad.select_one("#amount")["aria-invalid"] == "true"
    good = page(signed_in.post(f"/token-pools/{promo.id}/top-up/check/amount", data={**data, "amount": "25,000"}, headers=headers))
    assert good.select_one(".live-field #amount") is not None and good.select_one(".field-errors") is None
    reason = page(signed_in.post(f"/token-pools/{promo.id}/top-up/check/reason", data={**data, "reason": "soon"}, headers=headers))
    assert "Write between 10 and 1,000 characters." in reason.select_one("#reason-errors").get_text()


def test_choosing_another_pool_swaps_in_its_form_and_keeps_the_reason(signed_in, simulator):
    main = healthy_pool(simulator, signed_in)
    promo = low_pool(simulator, signed_in)
    data = form_values(signed_in.get(f"/token-pools/{promo.id}/top-up"), "form#top-up-form")
    swapped = page(signed_in.get("/token-pools/top-up", query_string={"pool_id": main.id, "reason": REASON,
                                                                    "submission": data["submission"]},
                                 headers={"HX-Request": "true"}))
    form = swapped.select_one("form#top-up-form")
    assert form["action"] == f"/token-pools/{main.id}/top-up"
    assert form.select_one("#reason").get_text() == REASON
    assert form.select_one("[name=submission]")["value"] == data["submission"]
    assert form.select_one(".pool-summary").get_text(" ", strip=True).startswith(f"{main.name}")


def test_the_confirmation_shows_the_resulting_runway_then_one_request_however_often_it_is_sent(app, signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    known = len(simulator.requests)
    reviewed = review(signed_in, promo.id)
    shown = page(reviewed)
    assert shown.select_one(".balance-after").get_text(strip=True) == f"{promo.balance + 25000:,} tokens"
    assert re.search(r"about \d+ days at the current pace of [\d,]+ tokens a day, up from",
                     shown.select_one(".runway-after").get_text(" ", strip=True))
    assert len(simulator.requests) == known  # reviewing sends nothing
    data = form_values(reviewed, "form#top-up-confirm")
    first = signed_in.post(f"/token-pools/{promo.id}/top-up/confirm", data=data)
    listing = signed_in.get(first.headers["Location"])
    second = signed_in.post(f"/token-pools/{promo.id}/top-up/confirm", data=data)  # a double click, or back and resend
    assert first.status_code == second.status_code == 302
    mine = [r for r in pending_requests(app, signed_in, promo.id) if r["amount"] == 25000]
    assert len(mine) == 1
    row = page(listing).select_one(f"#request-{mine[0]['id']}")
    assert "row-new" in row["class"] and row.select_one(".request-status").get_text(strip=True) == "pending"
    assert "Requested 25,000 tokens" in text_of(listing)
    assert second.headers["Location"] == first.headers["Location"]  # the same request, shown again
    assert "That request was already sent; it is not sent twice." in text_of(signed_in.get(second.headers["Location"]))
    audit = text_of(signed_in.get("/audit/?action=top_up_requested"))
    assert "top up requested" in audit and f"25,000 tokens: {REASON}" in audit


def test_the_back_button_and_a_resent_first_step_do_not_send_twice(app, signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    form_page = signed_in.get(f"/token-pools/{promo.id}/top-up")
    step_one = {**form_values(form_page, "form#top-up-form"), "amount": "12000", "reason": REASON}
    confirm = form_values(signed_in.post(f"/token-pools/{promo.id}/top-up", data=step_one), "form#top-up-confirm")
    assert signed_in.post(f"/token-pools/{promo.id}/top-up/confirm", data=confirm).status_code == 302
    # Back to step 1, resubmitted by the browser: no second confirmation to click through.
    again = signed_in.post(f"/token-pools/{promo.id}/top-up", data=step_one)
    assert again.status_code == 302 and "status=pending" in again.headers["Location"]
    assert len([r for r in pending_requests(app, signed_in, promo.id) if r["amount"] == 12000]) == 1


def test_change_goes_back_to_the_form_with_what_was_typed(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    reviewed = review(signed_in, promo.id, amount="31000")
    change = form_values(reviewed, "form#top-up-change")
    back = page(signed_in.post(f"/token-pools/{promo.id}/top-up", data=change, headers={"HX-Request": "true"}))
    form = back.select_one("form#top-up-form")
    assert form.select_one("#amount")["value"] == "31000" and form.select_one("#reason").get_text() == REASON
    assert form.select_one(".field-errors") is None
    assert form.select_one("[name=submission]")["value"] == change["submission"]


@pytest.mark.slow
def test_a_resubmit_after_a_timeout_that_was_recorded_sends_nothing_more(app, signed_in, simulator):
    client = signed_in
    promo = low_pool(simulator, client)
    data = form_values(review(client, promo.id), "form#top-up-confirm")
    # SIR Giving records the request but answers too late: the portal's call times out.
    simulator.add_fault(method="POST", path="/v1/partner/token-pools/request", delay_ms=2000, count=1)
    with read_timeout(app, 1.0):
        first = client.post(f"/token-pools/{promo.id}/top-up/confirm", data=data)
    deadline = time.time() + 10  # the slow request finishes upstream meanwhile
    while not any(r.amount == 25000 and r.pool_id == promo.id for r in simulator.requests.values()) and time.time() < deadline:
        time.sleep(0.05)
    second = client.post(f"/token-pools/{promo.id}/top-up/confirm", data=data)
    assert 302 in (first.status_code, second.status_code)
    assert len([r for r in pending_requests(app, client, promo.id) if r["amount"] == 25000]) == 1
    assert "confirmed after a timeout" in text_of(client.get("/audit/?action=top_up_requested"))


def test_a_timeout_with_nothing_recorded_can_be_sent_again(app, signed_in, simulator):
    client = signed_in
    promo = low_pool(simulator, client)
    data = form_values(review(client, promo.id), "form#top-up-confirm")
    simulator.add_fault(method="POST", path="/v1/partner/token-pools/request", drop=True, count=1)
    failed = client.post(f"/token-pools/{promo.id}/top-up/confirm", data=data)
    assert failed.status_code == 502 and "found no record of this request" in text_of(failed)
    sent = client.post(f"/token-pools/{promo.id}/top-up/confirm", data=form_values(failed, "form#top-up-confirm"))
    assert sent.status_code == 302
    assert len([r for r in pending_requests(app, client, promo.id) if r["amount"] == 25000]) == 1


def test_a_refusal_from_sir_giving_is_explained_and_the_request_can_be_sent_later(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    data = form_values(review(signed_in, promo.id), "form#top-up-confirm")
    simulator.add_fault(method="POST", path="/v1/partner/token-pools/request", status=503, count=1)
    failed = signed_in.post(f"/token-pools/{promo.id}/top-up/confirm", data=data)
    assert failed.status_code == 502 and page(failed).select_one("form#top-up-confirm .alert-error")
    assert "Traceback" not in failed.get_data(as_text=True)
    assert signed_in.post(f"/token-pools/{promo.id}/top-up/confirm", data=data).status_code == 302


# -- after SIR Giving decides ----------------------------------------------------------------------

def test_an_approval_raises_the_balance_changes_the_runway_and_clears_the_banner(app, signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    assert f"Token pool “{promo.name}” is below its threshold" in banner_text(signed_in)
    before_page = page(signed_in.get("/token-pools/"))
    before = before_page.select_one(f"#pool-{promo.id} .runway-days").get_text(strip=True)
    balance = promo.balance
    send(signed_in, promo.id, amount="100000")
    request_id = next(r["id"] for r in pending_requests(app, signed_in, promo.id) if r["amount"] == 100000)
    simulator.decide_allocation_request(request_id, approve=True)
    # The admin reloads the requests page (no webhook told the portal): the decision, and no banner.
    requests_page = signed_in.get("/token-pools/requests")
    row = page(requests_page).select_one(f"#request-{request_id}")
    assert row.select_one(".request-status").get_text(strip=True) == "approved"
    timeline = [li.get_text(" ", strip=True) for li in row.select(".timeline li")]
    assert timeline[0].startswith("Requested") and timeline[1].startswith("Approved")
    assert promo.name not in banner_text(signed_in, "/token-pools/requests")
    assert promo.name not in banner_text(signed_in, "/audit/")
    after = page(signed_in.get("/token-pools/"))
    assert after.select_one(f"#pool-{promo.id} .pool-balance").get_text(strip=True) == f"{balance + 100000:,}"
    assert after.select_one(f"#pool-{promo.id} .runway-days").get_text(strip=True) != before
    assert after.select_one(f"#pool-{promo.id} .pool-badges .badge").get_text(strip=True) == "healthy"


def test_a_rejected_request_shows_as_rejected_and_the_filter_works(app, signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    send(signed_in, promo.id, amount="7000")
    request_id = next(r["id"] for r in pending_requests(app, signed_in, promo.id) if r["amount"] == 7000)
    simulator.decide_allocation_request(request_id, approve=False, note="Please wait for the quarterly review")
    rejected = page(signed_in.get("/token-pools/requests?status=rejected"))
    row = rejected.select_one(f"#request-{request_id}")
    assert row.select_one(".request-status").get_text(strip=True) == "rejected"
    assert row.select_one(".timeline li.fail").get_text(" ", strip=True).startswith("Rejected")
    assert row.select_one(".decision-note").get_text(strip=True) == "Please wait for the quarterly review"
    assert {r.select_one(".request-status").get_text(strip=True) for r in rejected.select("tbody tr")} == {"rejected"}
    pending = page(signed_in.get("/token-pools/requests?status=pending"))
    assert pending.select_one(f"#request-{request_id}") is None
    assert pending.select_one("nav.segmented a[aria-current]").get_text(strip=True) == "Pending"


def test_a_pending_request_warns_when_the_pool_runs_out_before_approvals_usually_come(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    shown = page(signed_in.get("/token-pools/requests"))
    warning = re.sub(r"\s+", " ", shown.select_one(".request-warning").get_text(" ", strip=True))
    assert f"The pending request for “{promo.name}” may come too late" in warning
    assert "approvals have taken 2.8 days so far" in warning  # the seeded approvals took 2.5 and 3.0 days
    seeded = next(r for r in simulator.requests.values() if r.pool_id == promo.id and r.status == "pending")
    simulator.decide_allocation_request(seeded.id, approve=True)
    assert page(signed_in.get("/token-pools/requests")).select_one(".request-warning") is None


# -- the banner ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/keys/", "/webhooks/", "/audit/", "/token-pools/", "/token-pools/requests"])
def test_the_banner_is_on_every_page_and_links_to_the_top_up_form_of_that_pool(signed_in, simulator, path):
    promo = low_pool(simulator, signed_in)
    links = [a for a in page(signed_in.get(path)).select(".banner a") if "token-pools" in a["href"]]
    assert [a["href"] for a in links] == [f"/token-pools/{promo.id}/top-up"]
    assert links[0].get_text(strip=True) == "Request a top-up"


def test_another_partners_pool_is_not_found(app, signed_in):
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    globex_pool = partner_api_for(app, other).get("/v1/partner/token-pools").data["data"][0]
    assert signed_in.get(f"/token-pools/{globex_pool['id']}/top-up").status_code == 404


@pytest.mark.parametrize("balance, daily, status, expected", [
    (7000, [1000] * 30, "active", "this pool lasts about 7 days (until 2 Dec 2026)"),
    (500, [1000] * 30, "active", "this pool lasts less than a day (until 25 Nov 2026)"),
    (5000, [0] * 30, "active", "Nothing drawn from this pool in the last 30 days: the current pace sets no end date."),
    (23_000, [1000] * 23 + [0] * 7, "active", "Nothing drawn from this pool in the last 7 days. At the 30-day pace (767 tokens a day) it would last about 30 days (until 25 Dec 2026)."),
    (5000, [3000, 2000], "active", "over the last 2 days) this pool lasts about 2 days (until 27 Nov 2026). Based on only 2 days of data."),
    (5000, [], "active", "Too new for a forecast: the pool has no complete day of use yet."),
    (0, [1000] * 30, "depleted", "Empty. Actions drawing on this pool fail until it is topped up."),
    (5000, [1000] * 30, "inactive", "Inactive: no reward draws from this pool."),
])
def test_the_runway_sentence_is_sensible_in_every_case(app, balance, daily, status, expected):
    shown_pool = TokenPool("pool_1", "Rewards", "sandbox", status, balance, 100_000, 100_000 - balance, 1000)
    with app.test_request_context():
        html = app.jinja_env.get_template("pools/_runway.html").render(
            pool=shown_pool, r=runway(balance, daily, today=date(2026, 11, 25)))
    assert expected in re.sub(r"\s+", " ", page_text(html))


def page_text(html):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html5lib").get_text(" ", strip=True).replace(" )", ")").replace(" .", ".").replace("( ", "(")


def test_a_plain_reload_of_the_pools_page_shows_a_decision_made_meanwhile(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    balance = promo.balance
    assert page(signed_in.get("/token-pools/")).select_one(f"#pool-{promo.id} .pool-pending")  # cached from here on
    seeded = next(r for r in simulator.requests.values() if r.pool_id == promo.id and r.status == "pending")
    simulator.decide_allocation_request(seeded.id, approve=True)
    reloaded = page(signed_in.get("/token-pools/"))
    assert reloaded.select_one(f"#pool-{promo.id} .pool-balance").get_text(strip=True) == f"{balance + seeded.amount:,}"
    assert reloaded.select_one(f"#pool-{promo.id} .pool-pending") is None
    assert not [b for b in reloaded.select(".banner") if promo.name in b.get_text()]


def test_when_sir_giving_fails_the_pools_page_says_what_to_do(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/token-pools", status=503)
    response = signed_in.get("/token-pools/")
    shown = text_of(response)
    assert response.status_code >= 500 and "What to do:" in shown and "Traceback" not in response.get_data(as_text=True)


def test_the_requests_page_still_lists_when_the_runway_cannot_be_worked_out(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/trends", status=503)
    shown = page(signed_in.get("/token-pools/requests"))
    assert len(shown.select("tbody tr")) == 4 and shown.select_one(".request-warning") is None


def test_two_pending_requests_for_one_pool_give_one_warning_naming_both(signed_in, simulator):
    promo = low_pool(simulator, signed_in)
    send(signed_in, promo.id, amount="15000")
    warnings = page(signed_in.get("/token-pools/requests")).select(".request-warning")
    assert len(warnings) == 1
    text = re.sub(r"\s+", " ", warnings[0].get_text(" ", strip=True))
    assert f"2 pending requests for “{promo.name}” may come too late" in text
    assert "The request for 15,000 tokens has been waiting 1 minute." in text
    assert "The request for 20,000 tokens has been waiting 1 day." in text
