"""Where a webhook may be delivered: public addresses only (the embedded portal's policy, and the simulator's default),
checked at each delivery against what the host resolves to then, and connected to the very address checked; or
anywhere, for a developer's simulator on loopback. Names resolve through an injected resolver: no test looks up a
name or reaches the internet."""

from __future__ import annotations

import pytest

import simulator
from simulator.__main__ import parse_args
from simulator.delivery import DeliveryRefused, PublicAddressesOnly, post_pinned
from tests.addresses import http_receiver, listener, resolver
from tests.conftest import release_simulator
from tests.simulator.conftest import Partner

PUBLIC = "93.184.216.34"


def never_sent(*args):
    raise AssertionError("a refused delivery must not be sent")


def test_a_public_address_is_allowed_and_the_delivery_connects_to_the_address_that_was_checked():
    sent = []
    policy = PublicAddressesOnly(resolver({"hooks.partner.example.com": [PUBLIC]}),
                                 post=lambda url, address, *rest: sent.append((url, address)) or (204, ""))
    assert policy.address_for("https://hooks.partner.example.com/sir") == PUBLIC
    assert policy("https://hooks.partner.example.com/sir", {}, b"{}", 5) == (204, "")
    assert sent == [("https://hooks.partner.example.com/sir", PUBLIC)]


@pytest.mark.parametrize("url, reason", [
    ("https://127.0.0.1:6379/x", "refused: 127.0.0.1 is not a public address"),
    ("https://127.8.9.10/x", "refused: 127.8.9.10 is not a public address"),
    ("https://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is not a public address"),
    ("https://10.0.0.5/", "refused: 10.0.0.5 is not a public address"),
    ("https://192.168.1.20/", "refused: 192.168.1.20 is not a public address"),
    ("https://172.16.0.1/", "refused: 172.16.0.1 is not a public address"),
    ("https://100.64.0.1/", "refused: 100.64.0.1 is not a public address"),
    ("https://0.0.0.0/", "refused: 0.0.0.0 is not a public address"),
    ("https://[::1]/", "refused: ::1 is not a public address"),
    ("https://[::ffff:127.0.0.1]/", "refused: ::ffff:127.0.0.1 is not a public address"),
    ("https://[fe80::1]/", "refused: fe80::1 is not a public address"),
    ("https://[fd00::5]/", "refused: fd00::5 is not a public address"),
    ("https://db.partner.example.com/", "refused: 10.0.0.5 (db.partner.example.com) is not a public address"),
    ("https://split.partner.example.com/", "refused: 127.0.0.1 (split.partner.example.com) is not a public address"),
])
def test_it_refuses_every_address_that_is_not_public_and_sends_nothing(url, reason):
    policy = PublicAddressesOnly(resolver({"db.partner.example.com": ["10.0.0.5"],
                                           "split.partner.example.com": [PUBLIC, "127.0.0.1"]}), post=never_sent)
    with pytest.raises(DeliveryRefused) as refused:
        policy(url, {}, b"{}", 5)
    assert str(refused.value) == reason


def test_each_delivery_resolves_again_so_a_name_that_turns_to_loopback_later_is_refused():
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    sent = []
    policy = PublicAddressesOnly(lambda host, port: next(answers),
                                 post=lambda url, address, *rest: sent.append(address) or (204, ""))
    policy("https://rebind.partner.example.com/sir", {}, b"{}", 5)
    with pytest.raises(DeliveryRefused, match=r"127\.0\.0\.1 \(rebind.partner.example.com\)"):
        policy("https://rebind.partner.example.com/sir", {}, b"{}", 5)
    assert sent == [PUBLIC]


def test_the_pinned_post_connects_to_the_checked_address_and_sends_the_urls_host():
    with http_receiver() as (port, received):
        # The name resolves nowhere: the connection can only have gone to the address given.
        url = f"http://hooks.partner.invalid:{port}/sir"
        assert post_pinned(url, "127.0.0.1", {"Content-Type": "application/json"}, b"{}", 5) == (204, "")
    [(path, headers, body)] = received
    assert (path, headers["Host"], body) == ("/sir", f"hooks.partner.invalid:{port}", b"{}")


def test_a_refused_delivery_is_recorded_as_failed_with_the_reason_and_nothing_arrives():
    app = simulator.create_app({"DELIVERY_MODE": "manual", "RESOLVE": resolver({})})  # the default: public only
    sim = app.extensions["sir_simulator"]
    try:
        with listener() as (port, accepted):
            acme = Partner(app.test_client(), sim, "admin@acme.example")
            hook = acme.signed("POST", "/v1/partner/webhooks", {"url": f"https://127.0.0.1:{port}/x",
                                                                 "eventTypes": ["action.completed"]}).json
            assert acme.signed("POST", f"/v1/partner/webhooks/{hook['id']}/test").status_code < 300
            assert sim.deliver_due() == 1
            assert not accepted()
        (delivery,) = acme.signed("GET", f"/v1/partner/webhooks/{hook['id']}/deliveries").json["data"]
        assert delivery["status"] == "failed" and delivery["responseStatus"] is None
        assert delivery["error"] == "refused: 127.0.0.1 is not a public address"
    finally:
        release_simulator(sim)


def test_the_standalone_simulator_delivers_anywhere_on_loopback_and_only_to_public_addresses_elsewhere():
    assert parse_args([]).deliver_to == "anywhere"  # the developer's machine: a local portal is the receiver
    assert parse_args(["--host", "0.0.0.0"]).deliver_to == "public"
    assert parse_args(["--deliver-to", "public"]).deliver_to == "public"
    assert parse_args(["--host", "0.0.0.0", "--deliver-to", "anywhere"]).deliver_to == "anywhere"
