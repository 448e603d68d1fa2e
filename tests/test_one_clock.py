"""One clock: once the embedded simulator's clock moves (as the simulator page or its operator API moves it),
every page states and compares times on SIR Giving's moved clock, not the machine's: how long a key has left,
the banners, how long a top-up has waited, the events page's "received" and "sent", and the debugger's
timestamp window, which agrees with the receiver that stored the event."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import AuthActions, page, post_form, session_jwt
from tests.keys.helpers import key_named
from tests.webhooks.helpers import register_portal_receiver, stored_events

TWO_DAYS = 2 * 86400


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def move_the_clock(client, simulator, seconds: int) -> None:
    """What the simulator page's operator API does (tests/demo), then sign in again: the move ended the
    admin's one-hour sign-in, and the portal, on the same clock, knows it."""
    simulator.advance_clock(seconds)
    assert client.get("/keys/").status_code == 302  # the sign-in ended with the move
    AuthActions(client).sign_in("acme")


def set_expiry(app, client, name: str, days: float) -> str:
    from webapp.sir.api import AccountApi
    from webapp.sir.times import to_wire

    key = key_named(app, client, name)
    moment = datetime.fromtimestamp(app.extensions["simulator_app"].extensions["sir_simulator"].now(), timezone.utc)
    AccountApi(app.extensions["sir_client"], session_jwt(app, client)).update_key(
        key["id"], expiresAt=to_wire(moment + timedelta(days=days, hours=1)))
    return key["id"]


def expires_in(client, key_id: str) -> str:
    return page(client.get("/keys/")).select_one(f"tr#key-{key_id} .expires-in").get_text(strip=True)


def banner_for(client, name: str) -> str:
    with client.session_transaction() as stored:
        stored.pop("key_flags", None)  # the banner's one-minute memory of the key list
    return next(b.get_text(" ", strip=True) for b in page(client.get("/")).select(".banner") if name in b.get_text())


def test_moving_the_clock_two_days_moves_how_long_a_key_has_left_on_the_key_list_its_page_and_the_banner(app, signed_in, simulator):
    key_id = set_expiry(app, signed_in, "Backend integration", days=10)
    assert expires_in(signed_in, key_id) == "in 11 days"  # 10 days and an hour: "in" rounds up, as the banner does
    assert "“Backend integration” (sandbox) expires in 11 days" in banner_for(signed_in, "Backend integration")

    move_the_clock(signed_in, simulator, TWO_DAYS)
    assert expires_in(signed_in, key_id) == "in 9 days"
    assert "expires in 9 days" in banner_for(signed_in, "Backend integration")
    flags = [f.get_text(" ", strip=True) for f in page(signed_in.get("/keys/")).select(".key-flag")]
    assert any("“Backend integration” (sandbox) expires in 9 days" in f for f in flags), flags
    assert page(signed_in.get(f"/keys/{key_id}")).select_one(".key-flag .expires-in").get_text() == "in 9 days"


def test_moving_the_clock_two_days_moves_how_long_a_top_up_has_waited(app, signed_in, simulator):
    chosen = next(r for r in simulator.requests.values()
                  if r.status == "pending" and r.environment == "sandbox"
                  and simulator.partners[r.partner_id].name == "Acme Rewards")
    move_the_clock(signed_in, simulator, TWO_DAYS)
    row = page(signed_in.get("/token-pools/requests?status=pending")).select_one(f"#request-{chosen.id} li.pending")
    waited = float(re.search(r"([\d.]+) days? so far", row.get_text(" ", strip=True)).group(1))
    assert abs(waited - (simulator.now() - chosen.created_at) / 86400) <= 0.1


def test_after_moving_the_clock_the_events_page_and_the_debugger_agree_on_a_just_received_event(app, signed_in, simulator):
    register_portal_receiver(signed_in, event_types=("token_pool_request.approved",))
    move_the_clock(signed_in, simulator, TWO_DAYS)
    chosen = next(r for r in simulator.requests.values()
                  if r.status == "pending" and r.environment == "sandbox"
                  and simulator.partners[r.partner_id].name == "Acme Rewards")
    post_form(signed_in, "/simulator/", f"#pending-{chosen.id} form", decision="approve")
    simulator.deliver_due()
    (event,) = [e for e in stored_events(app) if e.event_type == "token_pool_request.approved"]

    row = page(signed_in.get("/webhooks/events")).select_one(f"tr#event-{event.id}")
    received, sent = (datetime.fromisoformat(t["datetime"].replace("Z", "+00:00")) for t in row.select("time"))
    moved_now = datetime.fromtimestamp(simulator.now(), timezone.utc)
    assert abs((moved_now - received).total_seconds()) < 60  # two days ahead of the machine, as SIR Giving is
    assert abs((moved_now - sent).total_seconds()) < 60

    shown = page(signed_in.get(f"/webhooks/debugger?event={event.id}"))
    window = shown.select_one(".verdicts li[data-part='timestamp window']")
    assert window["data-verdict"] == "ok", window.get_text(" ", strip=True)
    assert "ago, measured when it arrived" in window.get_text(" ", strip=True)
    assert "Signature matches" in shown.select_one(".verdict").get_text()


def times_on(shown, selector: str = "main") -> list[datetime]:
    """Every <time datetime> the page states inside `selector`, but when the sign-in ends (later by design)."""
    return [datetime.fromisoformat(t["datetime"].replace("Z", "+00:00")) for t in shown.select(f"{selector} time[datetime]")
            if not t.find_parent(id="session-ends") and "next try" not in t.parent.get_text()]


def test_after_moving_the_clock_every_page_that_states_a_time_states_the_moved_one(app, signed_in, simulator):
    """The pages that state "now" or something that just happened: each newest time is the moved clock's."""
    from tests.keys.test_roll_finishes import roll_in_grace

    register_portal_receiver(signed_in, event_types=("token_pool_request.approved",))
    move_the_clock(signed_in, simulator, TWO_DAYS)
    moved_now = datetime.fromtimestamp(simulator.now(), timezone.utc)

    def near_now(when: datetime, where: str, slack: float = 120) -> None:
        assert abs((when - moved_now).total_seconds()) < slack, f"{where} states {when}, not about {moved_now}"

    # Things that happen now: a roll (its grace period ends an hour from the moved now), an approved top-up,
    # its event delivered to the portal's receiver.
    roll_url, old_key_id = roll_in_grace(app, signed_in)
    chosen = next(r for r in simulator.requests.values()
                  if r.status == "pending" and r.environment == "sandbox"
                  and simulator.partners[r.partner_id].name == "Acme Rewards")
    post_form(signed_in, "/simulator/", f"#pending-{chosen.id} form", decision="approve")
    simulator.deliver_due()

    summary = page(signed_in.get("/overview/cards/summary", headers={"HX-Request": "true"}))
    near_now(max(times_on(summary, ".updated")), "the overview's summary card (Updated)")
    roll = page(signed_in.get(roll_url))
    near_now(max(times_on(roll, ".grace-ends")), "the roll page's grace period end", slack=3600 + 120)
    assert max(times_on(roll, ".grace-ends")) > moved_now  # an hour after the moved now, not in its past
    grace_ends = max(times_on(roll, ".grace-ends"))
    # The rolled key's page: it stops when the grace period ends, the roll page's time, an hour after the moved now.
    assert grace_ends in times_on(page(signed_in.get(f"/keys/{old_key_id}")), "#key-actions")
    requests = page(signed_in.get("/token-pools/requests"))
    near_now(max(times_on(requests, f"#request-{chosen.id}")), "the top-up requests page (the approval)")
    webhooks = page(signed_in.get("/webhooks/"))
    near_now(max(times_on(webhooks, "table.webhooks-table")), "the webhooks list (last success)")
    endpoint = webhooks.select_one("table.webhooks-table a.btn:-soup-contains('Deliveries')")["href"]
    deliveries = page(signed_in.get(endpoint))
    near_now(max(times_on(deliveries)), "the endpoint's deliveries")
    near_now(max(times_on(page(signed_in.get("/webhooks/events")), "table")), "the events page")
    near_now(max(times_on(page(signed_in.get("/audit/")), "#audit-entries")), "the audit log")
    assert all(t <= moved_now + timedelta(seconds=5) for t in times_on(page(signed_in.get("/audit/")), "#audit-entries"))
