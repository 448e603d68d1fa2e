"""Verification of inbound SIR Giving webhooks, per section 5 of the reference: pure functions.

`signedPayload = X-SIR-Timestamp + "." + rawBody`, `expected = "sha256=" + HMAC_SHA256_hex(secret, signedPayload)`,
compared in constant time; a timestamp more than `tolerance` seconds from now is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


def signed_payload(timestamp: str, body: bytes) -> bytes:
    return timestamp.encode() + b"." + body


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), signed_payload(timestamp, body), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str  # "ok", "missing_headers", "bad_timestamp", "stale_timestamp", "bad_signature", "too_large"
    message: str


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> Verdict:
    if len(body) > MAX_BODY_BYTES:
        return Verdict(False, "too_large", "The body is larger than 1 MiB.")
    if not timestamp or not signature:
        return Verdict(False, "missing_headers", "X-SIR-Timestamp and X-SIR-Signature are both required.")
    try:
        sent_at = int(timestamp)
    except ValueError:
        return Verdict(False, "bad_timestamp", "X-SIR-Timestamp is not a whole number of seconds.")
    if abs(now - sent_at) > tolerance:
        return Verdict(False, "stale_timestamp",
                       f"X-SIR-Timestamp is {int(abs(now - sent_at))} s away from now; at most {tolerance} s is accepted.")
    if not hmac.compare_digest(expected_signature(secret, timestamp, body).encode(), signature.encode()):
        return Verdict(False, "bad_signature", "X-SIR-Signature does not match the body and timestamp.")
    return Verdict(True, "ok", "Signature verified.")
