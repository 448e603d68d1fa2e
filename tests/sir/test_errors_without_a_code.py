"""Errors whose body has no code, or is not JSON (the simulator's `errors=opaque` variant): mapped by HTTP
status and the kind of call, so only a 401 on the admin's own JWT call ends the sign-in."""

from __future__ import annotations

import pytest

from tests.conftest import AuthActions, make_app, page, text_of
from webapp.sir import errors
from webapp.sir.api import AccountApi, PartnerApi
from webapp.sir.client import Credential


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path, simulator_config={"VARIANT": "errors=opaque"})


@pytest.fixture
def sir(app):
    return app.extensions["sir_client"]


def test_an_opaque_401_on_a_signed_call_is_the_portals_key_not_the_admins_session(sir):
    token = sir.login("admin@acme.example", "sandbox-demo")["token"]
    created = AccountApi(sir, token).create_key("opaque", "sandbox")
    forged = PartnerApi(sir, Credential(None, created["secretKey"], "0" * 64), "sandbox")
    with pytest.raises(errors.CredentialRefused) as caught:
        forged.get("/v1/partner/token-pools")
    assert not isinstance(caught.value, errors.Unauthorized)
    assert "clock" in caught.value.message and caught.value.status == 401


def test_an_opaque_401_on_a_jwt_call_ends_the_sign_in(sir):
    token = sir.login("admin@acme.example", "sandbox-demo")["token"]
    header, payload, signature = token.split(".")
    with pytest.raises(errors.Unauthorized):
        sir.me(f"{header}.{payload}.{signature[::-1]}")


def test_an_opaque_401_on_sign_in_is_a_wrong_password(sir):
    with pytest.raises(errors.InvalidCredentials):
        sir.login("admin@acme.example", "nope")


def test_an_opaque_error_keeps_its_status_kind(sir, app):
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    token = sir.login("admin@acme.example", "sandbox-demo")["token"]
    with pytest.raises(errors.NotFound):
        AccountApi(sir, token).key("key_0000000000000000")
    with pytest.raises(errors.ValidationFailed) as refused:
        sir.jwt_call("POST", "/v1/partner/keys", token, json_body={})  # a 400 with no details to name a field
    assert refused.value.fields == [] and refused.value.sentence.startswith("SIR Giving refused the values")
    # Two tries on each host that lists keys (the sign-in host and the production host, read at once).
    simulator.add_fault("GET", "/v1/partner/keys", status=503, count=2 * len(sir.key_hosts()))
    with pytest.raises(errors.ServerError):
        AccountApi(sir, token).keys()


def test_a_refused_portal_key_shows_why_and_keeps_the_admin_signed_in(app):
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    sir = app.extensions["sir_client"]
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    token = sir.login("admin@acme.example", "sandbox-demo")["token"]
    with app.app_context():
        key_id = app.extensions["vault"].credential_for(partner_id, "sandbox").key_id
    AccountApi(sir, token).revoke_key(key_id)  # every signed call now answers a bare 401

    for _ in range(2):  # no loop: the same page again, still signed in, still saying why
        response = client.get("/token-pools/")
        assert response.status_code == 502 and response.headers.get("Location") is None
        assert "SIR Giving refused the portal's key" in text_of(response)
        with client.session_transaction() as stored:
            assert stored.get("jwt")


def test_a_form_refused_without_details_still_says_so_in_place(app):
    from tests.webhooks.helpers import register

    client = app.test_client()
    AuthActions(client).sign_in("acme")
    app.extensions["simulator_app"].extensions["sir_simulator"].add_fault("POST", "/v1/partner/webhooks",
                                                                          status=400, count=1)
    refused = register(client, url="https://hooks.acme.example/x", event_types=["action.failed"])
    assert refused.status_code == 502
    said = page(refused).select_one("#url-errors").get_text(" ", strip=True)
    assert said.startswith("SIR Giving refused the values") and "Check the values and try again." in said
