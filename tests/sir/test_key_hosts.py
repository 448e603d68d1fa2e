"""Which host JWT key management goes to (SIR_LIVE_KEYS_HOST; docs/architecture.md, "Hosts"): asserted on the
URLs that go over the wire, through a transport that notes each request before the simulator answers it."""

from __future__ import annotations

import pytest

from tests.conftest import make_app
from webapp.sir.api import AccountApi
from webapp.sir.client import SirClient
from webapp.sir.transport import WSGITransport

SANDBOX, PRODUCTION = "https://sandbox.simulator.invalid", "https://production.simulator.invalid"


class Noting(WSGITransport):
    def __init__(self, app):
        super().__init__(app)
        self.sent: list[tuple[str, str]] = []

    def send(self, request, **kwargs):
        self.sent.append((request.method, request.url))
        return super().send(request, **kwargs)


def account(tmp_path, live_keys_host: str):
    app = make_app(tmp_path)
    transport = Noting(app.extensions["simulator_app"])
    client = SirClient(sandbox_url=SANDBOX, production_url=PRODUCTION, transport=transport,
                       live_keys_host=live_keys_host)
    token = client.login("admin@acme.example", "sandbox-demo")["token"]
    transport.sent.clear()
    return AccountApi(client, token), transport.sent, app


def hosts(sent, method, path_part):
    return [url.split("/v1/")[0] for m, url in sent if m == method and path_part in url]


def test_production_keys_are_managed_on_the_production_host_and_sandbox_keys_where_the_admin_signed_in(tmp_path):
    api, sent, app = account(tmp_path, "production")
    live = api.create_key("live from the portal", "production")
    test = api.create_key("test from the portal", "sandbox")
    assert live["secretKey"].startswith("sk_live_") and test["secretKey"].startswith("sk_test_")
    assert hosts(sent, "POST", "/v1/partner/keys") == [PRODUCTION, SANDBOX]
    sent.clear()
    api.update_key(live["id"], name="renamed")
    api.update_key(test["id"], name="renamed too")
    api.revoke_key(live["id"])
    assert hosts(sent, "PATCH", "/v1/partner/keys/") == [PRODUCTION, SANDBOX]
    assert hosts(sent, "DELETE", "/v1/partner/keys/") == [PRODUCTION]


def test_the_key_list_asks_both_hosts_and_counts_a_key_once(tmp_path):
    api, sent, app = account(tmp_path, "production")
    keys = api.keys()
    assert set(hosts(sent, "GET", "/v1/partner/keys?")) == {SANDBOX, PRODUCTION}
    sim = app.extensions["simulator_app"].extensions["sir_simulator"]
    partner = next(iter({k.partner_id for k in sim.keys.values() if k.id == keys[0].id}))
    assert sorted(k.id for k in keys) == sorted(k.id for k in sim.keys.values() if k.partner_id == partner)
    live = next(k for k in keys if k.environment == "production")
    sent.clear()
    api.key(live.id)  # learnt from the list: a live key is read where it lives
    assert hosts(sent, "GET", f"/v1/partner/keys/{live.id}") == [PRODUCTION]


def test_with_sign_in_every_key_call_stays_on_the_sign_in_host(tmp_path):
    api, sent, _ = account(tmp_path, "sign-in")
    live = api.create_key("live from the portal", "production")
    api.keys()
    api.update_key(live["id"], name="renamed")
    api.revoke_key(live["id"])
    assert sent and {url.split("/v1/")[0] for _, url in sent} == {SANDBOX}


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="live_keys_host"):
        SirClient(sandbox_url=SANDBOX, production_url=PRODUCTION, live_keys_host="sandbox")
