"""A simulator that can disagree with itself: switches for what the reference leaves open.

The reference (`../shared/sir-partner-api.md`) shows no response shape for most endpoints, no error body for
most failures and no list scheme. Our simulator picked one answer for each; the real SIR Giving may pick
another. A `Variant` changes the simulator's answers within what the reference allows, so the portal is
tested against more than the one shape we invented:

- `lists`: `envelope` (`{"data", "pagination"}`, the default) or `bare` (a JSON array).
- `errors`: `coded` (`{"statusCode", "code", "message", "details"?}`, the default) or `opaque` (the status
  alone, with a plain-text body that is not JSON).
- `ignore_query`: every query parameter is ignored (page, limit, status, since, days…): the default page
  and no filter, as an upstream that does not implement them would answer.
- `extra_fields`: every object carries fields the portal has never heard of.
- `missing_optional`: null fields are left out, lists have no `pagination`, the replies the reference
  documents carry only the fields it documents, and fields the portal treats as optional are absent.
- `clock_offset` (seconds): SIR Giving's clock runs this far off real time — its timestamp window, the times
  in its replies and webhooks, and its `Date` header. Unlike a move of the clock (`/_sim/clock`, which the
  embedded portal follows as "the world's" time), the embedded portal is not told: it models a real upstream
  whose clock differs from the portal's machine, which the portal must measure (from `Date`) and correct.

Spelled as text for the command line and the embedded default's `SIMULATOR_VARIANT`:
`lists=bare,errors=opaque,ignore-query,extra-fields,missing-optional,clock-offset=400` (any subset, any order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

# What the reference documents as the whole reply, per route: with `missing_optional` nothing else is sent.
DOCUMENTED_REPLIES = {
    ("POST", "/v1/partner/keys"): {"id", "partnerId", "name", "environment", "publicKey", "secretKey", "hmacSecret"},
    ("POST", "/v1/partner/webhooks"): {"id", "url", "eventTypes", "secret", "isActive"},
    ("POST", "/v1/partner/actions/submit"): {"actionId", "idempotencyKey", "status", "tokensDistributed",
                                             "transactionIds"},
}

# Fields the reference never mentions and the portal reads with a default: left out with `missing_optional`.
# (Not `createdAt`: a delivery without it cannot be shown to be inside a recovery's window, so the portal
# leaves it out, which would leave that journey nothing to do.)
OPTIONAL_FIELDS = frozenset({
    "description", "lastUsedAt", "keyType", "isActive", "allocated", "consumed", "lowPools",
    "actionsToday", "activeUsersWindowDays", "totalUsers", "rank", "email", "activeDays", "successRate",
    "consecutiveFailures", "attempts", "responseStatus", "responseBodyExcerpt", "error", "lastAttemptAt",
    "nextRetryAt", "rewardMultiplier", "budget", "poolName", "decisionNote", "decidedAt", "receiveAllEvents",
    "lastFailureReason", "lastSuccessAt", "lastFailureAt", "avgLatencyMs", "failureReason", "currency",
    "attemptHistory",
})

EXTRA = {"simUnknownFlag": True, "simUnknownNote": "a field the portal has never heard of"}


@dataclass(frozen=True)
class Variant:
    lists: str = "envelope"  # envelope | bare
    errors: str = "coded"  # coded | opaque
    ignore_query: bool = False
    extra_fields: bool = False
    missing_optional: bool = False
    clock_offset: int = 0  # seconds SIR Giving's clock runs ahead of real time (negative: behind)

    @property
    def is_default(self) -> bool:
        return self == Variant()

    @classmethod
    def parse(cls, text: str | None) -> "Variant":
        """`lists=bare,errors=opaque,ignore-query,extra-fields,missing-optional,clock-offset=400`; ValueError
        naming the bad part."""
        values: dict = {}
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            name, _, value = part.partition("=")
            name = name.strip().replace("-", "_")
            if name == "lists" and value in ("bare", "envelope"):
                values["lists"] = value
            elif name == "errors" and value in ("opaque", "coded"):
                values["errors"] = value
            elif name in ("ignore_query", "extra_fields", "missing_optional") and not value:
                values[name] = True
            elif name == "clock_offset" and _whole_seconds(value) is not None:
                values["clock_offset"] = _whole_seconds(value)
            else:
                raise ValueError(f"unknown variant switch {part!r} (expected lists=bare|envelope, "
                                 "errors=opaque|coded, ignore-query, extra-fields, missing-optional, "
                                 "clock-offset=SECONDS)")
        return cls(**values)

    def __str__(self) -> str:
        parts = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value != spec.default:
                name = spec.name.replace("_", "-")
                parts.append(name if value is True else f"{name}={value}")
        return ",".join(parts) or "default"

    # -- what it does to an answer -------------------------------------------------------------------

    def reshape(self, method: str, route: str | None, status: int, payload):
        """The JSON value to send instead of `payload` (a reply of a SIR route); None for no body at all."""
        if status >= 400:
            return None if self.errors == "opaque" else payload
        if self.missing_optional:
            documented = DOCUMENTED_REPLIES.get((method, route or ""))
            if documented is not None and isinstance(payload, dict):
                payload = {k: v for k, v in payload.items() if k in documented}
            else:
                payload = _without_optional(payload)
        if self.extra_fields:
            payload = _with_extras(payload)
        if self.lists == "bare" and isinstance(payload, dict) and isinstance(payload.get("data"), list) \
                and set(payload) <= {"data", "pagination", *EXTRA}:
            payload = payload["data"]
        return payload


MAX_CLOCK_OFFSET = 100 * 365 * 86400  # a century either way, as a move of the clock


def _whole_seconds(text: str) -> int | None:
    try:
        seconds = int(text.strip())
    except ValueError:
        return None
    return seconds if abs(seconds) <= MAX_CLOCK_OFFSET else None


def _without_optional(value):
    if isinstance(value, dict):
        return {k: _without_optional(v) for k, v in value.items()
                if v is not None and k not in OPTIONAL_FIELDS and k != "pagination"}
    if isinstance(value, list):
        return [_without_optional(v) for v in value]
    return value


def _with_extras(value):
    if isinstance(value, dict):
        return {**{k: _with_extras(v) for k, v in value.items()}, **EXTRA}
    if isinstance(value, list):
        return [_with_extras(v) for v in value]
    return value


def init_app(app, variant: Variant) -> None:
    """Apply `variant` to every SIR answer the app sends (operator controls and docs are left alone)."""
    from flask import g, request

    app.extensions["sir_variant"] = variant  # ignore_query is applied by the routes, after the signature check
    if variant.is_default:
        return

    @app.after_request
    def reshape(response):
        if not request.path.startswith("/v1/partner") or not response.is_json:
            return response
        status = response.status_code
        payload = variant.reshape(request.method, g.get("sim_route"), status, response.get_json(silent=True))
        if payload is None:
            # An opaque error: the status and a line of text, as a proxy or a framework default would send.
            response.set_data(f"{status} {response.status.partition(' ')[2] or 'Error'}".encode())
            response.mimetype = "text/plain"
        else:
            response.set_data(json.dumps(payload, ensure_ascii=False).encode())
        return response
