"""The request log: with LOG_FORMAT=json one JSON line per request on stderr, its request id sent back and on to
SIR Giving, and never a secret in it."""

from __future__ import annotations

import json

import pytest

from tests.conftest import AuthActions, make_app, session_jwt
from tests.webhooks.helpers import envelope, post_event, receiver_of, register_portal_receiver

REQUEST_FIELDS = {"request_id", "method", "route", "status", "duration_ms", "upstream_calls", "upstream_cache_hits",
                  "upstream_ms", "partner_id"}


def json_lines(captured: str) -> list[dict]:
    """Every line written, each parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def request_lines(captured: str) -> list[dict]:
    return [line for line in json_lines(captured) if line["logger"] == "portal.requests"]


@pytest.fixture
def json_app(tmp_path):
    return make_app(tmp_path, {"LOG_FORMAT": "json"})


def test_a_request_writes_exactly_one_json_line_with_what_it_did(json_app, capsys):
    client = json_app.test_client()
    AuthActions(client).sign_in("acme")
    capsys.readouterr()
    response = client.get("/")
    assert response.status_code == 200
    (line,) = request_lines(capsys.readouterr().err)
    assert REQUEST_FIELDS <= line.keys()
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert (line["method"], line["route"], line["status"], line["level"]) == ("GET", "/", 200, "INFO")
    assert line["duration_ms"] > 0 and line["upstream_calls"] >= 5 and line["upstream_ms"] > 0
    assert line["partner_id"].startswith("ptn_")


def test_the_line_names_the_route_not_the_path_so_a_receiver_address_stays_out_of_the_log(json_app, capsys):
    client = json_app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(json_app)
    capsys.readouterr()
    assert post_event(json_app.test_client(), receiver.token, secret, envelope("evt_logged")).status_code == 200
    captured = capsys.readouterr().err
    (line,) = request_lines(captured)
    assert (line["route"], line["status"], line["partner_id"]) == ("/hooks/<token>", 200, receiver.partner_id)
    assert receiver.token not in captured and secret not in captured


def test_a_signed_in_page_logs_no_cookie_secret_or_token(json_app, capsys):
    client = json_app.test_client()
    AuthActions(client).sign_in("acme")
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    with json_app.app_context():
        credential = json_app.extensions["vault"].credential_for(partner_id, "sandbox")
    secrets = {"session cookie": client.get_cookie("portal_session").value, "JWT": session_jwt(json_app, client),
               "secret key": credential.secret_key, "HMAC secret": credential.hmac_secret,
               "query token": "tok_d0-not-log-me"}
    capsys.readouterr()
    for url in ("/", "/keys/", "/pools/", "/?next=tok_d0-not-log-me"):
        client.get(url, headers={"Authorization": f"Bearer {secrets['JWT']}"})
    captured = capsys.readouterr().err
    assert len(request_lines(captured)) == 4
    leaked = [name for name, value in secrets.items() if value in captured]
    assert leaked == []


def test_a_request_id_from_a_trusted_proxy_comes_back_and_reaches_sir_giving(tmp_path):
    app = make_app(tmp_path, {"TRUSTED_PROXIES": "1"})
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    seen_before = len(simulator.request_ids)
    response = client.get("/", headers={"X-Request-ID": "edge-7f3a9c"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "edge-7f3a9c"
    # The overview's cards load in worker threads; every call they made carries the id.
    heard = list(simulator.request_ids)[seen_before:]
    assert len(heard) >= 5 and set(heard) == {"edge-7f3a9c"}


def test_without_a_trusted_proxy_or_when_malformed_the_incoming_id_is_replaced(tmp_path):
    untrusted = make_app(tmp_path / "a").test_client()
    replaced = untrusted.get("/login", headers={"X-Request-ID": "edge-7f3a9c"}).headers["X-Request-ID"]
    assert replaced != "edge-7f3a9c" and len(replaced) == 32
    trusted = make_app(tmp_path / "b", {"TRUSTED_PROXIES": "1"}).test_client()
    for malformed in ("two words", "x" * 200, 'id"}, {"forged": "yes', "-leading-dash"):
        answered = trusted.get("/login", headers={"X-Request-ID": malformed}).headers["X-Request-ID"]
        assert answered != malformed and len(answered) == 32


def test_text_stays_the_default_format(app, client, capsys):
    capsys.readouterr()
    response = client.get("/login")
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "portal.requests" in line]
    assert f"[{response.headers['X-Request-ID']}] GET /login 200 in " in line


def test_a_password_typed_in_the_email_field_stays_out_of_the_log_when_sign_in_is_rate_limited(tmp_path, capsys):
    """The per-email ceiling (ten times LOGIN_RATE_LIMIT, from any address) is keyed by what was typed as the email."""
    app = make_app(tmp_path, {"LOG_FORMAT": "json", "LOGIN_RATE_LIMIT": "1 per minute"})
    capsys.readouterr()
    answers = []
    for n in range(11):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        answers.append(AuthActions(client).login("Hunter2-typed-in-the-wrong-field", password="x").status_code)
    assert answers[-1] == 429
    captured = capsys.readouterr().err
    assert [line["status"] for line in request_lines(captured) if line["method"] == "POST"] == answers
    assert "hunter2" not in captured.lower()
