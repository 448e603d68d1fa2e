"""On the embedded default the simulator delivers from inside the portal's process, so it delivers only to public
addresses (checked at each delivery) or to the portal's own receiver (in process, no socket); and the register form
refuses a URL with a user name or password. Names resolve through an injected resolver: nothing is looked up, and
a listener on 127.0.0.1 shows that nothing arrives."""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions, make_app, page, text_of
from tests.addresses import listener, resolver
from tests.webhooks.helpers import csrf, receiver_of, register, register_portal_receiver, stored_events

DNS = {"internal.partner.example.com": ["127.0.0.1"], "portal.acme.example": ["10.0.0.7"]}


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, simulator_config={"RESOLVE": resolver(DNS)})


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def send_test_event(client, simulator, url):
    hook = next(h.id for h in simulator.webhooks.values() if h.url == url)
    client.post(f"/webhooks/{hook}/test", data={"csrf_token": csrf(client, f"/webhooks/{hook}")})
    assert simulator.deliver_due() == 1
    return hook


@pytest.mark.parametrize("url, reason", [
    ("https://127.0.0.1:{port}/x", "refused: 127.0.0.1 is not a public address"),
    ("https://internal.partner.example.com:{port}/x", "refused: 127.0.0.1 (internal.partner.example.com) is not a "
                                                      "public address"),
    ("https://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is not a public address"),
    ("https://10.0.0.5/", "refused: 10.0.0.5 is not a public address"),
])
def test_a_delivery_to_an_address_that_is_not_public_is_refused_and_nothing_leaves(signed_in, simulator, url, reason):
    with listener() as (port, accepted):
        url = url.format(port=port)
        assert register(signed_in, url=url, event_types=["action.completed"]).status_code == 302
        hook = send_test_event(signed_in, simulator, url)
        assert not accepted()
    (row,) = page(signed_in.get(f"/webhooks/{hook}")).select("table.deliveries-table tbody tr")
    assert "failed" in row.get_text()
    assert row.select_one(".failure-reason").get_text() == reason


def test_plain_http_to_the_metadata_address_is_refused_in_the_form(signed_in, simulator):
    before = len(simulator.webhooks)
    refused = register(signed_in, url="http://169.254.169.254/", event_types=["action.completed"])
    assert refused.status_code == 422 and "Use HTTPS" in page(refused).select_one("#url-errors").get_text()
    assert len(simulator.webhooks) == before


@pytest.mark.parametrize("url", ["https://user:pass@hooks.acme.example/sir", "https://token@hooks.acme.example/sir",
                                 "http://admin:admin@localhost:9000/hook"])
def test_a_url_with_a_user_name_or_password_is_refused_in_place_and_nothing_is_registered(signed_in, simulator, url):
    before = dict(simulator.webhooks)
    refused = register(signed_in, url=url, description="CRM", event_types=["action.completed"])
    assert refused.status_code == 422
    errors = page(refused).select_one("#url-errors").get_text()
    assert "Leave the user name and password out of the URL" in errors
    assert page(refused).select_one("#url")["value"] == url  # kept, to be corrected
    assert simulator.webhooks == before


def test_a_loopback_url_under_hooks_is_handed_to_the_portal_in_process_and_opens_no_socket(signed_in, simulator):
    with listener() as (port, accepted):
        url = f"https://127.0.0.1:{port}/hooks/not-a-receiver"
        assert register(signed_in, url=url, event_types=["action.completed"]).status_code == 302
        hook = send_test_event(signed_in, simulator, url)
        assert not accepted()
    (row,) = page(signed_in.get(f"/webhooks/{hook}")).select("table.deliveries-table tbody tr")
    assert "HTTP 404" in row.get_text()  # the portal's receiver knows no such address


def test_the_portals_own_receiver_still_gets_its_deliveries(app, signed_in, simulator):
    register_portal_receiver(signed_in)
    receiver, _ = receiver_of(app)
    assert receiver.url.startswith("http://localhost/hooks/")
    send_test_event(signed_in, simulator, receiver.url)
    assert [e.event_type for e in stored_events(app)] == ["webhook.test"]


def test_the_own_receiver_at_portal_public_url_is_delivered_in_process_even_where_its_name_is_private(tmp_path):
    app = make_app(tmp_path, {"PORTAL_PUBLIC_URL": "https://portal.acme.example"},
                   simulator_config={"RESOLVE": resolver(DNS)})  # portal.acme.example is 10.0.0.7 here: a LAN name
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, _ = receiver_of(app)
    assert receiver.url.startswith("https://portal.acme.example/hooks/")
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    send_test_event(client, simulator, receiver.url)
    assert [e.event_type for e in stored_events(app)] == ["webhook.test"]
    assert "webhook.test" in text_of(client.get("/webhooks/events"))
