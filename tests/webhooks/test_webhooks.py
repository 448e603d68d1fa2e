"""Webhooks: endpoints, deliveries, retry and recovery, the portal's own receiver, events and the debugger."""

import csv
import hashlib
import hmac
import io
import json
import random
import time

import pytest

from tests.conftest import form_values, make_app, page, text_of, AuthActions
from webapp.store import db
from webapp.store.models import ReceivedEvent, ReceiverEndpoint


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Section 5, written independently of the portal: sha256=HMAC_SHA256_hex(secret, timestamp + "." + body)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def register(client, **fields):
    data = form_values(client.get("/webhooks/new"), "form#register-webhook")
    data.pop("use_portal_receiver", None)
    data.update(fields)
    return client.post("/webhooks/new", data=data)


def register_portal_receiver(client):
    response = register(client, use_portal_receiver="y", event_types=["action.completed", "token_pool_request.approved"],
                        description="Portal inbox")
    shown = client.get(response.headers["Location"])
    return response, shown


def receiver_of(app):
    with app.app_context():
        row = db.session.scalar(db.select(ReceiverEndpoint))
        return row, app.extensions["vault"].decrypt(row.secret_encrypted)


def stored_events(app):
    with app.app_context():
        return db.session.scalars(db.select(ReceivedEvent)).all()


def post_event(client, token, secret, event, timestamp=None, body=None, signature=None):
    body = body if body is not None else json.dumps(event).encode()
    timestamp = timestamp or str(int(time.time()))
    return client.post(f"/hooks/{token}", data=body, content_type="application/json",
                       headers={"X-SIR-Timestamp": timestamp, "X-SIR-Signature": signature or sign(secret, timestamp, body)})


def test_the_list_shows_each_endpoint_with_its_health_and_flags_the_failing_one(signed_in):
    rows = page(signed_in.get("/webhooks/")).select("table.webhooks-table tbody tr")
    failing = [r for r in rows if "row-flag" in r.get("class", [])]
    assert len(rows) == 2 and len(failing) == 1
    assert "https://legacy.acme.example/webhooks" in failing[0].get_text() and "in a row" in failing[0].get_text()
    assert "All events" in failing[0].get_text()


def test_register_shows_the_secret_once(app, signed_in):
    response = register(signed_in, url="https://hooks.acme.example/new", description="CRM", event_types=["action.failed"])
    assert response.status_code == 302
    shown = signed_in.get(response.headers["Location"])
    assert shown.headers["Cache-Control"].startswith("no-store")
    secret = page(shown).select_one("#webhook-secret").get_text()
    assert secret.startswith("whsec_")
    again = signed_in.get(response.headers["Location"])
    assert "no longer available" in text_of(again) and secret not in again.get_data(as_text=True)
    assert "https://hooks.acme.example/new" in text_of(signed_in.get("/webhooks/"))


def test_https_is_required_in_production_and_the_form_says_why(app, signed_in):
    from tests.conftest import csrf_token_from

    signed_in.post("/environment", data={"environment": "production", "csrf_token": csrf_token_from(signed_in.get("/audit/"))})
    signed_in.post("/onboarding/create", data=form_values(signed_in.get("/onboarding/"), "form#create-portal-key"))
    refused = register(signed_in, url="http://localhost:9000/hook", event_types=["action.failed"])
    assert refused.status_code == 422 and "Use HTTPS: events carry reward data" in text_of(refused)
    nothing = register(signed_in, url="https://x.example.org/hook")
    assert "Choose at least one event type" in text_of(nothing)


def test_delete_needs_the_url_typed(app, signed_in):
    response = register(signed_in, url="https://hooks.acme.example/temp", event_types=["action.failed"])
    signed_in.get(response.headers["Location"])
    row = next(r for r in page(signed_in.get("/webhooks/")).select("tbody tr") if "temp" in r.get_text())
    webhook_id = row["id"].removeprefix("webhook-")
    form = signed_in.get(f"/webhooks/{webhook_id}/delete")
    wrong = signed_in.post(f"/webhooks/{webhook_id}/delete", data={**form_values(form, "form#delete-webhook"), "confirm_url": "nope"})
    assert wrong.status_code == 422 and "Type the URL exactly" in text_of(wrong)
    gone = signed_in.post(f"/webhooks/{webhook_id}/delete", data={**form_values(form, "form#delete-webhook"),
                                                                   "confirm_url": "https://hooks.acme.example/temp"})
    assert gone.status_code == 302
    assert not [r for r in page(signed_in.get("/webhooks/")).select("tbody tr") if "temp" in r.get_text()]


def webhook_id_of(client, text):
    row = next(r for r in page(client.get("/webhooks/")).select("tbody tr") if text in r.get_text())
    return row["id"].removeprefix("webhook-")


def test_deliveries_filter_and_paginate(signed_in):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    failed = page(signed_in.get(f"/webhooks/{hook}?status=failed"))
    rows = failed.select("table.deliveries-table tbody tr")
    assert rows and all("failed" in r.select_one(".badge").get_text() for r in rows)
    assert len(page(signed_in.get(f"/webhooks/{hook}")).select("tbody tr")) == 25
    second = page(signed_in.get(f"/webhooks/{hook}?page=2"))
    assert second.select("tbody tr") and "Page 2 of" in second.get_text()


def test_retry_one_failed_delivery(app, signed_in, simulator):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    row = page(signed_in.get(f"/webhooks/{hook}?status=failed")).select_one("tbody tr")
    delivery_id = row["id"].removeprefix("delivery-")
    form = row.select_one("form")
    response = signed_in.post(form["action"], data={"csrf_token": form.select_one("input")["value"]})
    assert response.status_code == 302
    assert simulator.deliver_due() >= 1
    assert simulator.deliveries[delivery_id].attempts >= 2
    assert "delivery retried" in text_of(signed_in.get("/audit/"))


def test_recover_counts_first_then_retries_every_failed_delivery_in_chunks(app, signed_in, simulator):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    failed_before = [d for d in simulator.deliveries.values() if d.webhook_id == hook and d.status == "failed"]
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 8 * 86400))
    preview = signed_in.get(f"/webhooks/{hook}/recover?since={since}")
    assert f"{len(failed_before)} failed deliveries since {since} will be retried" in text_of(preview)
    started = signed_in.post(f"/webhooks/{hook}/recover", data=form_values(preview, "form#recover-form"))
    progress_url = started.headers["Location"]
    for _ in range(20):
        shown = page(signed_in.get(progress_url, headers={"HX-Request": "true"}))
        if "done" in shown.get_text():
            break
    assert f"{len(failed_before)} of {len(failed_before)} retried" in shown.get_text()
    assert simulator.deliver_due() == len(failed_before)


def test_a_test_event_goes_end_to_end_into_the_receiver_and_onto_the_events_page(app, signed_in, simulator):
    response, shown = register_portal_receiver(signed_in)
    receiver, secret = receiver_of(app)
    assert page(shown).select_one("#webhook-secret").get_text() == secret
    hook = receiver.webhook_id
    sent = signed_in.post(f"/webhooks/{hook}/test", data={"csrf_token": form_values(signed_in.get(f"/webhooks/{hook}"), "form")["csrf_token"]})
    assert sent.status_code == 302
    assert simulator.deliver_due() == 1  # the simulator signs and posts to /hooks/<token>, in process
    events = page(signed_in.get("/webhooks/events"))
    assert events.select_one("table.events-table tbody tr .badge").get_text() == "webhook.test"
    delivery = page(signed_in.get(f"/webhooks/{hook}?refresh=1")).select_one("tbody tr")
    assert "succeeded" in delivery.get_text() and "HTTP 200" in delivery.get_text()


def test_events_drive_alerts_and_refresh_the_requests_list(app, signed_in, simulator):
    register_portal_receiver(signed_in)
    pending = next(r for r in simulator.requests.values() if r.status == "pending" and r.partner_id == next(
        p.id for p in simulator.partners.values() if p.slug == "acme-rewards"))
    signed_in.get("/token-pools/requests?status=pending")  # cached now
    simulator.decide_allocation_request(pending.id, approve=True)
    simulator.deliver_due()
    shown = text_of(signed_in.get("/token-pools/requests?status=pending"))
    assert "SIR Giving approved the top-up of 20,000 tokens" in shown  # the alert banner
    assert pending.id not in signed_in.get("/token-pools/requests?status=pending").get_data(as_text=True)


def test_the_receiver_refuses_bad_input_and_stores_nothing(app, signed_in):
    register_portal_receiver(signed_in)
    receiver, secret = receiver_of(app)
    event = {"id": "evt_x", "type": "action.completed", "createdAt": "2026-11-25T09:00:00Z", "data": {}}
    client = app.test_client()
    assert post_event(client, receiver.token, "whsec_wrong", event).status_code == 401
    stale = str(int(time.time()) - 301)
    assert post_event(client, receiver.token, secret, event, timestamp=stale).json["reason"] == "stale_timestamp"
    assert post_event(client, receiver.token, secret, event, body=b"not json").json["reason"] == "malformed"
    huge = b'{"id":"evt_big","type":"x","data":{"p":"' + b"a" * (1024 * 1024) + b'"}}'
    assert post_event(client, receiver.token, secret, event, body=huge).status_code == 413
    assert post_event(client, "not-a-token", secret, event).status_code == 404
    assert stored_events(app) == []


def test_a_redelivered_event_is_stored_once(app, signed_in):
    register_portal_receiver(signed_in)
    receiver, secret = receiver_of(app)
    event = {"id": "evt_once", "type": "action.completed", "createdAt": "2026-11-25T09:00:00Z", "data": {}}
    client = app.test_client()
    assert post_event(client, receiver.token, secret, event).json == {"received": True}
    assert post_event(client, receiver.token, secret, event).json == {"received": True, "duplicate": True}
    events = stored_events(app)
    assert len(events) == 1 and events[0].redeliveries == 1


def test_a_thousand_deliveries_with_duplicates_and_forgeries_are_stored_exactly_once(tmp_path):
    app = make_app(tmp_path, {"RECEIVER_RATE_LIMIT": "100000 per minute"})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    rng = random.Random(7)
    genuine, sent = [], []
    for n in range(800):
        genuine.append({"id": f"evt_{n:04d}", "type": "action.completed", "createdAt": "2026-11-25T09:00:00Z", "data": {"n": n}})
    sent += [(e, True) for e in genuine] + [(rng.choice(genuine), True) for _ in range(100)]
    sent += [({"id": f"evt_forged_{n}", "type": "action.completed", "data": {}}, False) for n in range(100)]
    rng.shuffle(sent)
    for event, honest in sent:
        response = post_event(client, receiver.token, secret if honest else "whsec_forger", event)
        assert response.status_code == (200 if honest else 401)
    stored = stored_events(app)
    assert len(stored) == 800 and {e.event_id for e in stored} == {e["id"] for e in genuine}
    assert sum(e.redeliveries for e in stored) == 100


def test_the_receiver_is_exempt_from_csrf_but_rate_limited(tmp_path):
    app = make_app(tmp_path, {"RECEIVER_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    statuses = [post_event(app.test_client(), receiver.token, secret, {"id": f"e{n}", "type": "t", "data": {}}).status_code
                for n in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_deliveries_export_as_csv_without_bodies(signed_in):
    hook = webhook_id_of(signed_in, "legacy.acme.example")
    response = signed_in.get(f"/webhooks/{hook}/deliveries.csv?status=failed")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and all(r["status"] == "failed" for r in rows)
    assert "payload" not in rows[0] and "response_body" not in response.get_data(as_text=True)


def test_the_debugger_shows_what_was_signed_and_which_part_differs(app, signed_in, simulator):
    register_portal_receiver(signed_in)
    receiver, secret = receiver_of(app)
    body = b'{"id":"evt_dbg","type":"action.completed","data":{"actionId":"a1"}}'
    timestamp = str(int(time.time()))
    good = sign(secret, timestamp, body)
    form = form_values(signed_in.get("/webhooks/debugger"), "form#debugger-form")
    headers = f"X-SIR-Timestamp: {timestamp}\nX-SIR-Signature: {good}"
    ok = page(signed_in.post("/webhooks/debugger", data={**form, "headers": headers, "body": body.decode(), "receiver": receiver.webhook_id}))
    assert "Signature matches" in ok.get_text() and ok.select_one(".signed-string").get_text() == f"{timestamp}.{body.decode()}"
    assert secret not in str(ok)
    pretty = json.dumps(json.loads(body), indent=2)
    changed = page(signed_in.post("/webhooks/debugger", data={**form, "headers": headers, "body": pretty, "receiver": receiver.webhook_id}))
    assert "Does not verify" in changed.get_text() and "compact JSON re-serialisation" in changed.get_text()
    old = str(int(time.time()) - 900)
    stale = page(signed_in.post("/webhooks/debugger", data={**form, "headers": f"X-SIR-Timestamp: {old}\nX-SIR-Signature: {sign(secret, old, body)}",
                                                           "body": body.decode(), "receiver": receiver.webhook_id}))
    assert "Sent 900 s ago" in stale.get_text()
    pasted = page(signed_in.post("/webhooks/debugger", data={**form, "headers": headers, "body": body.decode(), "secret": "whsec_other"}))
    assert "Does not verify" in pasted.get_text() and "whsec_other" not in str(pasted)
