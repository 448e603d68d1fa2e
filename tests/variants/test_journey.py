"""A new admin's journey against each simulator variant (tests/variants/conftest.py): every overview card,
campaigns, keys (list, create), token pools, webhooks (list, deliveries, recover): no 5xx, no card that
could not read its answer, the counts SIR Giving's state gives, recovery never retrying a delivery that had
succeeded, and no sign-in loop when the portal's key is refused."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.conftest import csrf_token_from, form_values, page, text_of
from webapp.dashboard.cards import CARDS
from webapp.sir.api import AccountApi

UNREADABLE = ("SIR Giving sent an unreadable answer", "SIR Giving had an internal error", "Something went wrong")


def sim_of(app):
    return app.extensions["simulator_app"].extensions["sir_simulator"]


def partner_of(client) -> str:
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


def ok(response, what: str):
    assert response.status_code < 500, f"{what}: {response.status_code} {text_of(response)[:300]}"
    shown = text_of(response)
    assert not any(words in shown for words in UNREADABLE), f"{what}: {shown[:300]}"
    return response


def test_every_overview_card_reads_its_answer(variant_client):
    ok(variant_client.get("/"), "overview")
    for card_id in CARDS:
        ok(variant_client.get(f"/overview/cards/{card_id}", headers={"HX-Request": "true"}), card_id)


def test_campaigns_pools_and_endpoints_are_all_listed(app, variant_client):
    sim, partner = sim_of(app), partner_of(variant_client)
    campaigns = ok(variant_client.get("/campaigns"), "campaigns")
    expected = [c for c in sim.campaigns.values() if c.partner_id == partner and c.environment == "sandbox"]
    listed = page(campaigns).select("table tbody tr a[href*=\"campaign=\"]")
    assert len(listed) == len(expected)
    pools = ok(variant_client.get("/token-pools/"), "token pools")
    assert len(page(pools).select(".pool-balance")) == len(sim.pools_for(partner, "sandbox"))
    hooks = ok(variant_client.get("/webhooks/"), "webhooks")
    expected = [h for h in sim.webhooks.values() if h.partner_id == partner and h.environment == "sandbox"]
    assert len(page(hooks).select(".webhooks-table tbody tr")) == len(expected)


def test_keys_are_all_listed_and_a_new_key_shows_its_type(app, variant_client):
    sim, partner = sim_of(app), partner_of(variant_client)
    listed = ok(variant_client.get("/keys/"), "keys")
    expected = [k for k in sim.keys.values() if k.partner_id == partner]
    assert len(page(listed).select(".keys-table tbody tr")) == len(expected)
    form = form_values(variant_client.get("/keys/new"), "form#create-key")
    form.update(name="Variant widget", environment="sandbox", key_type="publishable")
    created = variant_client.post("/keys/new", data=form, follow_redirects=True)
    ok(created, "new key")
    assert "· publishable" in text_of(created) and "None" not in text_of(created)


def test_recovery_retries_only_deliveries_that_failed_in_the_window(app, variant_client):
    sim = sim_of(app)
    hook = next(h for h in sim.webhooks.values() if "legacy.acme.example" in h.url)
    mine = {d.id: d for d in sim.deliveries.values() if d.webhook_id == hook.id}
    failed = sorted((d for d in mine.values() if d.status == "failed"), key=lambda d: d.created_at)
    since = datetime.fromtimestamp(int(failed[-5].created_at), timezone.utc)
    in_window = {d.id for d in failed if d.created_at >= since.timestamp()}
    before = {d.id: (d.status, d.attempts) for d in mine.values()}

    listed = ok(variant_client.get(f"/webhooks/{hook.id}"), "deliveries")
    assert page(listed).select("table tbody tr")
    moment = since.strftime("%Y-%m-%dT%H:%M:%S")
    counted = ok(variant_client.get(f"/webhooks/{hook.id}/recover?since={moment}"), "recover")
    count = int(page(counted).select_one(".recover-count strong").get_text(strip=True).replace(",", ""))
    assert 0 < count <= len(in_window)
    started = variant_client.post(f"/webhooks/{hook.id}/recover",
                                  data=form_values(counted, "form#recover-form"))
    assert started.status_code == 302
    batch_url = started.headers["Location"]
    for _ in range(len(in_window) + 2):  # each step retries a chunk
        shown = variant_client.get(batch_url)
        ok(shown, "recovery")
        step = page(shown).select_one("[hx-post$='/step']")
        if step is None:  # finished: nothing more to post
            break
        variant_client.post(step["hx-post"], data={"csrf_token": csrf_token_from(shown)})
    retried = {i for i, d in mine.items() if (d.status, d.attempts) != before[i]}
    assert retried <= in_window and len(retried) == count


def test_a_refused_portal_key_never_ends_the_sign_in(app, variant_client):
    sir = app.extensions["sir_client"]
    with app.app_context():
        key_id = app.extensions["vault"].credential_for(partner_of(variant_client), "sandbox").key_id
    token = sir.login("admin@acme.example", "sandbox-demo")["token"]
    AccountApi(sir, token).revoke_key(key_id)
    for _ in range(2):
        shown = variant_client.get("/token-pools/")
        assert shown.status_code == 502 and "Location" not in shown.headers
        with variant_client.session_transaction() as stored:
            assert stored.get("jwt")


def test_the_pending_requests_filter_and_the_deliveries_count_are_what_sir_giving_holds(app, variant_client):
    sim, partner = sim_of(app), partner_of(variant_client)
    pending = ok(variant_client.get("/token-pools/requests?status=pending"), "pending requests")
    shown = [badge.get_text(strip=True) for badge in page(pending).select("td.request-status")]
    expected = [r for r in sim.requests.values() if r.partner_id == partner and r.environment == "sandbox"
                and r.status == "pending"]
    assert set(shown) <= {"pending"} and len(shown) == min(len(expected), 25)

    hook = next(h for h in sim.webhooks.values() if "legacy.acme.example" in h.url)
    failed = [d for d in sim.deliveries.values() if d.webhook_id == hook.id and d.status == "failed"]
    listed = ok(variant_client.get(f"/webhooks/{hook.id}?status=failed"), "failed deliveries")
    heading = page(listed).select_one("[data-card] h2, .card-title, h2").get_text(" ", strip=True)
    count = heading.split(" deliver")[0]
    if count.startswith("at least"):  # the upstream would not page: never more than it holds
        assert int(count.removeprefix("at least ").replace(",", "")) <= len(failed)
    else:
        assert int(count.replace(",", "")) == len(failed)


def test_a_test_event_reaches_the_portals_own_receiver_and_is_accepted(app, variant_client):
    # With SIR Giving's clock off, its deliveries carry its time: the receiver's 300 s window is on SIR Giving's
    # measured time too (the portal's one clock), or every genuine delivery would be refused as stale.
    from tests.webhooks.helpers import csrf, receiver_of, register_portal_receiver, stored_events

    register_portal_receiver(variant_client)
    receiver, _ = receiver_of(app)
    hook = receiver.webhook_id
    ok(variant_client.post(f"/webhooks/{hook}/test", data={"csrf_token": csrf(variant_client, f"/webhooks/{hook}")}),
       "test event")
    assert sim_of(app).deliver_due() == 1
    assert [e.event_type for e in stored_events(app)] == ["webhook.test"]


def test_an_endpoint_that_delivered_and_failed_never_reads_as_never_succeeded_or_never_failed(app, variant_client):
    """An upstream may leave out when the last success or failure was: the counts still say there were some."""
    sim = sim_of(app)
    hook = next(h for h in sim.webhooks.values() if "legacy.acme.example" in h.url)  # both, in the last 7 days
    card = page(ok(variant_client.get("/overview/cards/webhook_health", headers={"HX-Request": "true"}), "health"))
    row = next(tr for tr in card.select("tbody tr") if "legacy.acme.example" in tr.get_text())
    assert row.select("td")[-1].get_text(" ", strip=True).lower() != "none"
    listed = page(ok(variant_client.get("/webhooks/"), "webhooks")).select_one(f"#webhook-{hook.id}")
    last_success, last_failure = (td.get_text(" ", strip=True) for td in listed.select("td")[4:6])
    assert last_success != "never" and last_failure != "none"
    assert "last success never" not in text_of(ok(variant_client.get(f"/webhooks/{hook.id}"), "deliveries"))
