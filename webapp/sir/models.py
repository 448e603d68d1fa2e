"""Parsed SIR Giving replies: typed, frozen pydantic models the views and templates use instead of raw JSON.

The reference documents few reply shapes, so parsing is tolerant where it may be: camelCase names
(`alias_generator=to_camel`; the portal's attributes stay snake_case), unknown fields ignored, and every
field the portal can do without typed with an honest default or None (a null counts as absent). A field
the portal cannot do without, or one of the wrong type, raises MalformedReply naming the endpoint and the
field, which the page (or the one card) shows as "SIR Giving sent an unreadable answer", never a traceback.
Where the reference documents a shape (key create, webhook register, the event envelope) it is modelled
exactly, and anything else in it is optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Callable, ClassVar, Generic, TypeVar

from pydantic import AliasPath, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from .errors import MalformedReply
from .times import parse_time

T = TypeVar("T")
ATTENTION_DAYS = 14  # a key expiring this soon is flagged for a roll


def _time(value):
    try:
        return parse_time(value)
    except MalformedReply:
        raise ValueError("not an ISO 8601 time") from None


Time = Annotated[datetime | None, BeforeValidator(_time)]


def malformed(error: ValidationError, path: str | None, what: str) -> MalformedReply:
    """The first problem of a failed validation as MalformedReply naming the endpoint and the field."""
    problems = error.errors(include_url=False)
    first = problems[0] if problems else {"loc": (), "msg": "not understood"}
    field = ".".join(str(part) for part in first["loc"]) or "(the whole reply)"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return MalformedReply(f"{path or what}: field {field}: {first['msg']}{more}", path=path, field=field)


class Reply(BaseModel):
    """The base of every upstream reply: camelCase on the wire, snake_case here, unknown fields ignored,
    frozen, and positional construction allowed (in the order of the fields) for tests and fixtures."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def __init__(self, *args, **kwargs):
        kwargs.update(zip(type(self).model_fields, args))
        super().__init__(**kwargs)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data):
        """A null where the portal has a default means "not said": the default applies."""
        if not isinstance(data, dict):
            return data
        for name, spec in cls.model_fields.items():
            if spec.is_required() or spec.default is None:
                continue
            if isinstance(spec.validation_alias, AliasPath):
                *outer, last = spec.validation_alias.path
                holder = data
                for step in outer:
                    holder = holder.get(step) if isinstance(holder, dict) else None
                if isinstance(holder, dict) and last in holder and holder[last] is None:
                    data = _without(data, [*outer, last])
                continue
            for key in (name, spec.alias):
                if key and key in data and data[key] is None:
                    data = {k: v for k, v in data.items() if k != key}
        return data

    @classmethod
    def parse(cls, payload: Any, path: str | None = None):
        try:
            return cls.model_validate(payload)
        except ValidationError as error:
            raise malformed(error, path, cls.__name__) from None


def _without(data: dict, path: list) -> dict:
    """`data` without the key at `path` (copied on the way down; the reply is not changed)."""
    head, *rest = path
    if not rest:
        return {k: v for k, v in data.items() if k != head}
    return {**data, head: _without(data[head], rest)}


def parse_list(payload: Any, item: Callable[[Any], T], path: str | None = None) -> list[T]:
    """Every item of a one-page list in any form (bare array, `{data}`, `{data, pagination}`)."""
    return Page.parse(payload, item, path=path).items


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
        items = []
        for index, entry in enumerate(records):
            try:
                items.append(item(entry))
            except MalformedReply as error:
                if error.path:
                    raise
                raise MalformedReply(f"{path}: item {index}: {error.detail}", path=path,
                                     field=f"[{index}].{getattr(error, 'field', None) or '?'}") from None

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

class Summary(Reply):
    pool_balance: int = Field(validation_alias=AliasPath("pool", "balance"))
    pool_allocated: int = Field(0, validation_alias=AliasPath("pool", "allocated"))
    low_pools: int = Field(0, validation_alias=AliasPath("pool", "lowPools"))
    tokens_today: int = Field(alias="tokensDistributedToday")
    tokens_7d: int = Field(alias="tokensDistributed7d")
    actions_today: int = 0
    actions_7d: int = Field(0, validation_alias=AliasPath("actions7d", "total"))
    failed_7d: int = Field(0, validation_alias=AliasPath("actions7d", "failed"))
    success_rate_7d: float | None = Field(None, alias="successRate7d")
    active_users: int
    active_users_window_days: int = 30
    total_users: int = 0


class TrendDay(Reply):
    date: str
    actions: int = 0
    completed: int = 0
    failed: int = 0
    tokens: int = 0
    new_users: int = 0


class Trends(Reply):
    days: int = 0  # 0: not said; the number of days listed
    daily: list[TrendDay]

    @model_validator(mode="after")
    def _days_listed(self):
        if not self.days:
            object.__setattr__(self, "days", len(self.daily))
        return self

    @property
    def total_tokens(self) -> int:
        return sum(d.tokens for d in self.daily)

    @property
    def total_actions(self) -> int:
        return sum(d.actions for d in self.daily)

    @property
    def is_empty(self) -> bool:
        return not any(d.actions or d.tokens for d in self.daily)


class TopEarner(Reply):
    rank: int = 0  # 0: not said; its place in the list
    external_user_id: str
    name: str = ""  # "": not said; shown as the external id
    email: str | None = None
    tokens: int = 0
    active_days: int = 0

    @model_validator(mode="after")
    def _named(self):
        if not self.name:
            object.__setattr__(self, "name", self.external_user_id)
        return self


def parse_top_earners(payload, path: str | None = None) -> list[TopEarner]:
    earners = parse_list(payload, lambda e: TopEarner.parse(e, path), path)
    return [e if e.rank else e.model_copy(update={"rank": i + 1}) for i, e in enumerate(earners)]


class EndpointHealth(Reply):
    webhook_id: str
    url: str
    success_rate: float | None = None
    delivered: int = 0
    failed: int = 0
    last_success_at: Time = None
    last_failure_at: Time = None
    last_failure_reason: str | None = None
    consecutive_failures: int = 0
    status: str = "healthy"

    @property
    def is_failing(self) -> bool:
        """Flag an endpoint before it gets worse: three failures in a row, or under 80 % delivered."""
        return self.consecutive_failures >= 3 or (self.success_rate is not None and self.success_rate < 0.8)


class _WebhookHealth(Reply):
    endpoints: list[EndpointHealth]


def parse_webhook_health(payload, path: str | None = None) -> list[EndpointHealth]:
    return _WebhookHealth.parse(payload, path).endpoints


class UsageDay(Reply):
    date: str
    requests: int = 0
    errors: int = 0


class EndpointUsage(Reply):
    method: str
    path: str
    requests: int = 0
    errors: int = 0
    avg_latency_ms: float | None = None


class KeyUsage(Reply):
    key_id: str
    name: str = ""  # "": not said; shown as the key id
    requests: int = 0
    errors: int = 0
    requests_last_hour: int = 0
    requests_last_24h: int = Field(0, alias="requestsLast24h")
    last_used_at: Time = None

    @model_validator(mode="after")
    def _named(self):
        if not self.name:
            object.__setattr__(self, "name", self.key_id)
        return self


class ApiUsage(Reply):
    days: int = 0  # 0: not said; the number of days listed
    daily: list[UsageDay]
    by_endpoint: list[EndpointUsage]
    by_key: list[KeyUsage] = []
    rate_limit_per_minute: int | None = Field(None, validation_alias=AliasPath("rateLimit", "requestsPerMinute"))

    @model_validator(mode="after")
    def _days_listed(self):
        if not self.days:
            object.__setattr__(self, "days", len(self.daily))
        return self

    @property
    def total_requests(self) -> int:
        return sum(d.requests for d in self.daily)

    @property
    def total_errors(self) -> int:
        return sum(d.errors for d in self.daily)

    def for_key(self, key_id: str) -> KeyUsage | None:
        return next((k for k in self.by_key if k.key_id == key_id), None)


class RecentAction(Reply):
    action_id: str
    action_type: str = ""
    status: str
    tokens: int = Field(0, alias="tokensDistributed")
    amount: float | None = None
    currency: str | None = None
    users: list[str] = []
    failure_reason: str | None = None
    created_at: Time = None


def parse_recent_activity(payload, path: str | None = None) -> list[RecentAction]:
    return parse_list(payload, lambda a: RecentAction.parse(a, path), path)


class HealthCheck(Reply):
    id: str = ""
    name: str = ""
    status: str  # pass, warn, fail
    reason: str = ""

    @model_validator(mode="after")
    def _named(self):
        object.__setattr__(self, "id", self.id or self.name)
        object.__setattr__(self, "name", self.name or self.id)
        return self


class _IntegrationHealth(Reply):
    status: str = ""  # "": not said; the worst of the checks, never a "pass" nobody gave
    checks: list[HealthCheck]

    @model_validator(mode="after")
    def _worst(self):
        if not self.status:
            said = {c.status for c in self.checks}
            object.__setattr__(self, "status", next((s for s in ("fail", "warn") if s in said), "pass"))
        return self


def parse_integration_health(payload, path: str | None = None) -> tuple[str, list[HealthCheck]]:
    health = _IntegrationHealth.parse(payload, path)
    return health.status, health.checks


class Campaign(Reply):
    id: str
    name: str
    status: str
    description: str | None = None
    starts_at: Time = None
    ends_at: Time = None
    reward_multiplier: float | None = None
    budget: int | None = None
    pool_id: str | None = None  # the pool its rewards draw from; None: the environment's default pool


class CampaignDay(Reply):
    date: str
    actions: int = 0
    tokens: int = 0
    participants: int = 0


class CampaignAnalytics(Reply):
    campaign_id: str
    actions: int = Field(0, validation_alias=AliasPath("totals", "actions"))
    tokens: int = Field(0, validation_alias=AliasPath("totals", "tokens"))
    participants: int = Field(0, validation_alias=AliasPath("totals", "participants"))
    budget: int | None = Field(None, validation_alias=AliasPath("totals", "budget"))
    budget_used: float | None = Field(None, validation_alias=AliasPath("totals", "budgetUsed"))
    daily: list[CampaignDay]


# -- token pools ---------------------------------------------------------------------------------------

class TokenPool(Reply):
    id: str
    name: str
    environment: str | None = None
    status: str = "active"  # active, depleted, inactive
    balance: int
    allocated: int = 0
    consumed: int = 0
    threshold: int = Field(alias="lowBalanceThreshold")
    created_at: Time = None

    @property
    def is_depleted(self) -> bool:
        return self.balance <= 0

    @property
    def is_low(self) -> bool:
        return self.status != "inactive" and (self.balance <= 0 or self.balance < self.threshold)

    @classmethod
    def parse_balance(cls, payload, path: str | None = None) -> "TokenPool":
        """`GET /token-pools/:id/balance`, which names the pool `poolId` and may leave out its name."""
        if isinstance(payload, dict) and "poolId" in payload:
            payload = {**payload, "id": payload["poolId"], "name": payload.get("name") or payload["poolId"]}
        return cls.parse(payload, path)


class AllocationRequest(Reply):
    id: str
    pool_id: str
    pool_name: str = ""  # "": not said; shown as the pool id
    amount: int
    reason: str = ""
    status: str  # pending, approved, rejected
    created_at: Time = None
    decided_at: Time = None
    decision_note: str | None = None

    @model_validator(mode="after")
    def _named(self):
        if not self.pool_name:
            object.__setattr__(self, "pool_name", self.pool_id)
        return self

    @property
    def waited(self):
        """How long the decision took (or has taken so far, for a pending request: None)."""
        return self.decided_at - self.created_at if self.decided_at and self.created_at else None


# -- API keys ------------------------------------------------------------------------------------------

class ApiKey(Reply):
    id: str
    name: str
    environment: str
    key_type: str = "secret"
    public_key: str | None = None
    secret_prefix: str | None = Field(None, alias="secretKeyPrefix")
    status: str = "active"  # active, inactive, expired, revoked
    is_active: bool = True
    created_at: Time = None
    expires_at: Time = None
    last_used_at: Time = None
    last_used_known: bool = False  # False when SIR Giving did not say (older records): show "unknown", not "never"
    revoked_at: Time = None

    @model_validator(mode="before")
    @classmethod
    def _last_use_said(cls, data):
        if isinstance(data, dict) and "lastUsedKnown" not in data and "last_used_known" not in data:
            data = {**data, "lastUsedKnown": "lastUsedAt" in data or "last_used_at" in data}
        return data

    @property
    def masked(self) -> str:
        return self.secret_prefix or (self.public_key[:16] + "…" if self.public_key else "—")

    def expires_within(self, days: int, now: datetime) -> bool:
        return self.expires_at is not None and self.status in ("active", "inactive") and self.expires_at <= now + timedelta(days=days)

    def needs_attention(self, now: datetime) -> bool:
        """The one rule for flagging a key (keys page, key page, banner): not revoked, and expired or
        expiring within ATTENTION_DAYS."""
        return self.revoked_at is None and (self.status == "expired" or self.expires_within(ATTENTION_DAYS, now))


class CreatedKey(Reply):
    """The reply to `POST /v1/partner/keys`, exactly as the reference documents it (section 2). It has no
    `keyType`: the type is the one asked for. A publishable key has no secret key or HMAC secret."""

    id: str
    partner_id: str | None = None
    name: str
    environment: str
    public_key: str | None = None
    secret_key: str | None = None
    hmac_secret: str | None = None
    key_type: str | None = None  # not in the reference: the caller fills in what it asked for

    WIRE: ClassVar[tuple[str, ...]] = ("id", "partnerId", "name", "environment", "publicKey", "secretKey",
                                       "hmacSecret", "keyType")

    def wire(self) -> dict:
        """The camelCase dict the key pages and the vault read (secrets included: shown once)."""
        return self.model_dump(by_alias=True)


# -- webhooks ------------------------------------------------------------------------------------------

EVENT_TYPES = [
    "action.completed", "action.failed", "action.reversed", "transaction.completed", "transaction.reversed",
    "token_pool.low_balance", "token_pool.depleted", "token_pool.refilled", "token_pool_request.approved",
    "token_pool_request.rejected", "campaign.activated", "campaign.paused", "campaign.completed", "api_key.expiring",
]


class Webhook(Reply):
    id: str
    url: str
    description: str | None = None
    event_types: list[str] = []
    receive_all: bool = Field(False, alias="receiveAllEvents")
    is_active: bool = True
    created_at: Time = None


class RegisteredWebhook(Reply):
    """The reply to `POST /v1/partner/webhooks`, as the reference documents it (section 5): the signing
    secret is in it, once."""

    id: str
    url: str
    event_types: list[str] = []
    secret: str
    is_active: bool = True

    def wire(self) -> dict:
        return self.model_dump(by_alias=True)


class Attempt(Reply):
    """One attempt to deliver, as far as SIR Giving reports it (the reference names no attempt history)."""

    attempted_at: Time = None
    status: str | None = None  # succeeded, failed
    response_status: int | None = None
    duration_ms: float | None = None
    response_excerpt: str | None = Field(None, alias="responseBodyExcerpt")
    error: str | None = None
    # Header names to text values; anything else in there (a field the portal does not know) is left out.
    request_headers: Annotated[dict[str, str], BeforeValidator(
        lambda v: {k: x for k, x in v.items() if isinstance(k, str) and isinstance(x, str)} if isinstance(v, dict) else {}
    )] = {}

    @property
    def succeeded(self) -> bool:
        if self.response_status is not None:
            return 200 <= self.response_status < 300
        return self.status == "succeeded"


def _readable_attempts(value):
    """The attempts that can be read; the history is a bonus the reference does not promise, so one
    unreadable entry (or a history of the wrong shape) never costs the delivery itself."""
    if not isinstance(value, list):
        return None
    attempts = []
    for entry in value:
        try:
            attempts.append(Attempt.model_validate(entry))
        except ValidationError:
            continue
    return tuple(attempts)


class Delivery(Reply):
    id: str
    webhook_id: str = ""
    event_id: str = ""
    event_type: str
    status: str  # pending, succeeded, failed
    attempts: int = 0
    response_status: int | None = None
    response_excerpt: str | None = Field(None, alias="responseBodyExcerpt")
    error: str | None = None
    created_at: Time = None
    last_attempt_at: Time = None
    next_retry_at: Time = None
    payload: dict | None = None  # the event envelope, when SIR Giving includes it
    # Every attempt, oldest first; None when SIR Giving does not report them (then only the last is known).
    attempt_history: Annotated[tuple[Attempt, ...] | None, BeforeValidator(_readable_attempts)] = None


class EventEnvelope(Reply):
    """What SIR Giving POSTs to a webhook, as the reference documents it (section 5): `{id, type,
    createdAt, data}`. A bad `createdAt` is not a reason to refuse the event: it is kept without one."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    type: Annotated[str, Field(min_length=1, max_length=64)]
    created_at: Annotated[datetime | None, BeforeValidator(lambda v: parse_time(v, lenient=True))] = None
    data: dict = {}
