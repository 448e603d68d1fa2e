"""One delivery as the detail page shows it: its attempts, the headers it was sent with, its envelope, and the
look-up by event id across the partner's endpoints. Pure functions over the parsed delivery; no Flask."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..sir.models import Attempt, Delivery

# Section 5's delivery headers, in the reference's order; the values every delivery carries whatever its event.
DOCUMENTED_HEADERS = ("Content-Type", "User-Agent", "X-SIR-Signature", "X-SIR-Timestamp")
FIXED_VALUES = {"Content-Type": "application/json", "User-Agent": "SIRGiving-Webhooks/1.0"}
SIGNATURE_SHOWN = 19  # "sha256=" and 12 hex characters: enough to tell two apart, not enough to replay one
EVENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


@dataclass(frozen=True)
class Header:
    name: str
    value: str | None  # None: SIR Giving did not report it for this delivery
    full: bool = True  # False: the value is cut on the page


def attempts_of(delivery: Delivery) -> tuple[list[Attempt], bool]:
    """Every attempt, newest first, and whether that is all of them. Without a history from SIR Giving only
    the last attempt is known (from the delivery's own fields)."""
    if delivery.attempt_history is not None:
        return list(reversed(delivery.attempt_history)), len(delivery.attempt_history) >= delivery.attempts
    if not delivery.attempts and not delivery.last_attempt_at and delivery.response_status is None \
            and not delivery.error:
        return [], delivery.status == "pending"  # a settled delivery with nothing reported: not "none made"
    last = Attempt(attempted_at=delivery.last_attempt_at, response_status=delivery.response_status,
                   response_excerpt=delivery.response_excerpt, error=delivery.error,
                   status="succeeded" if delivery.status == "succeeded" else "failed")
    return [last], delivery.attempts == 1


def sent_headers(delivery: Delivery) -> dict[str, str]:
    """The headers of the newest attempt that reports them ({} when none does)."""
    for attempt in reversed(delivery.attempt_history or ()):
        if attempt.request_headers:
            return {k.lower(): v for k, v in attempt.request_headers.items()}
    return {}


def headers_shown(delivery: Delivery) -> list[Header]:
    """Section 5's four headers as the last attempt carried them, the signature cut short; the two fixed ones
    as the reference documents them when SIR Giving reports none."""
    sent = sent_headers(delivery)
    shown = []
    for name in DOCUMENTED_HEADERS:
        value = sent.get(name.lower()) or (FIXED_VALUES.get(name) if not sent else None)
        if name == "X-SIR-Signature" and value and len(value) > SIGNATURE_SHOWN:
            shown.append(Header(name, value[:SIGNATURE_SHOWN] + "…", full=False))
        else:
            shown.append(Header(name, value))
    return shown


def envelope_text(delivery: Delivery) -> str | None:
    """The event envelope, pretty-printed for reading (not the signed bytes)."""
    if delivery.payload is None:
        return None
    return json.dumps(delivery.payload, indent=2, ensure_ascii=False, sort_keys=False)


def envelope_bytes(delivery: Delivery) -> bytes | None:
    """The envelope as SIR Giving serialises it (compact JSON): what the debugger checks. SIR Giving reports the
    envelope parsed, so these are the bytes re-serialised; the debugger says so when they differ."""
    if delivery.payload is None:
        return None
    return json.dumps(delivery.payload, separators=(",", ":")).encode()


def debugger_headers(delivery: Delivery) -> str | None:
    """The signature headers of the last attempt as the debugger's form takes them; None when not reported."""
    sent = sent_headers(delivery)
    if not sent.get("x-sir-timestamp") or not sent.get("x-sir-signature"):
        return None
    return f"X-SIR-Timestamp: {sent['x-sir-timestamp']}\nX-SIR-Signature: {sent['x-sir-signature']}"


def event_id_problem(text: str) -> str | None:
    if not text:
        return "Enter an event id, like evt_1a2b3c4d5e6f7a8b."
    if not EVENT_ID.fullmatch(text):
        return "An event id has letters, digits, “_”, “-”, “.” or “:” only, at most 128 of them."
    return None
