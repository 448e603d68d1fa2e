"""Typed errors for everything that can go wrong talking to SIR Giving.

Each carries a plain-language `title`, `message` and `next_step` for the page, and never a secret.
`error_for_response` maps a SIR Giving error reply (`{"code": ...}`) to its class; when the reply has no
code (or no JSON body at all) it maps by HTTP status and by the kind of call, so a 401 ends the admin's
sign-in only when it answers a call made with the admin's JWT.
"""

from __future__ import annotations


class SirError(Exception):
    code = "SIR_ERROR"
    title = "SIR Giving could not answer"
    message = "SIR Giving returned an error."
    next_step = "Try again in a moment. If it keeps happening, check the SIR Giving status page."
    retryable = True

    def __init__(self, detail: str | None = None, *, status: int | None = None, path: str | None = None,
                 fields: list[dict] | None = None, retry_after: float | None = None):
        self.detail = detail
        self.status = status
        self.path = path
        self.fields = fields or []
        self.retry_after = retry_after
        super().__init__(f"{self.code}: {detail or self.message}")

    @property
    def sentence(self) -> str:
        """The error as one line beside a form field: what happened and what to do."""
        return f"{self.title}: {self.message} {self.next_step}"


class InvalidApiKey(SirError):
    code = "INVALID_API_KEY"
    title = "The portal's API key was refused"
    message = "SIR Giving does not accept the key the portal signs with: it is missing, inactive, expired or revoked."
    next_step = "Open API keys and create or roll a key for the portal, or paste a working one."
    retryable = False


class TimestampExpired(SirError):
    code = "TIMESTAMP_EXPIRED"
    title = "The request's clock was off"
    message = "SIR Giving refused the request because its timestamp was more than 5 minutes from SIR Giving's time."
    next_step = "Check that this server's clock is synchronised (NTP), then try again."
    retryable = False


class InvalidSignature(SirError):
    code = "INVALID_SIGNATURE"
    title = "The request's signature did not match"
    message = "SIR Giving could not verify the request's HMAC signature: the stored HMAC secret does not belong to the key."
    next_step = "Replace the portal's credential with a key and HMAC secret that belong together."
    retryable = False


class PartnerNotActive(SirError):
    code = "PARTNER_NOT_ACTIVE"
    title = "Your partner account is not active"
    message = "SIR Giving has not activated this partner account (or it was deactivated)."
    next_step = "Check your approval status with SIR Giving; the data pages work again once it is active."
    retryable = False


class PartnerSuspended(SirError):
    code = "PARTNER_SUSPENDED"
    title = "Your partner account is suspended"
    message = "SIR Giving has suspended this partner account, so it refuses data calls."
    next_step = "Contact SIR Giving support to restore access."
    retryable = False


class SecretKeyRequired(SirError):
    code = "SECRET_KEY_REQUIRED"
    title = "This needs a secret key"
    message = "SIR Giving refused the call because it was signed with a publishable key."
    next_step = "Give the portal a secret key (sk_…) with its HMAC secret."
    retryable = False


class NoSandboxPool(SirError):
    code = "NO_SANDBOX_POOL"
    title = "No sandbox token pool"
    message = "Your sandbox key works, but there is no active sandbox token pool to draw rewards from."
    next_step = "Ask SIR Giving to provision a sandbox pool, or request a top-up on Token pools."
    retryable = False


class NoActivePool(SirError):
    code = "NO_ACTIVE_POOL"
    title = "No active token pool"
    message = "No active token pool was found in this environment, so rewards cannot be issued."
    next_step = "Request an allocation on Token pools and wait for approval."
    retryable = False


class Unauthorized(SirError):
    code = "UNAUTHORIZED"
    title = "Your session with SIR Giving ended"
    message = "Your SIR Giving sign-in has expired or is no longer valid."
    next_step = "Sign in again."
    retryable = False


class CredentialRefused(SirError):
    """A 401 on a call signed with the portal's key that does not say why: the key, its HMAC secret or this
    server's clock. Never the admin's sign-in, which a signed call does not use."""

    code = "CREDENTIAL_REFUSED"
    title = "SIR Giving refused the portal's key"
    message = ("SIR Giving refused a call signed with the portal's key without saying why: the key may be inactive, "
               "expired or revoked, its HMAC secret may not belong to it, or this server's clock may be more "
               "than 5 minutes off.")
    next_step = "Check this server's clock (NTP); then open API keys and roll the portal's key, or paste a working one."
    retryable = False


class InvalidCredentials(SirError):
    code = "INVALID_CREDENTIALS"
    title = "Email or password is wrong"
    message = "That email and password do not match a SIR Giving account."
    next_step = "Check both and try again."
    retryable = False


class ValidationFailed(SirError):
    code = "VALIDATION_ERROR"
    title = "SIR Giving refused the values"
    message = "SIR Giving did not accept some of the values sent."
    next_step = "Correct the highlighted fields and try again."
    retryable = False

    @property
    def sentence(self) -> str:
        """Beside a form field; a refusal that names no field (no `details`) still says what SIR Giving said."""
        if self.fields:
            return super().sentence
        return f"{self.title}: {self.detail or self.message} Check the values and try again."


class NotFound(SirError):
    code = "NOT_FOUND"
    title = "Not found at SIR Giving"
    message = "SIR Giving has no record of that item; it may have been deleted."
    next_step = "Go back to the list and reload it."
    retryable = False


class Conflict(SirError):
    code = "CONFLICT"
    title = "That conflicts with the current state"
    message = "SIR Giving refused the change because the item changed in the meantime."
    next_step = "Reload the page to see the current state, then try again."
    retryable = False


class Forbidden(SirError):
    code = "FORBIDDEN"
    title = "Not allowed"
    message = "SIR Giving does not allow this call with the current credentials."
    next_step = "Check that the key has the needed scope."
    retryable = False


class RateLimited(SirError):
    code = "RATE_LIMITED"
    title = "Too many requests"
    message = "SIR Giving is limiting the rate of requests from this key."
    next_step = "Wait a minute and try again."


class UpstreamTimeout(SirError):
    code = "TIMEOUT"
    title = "SIR Giving took too long"
    message = "SIR Giving did not answer in time."
    next_step = "Try again; if it keeps timing out, SIR Giving may be having trouble."


class Unreachable(SirError):
    code = "UNREACHABLE"
    title = "SIR Giving is unreachable"
    message = "The portal could not connect to SIR Giving."
    next_step = "Check this server's network and SIR_API_URL, then try again."


class MalformedReply(SirError):
    code = "MALFORMED_REPLY"
    title = "SIR Giving sent an unreadable answer"
    message = "SIR Giving answered with something that is not the JSON the portal expects."
    next_step = "Try again; if it persists, report it to SIR Giving support."

    def __init__(self, detail: str | None = None, *, field: str | None = None, **kwargs):
        super().__init__(detail, **kwargs)
        self.field = field  # the reply's field the portal could not read, e.g. `pool.balance`
        if field:
            # Said on the page: what support needs to know which part of which answer differs.
            where = f" to {self.path}" if self.path else ""
            self.message = f"SIR Giving's answer{where} has a field the portal cannot read: {field}."


class ServerError(SirError):
    code = "INTERNAL_ERROR"
    title = "SIR Giving had an internal error"
    message = "SIR Giving failed while handling the request."
    next_step = "Try again in a moment."


class EnvironmentMismatch(SirError):
    code = "ENVIRONMENT_MISMATCH"
    title = "Key and environment do not match"
    message = "The key belongs to the other environment (test keys go to sandbox, live keys to production)."
    next_step = "Use an sk_test_ key for sandbox or an sk_live_ key for production."
    retryable = False


class NoCredential(SirError):
    code = "NO_CREDENTIAL"
    title = "The portal has no key for this environment"
    message = "The portal needs a secret key and HMAC secret of yours to read data in this environment."
    next_step = "Create a portal key or paste an existing one on the set-up page."
    retryable = False


_BY_CODE = {cls.code: cls for cls in (
    InvalidApiKey, TimestampExpired, InvalidSignature, PartnerNotActive, PartnerSuspended, SecretKeyRequired,
    NoSandboxPool, NoActivePool, Unauthorized, InvalidCredentials, ValidationFailed, NotFound, Conflict,
    RateLimited, ServerError,
)}
_BY_CODE["INVALID_JSON"] = ValidationFailed
_BY_CODE["PAYLOAD_TOO_LARGE"] = ValidationFailed

_BY_STATUS = {400: ValidationFailed, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
              413: ValidationFailed, 422: ValidationFailed, 429: RateLimited}


# The kinds of call, for errors that do not say what they are about.
JWT, LOGIN, SIGNED, WIDGET = "jwt", "login", "signed", "widget"


def error_for_response(status: int, payload: object, path: str, retry_after: float | None = None,
                       kind: str = SIGNED) -> SirError:
    """The error a reply of `status` stands for. `kind` is the call's: `jwt` (the admin's token), `login`,
    `signed` (HMAC with the portal's key) or `widget` (a publishable key)."""
    code = payload.get("code") if isinstance(payload, dict) else None
    detail = payload.get("message") if isinstance(payload, dict) else None
    details = payload.get("details") if isinstance(payload, dict) else None
    fields = [f for f in details if isinstance(f, dict)] if isinstance(details, list) else None
    cls = _BY_CODE.get(code) if isinstance(code, str) else None
    if cls is None:
        cls = ServerError if status >= 500 else _BY_STATUS.get(status, SirError)
    if cls is Unauthorized and kind != JWT:
        # Only the admin's own token can have expired; anything else refused the portal's key or the password.
        cls = InvalidCredentials if kind == LOGIN else CredentialRefused
    return cls(detail if isinstance(detail, str) else None, status=status, path=path, fields=fields,
               retry_after=retry_after)
