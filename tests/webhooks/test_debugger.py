"""The signature debugger: the signed string, expected and received signatures, which part does not match
(secret, timestamp window, body bytes), a received event checked on its exact bytes; never the secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests.conftest import form_values, page
from tests.webhooks.helpers import envelope, post_event, receiver_of, register, register_portal_receiver, sign, stored_events
from webapp.webhooks.debugger import diagnose

BODY = b'{"id":"evt_dbg","type":"action.completed","createdAt":"2026-11-25T09:00:00Z","data":{"actionId":"a1"}}'
SECRET = "whsec_debugger_test_secret"


@pytest.fixture
def desk(app, client, auth):
    """Signed in, with the portal's receiver registered; returns (client, receiver row, its secret, form values)."""
    auth.sign_in("acme")
    register_portal_receiver(client)
    row, secret = receiver_of(app)
    return client, row, secret, form_values(client.get("/webhooks/debugger"), "form#debugger-form")


def check(desk, headers, body, **fields):
    client, row, _, form = desk
    data = {**form, "headers": headers, "body": body, "receiver": row.webhook_id, **fields}
    return page(client.post("/webhooks/debugger", data=data))


def headers_for(secret, body=BODY, timestamp=None):
    timestamp = timestamp or str(int(time.time()))
    return f"X-SIR-Timestamp: {timestamp}\nX-SIR-Signature: {sign(secret, timestamp, body)}", timestamp


def verdicts(shown):
    return {li["data-part"]: li["data-verdict"] for li in shown.select(".verdicts li")}


def test_a_good_delivery_shows_the_signed_string_and_matching_signatures(desk):
    secret = desk[2]
    headers, timestamp = headers_for(secret)
    shown = check(desk, headers, BODY.decode())
    assert "Signature matches" in shown.select_one(".verdict").get_text()
    assert shown.select_one(".signed-string").get_text() == f"{timestamp}.{BODY.decode()}"
    assert shown.select_one(".expected").get_text() == shown.select_one(".received").get_text() == sign(secret, timestamp, BODY)
    assert verdicts(shown) == {"timestamp window": "ok", "signature": "ok"}
    assert secret not in str(shown)


def test_re_serialised_json_is_named_as_a_body_bytes_mismatch(desk):
    headers, _ = headers_for(desk[2])
    shown = check(desk, headers, json.dumps(json.loads(BODY), indent=2))
    assert "Does not verify" in shown.select_one(".verdict").get_text()
    assert verdicts(shown)["body bytes"] == "bad"
    assert "re-serialised as compact JSON" in shown.select_one(".verdicts").get_text()
    assert "body bytes" in shown.select_one(".mismatch").get_text()


def test_a_stale_timestamp_is_named_even_when_the_signature_matches(desk):
    old = str(int(time.time()) - 900)
    headers, _ = headers_for(desk[2], timestamp=old)
    shown = check(desk, headers, BODY.decode())
    assert verdicts(shown) == {"timestamp window": "bad", "signature": "ok"}
    assert "Signed 900 s ago" in shown.select_one(".verdicts").get_text()


def test_the_secret_of_another_endpoint_is_named_and_no_secret_is_shown(app, desk):
    client = desk[0]
    other = register(client, url="https://hooks.acme.example/other", event_types=["action.failed"], keep_secret="y")
    other_secret = page(client.get(other.headers["Location"])).select_one("#webhook-secret").get_text()
    headers, _ = headers_for(other_secret)
    shown = check(desk, headers, BODY.decode())
    assert verdicts(shown) == {"timestamp window": "ok", "secret": "bad"}
    assert "signed with the secret of https://hooks.acme.example/other" in shown.get_text()
    assert other_secret not in str(shown) and desk[2] not in str(shown)


def test_a_pasted_secret_is_used_once_and_never_shown_back(desk):
    headers, _ = headers_for("whsec_pasted")
    shown = check(desk, headers, BODY.decode(), receiver="", secret="whsec_pasted")
    assert "Signature matches" in shown.get_text() and "using the pasted secret" in shown.get_text()
    full = desk[0].post("/webhooks/debugger", data={**desk[3], "headers": headers, "body": BODY.decode(), "secret": "whsec_pasted"})
    assert "whsec_pasted" not in full.get_data(as_text=True)
    assert page(full).select_one("input[name=secret]").get("value", "") == ""


def test_line_breaks_a_browser_adds_to_a_pasted_body_are_not_a_mismatch(desk):
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    headers, _ = headers_for(desk[2], body=pretty)
    shown = check(desk, headers, pretty.decode().replace("\n", "\r\n"))
    assert "Signature matches" in shown.get_text() and "your browser sent the pasted body" in shown.get_text()


def test_missing_headers_are_named(desk):
    shown = check(desk, "Content-Type: application/json", BODY.decode())
    assert verdicts(shown) == {"headers": "bad"}
    assert "Missing X-SIR-Timestamp and X-SIR-Signature" in shown.get_text()


def test_a_received_event_is_checked_at_once_on_its_exact_bytes(app, desk):
    client, row, secret, _ = desk
    post_event(app.test_client(), row.token, secret, envelope("evt_pick", tokensDistributed=50))
    (event,) = stored_events(app)
    picker = page(client.get("/webhooks/debugger")).select_one("form#pick-event")
    assert picker.select_one(f"option[value='{event.id}']") is not None
    shown = page(client.get(f"/webhooks/debugger?event={event.id}"))
    assert "Signature matches" in shown.select_one(".verdict").get_text()
    assert "measured when it arrived" in shown.select_one(".verdicts").get_text()
    assert shown.select_one(".signed-string").get_text() == f"{event.signature_timestamp}.{event.raw_body}"
    assert shown.select_one("textarea[name=body]").get_text() == event.raw_body
    assert secret not in str(shown)
    linked = page(client.get("/webhooks/events")).find("a", string="Check signature")["href"]
    assert linked == f"/webhooks/debugger?event={event.id}"


@pytest.mark.parametrize("received, part", [
    (lambda ts: sign(SECRET, ts, BODY).removeprefix("sha256="), "signature format"),
    (lambda ts: "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(), "signed string"),
    (lambda ts: sign(SECRET, ts, BODY + b"\n"), "body bytes"),
    (lambda ts: sign("whsec_someone_else", ts, BODY), "secret or body bytes"),
])
def test_the_part_that_does_not_match_is_named(received, part):
    timestamp = "1795600000"
    report = diagnose(f"X-SIR-Timestamp: {timestamp}\nX-SIR-Signature: {received(timestamp)}", BODY, SECRET,
                      "chosen secret", {}, now=1795600000)
    assert report.mismatch == [part]
    assert SECRET not in repr(report)


def test_milliseconds_in_the_timestamp_are_named():
    report = diagnose(f"X-SIR-Timestamp: 1795600000000\nX-SIR-Signature: {sign(SECRET, '1795600000000', BODY)}",
                      BODY, SECRET, "chosen secret", {}, now=1795600000)
    assert "milliseconds" in dict((p, w) for p, _, w in report.verdicts)["timestamp window"]
