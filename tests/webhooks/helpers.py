"""What the webhook tests share: signing per section 5 (written apart from the portal's code), registering
through the real form, and reading what the portal stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from tests.conftest import form_values, page
from webapp.store import db
from webapp.store.models import ReceivedEvent, ReceiverEndpoint


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Section 5: sha256=HMAC_SHA256_hex(secret, timestamp + "." + rawBody)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def register(client, **fields):
    """Submit the register form as a browser would, with `fields` changed."""
    data = form_values(client.get("/webhooks/new"), "form#register-webhook")
    data.pop("use_portal_receiver", None)
    data.update(fields)
    return client.post("/webhooks/new", data=data)


def register_portal_receiver(client, event_types=("action.completed", "token_pool_request.approved"), **fields):
    """Register an endpoint delivered to the portal's own receiver; returns (redirect, the secret page)."""
    response = register(client, use_portal_receiver="y", event_types=list(event_types),
                        description="Portal inbox", **fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response, client.get(response.headers["Location"])


def receivers(app) -> list[ReceiverEndpoint]:
    with app.app_context():
        rows = db.session.scalars(db.select(ReceiverEndpoint).order_by(ReceiverEndpoint.id)).all()
        db.session.expunge_all()
        return rows


def receiver_of(app):
    """The newest receiver row and its secret, decrypted from the vault."""
    row = receivers(app)[-1]
    with app.app_context():
        return row, app.extensions["vault"].decrypt(row.secret_encrypted)


def stored_events(app) -> list[ReceivedEvent]:
    """What a fresh database session sees: only what was committed."""
    with app.app_context():
        rows = db.session.scalars(db.select(ReceivedEvent).order_by(ReceivedEvent.id)).all()
        db.session.expunge_all()
        return rows


def envelope(event_id="evt_x", event_type="action.completed", **data):
    return {"id": event_id, "type": event_type, "createdAt": "2026-11-25T09:00:00Z", "data": data}


def post_event(client, token, secret, event=None, timestamp=None, body=None, signature=None, headers=None):
    body = body if body is not None else json.dumps(event, separators=(",", ":")).encode()
    timestamp = timestamp or str(int(time.time()))
    sent = {"X-SIR-Timestamp": timestamp, "X-SIR-Signature": signature or sign(secret, timestamp, body),
            "User-Agent": "SIRGiving-Webhooks/1.0"}
    sent.update(headers or {})
    return client.post(f"/hooks/{token}", data=body, content_type="application/json",
                       headers={k: v for k, v in sent.items() if v is not None})


def webhook_id_of(client, text):
    row = next(r for r in page(client.get("/webhooks/")).select("table.webhooks-table tbody tr") if text in r.get_text())
    return row["id"].removeprefix("webhook-")


def csrf(client, url="/webhooks/"):
    from tests.conftest import csrf_token_from

    return csrf_token_from(client.get(url))
