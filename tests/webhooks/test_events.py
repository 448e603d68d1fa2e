"""The events page (newest first, filter by type, live) and the alerts the portal draws from events."""

from __future__ import annotations

import pytest

from tests.conftest import page, text_of
from tests.webhooks.helpers import csrf, envelope, post_event, receiver_of, register_portal_receiver, stored_events


@pytest.fixture
def inbox(app, client, auth):
    auth.sign_in("acme")
    register_portal_receiver(client)
    row, secret = receiver_of(app)
    return client, app.test_client(), row.token, secret


def deliver(inbox, event):
    _, sender, token, secret = inbox
    response = post_event(sender, token, secret, event)
    assert response.status_code == 200, response.json


def banners(response):
    return page(response).select(".banner")


def test_events_are_listed_newest_first_and_filter_by_type(inbox):
    client = inbox[0]
    for n, kind in enumerate(["action.completed", "campaign.paused", "action.completed"]):
        deliver(inbox, envelope(f"evt_{n}", kind))
    shown = page(client.get("/webhooks/events"))
    ids = [r.select_one("code").get_text() for r in shown.select("table.events-table tbody tr")]
    assert ids == ["evt_2", "evt_1", "evt_0"]
    assert [o["value"] for o in shown.select("select[name=type] option")] == ["", "action.completed", "campaign.paused"]
    filtered = page(client.get("/webhooks/events?type=action.completed"))
    assert [r.select_one("code").get_text() for r in filtered.select("table.events-table tbody tr")] == ["evt_2", "evt_0"]
    assert "2 events of type action.completed" in filtered.select_one("#events .card-title").get_text(" ", strip=True)


def test_the_events_list_refreshes_itself_while_open(inbox):
    client = inbox[0]
    shown = page(client.get("/webhooks/events?type=action.completed"))
    live = shown.select_one("#events")
    assert live["hx-trigger"].startswith("every 3s") and "type=action.completed" in live["hx-get"]
    assert shown.select_one("table.events-table") is None
    deliver(inbox, envelope("evt_new", "action.completed", tokensDistributed=50))
    fragment = page(client.get(live["hx-get"], headers={"HX-Request": "true"}))
    assert fragment.select_one("h1") is None
    row = fragment.select_one("table.events-table tbody tr")
    assert "evt_new" in row.get_text() and "event-row-new" in row["class"]
    assert '"tokensDistributed": 50' in row.get_text()


def test_older_events_are_a_page_away_and_do_not_poll(inbox):
    client = inbox[0]
    for n in range(55):
        deliver(inbox, envelope(f"evt_{n:02d}", "action.completed"))
    first = page(client.get("/webhooks/events"))
    assert len(first.select("table.events-table tbody tr")) == 50 and "Page 1 of 2" in first.get_text()
    second = page(client.get(first.select_one("a[rel=next]")["href"]))
    assert [r.select_one("code").get_text() for r in second.select("tbody tr")] == [f"evt_{n:02d}" for n in range(4, -1, -1)]
    assert not second.select_one("#events").has_attr("hx-trigger")


def test_another_partner_sees_none_of_these_events(app, inbox):
    deliver(inbox, envelope("evt_acme_only"))
    from tests.conftest import AuthActions

    other = app.test_client()
    AuthActions(other).sign_in("globex")
    assert "evt_acme_only" not in other.get("/webhooks/events").get_data(as_text=True)
    acme_event = stored_events(app)[0]
    assert other.get(f"/webhooks/debugger?event={acme_event.id}").status_code == 404


def test_a_low_balance_event_shows_a_banner_with_a_top_up_link_on_every_page(inbox, simulator):
    client = inbox[0]
    pool = next(p for p in simulator.pools.values() if p.name == "Holiday promotions")
    deliver(inbox, envelope("evt_low", "token_pool.low_balance", poolId=pool.id, poolName=pool.name, balance=6317))
    for url in ("/", "/keys/", "/webhooks/"):
        banner = next(b for b in banners(client.get(url)) if "SIR Giving reports" in b.get_text())
        assert "“Holiday promotions” ran low (6,317 tokens left)" in banner.get_text()
        assert banner.select_one("a")["href"] == f"/token-pools/{pool.id}/top-up"


def test_a_depleted_pool_event_shows_a_danger_banner(inbox, simulator):
    client = inbox[0]
    pool = next(iter(simulator.pools.values()))
    deliver(inbox, envelope("evt_empty", "token_pool.depleted", poolId=pool.id, poolName=pool.name, balance=0))
    banner = next(b for b in banners(client.get("/webhooks/")) if "is empty" in b.get_text())
    assert "banner-danger" in banner["class"] and "Request a top-up" in banner.get_text()


def test_an_expiring_key_event_links_to_that_keys_rotation(inbox, simulator):
    client = inbox[0]
    key = next(k for k in simulator.keys.values() if k.name == "Legacy batch job")
    deliver(inbox, envelope("evt_exp", "api_key.expiring", keyId=key.id, name=key.name, expiresAt="2026-12-04T00:00:00Z"))
    banner = next(b for b in banners(client.get("/webhooks/events")) if "SIR Giving reports: key" in b.get_text())
    link = banner.select_one("a")
    assert link.get_text() == "Roll this key" and link["href"] == f"/keys/{key.id}/roll"
    assert client.get(link["href"]).status_code == 200


def test_a_top_up_decision_shows_a_banner_and_updates_the_requests_list(app, client, auth, simulator):
    auth.sign_in("acme")
    register_portal_receiver(client)
    acme = next(p.id for p in simulator.partners.values() if p.slug == "acme-rewards")
    pending = next(r for r in simulator.requests.values() if r.status == "pending" and r.partner_id == acme)
    assert pending.id in client.get("/token-pools/requests?status=pending").get_data(as_text=True)  # cached now
    simulator.decide_allocation_request(pending.id, approve=True)
    simulator.deliver_due()  # SIR Giving tells the portal's receiver
    listed = client.get("/token-pools/requests?status=pending")
    assert f"SIR Giving approved the top-up of {pending.amount:,} tokens" in text_of(listed)
    assert pending.id not in listed.get_data(as_text=True)
    assert pending.id in client.get("/token-pools/requests?status=approved").get_data(as_text=True)


def test_a_rejected_top_up_shows_a_banner_linking_to_the_rejected_requests(app, client, auth, simulator):
    auth.sign_in("acme")
    register_portal_receiver(client, event_types=("token_pool_request.rejected",))
    acme = next(p.id for p in simulator.partners.values() if p.slug == "acme-rewards")
    pending = next(r for r in simulator.requests.values() if r.status == "pending" and r.partner_id == acme)
    simulator.decide_allocation_request(pending.id, approve=False)
    simulator.deliver_due()
    banner = next(b for b in banners(client.get("/")) if "rejected the top-up" in b.get_text())
    assert banner.select_one("a")["href"] == "/token-pools/requests?status=rejected"


def test_an_alert_is_dismissed_from_the_banner_on_any_page_and_the_admin_stays_there(inbox, simulator):
    client = inbox[0]
    pool = next(iter(simulator.pools.values()))
    deliver(inbox, envelope("evt_low_banner", "token_pool.low_balance", poolId=pool.id, poolName=pool.name, balance=10))
    shown = [b for b in banners(client.get("/keys/")) if "SIR Giving reports" in b.get_text()]
    assert len(shown) == 1
    form = shown[0].select_one("form")
    assert form.select_one("button").get_text(" ", strip=True) == "Dismiss this alert"
    answer = client.post(form["action"], data={"csrf_token": form.select_one("input[name=csrf_token]")["value"]},
                         headers={"Referer": "http://localhost/keys/"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/keys/")
    assert not [b for b in banners(client.get("/keys/")) if "SIR Giving reports" in b.get_text()]
    assert "evt_low_banner" in client.get("/webhooks/events").get_data(as_text=True)


def test_a_dismissed_alert_goes_away_and_the_event_stays(inbox, simulator):
    client = inbox[0]
    pool = next(iter(simulator.pools.values()))
    deliver(inbox, envelope("evt_low", "token_pool.low_balance", poolId=pool.id, poolName=pool.name, balance=10))
    row = page(client.get("/webhooks/events")).select_one("table.events-table tbody tr")
    form = row.select_one("form")
    client.post(form["action"], data={"csrf_token": csrf(client, "/webhooks/events")})
    after = client.get("/webhooks/events")
    assert not [b for b in banners(after) if "SIR Giving reports" in b.get_text()]
    assert "evt_low" in after.get_data(as_text=True)
