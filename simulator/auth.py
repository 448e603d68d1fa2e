"""Authentication exactly as section 3 of the reference: HMAC-signed calls, publishable-key widget calls,
and JWT sign-in for the partner portal.

The signature covers `timestamp + METHOD + pathWithQueryString + SHA256_hex(rawBody)` with the raw bytes
as received and the path exactly as sent (the server's REQUEST_URI), compared in constant time; the
timestamp must be within 300 s of the simulator's clock.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

from flask import g, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .state import DomainError, hash_password

WINDOW_SECONDS = 300
JWT_LIFETIME = 3600
KEY_PATTERN = re.compile(r"^(pk|sk)_(test|live)_[0-9a-f]{16,64}$")


def path_with_query() -> str:
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if raw:
        return raw
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def expected_signature(hmac_secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    payload = f"{timestamp}{method.upper()}{path}{hashlib.sha256(body).hexdigest()}"
    return hmac.new(hmac_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def authenticate_key(sim, *, signed: bool, secret_only: bool = False):
    """Check X-Partner-Key (and, when `signed`, X-Timestamp and X-Signature); returns the key record."""
    token = request.headers.get("X-Partner-Key", "")
    key = sim.keys_by_token.get(token) if KEY_PATTERN.match(token) else None
    now = sim.now()
    if key is None or key.status(now) != "active":
        raise DomainError(401, "INVALID_API_KEY", "The API key is missing, malformed, unknown, inactive, expired or revoked.")
    g.sim_key = key
    g.sim_partner_id = key.partner_id
    g.sim_environment = key.environment
    if secret_only and not token.startswith("sk_"):
        # Refused for what it is, whatever its signature: a pk_ (of a secret pair or a publishable-only key)
        # never reaches an endpoint that needs a secret key (section 3; section 6: "403 on write endpoint").
        raise DomainError(403, "SECRET_KEY_REQUIRED", "This endpoint requires a secret key (sk_...); publishable keys are rejected.")
    if signed:
        timestamp = request.headers.get("X-Timestamp", "")
        try:
            sent = int(timestamp)
        except ValueError:
            raise DomainError(401, "TIMESTAMP_EXPIRED", "X-Timestamp is missing or not a Unix time in seconds.") from None
        if abs(now - sent) > WINDOW_SECONDS:
            raise DomainError(401, "TIMESTAMP_EXPIRED", "X-Timestamp is more than 5 minutes from the server's time.")
        if key.hmac_secret is None:
            raise DomainError(401, "INVALID_SIGNATURE", "This key has no HMAC secret; use a secret key pair.")
        expected = expected_signature(key.hmac_secret, timestamp, request.method, path_with_query(), request.get_data(cache=True))
        if not hmac.compare_digest(expected.encode(), request.headers.get("X-Signature", "").encode()):
            raise DomainError(401, "INVALID_SIGNATURE", "The HMAC signature does not match the request.")
    partner = sim.partner_of(key)
    if partner.status == "suspended":
        raise DomainError(403, "PARTNER_SUSPENDED", "This partner is suspended; contact SIR Giving support.")
    if partner.status != "active":
        raise DomainError(403, "PARTNER_NOT_ACTIVE", "This partner is not active yet.")
    g.sim_authenticated = True  # counted with the request: its key's lastUsedAt moves then
    return key


# -- JWT ---------------------------------------------------------------------------------------------

def signing_key(sim) -> RSAKey:
    return _imported_key(sim.jwt_private_pem)


@functools.lru_cache(maxsize=8)
def _imported_key(pem: str) -> RSAKey:
    """Importing a PEM checks the RSA key (30-40 ms); simulators built from the same seed share the key, so
    a process that builds many of them (the portal's tests) imports it once."""
    return RSAKey.import_key(pem)


def issue_token(sim, account) -> tuple[str, int]:
    now = int(sim.now())
    claims = {"sub": account.id, "partnerId": account.partner_id, "email": account.email, "iat": now,
              "exp": now + JWT_LIFETIME, "iss": "sir-giving-simulator"}
    return jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, signing_key(sim)), claims["exp"]


def authenticate_jwt(sim):
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise DomainError(401, "UNAUTHORIZED", "A Bearer token is required.")
    try:
        token = jwt.decode(header[len("Bearer "):], signing_key(sim), algorithms=["RS256"])
    except (JoseError, ValueError):
        raise DomainError(401, "UNAUTHORIZED", "The token is malformed or its signature is invalid.") from None
    claims = token.claims
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= sim.now():
        raise DomainError(401, "UNAUTHORIZED", "The token has expired; sign in again.")
    account = sim.accounts.get(claims.get("sub"))
    if account is None or account.partner_id != claims.get("partnerId"):
        raise DomainError(401, "UNAUTHORIZED", "The token does not belong to a known account.")
    g.sim_partner_id = account.partner_id
    g.sim_environment = None
    return account


def check_password(sim, email: str, password: str):
    account = sim.accounts_by_email.get((email or "").strip().lower())
    # Same work and the same answer whether the email is unknown or the password wrong.
    salt = account.password_salt if account else b"no-such-account"
    digest = hash_password(password or "", salt)
    if account is None or not hmac.compare_digest(digest, account.password_hash):
        raise DomainError(401, "INVALID_CREDENTIALS", "Email or password is incorrect.")
    return account
