"""Sign-in, sign-out, session expiry, rate limit, CSRF and redirects — as the admin experiences them."""

import time

from tests.conftest import csrf_token_from, form_values, make_app, text_of


def test_the_login_page_shows_the_demo_accounts_on_the_embedded_default(client):
    shown = text_of(client.get("/login"))
    assert "admin@acme.example" in shown and "admin@globex.example" in shown and "sandbox-demo" in shown


def test_signing_in_lands_on_set_up_then_the_overview(client, auth):
    response = auth.login("acme")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    # No credential yet: the overview sends the admin to set-up first.
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith("/onboarding/")
    created = client.post("/onboarding/create", data=form_values(client.get("/onboarding/"), "form#create-portal-key"))
    assert created.status_code == 302
    overview = client.get("/")
    assert overview.status_code == 200
    assert "Acme Rewards" in text_of(overview)


def test_a_wrong_password_says_so_and_signs_nobody_in(client, auth):
    response = auth.login("acme", password="not-the-password")
    assert response.status_code == 422
    assert "Email or password is wrong." in text_of(response)
    assert client.get("/audit/").status_code == 302


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(client, auth):
    response = auth.login("nobody@example.org", password="sandbox-demo")
    assert response.status_code == 422
    assert "Email or password is wrong." in text_of(response)


def test_a_malformed_email_is_refused_in_place(client):
    shown = client.get("/login")
    data = form_values(shown, "form#login-form")
    data.update(email="not-an-email", password="x")
    response = client.post("/login", data=data)
    assert response.status_code == 422
    assert "Enter an email address like name@example.com." in text_of(response)


def test_the_session_id_is_renewed_at_sign_in(client, auth):
    client.get("/login")
    before = client.get_cookie("portal_session")
    auth.login("acme")
    after = client.get_cookie("portal_session")
    assert before is not None and after is not None and before.value != after.value


def test_the_session_cookie_is_httponly_and_samesite_lax(client, auth):
    response = auth.login("acme")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_signing_out_destroys_the_session(client, auth):
    auth.sign_in("acme")
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/audit/").status_code == 302


def test_an_expired_session_sends_the_admin_to_login_with_next(client, auth):
    auth.sign_in("acme")
    with client.session_transaction() as stored:
        stored["jwt_expires_at"] = time.time() - 1
    response = client.get("/audit/?outcome=failure")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/audit/?outcome%3Dfailure"
    assert "Your session expired" in text_of(client.get(response.headers["Location"]))


def test_an_expired_session_on_a_form_post_comes_back_to_the_page_of_the_form(client, auth):
    auth.sign_in("acme")
    token = csrf_token_from(client.get("/token-pools/"))

    def post_after_expiry(headers):
        with client.session_transaction() as stored:
            stored["jwt_expires_at"] = time.time() - 1
        return client.post("/environment", data={"environment": "production", "csrf_token": token}, headers=headers)

    # htmx says which page it was on; a POST-only URL is never the way back.
    from_htmx = post_after_expiry({"HX-Request": "true", "HX-Current-URL": "http://localhost/token-pools/?refresh=1"})
    assert from_htmx.headers["HX-Redirect"] == "/login?next=/token-pools/?refresh%3D1"
    auth.sign_in("acme", with_portal_key=False)
    token = csrf_token_from(client.get("/token-pools/"))
    plain = post_after_expiry({"Referer": "http://localhost/webhooks/"})
    assert plain.headers["Location"] == "/login?next=/webhooks/"
    auth.sign_in("acme", with_portal_key=False)
    token = csrf_token_from(client.get("/token-pools/"))
    elsewhere = post_after_expiry({"Referer": "https://evil.example/webhooks/"})
    assert elsewhere.headers["Location"] == "/login"


def test_next_accepts_local_paths_only(client, auth):
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        client.post("/logout")
        response = auth.login("acme", next_url=hostile)
        assert response.headers["Location"] == "/", hostile
    response = auth.login("acme", next_url="/audit/")
    assert response.headers["Location"] == "/audit/"


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(client, auth):
    auth.sign_in("acme")
    response = client.post("/environment", data={"environment": "production"})
    assert response.status_code == 400
    assert "Form expired" in text_of(response)
    with client.session_transaction() as stored:
        assert stored["environment"] == "sandbox"


def test_htmx_sends_the_csrf_token_in_a_header(client, auth):
    auth.sign_in("acme")
    token = csrf_token_from(client.get("/audit/"))
    response = client.post("/environment", data={"environment": "production"},
                           headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302
    with client.session_transaction() as stored:
        assert stored["environment"] == "production"


def test_login_is_rate_limited_per_email_with_a_friendly_message(tmp_path):
    app = make_app(tmp_path, {"LOGIN_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    from tests.conftest import AuthActions

    auth = AuthActions(client)
    for _ in range(3):
        assert auth.login("acme", password="wrong").status_code == 422
    refused = auth.login("acme", password="sandbox-demo")
    assert refused.status_code == 429
    assert "Too many sign-in attempts" in text_of(refused)
    assert client.get("/audit/").status_code == 302  # the right password did not get through either


def test_every_page_names_the_partner_the_admin_and_the_environment(client, auth):
    auth.sign_in("globex")
    shown = text_of(client.get("/audit/"))
    assert "Globex Giving" in shown and "admin@globex.example" in shown and "Sandbox" in shown


def test_a_next_target_with_a_line_break_is_refused_instead_of_failing(client, auth):
    from webapp.web import safe_next

    for hostile in ("/audit/\r\nSet-Cookie: planted=1", "/audit/\nX: y", "/audit/\r", "/a\tb", "/a\x00b"):
        assert safe_next(hostile, "/") == "/", repr(hostile)
    response = auth.login("acme", next_url="/audit/%0D%0ASet-Cookie:%20planted=1")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def stored_sessions(app) -> int:
    import sqlite3

    with sqlite3.connect(app.config["SETTINGS"].instance_path / "portal.sqlite3") as connection:
        return connection.execute("SELECT count(*) FROM portal_sessions").fetchone()[0]


def test_an_anonymous_visit_to_the_login_page_stores_no_session(app):
    visitors = [app.test_client() for _ in range(3)]
    for visitor in visitors:
        shown = visitor.get("/login")
        assert shown.status_code == 200 and csrf_token_from(shown)
        visitor.get("/login")
    assert stored_sessions(app) == 0


def test_the_login_form_keeps_its_csrf_protection_without_a_stored_session(app):
    from tests.conftest import AuthActions

    mine, theirs = app.test_client(), app.test_client()
    data = form_values(mine.get("/login"), "form#login-form")
    data.update(email="admin@acme.example", password="sandbox-demo")
    assert theirs.post("/login", data=data).status_code == 400  # a token from another browser's page
    assert mine.post("/login", data={**data, "csrf_token": ""}).status_code == 400
    assert stored_sessions(app) == 0
    assert mine.post("/login", data=data).status_code == 302
    assert stored_sessions(app) == 1
    AuthActions(mine).logout()
    assert stored_sessions(app) == 0  # signing out removes it, and the "signed out" message needs none
    assert "You are signed out." in text_of(mine.get("/login"))
    assert stored_sessions(app) == 0


def test_the_first_overview_after_signing_in_asks_no_key_list_and_saves_nothing_before_its_head(client, auth, app,
                                                                                              simulator):
    """Signing in asks the admin's keys alongside /auth/me and starts the session with the partner's running
    campaign, so the first page neither asks them nor saves the session while its calls are leaving."""
    from sqlalchemy import event

    from tests.dashboard.test_streaming import chunks_of, served
    from webapp.sessions import SESSION_TABLE
    from webapp.store.db import db

    auth.sign_in("acme")  # the portal's key, as onboarding leaves it
    client.get("/")  # the partner's running campaign is known from here on
    auth.logout()
    keys_before, hosts = served(simulator, "/v1/partner/keys"), len(app.extensions["sir_client"].key_hosts())
    assert auth.login("acme").headers["Location"] == "/"
    assert served(simulator, "/v1/partner/keys") == keys_before + hosts  # the list, from every host that holds keys
    with app.app_context():
        engine = db.engine
    produced, writes = [0], []

    def seen(conn, cursor, statement, *args):
        if SESSION_TABLE in statement and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            writes.append(produced[0])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        body = b""
        for produced[0], chunk in enumerate(chunks_of(client.get("/", buffered=False)), start=1):
            body += chunk
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert 0 not in writes and 1 not in writes  # nothing saved before, or while, the head was made
    assert served(simulator, "/v1/partner/keys") == keys_before + hosts  # not asked again
    assert b"No campaign is running" not in body and b'slot="card-campaign"' in body


def test_a_slow_key_list_does_not_slow_signing_in_and_the_first_page_asks_it_itself(client, auth, app, simulator):
    auth.sign_in("acme")
    auth.logout()
    hosts = len(app.extensions["sir_client"].key_hosts())
    simulator.add_fault(method="GET", path="/v1/partner/keys", delay_ms=1000, count=hosts)
    began = time.monotonic()
    assert auth.login("acme").headers["Location"] == "/"
    assert time.monotonic() - began < 0.9  # /auth/me's time and a moment, not the key list's second
    with client.session_transaction() as stored:
        assert "key_flags" not in stored
    assert client.get("/").status_code == 200
    with client.session_transaction() as stored:
        assert "key_flags" in stored  # the page asked the list itself, and kept it
