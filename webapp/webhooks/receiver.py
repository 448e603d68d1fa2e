"""The portal's webhook receiver: `/hooks/<token>`, one unguessable path per registered webhook.

It reads the raw body, refuses anything over 1 MiB, verifies `X-SIR-Signature` per section 5 in constant
time and refuses timestamps more than 300 s away, then stores the event once (the event id is the
idempotency key: a redelivery is acknowledged, not stored twice) and commits before answering 2xx, so an
acknowledged event is never lost. No CSRF (the signature is the check).

Rate limits are counted after the signature is checked, so forged traffic cannot spend a genuine sender's
budget: a refused delivery counts against its source address (`RECEIVER_REFUSAL_LIMIT`: past it, that
address's refusals are 429s), a verified one against its receiver (`RECEIVER_RATE_LIMIT`, high enough to take
SIR Giving's retry backlog after an outage at once). A verified delivery is never refused for what others sent.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import clock, metrics
from ..limits import take
from ..request_log import note_partner
from ..sir import webhooks as verification
from ..sir.models import EventEnvelope
from ..store import events, receivers, replacements
from ..store.models import ReceiverEndpoint
from ..store.vault import VaultError
from .registration import delivers_to_portal

receiver_bp = Blueprint("receiver", __name__)


def _refuse(status: int, reason: str, message: str):
    metrics.delivery("refused", reason)
    response = jsonify({"received": False, "reason": reason, "message": message})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused_from_address(status: int, reason: str, message: str):
    """A delivery refused before it verified: counted against its source address, a 429 once past the limit."""
    wait = take(current_app.config["SETTINGS"].receiver_refusal_limit, "receiver-refusals", request.remote_addr or "")
    if wait is not None:
        return _slow_down(wait, "receiver refusals per address",
                          "Too many refused deliveries from this address; retry later.")
    return _refuse(status, reason, message)


def _slow_down(wait: int, limit: str, message: str):
    metrics.rate_limited(limit)
    response = _refuse(429, "rate_limited", message)
    response.headers["Retry-After"] = str(wait)
    return response


def _read_body() -> bytes | None:
    """The raw body, exactly as sent, or None when it is over 1 MiB (read no further than that)."""
    if (request.content_length or 0) > verification.MAX_BODY_BYTES:
        return None
    try:
        body = request.stream.read(verification.MAX_BODY_BYTES + 1)
    except RequestEntityTooLarge:
        return None
    return None if len(body) > verification.MAX_BODY_BYTES else body


def _envelope(body: bytes) -> tuple[str, str, EventEnvelope] | None:
    """(event id, type, envelope) of a SIR Giving event (the reference's envelope: a string id and type, an
    object data, anything else optional), or None when the body is not one."""
    try:
        event = EventEnvelope.model_validate_json(body)
    except ValidationError:
        return None
    return event.id, event.type, event


@receiver_bp.post("/hooks/<token>")
def receive(token):
    endpoint = receivers.at_address(token)
    if not delivers_to_portal(endpoint):  # a kept secret alone is no receiver: its endpoint is the partner's
        return _refused_from_address(404, "unknown_endpoint", "No receiver at this address.")
    note_partner(endpoint.partner_id)
    body = _read_body()
    if body is None:
        return _refused_from_address(413, "too_large", "The body is larger than 1 MiB.")
    timestamp, signature = request.headers.get("X-SIR-Timestamp"), request.headers.get("X-SIR-Signature")
    refused = _unverified(endpoint, timestamp, signature, body)
    if refused is not None:
        return refused
    wait = take(current_app.config["SETTINGS"].receiver_rate_limit, "receiver-deliveries", str(endpoint.id))
    if wait is not None:  # SIR Giving retries it later
        return _slow_down(wait, "receiver deliveries per endpoint", "Too many deliveries to this address; retry later.")
    envelope = _envelope(body)
    if envelope is None:
        return _refuse(400, "malformed", "The body is not a SIR Giving event envelope: JSON with a string id, "
                                         "a string type and an object data.")
    event_id, event_type, event = envelope
    if not events.store_once(partner_id=endpoint.partner_id, environment=endpoint.environment,
                             receiver_id=endpoint.id, event_id=event_id, event_type=event_type,
                             raw_body=body.decode("utf-8", "replace"), created_at=event.created_at,
                             signature_timestamp=timestamp, signature=signature[:128]):
        metrics.delivery("duplicate")
        return _accepted({"received": True, "duplicate": True})
    metrics.delivery("stored")
    _after_event(endpoint, event_type)
    return _accepted({"received": True})


def _unverified(endpoint: ReceiverEndpoint, timestamp: str | None, signature: str | None, body: bytes):
    """The refusal for a delivery that does not verify with the endpoint's secret, or None when it does."""
    try:
        secret = current_app.extensions["vault"].decrypt(endpoint.secret_encrypted)
    except VaultError:  # VAULT_KEY lost its old key before `flask vault rotate`: say so, let SIR Giving retry
        current_app.logger.error("webhook receiver %s: its signing secret cannot be decrypted with VAULT_KEY", endpoint.id)
        return _refuse(503, "unavailable", "The receiver cannot verify deliveries right now; retry later.")
    # The portal's one clock (SIR Giving's time): the debugger and the events page measure with it too.
    verdict = verification.verify(secret, timestamp, signature, body, now=clock.timestamp())
    if verdict.reason == "bad_signature":
        verdict = _verify_with_next_secret(endpoint, timestamp, signature, body) or verdict
    if not verdict.ok:
        return _refused_from_address(413 if verdict.reason == "too_large" else 401, verdict.reason, verdict.message)
    return None


def _verify_with_next_secret(endpoint: ReceiverEndpoint, timestamp, signature, body: bytes):
    """While this receiver's webhook is being replaced by one at the same address (webhooks/replacement.py), the
    replacement signs with its own secret: the receiver accepts either until the old endpoint is deleted."""
    encrypted = replacements.overlap_secret_for(endpoint)
    if encrypted is None:
        return None
    try:
        secret = current_app.extensions["vault"].decrypt(encrypted)
    except VaultError:
        return None
    return verification.verify(secret, timestamp, signature, body, now=clock.timestamp())


def _accepted(payload: dict):
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


# Event types (by their first part) whose news makes what pages show out of date: their cache family.
STALE_AFTER = {"token_pool_request": "token-pools", "token_pool": "token-pools", "campaign": "campaigns",
               "action": "dashboard", "transaction": "dashboard"}


def _after_event(endpoint: ReceiverEndpoint, event_type: str) -> None:
    """Events that change what pages show make their cached answers stale at once."""
    family = STALE_AFTER.get(event_type.split(".")[0])
    if family is None:
        return
    try:
        credential = current_app.extensions["vault"].credential_for(endpoint.partner_id, endpoint.environment)
        if credential is not None:
            current_app.extensions["sir_client"].invalidate(credential, family)
    except Exception as error:  # the event is stored; a stale cache for a few seconds is not worth a redelivery
        from ..outages import note

        if note(error) is not None:  # Redis away: said once per outage, not once per delivery
            return
        current_app.logger.warning("could not refresh cached pages after a %s event", event_type, exc_info=True)
