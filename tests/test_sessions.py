"""The session store is written when the session changes, not on every request: a page view, a card partial or a
static file writes no row and sends no cookie; the expiry is still pushed back while the admin is at work."""

from __future__ import annotations

import sqlite3

from tests.conftest import csrf_token_from


def stored_expiries(app) -> list:
    with sqlite3.connect(app.config["SETTINGS"].instance_path / "portal.sqlite3") as connection:
        return [row[0] for row in connection.execute("SELECT expiry FROM portal_sessions")]


def test_viewing_pages_and_partials_writes_no_session_and_sends_no_cookie(app, client, signed_in):
    client.get("/")  # the first overview remembers what it learnt (the active campaign, the key flags)
    before = stored_expiries(app)
    assert len(before) == 1
    for response in (client.get("/"), client.get("/keys/"),
                     client.get("/overview/cards/summary", headers={"HX-Request": "true",
                                                                   "HX-Current-URL": "http://localhost/"})):
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert stored_expiries(app) == before


def test_a_static_file_reads_and_writes_no_session(app, client, signed_in):
    before = stored_expiries(app)
    response = client.get("/static/app.css")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert stored_expiries(app) == before


def test_a_changed_session_is_saved_at_once(app, client, signed_in):
    before = stored_expiries(app)
    token = csrf_token_from(client.get("/keys/"))
    switched = client.post("/environment", data={"environment": "production", "csrf_token": token})
    assert switched.status_code == 302
    assert "Set-Cookie" in switched.headers
    assert stored_expiries(app) != before


def test_the_expiry_is_pushed_back_once_it_is_due(app, client, signed_in):
    before = stored_expiries(app)
    app.session_interface.refresh_after = 0  # as if the last push were long ago
    response = client.get("/keys/")
    assert "portal_session=" in response.headers.get("Set-Cookie", "")
    assert stored_expiries(app) != before
    app.session_interface.refresh_after = 3600
    again = client.get("/keys/")
    assert "Set-Cookie" not in again.headers
