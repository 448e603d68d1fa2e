"""The portal's own receiver, `/hooks/<token>`: verifies per section 5, refuses what it must (storing
nothing), stores each event once, commits before the 2xx, needs no CSRF token, and is rate limited after the
signature is checked (refusals per address, genuine deliveries per receiver)."""

from __future__ import annotations

import json
import random
import time

import pytest

from tests.conftest import AuthActions, make_app
from tests.webhooks.helpers import envelope, post_event, receiver_of, register_portal_receiver, sign, stored_events


@pytest.fixture
def inbox(app, client, auth):
    """A signed-in partner with an endpoint delivered to the portal's receiver: (app, token, secret)."""
    auth.sign_in("acme")
    register_portal_receiver(client)
    row, secret = receiver_of(app)
    return app, row.token, secret


def test_a_genuine_event_is_acknowledged_and_stored_with_its_exact_bytes(inbox):
    app, token, secret = inbox
    body = b'{"id":"evt_ok","type":"action.completed","createdAt":"2026-11-25T09:00:00Z","data":{"tokensDistributed":50}}'
    response = post_event(app.test_client(), token, secret, body=body)
    assert response.status_code == 200 and response.json == {"received": True}
    (event,) = stored_events(app)
    assert (event.event_id, event.event_type, event.raw_body) == ("evt_ok", "action.completed", body.decode())
    assert event.signature == sign(secret, event.signature_timestamp, body)


def test_it_refuses_a_bad_signature_and_stores_nothing(inbox):
    app, token, secret = inbox
    response = post_event(app.test_client(), token, "whsec_not_the_secret", envelope())
    assert response.status_code == 401 and response.json["reason"] == "bad_signature"
    assert stored_events(app) == []


def test_it_refuses_a_signature_over_other_bytes_and_stores_nothing(inbox):
    app, token, secret = inbox
    timestamp = str(int(time.time()))
    signed = json.dumps(envelope(tokens=50)).encode()
    tampered = json.dumps(envelope(tokens=5000)).encode()
    response = post_event(app.test_client(), token, secret, body=tampered, timestamp=timestamp,
                          signature=sign(secret, timestamp, signed))
    assert response.status_code == 401 and stored_events(app) == []


def test_it_refuses_a_stale_timestamp_and_stores_nothing(inbox):
    app, token, secret = inbox
    stale = str(int(time.time()) - 301)
    response = post_event(app.test_client(), token, secret, envelope(), timestamp=stale)
    assert response.status_code == 401 and response.json["reason"] == "stale_timestamp"
    assert stored_events(app) == []


def test_it_refuses_a_timestamp_from_the_future_and_stores_nothing(inbox):
    app, token, secret = inbox
    ahead = str(int(time.time()) + 330)  # outside the 300 s window with room for a slow machine
    response = post_event(app.test_client(), token, secret, envelope(), timestamp=ahead)
    assert response.status_code == 401 and response.json["reason"] == "stale_timestamp"
    assert stored_events(app) == []


def test_a_timestamp_just_inside_the_window_is_accepted(inbox):
    app, token, secret = inbox
    response = post_event(app.test_client(), token, secret, envelope(), timestamp=str(int(time.time()) - 290))
    assert response.status_code == 200 and len(stored_events(app)) == 1


def test_it_refuses_missing_signature_headers_and_stores_nothing(inbox):
    app, token, secret = inbox
    client = app.test_client()
    body = json.dumps(envelope()).encode()
    no_signature = client.post(f"/hooks/{token}", data=body, content_type="application/json",
                               headers={"X-SIR-Timestamp": str(int(time.time()))})
    no_timestamp = client.post(f"/hooks/{token}", data=body, content_type="application/json",
                               headers={"X-SIR-Signature": sign(secret, str(int(time.time())), body)})
    assert no_signature.status_code == no_timestamp.status_code == 401
    assert no_signature.json["reason"] == "missing_headers"
    assert stored_events(app) == []


def test_it_refuses_a_body_over_one_mebibyte_and_stores_nothing(inbox):
    app, token, secret = inbox
    huge = b'{"id":"evt_big","type":"action.completed","data":{"p":"' + b"a" * (1024 * 1024) + b'"}}'
    response = post_event(app.test_client(), token, secret, body=huge)
    assert response.status_code == 413 and response.json["reason"] == "too_large"
    assert stored_events(app) == []


def test_it_refuses_an_oversize_body_sent_without_a_length(inbox):
    app, token, secret = inbox
    import io

    huge = b'{"id":"evt_big","type":"action.completed","data":{"p":"' + b"a" * (1024 * 1024 + 10) + b'"}}'
    timestamp = str(int(time.time()))
    response = app.test_client().post(f"/hooks/{token}", input_stream=io.BytesIO(huge), content_type="application/json",
                                      headers={"Transfer-Encoding": "chunked", "X-SIR-Timestamp": timestamp,
                                               "X-SIR-Signature": sign(secret, timestamp, huge)},
                                      environ_overrides={"wsgi.input_terminated": True})  # as a server does for chunked
    assert response.status_code == 413 and response.json["reason"] == "too_large"
    assert stored_events(app) == []


@pytest.mark.parametrize("body", [b"not json", b"[1,2,3]", b'{"type":"action.completed","data":{}}',
                                  b'{"id":"evt_1","data":{}}', b'{"id":"evt_1","type":"action.completed","data":"x"}',
                                  b'{"id":42,"type":"action.completed","data":{}}'],
                         ids=["not-json", "not-an-object", "no-id", "no-type", "data-not-an-object", "id-not-a-string"])
def test_it_refuses_a_signed_body_that_is_not_an_event_envelope_and_stores_nothing(inbox, body):
    app, token, secret = inbox
    response = post_event(app.test_client(), token, secret, body=body)
    assert response.status_code == 400 and response.json["reason"] == "malformed"
    assert stored_events(app) == []


def test_an_unknown_address_is_not_found_and_stores_nothing(inbox):
    app, token, secret = inbox
    response = post_event(app.test_client(), token[:-2] + "xx", secret, envelope())
    assert response.status_code == 404 and stored_events(app) == []


def test_a_redelivered_event_is_acknowledged_and_stored_once(inbox):
    app, token, secret = inbox
    client = app.test_client()
    assert post_event(client, token, secret, envelope("evt_once")).json == {"received": True}
    again = post_event(client, token, secret, envelope("evt_once"), timestamp=str(int(time.time()) + 1))
    assert again.status_code == 200 and again.json == {"received": True, "duplicate": True}
    (event,) = stored_events(app)
    assert event.redeliveries == 1


def test_a_redelivery_from_the_simulator_is_stored_once(app, client, auth, simulator):
    """The portal stores the event, but its answer is lost on the way back (SIR Giving sees a timeout): SIR
    Giving sends the same event again later, and the portal acknowledges it without storing it twice."""
    auth.sign_in("acme")
    register_portal_receiver(client)
    row, _ = receiver_of(app)
    hook = simulator.webhooks[row.webhook_id]
    real = simulator.deliverer.deliver
    answers = []

    def answer_lost_once(url, headers, body, timeout):
        status, text = real(url, headers, body, timeout)
        if url != hook.url:
            return status, text
        answers.append((status, json.loads(text)))
        if len(answers) == 1:
            raise TimeoutError("read timed out")
        return status, text

    simulator.deliverer.deliver = answer_lost_once
    raised = simulator.raise_event(hook.partner_id, hook.environment, "action.completed", {"actionId": "act_1"})
    (delivery_id,) = [d for d in raised["deliveryIds"] if simulator.deliveries[d].webhook_id == hook.id]
    simulator.deliver_due()
    assert simulator.deliveries[delivery_id].status == "failed"
    simulator.retry_delivery(delivery_id)
    simulator.deliver_due()
    assert simulator.deliveries[delivery_id].status == "succeeded"
    assert answers == [(200, {"received": True}), (200, {"received": True, "duplicate": True})]
    (event,) = stored_events(app)
    assert event.event_id == raised["id"] and event.redeliveries == 1


def test_an_acknowledged_event_is_already_committed(inbox):
    """The 200 is sent after the commit: a new connection to the database sees the event."""
    app, token, secret = inbox
    from sqlalchemy import create_engine, text

    assert post_event(app.test_client(), token, secret, envelope("evt_durable")).status_code == 200
    with app.app_context():
        url = app.extensions["sqlalchemy"].engine.url
    with create_engine(url).connect() as other:
        assert other.execute(text("select event_id from received_events")).scalars().all() == ["evt_durable"]


@pytest.mark.slow
def test_a_thousand_deliveries_with_duplicates_and_forgeries_are_stored_exactly_once(tmp_path):
    app = make_app(tmp_path)  # the default limits take a burst like a retry backlog after an outage
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    rng = random.Random(7)
    genuine = [envelope(f"evt_{n:04d}", n=n) for n in range(800)]
    sent = [(e, True) for e in genuine] + [(rng.choice(genuine), True) for _ in range(100)]
    sent += [(envelope(f"evt_forged_{n}"), False) for n in range(50)]
    sent += [({**rng.choice(genuine), "data": {"n": -1}}, False) for _ in range(50)]  # a known id, forged body
    rng.shuffle(sent)
    assert len(sent) == 1000
    receiver_client = app.test_client()
    for event, honest in sent:
        response = post_event(receiver_client, receiver.token, secret if honest else "whsec_forger", event)
        assert response.status_code == 200 if honest else response.status_code in (401, 429)
    stored = stored_events(app)
    assert len(stored) == 800 and {e.event_id for e in stored} == {e["id"] for e in genuine}
    assert sum(e.redeliveries for e in stored) == 100
    assert all(json.loads(e.raw_body)["data"]["n"] != -1 for e in stored)


def inbox_with(tmp_path, environ: dict):
    """An app built with `environ`, Acme signed in with a receiver: (app, receiver row, its secret)."""
    app = make_app(tmp_path, environ)
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    return (app, *receiver_of(app))


def sender(app, address: str):
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_flood_of_forgeries_gets_429s_and_genuine_deliveries_are_still_stored(tmp_path):
    app, receiver, secret = inbox_with(tmp_path, {"RECEIVER_REFUSAL_LIMIT": "5 per minute"})
    forger = sender(app, "198.51.100.7")
    forged = [post_event(forger, receiver.token, "whsec_forger", envelope(f"evt_forged_{n}")) for n in range(20)]
    assert [r.status_code for r in forged] == [401] * 5 + [429] * 15
    assert forged[-1].json["reason"] == "rate_limited" and int(forged[-1].headers["Retry-After"]) >= 1
    # SIR Giving's delivery to the same receiver, and even one from the forger's address, is still taken.
    genuine = post_event(sender(app, "203.0.113.50"), receiver.token, secret, envelope("evt_genuine"))
    same_address = post_event(forger, receiver.token, secret, envelope("evt_same_address"))
    assert (genuine.status_code, same_address.status_code) == (200, 200)
    assert [e.event_id for e in stored_events(app)] == ["evt_genuine", "evt_same_address"]


def test_genuine_deliveries_are_limited_per_receiver_and_forgeries_do_not_spend_that_budget(tmp_path):
    app, receiver, secret = inbox_with(tmp_path, {"RECEIVER_RATE_LIMIT": "3 per minute"})
    sir_giving, forger = sender(app, "203.0.113.50"), sender(app, "198.51.100.7")
    answers = []
    for n in range(4):
        assert post_event(forger, receiver.token, "whsec_forger", envelope(f"evt_forged_{n}")).status_code == 401
        answers.append(post_event(sir_giving, receiver.token, secret, envelope(f"e{n}")))
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[-1].json["reason"] == "rate_limited" and answers[-1].headers["Retry-After"]
    assert [e.event_id for e in stored_events(app)] == ["e0", "e1", "e2"]


def test_the_receiver_still_verifies_after_the_vault_key_is_rotated(tmp_path):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(tmp_path, {"VAULT_KEY": old})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    make_app(tmp_path, {"VAULT_KEY": f"{new},{old}"}).test_cli_runner().invoke(args=["vault", "rotate"])
    only_new = make_app(tmp_path, {"VAULT_KEY": new})
    response = post_event(only_new.test_client(), receiver.token, secret, envelope("evt_after_rotation"))
    assert response.status_code == 200 and [e.event_id for e in stored_events(only_new)] == ["evt_after_rotation"]


def test_a_receiver_whose_secret_cannot_be_decrypted_asks_to_be_retried_and_stores_nothing(tmp_path):
    from cryptography.fernet import Fernet

    app = make_app(tmp_path, {"VAULT_KEY": Fernet.generate_key().decode()})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    register_portal_receiver(client)
    receiver, secret = receiver_of(app)
    wrong_key = make_app(tmp_path, {"VAULT_KEY": Fernet.generate_key().decode()})
    response = post_event(wrong_key.test_client(), receiver.token, secret, envelope("evt_lost_key"))
    assert response.status_code == 503 and response.json["reason"] == "unavailable"
    assert stored_events(wrong_key) == []
