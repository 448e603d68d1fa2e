"""Parsed SIR Giving replies: typed objects the views and templates use instead of raw JSON.

Each area adds its dataclasses and a `parse_…` function here. Parsing is lenient about extra fields and
strict about the ones the portal relies on: a reply missing them raises MalformedReply, which the page
shows as "SIR Giving sent an unreadable answer" instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Generic, TypeVar

from .errors import MalformedReply
from .times import parse_time

T = TypeVar("T")
ATTENTION_DAYS = 14  # a key expiring this soon is flagged for a roll


def require(payload: Any, *names: str) -> dict:
    """The payload as a dict that has every named field, or MalformedReply."""
    if not isinstance(payload, dict):
        raise MalformedReply(f"expected an object, got {type(payload).__name__}")
    missing = [name for name in names if name not in payload]
    if missing:
        raise MalformedReply(f"missing field(s): {', '.join(missing)}")
    return payload


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, in any of the forms the reference allows: a bare JSON array, `{"data": [...]}`
    or `{"data": [...], "pagination": {...}}`. `total` and `has_more` are None when the upstream did not
    say; `complete` False when the portal could not see the end of the list ("at least `total`")."""

    items: list[T]
    page: int
    limit: int
    total: int | None
    total_pages: int
    has_more: bool | None
    complete: bool = True

    @property
    def total_label(self) -> str:
        shown = self.total if self.total is not None else len(self.items)
        return f"{shown:,}" if self.complete else f"at least {shown:,}"

    @classmethod
    def parse(cls, payload: Any, item: Callable[[dict], T], path: str | None = None) -> "Page[T]":
        if isinstance(payload, list):
            records, meta = payload, {}
        elif isinstance(payload, dict) and isinstance(payload.get("data"), list):
            records, meta = payload["data"], payload.get("pagination")
            meta = meta if isinstance(meta, dict) else {}
        else:
            raise MalformedReply(f"{path or 'a list'}: expected a JSON array or an object with data",
                                 path=path)
        items = [item(entry) for entry in records]

        def number(name):
            value = meta.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

        total = number("total")
        has_more = meta.get("hasMore") if isinstance(meta.get("hasMore"), bool) else None
        limit = number("limit") or len(items) or 1
        return cls(items=items, page=number("page") or 1, limit=limit, total=total,
                   total_pages=number("totalPages") or max(1, -(-(total or len(items)) // limit)), has_more=has_more)

    @classmethod
    def of(cls, every: list[T], page: int, limit: int, complete: bool = True) -> "Page[T]":
        """One page cut by the portal from a whole (already filtered) list."""
        pages = max(1, -(-len(every) // limit))
        page = min(max(1, page), pages)
        return cls(items=every[(page - 1) * limit: page * limit], page=page, limit=limit, total=len(every),
                   total_pages=pages, has_more=page < pages, complete=complete)


# -- dashboard -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    pool_balance: int
    pool_allocated: int
    low_pools: int
    tokens_today: int
    tokens_7d: int
    actions_today: int
    actions_7d: int
    failed_7d: int
    success_rate_7d: float | None
    active_users: int
    active_users_window_days: int
    total_users: int

    @classmethod
    def parse(cls, payload) -> "Summary":
        body = require(payload, "pool", "tokensDistributedToday", "tokensDistributed7d", "activeUsers")
        pool = require(body["pool"], "balance")
        actions = body.get("actions7d") or {}
        return cls(pool_balance=int(pool["balance"]), pool_allocated=int(pool.get("allocated", 0)),
                   low_pools=int(pool.get("lowPools", 0)), tokens_today=int(body["tokensDistributedToday"]),
                   tokens_7d=int(body["tokensDistributed7d"]), actions_today=int(body.get("actionsToday", 0)),
                   actions_7d=int(actions.get("total", 0)), failed_7d=int(actions.get("failed", 0)),
                   success_rate_7d=body.get("successRate7d"), active_users=int(body["activeUsers"]),
                   active_users_window_days=int(body.get("activeUsersWindowDays", 30)),
                   total_users=int(body.get("totalUsers", 0)))


@dataclass(frozen=True)
class TrendDay:
    date: str
    actions: int
    completed: int
    failed: int
    tokens: int
    new_users: int


@dataclass(frozen=True)
class Trends:
    days: int
    daily: list[TrendDay]

    @property
    def total_tokens(self) -> int:
        return sum(d.tokens for d in self.daily)

    @property
    def total_actions(self) -> int:
        return sum(d.actions for d in self.daily)

    @property
    def is_empty(self) -> bool:
        return not any(d.actions or d.tokens for d in self.daily)

    @classmethod
    def parse(cls, payload) -> "Trends":
        body = require(payload, "daily")
        daily = [TrendDay(date=require(d, "date")["date"], actions=int(d.get("actions", 0)),
                          completed=int(d.get("completed", 0)), failed=int(d.get("failed", 0)),
                          tokens=int(d.get("tokens", 0)), new_users=int(d.get("newUsers", 0))) for d in body["daily"]]
        return cls(days=int(body.get("days", len(daily))), daily=daily)


@dataclass(frozen=True)
class TopEarner:
    rank: int
    external_user_id: str
    name: str
    email: str | None
    tokens: int
    active_days: int


def parse_top_earners(payload) -> list[TopEarner]:
    body = require(payload, "data")
    return [TopEarner(rank=int(e.get("rank", i + 1)), external_user_id=require(e, "externalUserId")["externalUserId"],
                      name=e.get("name") or e["externalUserId"], email=e.get("email"), tokens=int(e.get("tokens", 0)),
                      active_days=int(e.get("activeDays", 0))) for i, e in enumerate(body["data"])]


@dataclass(frozen=True)
class EndpointHealth:
    webhook_id: str
    url: str
    success_rate: float | None
    delivered: int
    failed: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_reason: str | None
    consecutive_failures: int
    status: str

    @property
    def is_failing(self) -> bool:
        """Flag an endpoint before it gets worse: three failures in a row, or under 80 % delivered."""
        return self.consecutive_failures >= 3 or (self.success_rate is not None and self.success_rate < 0.8)


def parse_webhook_health(payload) -> list[EndpointHealth]:
    body = require(payload, "endpoints")
    return [EndpointHealth(webhook_id=require(e, "webhookId", "url")["webhookId"], url=e["url"],
                           success_rate=e.get("successRate"), delivered=int(e.get("delivered", 0)),
                           failed=int(e.get("failed", 0)), last_success_at=parse_time(e.get("lastSuccessAt")),
                           last_failure_at=parse_time(e.get("lastFailureAt")),
                           last_failure_reason=e.get("lastFailureReason"),
                           consecutive_failures=int(e.get("consecutiveFailures", 0)),
                           status=e.get("status", "healthy")) for e in body["endpoints"]]


@dataclass(frozen=True)
class UsageDay:
    date: str
    requests: int
    errors: int


@dataclass(frozen=True)
class EndpointUsage:
    method: str
    path: str
    requests: int
    errors: int
    avg_latency_ms: float | None


@dataclass(frozen=True)
class KeyUsage:
    key_id: str
    name: str
    requests: int
    errors: int
    requests_last_hour: int
    requests_last_24h: int
    last_used_at: datetime | None


@dataclass(frozen=True)
class ApiUsage:
    days: int
    daily: list[UsageDay]
    by_endpoint: list[EndpointUsage]
    by_key: list[KeyUsage]
    rate_limit_per_minute: int | None

    @property
    def total_requests(self) -> int:
        return sum(d.requests for d in self.daily)

    @property
    def total_errors(self) -> int:
        return sum(d.errors for d in self.daily)

    def for_key(self, key_id: str) -> KeyUsage | None:
        return next((k for k in self.by_key if k.key_id == key_id), None)

    @classmethod
    def parse(cls, payload) -> "ApiUsage":
        body = require(payload, "daily", "byEndpoint")
        return cls(
            days=int(body.get("days", len(body["daily"]))),
            daily=[UsageDay(d["date"], int(d.get("requests", 0)), int(d.get("errors", 0))) for d in body["daily"]],
            by_endpoint=[EndpointUsage(e["method"], e["path"], int(e.get("requests", 0)), int(e.get("errors", 0)),
                                       e.get("avgLatencyMs")) for e in body["byEndpoint"]],
            by_key=[KeyUsage(k["keyId"], k.get("name") or k["keyId"], int(k.get("requests", 0)), int(k.get("errors", 0)),
                             int(k.get("requestsLastHour", 0)), int(k.get("requestsLast24h", 0)),
                             parse_time(k.get("lastUsedAt"))) for k in body.get("byKey", [])],
            rate_limit_per_minute=(body.get("rateLimit") or {}).get("requestsPerMinute"))


@dataclass(frozen=True)
class RecentAction:
    action_id: str
    action_type: str
    status: str
    tokens: int
    amount: float | None
    currency: str | None
    users: list[str]
    failure_reason: str | None
    created_at: datetime | None


def parse_recent_activity(payload) -> list[RecentAction]:
    body = require(payload, "data")
    return [RecentAction(action_id=require(a, "actionId", "status")["actionId"], action_type=a.get("actionType", ""),
                         status=a["status"], tokens=int(a.get("tokensDistributed", 0)), amount=a.get("amount"),
                         currency=a.get("currency"), users=list(a.get("users") or []),
                         failure_reason=a.get("failureReason"), created_at=parse_time(a.get("createdAt")))
            for a in body["data"]]


@dataclass(frozen=True)
class HealthCheck:
    id: str
    name: str
    status: str  # pass, warn, fail
    reason: str


def parse_integration_health(payload) -> tuple[str, list[HealthCheck]]:
    body = require(payload, "checks")
    checks = [HealthCheck(c.get("id", c.get("name", "")), c.get("name", c.get("id", "")),
                          require(c, "status")["status"], c.get("reason", "")) for c in body["checks"]]
    return body.get("status", "pass"), checks


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    status: str
    description: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    reward_multiplier: float | None
    budget: int | None
    pool_id: str | None = None  # the pool its rewards draw from; None: the environment's default pool

    @classmethod
    def parse(cls, payload) -> "Campaign":
        body = require(payload, "id", "name", "status")
        return cls(id=body["id"], name=body["name"], status=body["status"], description=body.get("description"),
                   starts_at=parse_time(body.get("startsAt")), ends_at=parse_time(body.get("endsAt")),
                   reward_multiplier=body.get("rewardMultiplier"), budget=body.get("budget"),
                   pool_id=body.get("poolId"))


@dataclass(frozen=True)
class CampaignDay:
    date: str
    actions: int
    tokens: int
    participants: int


@dataclass(frozen=True)
class CampaignAnalytics:
    campaign_id: str
    actions: int
    tokens: int
    participants: int
    budget: int | None
    budget_used: float | None
    daily: list[CampaignDay]

    @classmethod
    def parse(cls, payload) -> "CampaignAnalytics":
        body = require(payload, "campaignId", "totals", "daily")
        totals = body["totals"]
        return cls(campaign_id=body["campaignId"], actions=int(totals.get("actions", 0)),
                   tokens=int(totals.get("tokens", 0)), participants=int(totals.get("participants", 0)),
                   budget=totals.get("budget"), budget_used=totals.get("budgetUsed"),
                   daily=[CampaignDay(d["date"], int(d.get("actions", 0)), int(d.get("tokens", 0)),
                                      int(d.get("participants", 0))) for d in body["daily"]])


# -- token pools ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TokenPool:
    id: str
    name: str
    environment: str | None
    status: str  # active, depleted, inactive
    balance: int
    allocated: int
    consumed: int
    threshold: int
    created_at: datetime | None = None

    @property
    def is_depleted(self) -> bool:
        return self.balance <= 0

    @property
    def is_low(self) -> bool:
        return self.status != "inactive" and (self.balance <= 0 or self.balance < self.threshold)

    @classmethod
    def parse(cls, payload) -> "TokenPool":
        body = require(payload, "id", "name", "balance", "lowBalanceThreshold")
        return cls(id=body["id"], name=body["name"], environment=body.get("environment"),
                   status=body.get("status", "active"), balance=int(body["balance"]),
                   allocated=int(body.get("allocated", 0)), consumed=int(body.get("consumed", 0)),
                   threshold=int(body["lowBalanceThreshold"]), created_at=parse_time(body.get("createdAt")))

    @classmethod
    def parse_balance(cls, payload) -> "TokenPool":
        body = require(payload, "poolId", "balance")
        return cls.parse({**body, "id": body["poolId"], "name": body.get("name", body["poolId"])})


@dataclass(frozen=True)
class AllocationRequest:
    id: str
    pool_id: str
    pool_name: str
    amount: int
    reason: str
    status: str  # pending, approved, rejected
    created_at: datetime | None
    decided_at: datetime | None
    decision_note: str | None

    @property
    def waited(self):
        """How long the decision took (or has taken so far, for a pending request: None)."""
        return self.decided_at - self.created_at if self.decided_at and self.created_at else None

    @classmethod
    def parse(cls, payload) -> "AllocationRequest":
        body = require(payload, "id", "poolId", "amount", "status")
        return cls(id=body["id"], pool_id=body["poolId"], pool_name=body.get("poolName") or body["poolId"],
                   amount=int(body["amount"]), reason=body.get("reason", ""), status=body["status"],
                   created_at=parse_time(body.get("createdAt")), decided_at=parse_time(body.get("decidedAt")),
                   decision_note=body.get("decisionNote"))


# -- API keys ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    environment: str
    key_type: str
    public_key: str | None
    secret_prefix: str | None
    status: str  # active, inactive, expired, revoked
    is_active: bool
    created_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_known: bool  # False when SIR Giving did not say (older records): show "unknown", not "never"
    revoked_at: datetime | None

    @property
    def masked(self) -> str:
        return self.secret_prefix or (self.public_key[:16] + "…" if self.public_key else "—")

    def expires_within(self, days: int, now: datetime) -> bool:
        from datetime import timedelta

        return self.expires_at is not None and self.status in ("active", "inactive") and self.expires_at <= now + timedelta(days=days)

    def needs_attention(self, now: datetime) -> bool:
        """The one rule for flagging a key (keys page, key page, banner): not revoked, and expired or
        expiring within ATTENTION_DAYS."""
        return self.revoked_at is None and (self.status == "expired" or self.expires_within(ATTENTION_DAYS, now))

    @classmethod
    def parse(cls, payload) -> "ApiKey":
        body = require(payload, "id", "name", "environment")
        return cls(id=body["id"], name=body["name"], environment=body["environment"],
                   key_type=body.get("keyType", "secret"), public_key=body.get("publicKey"),
                   secret_prefix=body.get("secretKeyPrefix"), status=body.get("status", "active"),
                   is_active=bool(body.get("isActive", True)), created_at=parse_time(body.get("createdAt")),
                   expires_at=parse_time(body.get("expiresAt")), last_used_at=parse_time(body.get("lastUsedAt")),
                   last_used_known="lastUsedAt" in body, revoked_at=parse_time(body.get("revokedAt")))


# -- webhooks ------------------------------------------------------------------------------------------

EVENT_TYPES = [
    "action.completed", "action.failed", "action.reversed", "transaction.completed", "transaction.reversed",
    "token_pool.low_balance", "token_pool.depleted", "token_pool.refilled", "token_pool_request.approved",
    "token_pool_request.rejected", "campaign.activated", "campaign.paused", "campaign.completed", "api_key.expiring",
]


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    description: str | None
    event_types: list[str]
    receive_all: bool
    is_active: bool
    created_at: datetime | None

    @classmethod
    def parse(cls, payload) -> "Webhook":
        body = require(payload, "id", "url")
        return cls(id=body["id"], url=body["url"], description=body.get("description"),
                   event_types=list(body.get("eventTypes") or []), receive_all=bool(body.get("receiveAllEvents")),
                   is_active=bool(body.get("isActive", True)), created_at=parse_time(body.get("createdAt")))


@dataclass(frozen=True)
class Delivery:
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str  # pending, succeeded, failed
    attempts: int
    response_status: int | None
    response_excerpt: str | None
    error: str | None
    created_at: datetime | None
    last_attempt_at: datetime | None
    next_retry_at: datetime | None

    @classmethod
    def parse(cls, payload) -> "Delivery":
        body = require(payload, "id", "eventType", "status")
        return cls(id=body["id"], webhook_id=body.get("webhookId", ""), event_id=body.get("eventId", ""),
                   event_type=body["eventType"], status=body["status"], attempts=int(body.get("attempts", 0)),
                   response_status=body.get("responseStatus"), response_excerpt=body.get("responseBodyExcerpt"),
                   error=body.get("error"), created_at=parse_time(body.get("createdAt")),
                   last_attempt_at=parse_time(body.get("lastAttemptAt")), next_retry_at=parse_time(body.get("nextRetryAt")))
