"""HMAC request signing, exactly as section 3 of the SIR Giving reference: pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac

EMPTY_BODY_HASH = hashlib.sha256(b"").hexdigest()


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signed_payload(timestamp: str, method: str, path_with_query: str, body: bytes) -> str:
    """`timestamp + METHOD + pathWithQueryString + SHA256_hex(rawBody)`."""
    return f"{timestamp}{method.upper()}{path_with_query}{body_hash(body)}"


def sign(hmac_secret: str, timestamp: str, method: str, path_with_query: str, body: bytes = b"") -> str:
    """The `X-Signature` value for one request: hex HMAC-SHA256 of the signed payload."""
    payload = signed_payload(timestamp, method, path_with_query, body)
    return hmac.new(hmac_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature_headers(secret_key: str, hmac_secret: str, timestamp: str, method: str,
                      path_with_query: str, body: bytes = b"") -> dict[str, str]:
    return {
        "X-Partner-Key": secret_key,
        "X-Timestamp": timestamp,
        "X-Signature": sign(hmac_secret, timestamp, method, path_with_query, body),
    }
