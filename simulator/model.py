"""The simulator's domain objects: plain dataclasses, serialised to the wire by `to_wire()`.

Tokens are whole numbers. Times are floats (epoch seconds, on the simulator's movable clock) inside,
ISO 8601 UTC with `Z` on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_of(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d")


@dataclass
class Partner:
    id: str
    name: str
    slug: str
    status: str = "active"  # active, pending, suspended
    features: list[str] = field(default_factory=lambda: ["actions", "donations", "webhooks", "campaigns"])
    rate_limit: int = 600

    def to_wire(self) -> dict:
        return {"id": self.id, "name": self.name, "slug": self.slug, "status": self.status,
                "features": self.features, "rateLimit": {"requestsPerMinute": self.rate_limit}}


@dataclass
class Account:
    """A person who signs in to the partner portal."""

    id: str
    email: str
    name: str
    partner_id: str
    password_salt: bytes
    password_hash: bytes

    def to_wire(self) -> dict:
        return {"id": self.id, "email": self.email, "name": self.name, "partnerId": self.partner_id, "role": "admin"}


@dataclass
class ApiKey:
    id: str
    partner_id: str
    name: str
    environment: str  # sandbox, production
    key_type: str  # secret, publishable
    public_key: str
    secret_key: str | None
    hmac_secret: str | None
    created_at: float
    is_active: bool = True
    expires_at: float | None = None
    last_used_at: float | None = None
    revoked_at: float | None = None
    expiring_notified: bool = False

    def status(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active" if self.is_active else "inactive"

    def to_wire(self, now: float) -> dict:
        return {
            "id": self.id, "partnerId": self.partner_id, "name": self.name, "environment": self.environment,
            "keyType": self.key_type, "publicKey": self.public_key,
            "secretKeyPrefix": (self.secret_key[:12] + "…") if self.secret_key else None,
            "status": self.status(now), "isActive": self.is_active, "expiresAt": iso(self.expires_at),
            "createdAt": iso(self.created_at), "lastUsedAt": iso(self.last_used_at), "revokedAt": iso(self.revoked_at),
        }


@dataclass
class PartnerUser:
    id: str
    partner_id: str
    environment: str
    external_user_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    created_at: float
    metadata: dict = field(default_factory=dict)
    balance: int = 0
    debt: int = 0
    lifetime_tokens: int = 0
    last_action_at: float | None = None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.external_user_id

    def to_wire(self) -> dict:
        return {"id": self.id, "externalUserId": self.external_user_id, "email": self.email,
                "firstName": self.first_name, "lastName": self.last_name, "name": self.name,
                "environment": self.environment, "metadata": self.metadata, "balance": self.balance,
                "debt": self.debt, "lifetimeTokens": self.lifetime_tokens, "createdAt": iso(self.created_at),
                "lastActionAt": iso(self.last_action_at)}


@dataclass
class TokenPool:
    id: str
    partner_id: str
    environment: str
    name: str
    allocated: int
    consumed: int
    low_balance_threshold: int
    created_at: float
    is_active: bool = True

    @property
    def balance(self) -> int:
        return self.allocated - self.consumed

    @property
    def status(self) -> str:
        if not self.is_active:
            return "inactive"
        return "depleted" if self.balance <= 0 else "active"

    def to_wire(self) -> dict:
        return {"id": self.id, "name": self.name, "environment": self.environment, "status": self.status,
                "balance": self.balance, "allocated": self.allocated, "consumed": self.consumed,
                "lowBalanceThreshold": self.low_balance_threshold,
                "isLow": self.is_active and 0 < self.balance < self.low_balance_threshold or self.balance <= 0,
                "createdAt": iso(self.created_at)}


@dataclass
class AllocationRequest:
    id: str
    partner_id: str
    environment: str
    pool_id: str
    amount: int
    reason: str
    created_at: float
    status: str = "pending"  # pending, approved, rejected
    decided_at: float | None = None
    decision_note: str | None = None

    def to_wire(self, pool_name: str | None) -> dict:
        return {"id": self.id, "poolId": self.pool_id, "poolName": pool_name, "environment": self.environment,
                "amount": self.amount, "reason": self.reason, "status": self.status,
                "createdAt": iso(self.created_at), "decidedAt": iso(self.decided_at),
                "decisionNote": self.decision_note}


@dataclass
class Action:
    id: str
    partner_id: str
    environment: str
    idempotency_key: str
    action_type: str
    amount: float | None
    currency: str | None
    created_at: float
    status: str  # COMPLETED, FAILED, REVERSED, PARTIALLY_REVERSED
    tokens_distributed: int
    pool_id: str | None
    campaign_id: str | None
    stakeholders: list[dict]
    metadata: dict
    transaction_ids: list[str] = field(default_factory=list)
    failure_code: str | None = None
    failure_reason: str | None = None
    reversed_tokens: int = 0

    def to_wire(self) -> dict:
        return {"actionId": self.id, "id": self.id, "idempotencyKey": self.idempotency_key,
                "actionType": self.action_type, "amount": self.amount, "currency": self.currency,
                "environment": self.environment, "status": self.status, "tokensDistributed": self.tokens_distributed,
                "reversedTokens": self.reversed_tokens, "transactionIds": self.transaction_ids,
                "poolId": self.pool_id, "campaignId": self.campaign_id,
                "stakeholders": self.stakeholders, "metadata": self.metadata,
                "failureCode": self.failure_code, "failureReason": self.failure_reason,
                "createdAt": iso(self.created_at)}


@dataclass
class Transaction:
    id: str
    partner_id: str
    environment: str
    action_id: str
    external_user_id: str
    kind: str  # distribution, reversal
    tokens: int  # positive for distribution, negative for reversal
    pool_id: str | None
    created_at: float
    debt_created: int = 0

    def to_wire(self) -> dict:
        return {"id": self.id, "actionId": self.action_id, "externalUserId": self.external_user_id,
                "type": self.kind, "tokens": self.tokens, "poolId": self.pool_id, "environment": self.environment,
                "status": "COMPLETED", "debtCreated": self.debt_created, "createdAt": iso(self.created_at)}


@dataclass
class Campaign:
    id: str
    partner_id: str
    environment: str
    name: str
    status: str  # draft, active, paused, completed
    created_at: float
    starts_at: float | None
    ends_at: float | None
    pool_id: str | None
    reward_multiplier: float = 1.0
    budget: int | None = None
    description: str | None = None
    action_types: list[str] = field(default_factory=list)

    def to_wire(self) -> dict:
        return {"id": self.id, "name": self.name, "description": self.description, "status": self.status,
                "environment": self.environment, "startsAt": iso(self.starts_at), "endsAt": iso(self.ends_at),
                "poolId": self.pool_id, "rewardMultiplier": self.reward_multiplier, "budget": self.budget,
                "actionTypes": self.action_types, "createdAt": iso(self.created_at)}


@dataclass
class Webhook:
    id: str
    partner_id: str
    environment: str
    url: str
    description: str | None
    event_types: list[str]
    receive_all_events: bool
    secret: str
    created_at: float
    is_active: bool = True

    def wants(self, event_type: str) -> bool:
        return self.is_active and (self.receive_all_events or event_type in self.event_types)

    def to_wire(self) -> dict:
        return {"id": self.id, "url": self.url, "description": self.description, "eventTypes": self.event_types,
                "receiveAllEvents": self.receive_all_events, "isActive": self.is_active,
                "environment": self.environment, "createdAt": iso(self.created_at)}


@dataclass
class Delivery:
    id: str
    webhook_id: str
    partner_id: str
    event_id: str
    event_type: str
    payload: bytes  # the exact envelope bytes, signed anew at each attempt with that attempt's timestamp
    created_at: float
    status: str = "pending"  # pending, succeeded, failed
    attempts: int = 0
    response_status: int | None = None
    response_body_excerpt: str | None = None
    last_attempt_at: float | None = None
    next_retry_at: float | None = None
    error: str | None = None
    # Every attempt, oldest first: {at, responseStatus, durationMs, responseBodyExcerpt, error, headers}.
    history: list[dict] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        import json

        return {"id": self.id, "webhookId": self.webhook_id, "eventId": self.event_id, "eventType": self.event_type,
                "status": self.status, "attempts": self.attempts, "responseStatus": self.response_status,
                "responseBodyExcerpt": self.response_body_excerpt, "error": self.error,
                "createdAt": iso(self.created_at), "lastAttemptAt": iso(self.last_attempt_at),
                "nextRetryAt": iso(self.next_retry_at), "payload": json.loads(self.payload),
                "attemptHistory": [attempt_wire(a) for a in getattr(self, "history", None) or ()]}


def attempt_wire(attempt: dict) -> dict[str, Any]:
    """One attempt as the deliveries list shows it; `headers` are those the request carried (section 5)."""
    status = attempt.get("responseStatus")
    return {"attemptedAt": iso(attempt["at"]), "status": "succeeded" if status and 200 <= status < 300 else "failed",
            "responseStatus": status, "durationMs": attempt.get("durationMs"),
            "responseBodyExcerpt": attempt.get("responseBodyExcerpt"), "error": attempt.get("error"),
            "requestHeaders": dict(attempt.get("headers") or {})}
