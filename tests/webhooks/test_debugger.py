"""The signature debugger: the signed string, whether the received signature matches and which part does not
(timestamp window, format, body bytes, secret), a received event checked on its exact bytes; never the secret,
and an expected signature only for a secret the user pasted (with a kept one the page would sign anything)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import re

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


def test_a_good_delivery_shows_the_signed_string_and_that_the_signature_matches(desk):
    secret = desk[2]
    headers, timestamp = headers_for(secret)
    shown = check(desk, headers, BODY.decode())
    assert "Signature matches" in shown.select_one(".verdict").get_text()
    assert shown.select_one(".signed-string").get_text() == f"{timestamp}.{BODY.decode()}"
    assert shown.select_one(".received").get_text() == sign(secret, timestamp, BODY)
    assert shown.select_one(".expected") is None and "Not shown" in shown.select_one(".expected-withheld").get_text()
    assert verdicts(shown) == {"timestamp window": "ok", "signature": "ok"}
    assert secret not in str(shown)


FORGED = json.dumps(envelope("evt_forged", "token_pool_request.approved", requestId="tpr_1", tokens=1_000_000),
                    separators=(",", ":"))


def signatures_on(html: str) -> set[str]:
    """Everything on a page that could be put in X-SIR-Signature: `sha256=…` and bare digests, as shown."""
    found = set(re.findall(r"sha256=[0-9A-Za-z+/=]+", html, re.I))
    found |= {"sha256=" + bare.lower() for bare in re.findall(r"\b[0-9a-fA-F]{64}\b", html)}
    return found


@pytest.mark.parametrize("body, received", [
    (FORGED, "sha256=" + "0" * 64),  # a made-up signature
    (FORGED, ""),  # no signature at all
    (FORGED.replace(",", ",\r\n"), "sha256=" + "f" * 64),  # line breaks the form turns into CRLF
    (json.dumps(json.loads(FORGED), indent=2), "SHA256=" + "A" * 64),  # a format problem too
])
def test_with_a_kept_secret_the_page_never_shows_a_signature_to_forge_a_delivery_with(app, desk, body, received):
    client, row, secret, _ = desk
    timestamp = str(int(time.time()))
    wanted = {sign(secret, timestamp, variant.encode()) for variant in (body, body.replace("\r\n", "\n"), FORGED)}
    headers = f"X-SIR-Timestamp: {timestamp}" + (f"\nX-SIR-Signature: {received}" if received else "")
    response = client.post("/webhooks/debugger", data={**desk[3], "headers": headers, "body": body,
                                                       "receiver": row.webhook_id})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Does not verify" in page(response).select_one(".verdict").get_text()
    for signature in wanted:
        digest = signature.removeprefix("sha256=")
        assert digest not in html.lower(), "the page shows a signature computed from the kept secret"
    for signature in signatures_on(html):  # whatever the page shows, the receiver refuses it
        for sent in (FORGED, body):
            refused = post_event(app.test_client(), row.token, secret, timestamp=timestamp, body=sent.encode(),
                                 signature=signature)
            assert refused.status_code == 401, signature
    assert stored_events(app) == []


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
    headers, timestamp = headers_for("whsec_pasted")
    shown = check(desk, headers, BODY.decode(), receiver="", secret="whsec_pasted")
    assert "Signature matches" in shown.get_text() and "using the pasted secret" in shown.get_text()
    assert shown.select_one(".expected").get_text() == sign("whsec_pasted", timestamp, BODY)
    full = desk[0].post("/webhooks/debugger", data={**desk[3], "headers": headers, "body": BODY.decode(), "secret": "whsec_pasted"})
    assert "whsec_pasted" not in full.get_data(as_text=True)
    assert page(full).select_one("input[name=secret]").get("value", "") == ""


def test_a_pasted_secret_shows_the_signature_it_expects_when_the_received_one_differs(desk):
    timestamp = str(int(time.time()))
    headers = f"X-SIR-Timestamp: {timestamp}\nX-SIR-Signature: sha256={'0' * 64}"
    shown = check(desk, headers, BODY.decode(), receiver="", secret="whsec_pasted")
    assert "Does not verify" in shown.select_one(".verdict").get_text()
    assert shown.select_one(".expected").get_text() == sign("whsec_pasted", timestamp, BODY)
    assert shown.select_one(".expected-withheld") is None


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
    assert shown.select_one(".expected") is None and shown.select_one(".expected-withheld") is not None
    assert secret not in str(shown)
    linked = page(client.get("/webhooks/events")).find("a", string="Check signature")["href"]
    assert linked == f"/webhooks/debugger?event={event.id}"


def diagnosed(received, body=BODY, timestamp="1795600000", **options):
    return diagnose(f"X-SIR-Timestamp: {timestamp}\nX-SIR-Signature: {received}", body, SECRET, "chosen secret", {},
                    now=1795600000, **options)


def hex_digest(secret, message):
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("received, parts, words", [
    (sign(SECRET, "1795600000", BODY).removeprefix("sha256="), ["signature format"],
     "The digest is right, but the `sha256=` prefix is missing"),
    ("sha256=" + hex_digest(SECRET, BODY), ["signed string"], "covers the body alone"),
    ("sha256=" + hex_digest(SECRET, b"1795600000" + BODY), ["signed string"], "without the \".\""),
    (sign(SECRET, "1795600000", BODY + b"\n"), ["body bytes"], "once the body is with a trailing newline"),
    (sign("whsec_someone_else", "1795600000", BODY), ["secret or body bytes"], "No match"),
    (sign(SECRET, "1795600000", BODY).upper().replace("SHA256=", "sha256="), ["signature format"],
     "The digest is right, but the hex is in capitals"),
    (sign(SECRET, "1795600000", BODY).replace("sha256=", "SHA256="), ["signature format"],
     "SIR Giving writes `sha256=` in lowercase"),
    (sign(SECRET, "1795600000", BODY).replace("sha256=", "v1="), ["signature format"],
     "The digest is right, but the prefix is `v1=`, not `sha256=`"),
    ("sha256=" + base64.b64encode(hmac.new(SECRET.encode(), b"1795600000." + BODY, hashlib.sha256).digest()).decode(),
     ["signature format"], "The digest is right, but the digest is base64"),
    ("sha1=" + hashlib.sha1(b"1795600000." + BODY).hexdigest(), ["signature format"],
     "40 hex characters where HMAC-SHA256 has 64 (SHA-1's length"),
    (sign(SECRET, "1795600000", BODY)[:-2], ["signature format"], "62 hex characters where HMAC-SHA256 has 64"),
    ("sha256=not-a-digest-at-all", ["signature format"], "the digest is not hexadecimal"),
    ("sha256=" + "é" * 64, ["signature format"], "the digest is not hexadecimal"),
    (sign("whsec_someone_else", "1795600000", BODY).upper(), ["signature format", "secret or body bytes"],
     "the hex is in capitals"),
])
def test_the_part_that_does_not_match_is_named(received, parts, words):
    report = diagnosed(received)
    assert report.mismatch == parts
    assert words in " ".join(why for _, _, why in report.verdicts)
    assert report.expected is None and SECRET not in repr(report)
    told = repr([report.verdicts, report.signed_string, report.expected]).lower()  # all but what was received
    assert hex_digest(SECRET, b"1795600000." + BODY) not in told


@pytest.mark.parametrize("body, words", [
    (BODY + b"\n", "The body ends with a line break"),
    (json.dumps(json.loads(BODY), indent=2).encode(), "The body is JSON laid out with spaces or line breaks"),
    (b"\xef\xbb\xbf" + BODY, "The body starts with a byte-order mark"),
])
def test_what_the_body_itself_suggests_is_named_without_a_matching_signature(body, words):
    report = diagnosed(sign("whsec_someone_else", "1795600000", body), body=body)
    assert report.mismatch == ["secret or body bytes"]
    assert words in " ".join(why for _, _, why in report.verdicts)


def test_a_compact_body_gets_no_layout_hint():
    report = diagnosed(sign("whsec_someone_else", "1795600000", BODY))
    assert "laid out" not in repr(report) and "line break" not in repr(report)


def test_only_a_pasted_secret_gives_the_expected_signature():
    received = "sha256=" + "0" * 64
    assert diagnosed(received).expected is None and diagnosed(received).secret_kept
    assert diagnosed(received, show_expected=True).expected == sign(SECRET, "1795600000", BODY)


def test_milliseconds_in_the_timestamp_are_named():
    report = diagnose(f"X-SIR-Timestamp: 1795600000000\nX-SIR-Signature: {sign(SECRET, '1795600000000', BODY)}",
                      BODY, SECRET, "chosen secret", {}, now=1795600000)
    assert "milliseconds" in dict((p, w) for p, _, w in report.verdicts)["timestamp window"]
