"""The Host header is the client's to write: a request to a host outside TRUSTED_HOSTS is answered 400, and the
address of the portal's own webhook receiver is never built from one."""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions, make_app, page, text_of
from tests.webhooks.helpers import receivers, register

TRUSTED = {"TRUSTED_HOSTS": "portal.acme.example,localhost"}


def signed_in_app(tmp_path, environ=None, also_at=("portal.acme.example", "evil.example")):
    """Signed in at localhost, and the same session sent to the hosts `also_at` (a browser would send it only to
    the host that set it; an attacker writes whatever Host header they like)."""
    app = make_app(tmp_path, environ)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    session = client.get_cookie("portal_session")
    for host in also_at:
        client.set_cookie("portal_session", session.value, domain=host)
    return app, client


@pytest.mark.parametrize("path", ["/login", "/webhooks/new", "/hooks/some-token"])
def test_a_request_to_an_untrusted_host_is_refused_when_trusted_hosts_is_set(tmp_path, path):
    app, client = signed_in_app(tmp_path, TRUSTED)
    refused = client.get(path, headers={"Host": "evil.example"})
    assert refused.status_code == 400 and "evil.example' is not trusted" in text_of(refused)
    assert client.get("/login", headers={"Host": "portal.acme.example:8443"}).status_code == 200  # any port


def test_registering_the_portal_receiver_from_an_untrusted_host_registers_nothing(tmp_path):
    app, client = signed_in_app(tmp_path, TRUSTED)
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    before = dict(simulator.webhooks)
    form = page(client.get("/webhooks/new")).select("form#register-webhook input[type=hidden]")
    data = {i["name"]: i.get("value", "") for i in form}
    data.update(use_portal_receiver="y", event_types=["action.completed"])
    evil = "https://evil.example"
    refused = client.post("/webhooks/new", data=data, base_url=evil, headers={"Referer": evil + "/webhooks/new"})
    assert refused.status_code == 400
    assert simulator.webhooks == before and receivers(app) == []


def test_the_receiver_url_offered_and_registered_is_on_the_trusted_host_the_admin_used(tmp_path):
    app, client = signed_in_app(tmp_path, TRUSTED)
    base = "https://portal.acme.example"  # TLS ended at a proxy, say
    offered = page(client.get("/webhooks/new", base_url=base))
    hint = offered.select_one("#use_portal_receiver-hint").get_text()
    assert "SIR Giving delivers to https://portal.acme.example/hooks/" in hint
    data = {i["name"]: i.get("value", "") for i in offered.select("form#register-webhook input[type=hidden]")}
    data.update(use_portal_receiver="y", event_types=["action.completed"])
    sent = client.post("/webhooks/new", data=data, base_url=base, headers={"Referer": base + "/webhooks/new"})
    assert sent.status_code == 302
    (row,) = receivers(app)
    assert row.url == f"https://portal.acme.example/hooks/{row.token}"


def test_a_host_flask_let_through_but_trusted_hosts_does_not_name_never_becomes_a_receiver_url(tmp_path):
    """Defence in depth: should Flask's own check be off, the receiver address still comes only from a trusted
    host, and the form says in place what to set."""
    app, client = signed_in_app(tmp_path)  # trusted: localhost, 127.0.0.1
    app.config["TRUSTED_HOSTS"] = None
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    before = dict(simulator.webhooks)
    offered = client.get("/webhooks/new", headers={"Host": "evil.example"})
    assert "evil.example" not in offered.get_data(as_text=True)
    ours = register(client, use_portal_receiver="y", event_types=["action.completed"])  # from localhost...
    assert ours.status_code == 302  # ...is fine; the same form from evil.example is not:
    data = {i["name"]: i.get("value", "") for i in page(offered).select("form#register-webhook input[type=hidden]")}
    data.update(use_portal_receiver="y", event_types=["action.completed"])
    refused = client.post("/webhooks/new", data=data, headers={"Host": "evil.example"})
    assert refused.status_code == 422
    errors = page(refused).select_one("#use_portal_receiver-errors").get_text()
    assert "Set PORTAL_PUBLIC_URL" in errors and "TRUSTED_HOSTS" in errors
    assert "evil.example" not in refused.get_data(as_text=True)
    assert all("evil.example" not in row.url for row in receivers(app))
    assert len(simulator.webhooks) == len(before) + 1


def test_the_quickstart_addresses_work_out_of_the_box(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    for base in ("http://127.0.0.1:5000", "http://localhost:5000"):
        assert client.get("/login", base_url=base).status_code == 200
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
