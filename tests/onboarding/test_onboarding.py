"""Giving the portal a credential: create one, or paste one that is checked before it is saved."""

from tests.conftest import csrf_token_from, form_values, page, post_form, session_jwt, text_of


def stored_credential(app, partner_id, environment="sandbox"):
    with app.app_context():
        return app.extensions["vault"].credential_for(partner_id, environment)


def partner_id(client):
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


def test_create_a_portal_key_stores_it_in_the_vault_and_shows_no_secret(app, client, auth):
    auth.login("acme")
    shown = client.get("/onboarding/")
    response = client.post("/onboarding/create", data=form_values(shown, "form#create-portal-key"), follow_redirects=True)
    credential = stored_credential(app, partner_id(client))
    assert credential is not None and credential.secret_key.startswith("sk_test_")
    body = response.get_data(as_text=True)
    assert credential.secret_key not in body and credential.hmac_secret not in body
    assert "The portal now signs sandbox calls" in text_of(response)


def test_a_double_submit_creates_one_key(app, client, auth, simulator):
    auth.login("acme")
    data = form_values(client.get("/onboarding/"), "form#create-portal-key")
    first = client.post("/onboarding/create", data=data)
    second = client.post("/onboarding/create", data=data)
    assert first.status_code == second.status_code == 302
    token = session_jwt(app, client)
    keys = app.extensions["sir_client"].jwt_call("GET", "/v1/partner/keys", token)
    keys = keys["data"] if isinstance(keys, dict) else keys
    assert len([k for k in keys if k["name"].startswith("Partner Ops Portal (sandbox")]) == 1


def test_pasting_a_working_key_saves_it_after_one_signed_check(app, client, auth):
    auth.login("acme")
    token = session_jwt(app, client)
    created = app.extensions["sir_client"].jwt_call(
        "POST", "/v1/partner/keys", token, json_body={"name": "Pasted", "environment": "sandbox", "keyType": "secret"})
    response = post_form(client, "/onboarding/", "form#paste-credential",
                         secret_key=created["secretKey"], hmac_secret=created["hmacSecret"])
    assert response.status_code == 302
    credential = stored_credential(app, partner_id(client))
    assert credential.secret_key == created["secretKey"] and credential.key_id == created["id"]


def test_a_pasted_key_with_the_wrong_hmac_secret_is_refused_and_nothing_is_saved(app, client, auth):
    auth.login("acme")
    token = session_jwt(app, client)
    created = app.extensions["sir_client"].jwt_call(
        "POST", "/v1/partner/keys", token, json_body={"name": "Pasted", "environment": "sandbox", "keyType": "secret"})
    response = post_form(client, "/onboarding/", "form#paste-credential",
                         secret_key=created["secretKey"], hmac_secret="0" * 64)
    assert response.status_code == 422
    assert "signature did not match" in text_of(response)
    assert stored_credential(app, partner_id(client)) is None


def test_a_production_key_is_refused_in_sandbox_before_anything_is_sent(app, client, auth):
    auth.login("acme")
    response = post_form(client, "/onboarding/", "form#paste-credential",
                         secret_key="sk_live_abcdef0123456789", hmac_secret="a" * 64)
    assert response.status_code == 422
    assert "This is a production key" in text_of(response)


def test_malformed_input_is_refused_in_place(client, auth):
    auth.login("acme")
    response = post_form(client, "/onboarding/", "form#paste-credential", secret_key="hello", hmac_secret="xyz")
    assert response.status_code == 422
    shown = text_of(response)
    assert "starts with sk_test_ or sk_live_" in shown and "64 hexadecimal characters" in shown


def test_a_bogus_pasted_production_key_is_reported_by_its_own_name_not_as_the_portals_key(client, auth):
    auth.login("acme")
    client.post("/environment", data={"environment": "production", "csrf_token": csrf_token_from(client.get("/audit/"))})
    response = post_form(client, "/onboarding/", "form#paste-credential",
                         secret_key="sk_live_bogus0000000000abcd", hmac_secret="a" * 64)
    assert response.status_code == 422
    error = page(response).select_one("form#paste-credential").get_text(" ", strip=True)
    assert "The pasted key sk_live_…abcd was refused by SIR Giving" in error
    assert "the key the portal signs with" not in text_of(response)
