"""SIR Giving's clock off this machine's (the simulator's clock-offset variant, a real upstream's clock 400 s
ahead): the client measures it from the `Date` header and signs with the corrected time. Calls are counted over
the wire (the simulator's own count, and the client's record of each request sent)."""

from __future__ import annotations

import logging
import time

import pytest

from tests.conftest import make_app
from webapp.embedded import simulator_time
from webapp.sir import errors
from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential, SirClient
from webapp.sir.transport import WSGITransport


def fresh_client(app) -> SirClient:
    """A client that has never heard from SIR Giving, as a portal worker just started (no cache)."""
    simulator_app = app.extensions["simulator_app"]
    sir = app.extensions["sir_client"]
    return SirClient(sandbox_url=sir.base_urls["sandbox"], production_url=sir.base_urls["production"],
                     transport=WSGITransport(simulator_app), clock=simulator_time(simulator_app))


def acme_key(app) -> Credential:
    sir = app.extensions["sir_client"]
    token = sir.login("admin@acme.example", "sandbox-demo")["token"]
    created = AccountApi(sir, token).create_key("skew tests", "sandbox")
    return Credential(created["id"], created["secretKey"], created["hmacSecret"])


def served(app) -> int:
    return app.extensions["simulator_app"].extensions["sir_simulator"].requests_served()


@pytest.fixture(params=["clock-offset=400", "errors=opaque,clock-offset=400"], ids=["coded", "opaque"])
def skewed_app(tmp_path, request):
    return make_app(tmp_path, simulator_config={"VARIANT": request.param})


def test_the_first_signed_call_is_sent_again_once_on_sir_givings_time_and_the_next_goes_once(skewed_app):
    credential, client, calls = acme_key(skewed_app), fresh_client(skewed_app), []
    api = PartnerApi(client, credential, "sandbox", record=calls.append)
    before = served(skewed_app)
    assert api.get("/v1/partner/token-pools").status == 200
    assert [c.status for c in calls] == [401, 200] and served(skewed_app) - before == 2
    calls.clear()
    assert api.get("/v1/partner/campaigns").status == 200
    assert [c.status for c in calls] == [200] and served(skewed_app) - before == 3
    assert 397 <= client.clock_offset(client.base_urls["sandbox"]) <= 403


def test_a_write_refused_for_its_timestamp_is_sent_again_once_and_applied_once(skewed_app):
    credential, client, calls = acme_key(skewed_app), fresh_client(skewed_app), []
    api = PartnerApi(client, credential, "sandbox", record=calls.append)
    sim = skewed_app.extensions["simulator_app"].extensions["sir_simulator"]
    before = len(sim.webhooks)
    api.post("/v1/partner/webhooks", {"url": "https://hooks.acme.example/skew", "eventTypes": ["action.completed"]})
    assert [c.status for c in calls] == [401, 201] and len(sim.webhooks) == before + 1


def test_the_portals_clock_states_sir_givings_time_once_measured(skewed_app):
    client = skewed_app.extensions["sir_client"]
    client.login("admin@acme.example", "sandbox-demo")  # any reply over the wire measures the clock
    with skewed_app.app_context():
        from webapp import clock

        assert 397 <= clock.timestamp() - time.time() <= 403


def test_a_refused_key_is_not_sent_again_when_the_clock_agrees(app):
    client, calls = fresh_client(app), []
    unknown = PartnerApi(client, Credential(None, "sk_test_" + "0" * 32, "0" * 64), "sandbox", record=calls.append)
    with pytest.raises(errors.InvalidApiKey):
        unknown.get("/v1/partner/token-pools")
    assert len(calls) == 1 and abs(client.clock_offset(client.base_urls["sandbox"])) <= 2
    assert abs(client.sir_time() - client.clock()) < 0.1  # within the tolerance nothing is corrected


def test_a_refused_key_with_sir_giving_off_is_sent_again_once_at_most(tmp_path):
    app = make_app(tmp_path, simulator_config={"VARIANT": "clock-offset=400"})
    client, calls = fresh_client(app), []
    unknown = PartnerApi(client, Credential(None, "sk_test_" + "0" * 32, "0" * 64), "sandbox", record=calls.append)
    for _ in range(2):
        with pytest.raises((errors.InvalidApiKey, errors.TimestampExpired)):
            unknown.get("/v1/partner/token-pools")
    assert len(calls) <= 3  # at most one retry, on the first call only


def test_the_measured_offset_is_logged_once_per_change_without_secrets(skewed_app, caplog):
    credential, client = acme_key(skewed_app), fresh_client(skewed_app)
    api = PartnerApi(client, credential, "sandbox")
    caplog.clear()  # the key's creation above was another client's (the portal's own) measurement
    with caplog.at_level(logging.INFO, logger="webapp.sir.client"):
        for path in ("/v1/partner/token-pools", "/v1/partner/campaigns", "/v1/partner/users"):
            api.get(path)
    lines = [r.getMessage() for r in caplog.records if r.name == "webapp.sir.client"]
    assert len(lines) == 1 and "s from this machine's" in lines[0] and ("+4" in lines[0] or "+39" in lines[0])
    assert credential.secret_key not in lines[0] and credential.hmac_secret not in lines[0]


def test_moving_the_demo_clock_is_no_skew_the_portal_corrects_for(tmp_path):
    # The move's own reply is stamped after the jump while the call left before it: read as a skew, half the move
    # (12 h for a day) would be added to every time the portal states next.
    from webapp.sir.operator import SimulatorControls

    app = make_app(tmp_path)
    client = app.extensions["sir_client"]
    SimulatorControls(client).advance_clock(86_400)
    assert abs(client.sir_time() - client.clock()) <= 2
    assert abs(client.clock_offset(client.base_urls["sandbox"]) or 0) <= 2
