"""The portal's webhook receiver: `/hooks/<token>`, one unguessable path per registered webhook.

It reads the raw body, refuses anything over 1 MiB, verifies `X-SIR-Signature` per section 5 in constant
time and refuses timestamps more than 300 s away, then stores the event once (the event id is the
idempotency key: a redelivery is acknowledged, not stored twice) and commits before answering 2xx, so an
acknowledged event is never lost. No CSRF (the signature is the check); rate limited per address.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..limits import limiter
from ..sir import webhooks as verification
from ..sir.models import parse_time
from ..store import db
from ..store.models import ReceivedEvent, ReceiverEndpoint

receiver_bp = Blueprint("receiver", __name__)


def _limit():
    return current_app.config["SETTINGS"].receiver_rate_limit


def _refuse(status: int, reason: str, message: str):
    return jsonify({"received": False, "reason": reason, "message": message}), status


@receiver_bp.post("/hooks/<token>")
@limiter.limit(_limit)
def receive(token):
    endpoint = db.session.scalar(select(ReceiverEndpoint).filter_by(token=token))
    if endpoint is None:
        return _refuse(404, "unknown_endpoint", "No receiver at this address.")
    if (request.content_length or 0) > verification.MAX_BODY_BYTES:
        return _refuse(413, "too_large", "The body is larger than 1 MiB.")
    body = request.get_data(cache=False)
    secret = current_app.extensions["vault"].decrypt(endpoint.secret_encrypted)
    timestamp, signature = request.headers.get("X-SIR-Timestamp"), request.headers.get("X-SIR-Signature")
    verdict = verification.verify(secret, timestamp, signature, body, now=time.time())
    if not verdict.ok:
        status = 413 if verdict.reason == "too_large" else 401
        return _refuse(status, verdict.reason, verdict.message)
    try:
        event = json.loads(body)
        event_id, event_type = str(event["id"]), str(event["type"])
        if not isinstance(event.get("data", {}), dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "malformed", "The body is not a SIR Giving event envelope (JSON with id and type).")
    stored = ReceivedEvent(partner_id=endpoint.partner_id, environment=endpoint.environment, receiver_id=endpoint.id,
                           event_id=event_id[:128], event_type=event_type[:64], raw_body=body.decode("utf-8", "replace"),
                           created_at=_time_or_none(event.get("createdAt")), signature_timestamp=timestamp,
                           signature=signature[:128])
    db.session.add(stored)
    try:
        db.session.commit()  # committed before the 2xx: an acknowledged event is never lost
    except IntegrityError:
        db.session.rollback()
        db.session.execute(update(ReceivedEvent).where(
            ReceivedEvent.partner_id == endpoint.partner_id, ReceivedEvent.environment == endpoint.environment,
            ReceivedEvent.event_id == event_id).values(redeliveries=ReceivedEvent.redeliveries + 1))
        db.session.commit()
        return jsonify({"received": True, "duplicate": True}), 200
    _after_event(endpoint, event_type)
    return jsonify({"received": True}), 200


def _time_or_none(value):
    try:
        return parse_time(value)
    except Exception:  # a bad createdAt does not make the event less real
        return None


def _after_event(endpoint: ReceiverEndpoint, event_type: str) -> None:
    """Events that change what pages show make their cached answers stale at once."""
    families = {"token_pool_request": "token-pools", "token_pool": "token-pools", "campaign": "campaigns",
                "action": "dashboard", "transaction": "dashboard"}
    family = families.get(event_type.split(".")[0])
    if family is None:
        return
    from ..sir.cache import key_fingerprint

    credential = current_app.extensions["vault"].credential_for(endpoint.partner_id, endpoint.environment)
    generations = current_app.extensions["sir_client"].generations
    if credential is not None and generations is not None:
        generations.bump(key_fingerprint(credential.secret_key), family)
