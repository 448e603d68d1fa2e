"""No plaintext secret (key, HMAC secret, the admin's JWT) in the database, the HTTP cache or the log; Acme's
session never shows Globex data."""

import logging

from tests.conftest import AuthActions, session_jwt, text_of


def partner_of(client):
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


def test_no_secret_appears_in_the_database_the_cache_or_the_log(app, client, auth, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    auth.sign_in("acme")
    for path in ("/", "/audit/", "/onboarding/"):
        client.get(path)
    with app.app_context():
        credential = app.extensions["vault"].credential_for(partner_of(client), "sandbox")
    jwt = session_jwt(app, client)
    secrets = [credential.secret_key.encode(), credential.hmac_secret.encode(), jwt.encode()]
    instance = tmp_path / "instance"
    files = [p for p in instance.rglob("*") if p.is_file()]
    assert any(p.name.startswith("portal.sqlite3") for p in files)
    # The embedded simulator's journal (SIR Giving's side) knows every key's secrets and its JWT signing key:
    # it is sealed too.
    assert any(p.name == "simulator-state.jsonl" for p in files)
    secrets.append(b"PRIVATE KEY")
    assert any(p.name.startswith("http_cache.sqlite3") for p in files)
    for path in files:
        raw = path.read_bytes()
        for secret in secrets:
            assert secret not in raw, f"a secret is in {path.name}"
    for secret in secrets:
        assert secret.decode() not in caplog.text


def test_acmes_session_never_shows_globex_data(app):
    acme, globex = app.test_client(), app.test_client()
    AuthActions(acme).sign_in("acme")
    AuthActions(globex).sign_in("globex")
    for path in ("/", "/audit/"):
        acme_page, globex_page = text_of(acme.get(path)), text_of(globex.get(path))
        assert "Globex" not in acme_page, path
        assert "Acme" not in globex_page, path
