"""The simulator's state and its domain rules: one consistent model behind every endpoint.

An action debits the pool of its environment and credits its users through transactions; a reversal
gives a share back and may leave a user in debt; pools cross their low-balance threshold and deplete;
allocation requests go pending → approved (the pool's allocation rises) or rejected; every dashboard
figure is computed from this state, from aggregates kept up to date as things happen (so a dashboard
call never rescans every action). Domain changes raise the documented webhook events.

All mutation happens under one lock; reads that build a reply take it too, so a reply is consistent.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from .model import (AllocationRequest, ApiKey, Action, Campaign, Delivery, Partner, PartnerUser, TokenPool,
                    Transaction, Webhook, day_of, iso)
from .persistence import Journal

DAY = 86_400
EVENT_TYPES = [
    "action.completed", "action.failed", "action.reversed", "transaction.completed", "transaction.reversed",
    "token_pool.low_balance", "token_pool.depleted", "token_pool.refilled", "token_pool_request.approved",
    "token_pool_request.rejected", "campaign.activated", "campaign.paused", "campaign.completed", "api_key.expiring",
]
TEST_EVENT_TYPE = "webhook.test"
CAMPAIGN_EVENTS = {"active": "campaign.activated", "paused": "campaign.paused", "completed": "campaign.completed"}
RETRY_BACKOFF = [30, 120, 600, 3600, 21_600]  # seconds after attempts 1..5; attempt 6 is the last
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1
TOKENS_PER_ACTION = {"PURCHASE": None, "VOLUNTEER": 50, "DONATION": None, "REFERRAL": 100, "ADVOCACY": 20}


class DomainError(Exception):
    """A request the domain refuses; carries the HTTP status, code and details for the reply."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def new_id(prefix: str) -> str:
    """An id outside the domain state (faults); domain objects take theirs from `Simulator.new_id`."""
    return f"{prefix}_{secrets.token_hex(8)}"


def journaled(method):
    """Mark a method that changes the state: it runs under the lock on a frozen clock, and, when it succeeds,
    is appended to the journal with the ids and secrets it generated, so a replay repeats it exactly."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            if self._op is not None:  # nested in another operation, or replaying: part of that record
                return method(self, *args, **kwargs)
            record = {"op": method.__name__, "at": self.now(), "args": list(args), "kwargs": kwargs, "ids": []}
            self._op, self._frozen_by = record, threading.get_ident()
            try:
                result = method(self, *args, **kwargs)
            finally:
                self._op = self._frozen_by = None
            if self.journal is not None:
                self.journal.append(record)
            return result

    wrapper.journaled = True
    return wrapper


def hash_password(password: str, salt: bytes) -> bytes:
    # Fewer rounds than a production service would use: the simulator only guards demo accounts.
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 20_000)


def _pair() -> list:
    return [0, 0]


def _triple() -> list:
    return [0, 0, 0.0]


def _pairs() -> defaultdict:
    return defaultdict(_pair)


def _triples() -> defaultdict:
    return defaultdict(_triple)


def _deques() -> defaultdict:
    return defaultdict(deque)


@dataclass
class Usage:
    """API usage counted from the requests really served (module-level factories keep it picklable)."""

    by_day: dict = field(default_factory=_pairs)  # (partner, env, day) → [requests, errors]
    by_endpoint: dict = field(default_factory=_triples)  # (partner, env, day, method, route) → [req, err, ms]
    by_key: dict = field(default_factory=_pairs)  # (key_id, day) → [req, err]
    recent: dict = field(default_factory=_deques)  # key_id → request times of the last 24 h
    served: int = 0
    # (partner, env, key, method, route) → [429s, time of the last 429, the key's first success after it or None]
    throttled: dict = field(default_factory=dict)


class ControlsMixin:
    """Operator controls as Python methods; `/_sim/…` exposes the same ones over HTTP."""

    def add_fault(self, method: str = "*", path: str = "*", status: int | None = None, delay_ms: int = 0,
                  malformed: bool = False, drop: bool = False, count: int | None = None):
        from .faults import Fault

        fault = Fault(method=method.upper() if method != "*" else "*", path=path, status=status, delay_ms=delay_ms,
                      malformed=malformed, drop=drop, count=count)
        with self.traffic.lock:
            self.traffic.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.traffic.lock:
            self.traffic.faults.clear()

    def set_traffic(self, latency_ms=None, jitter_ms=None, error_rate=None, rate_limit=None) -> None:
        for name, value in (("latency_ms", latency_ms), ("jitter_ms", jitter_ms), ("error_rate", error_rate),
                            ("rate_limit", rate_limit)):
            if value is not None:
                setattr(self.traffic, name, value)

    def deliver_due(self) -> int:
        return self.deliverer.deliver_due()

    def requests_served(self) -> int:
        return self.usage.served

    @journaled
    def set_partner_status(self, partner_id: str, status: str) -> None:
        self.partners[partner_id].status = status

    def partner_by_slug(self, slug: str):
        return next((p for p in self.partners.values() if p.slug == slug), None)

    @journaled
    def add_partner(self, name: str, slug: str, email: str, password: str, sandbox_tokens: int = 100_000):
        """A partner that has just signed up: one admin account, a sandbox pool, and nothing in production
        (no live key, no production pool, no webhook): what a partner has before it goes live."""
        from .model import Account, Partner, TokenPool

        if self.partner_by_slug(slug) is not None or email.strip().lower() in self.accounts_by_email:
            raise DomainError(409, "CONFLICT", "A partner with that slug or an account with that email exists.")
        partner = Partner(id=self.new_id("ptn"), name=name, slug=slug)
        salt = self.new_secret(16).encode()
        account = Account(id=self.new_id("acc"), email=email.strip().lower(), name=f"{name} admin",
                          partner_id=partner.id, password_salt=salt, password_hash=hash_password(password, salt))
        self.partners[partner.id] = partner
        self.accounts[account.id] = account
        self.accounts_by_email[account.email] = account
        pool = TokenPool(id=self.new_id("pool"), partner_id=partner.id, environment="sandbox", name="Sandbox pool",
                         allocated=sandbox_tokens, consumed=0, low_balance_threshold=sandbox_tokens // 10,
                         created_at=self.now())
        self.pools[pool.id] = pool
        return partner

    @journaled
    def provision_pool(self, partner_id: str, environment: str, name: str, tokens: int, threshold: int):
        """SIR Giving approves and provisions a token pool (production ones come with go-live approval)."""
        from .model import TokenPool

        if partner_id not in self.partners:
            raise DomainError(404, "NOT_FOUND", "No such partner.")
        pool = TokenPool(id=self.new_id("pool"), partner_id=partner_id, environment=environment, name=name,
                         allocated=tokens, consumed=0, low_balance_threshold=threshold, created_at=self.now())
        self.pools[pool.id] = pool
        return pool

    @journaled
    def set_endpoint_accepts_forged(self, partner_id: str, environment: str, accepts: bool) -> None:
        """Make the partner's sample webhook handler (simulator/endpoints.py) of `environment` take any delivery,
        signed or not: a handler that forgot to verify X-SIR-Signature, for showing the go-live check fail."""
        if accepts:
            self.lax_endpoints.add((partner_id, environment))
        else:
            self.lax_endpoints.discard((partner_id, environment))


class Simulator(ControlsMixin):
    def __init__(self, seed: int = 42, state_path: str | None = None, state_key: str | None = None):
        self.seed = seed
        self.state_path = state_path
        self.journal = Journal(state_path, state_key) if state_path else None
        self.lock = threading.RLock()
        self.clock_offset = 0.0
        # A variant's `clock_offset`: SIR Giving's clock off real time. Kept apart from the moves above, which
        # the embedded portal follows as the world's time (webapp/embedded.py); this one it has to measure.
        self.skew = 0.0
        self.delivery_wakeup = threading.Event()
        # X-Request-ID of the latest requests, as SIR Giving's own logs keep them: a caller's id is traceable.
        self.request_ids: deque[str] = deque(maxlen=1000)
        self._op = self._frozen_by = None
        self.reset(load=True)

    # -- clock and ids ----------------------------------------------------------------------------

    def now(self) -> float:
        # Inside an operation the clock stands still, so a replay of the journal sees the very same times.
        if self._frozen_by is not None and self._frozen_by == threading.get_ident():
            return self._op["at"]
        return time.time() + self.clock_offset + self.skew

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self._generated(lambda: secrets.token_hex(8))}"

    def new_secret(self, nbytes: int) -> str:
        return self._generated(lambda: secrets.token_hex(nbytes))

    def _generated(self, make) -> str:
        op = self._op
        if op is not None and op.get("replay"):
            return op["replay"].pop(0)
        value = make()
        if op is not None:
            op["ids"].append(value)
        return value

    @journaled
    def advance_clock(self, seconds: float) -> float:
        self.clock_offset += seconds
        before = self._op["at"]
        self._op["at"] = before + seconds  # what happens now happens at the new time...
        try:
            self._check_expiring_keys()
            return self._op["at"]
        finally:
            self._op["at"] = before  # ...but the journal keeps the time the move was made
            self.delivery_wakeup.set()

    # -- lifecycle --------------------------------------------------------------------------------

    def reset(self, load: bool = False) -> None:
        """Back to the seeded state; with `load`, replay the journal of an earlier run over it."""
        from .seed import seeded_state

        with self.lock:
            header, records = self.journal.load() if (load and self.journal) else (None, [])
            if header is not None and header.get("seed") == self.seed:
                data = seeded_state(self.seed, header["seedTime"], exact=True)
                data["jwt_private_pem"] = header["jwtKey"]
            else:
                records = []
                data = seeded_state(self.seed, time.time())
            self.__dict__.update(data)
            self.clock_offset = 0.0
            self._index()
            kept = [record for record in records if self._replay(record)]
            if self.journal is not None:
                self.journal.start({"seed": self.seed, "seedTime": self.seed_time, "jwtKey": self.jwt_private_pem}, kept)
        self.delivery_wakeup.set()

    def _replay(self, record: dict) -> bool:
        method = getattr(self, record.get("op", ""), None)
        if not getattr(method, "journaled", False):
            logging.getLogger(__name__).warning("simulator journal: unknown operation %r skipped", record.get("op"))
            return False
        self._op = {**record, "replay": list(record.get("ids", []))}
        self._frozen_by = threading.get_ident()
        try:
            method(*record.get("args", []), **record.get("kwargs", {}))
            return True
        except Exception:  # one bad line must not cost the rest of the state
            logging.getLogger(__name__).exception("simulator journal: %s could not be replayed", record.get("op"))
            return False
        finally:
            self._op = self._frozen_by = None

    def _index(self) -> None:
        """Look-up tables derived from the state, kept up to date by the operations that add to it."""
        self.keys_by_token = {}
        for key in self.keys.values():
            self.keys_by_token[key.public_key] = key
            if key.secret_key:
                self.keys_by_token[key.secret_key] = key
        self.accounts_by_email = {a.email: a for a in self.accounts.values()}
        # In the order things happened, per partner and environment: a list page is a slice from the end.
        self.actions_by_env = defaultdict(list)
        for action in self.actions.values():
            self.actions_by_env[(action.partner_id, action.environment)].append(action)
        self.transactions_by_env = defaultdict(list)
        self.transactions_by_user = defaultdict(list)
        for txn in self.transactions.values():
            self._index_transaction(txn)
        self.deliveries_by_hook = defaultdict(list)
        for delivery in self.deliveries.values():
            self.deliveries_by_hook[delivery.webhook_id].append(delivery)

    def _index_transaction(self, txn: Transaction) -> None:
        self.transactions_by_env[(txn.partner_id, txn.environment)].append(txn)
        self.transactions_by_user[(txn.partner_id, txn.environment, txn.external_user_id)].append(txn)

    def state_dict(self) -> dict:
        names = ("partners", "accounts", "keys", "users", "pools", "requests", "actions", "actions_by_idem",
                 "transactions", "campaigns", "webhooks", "deliveries", "events", "daily", "user_day_tokens",
                 "campaign_daily", "usage", "jwt_private_pem", "donations", "seed_time", "lax_endpoints")
        return {name: getattr(self, name) for name in names}

    def mark_dirty(self) -> None:
        """Kept for callers of the snapshot era: the journal records each operation as it happens."""

    def flush(self) -> None:
        """Hand whatever the journal buffers to the OS (each write already does)."""
        if self.journal is not None:
            self.journal.flush()

    # -- look-ups ---------------------------------------------------------------------------------

    def partner_of(self, key: ApiKey) -> Partner:
        return self.partners[key.partner_id]

    def scoped(self, collection: dict, item_id: str, partner_id: str, environment: str | None = None):
        item = collection.get(item_id)
        if item is None or item.partner_id != partner_id or (environment and getattr(item, "environment", environment) != environment):
            raise DomainError(404, "NOT_FOUND", "No such item for this partner and environment.")
        return item

    # -- usage ------------------------------------------------------------------------------------

    def record_request(self, partner_id: str | None, environment: str | None, key_id: str | None, method: str,
                       route: str, status: int, elapsed_ms: float, at: float | None = None,
                       authenticated: bool = False) -> None:
        """Count a request really served (per partner, environment, day, route and key); an authenticated
        request also marks its key as used."""
        if partner_id is None:
            with self.lock:
                self.usage.served += 1
            return
        self._count_request(partner_id, environment, key_id, method, route, status, round(elapsed_ms, 3), at,
                            authenticated)

    @journaled
    def _count_request(self, partner_id, environment, key_id, method, route, status, elapsed_ms, at=None,
                       authenticated=False) -> None:
        at = self.now() if at is None else at
        day = day_of(at)
        error = 1 if status >= 400 else 0
        self.usage.served += 1
        if authenticated and key_id in self.keys:
            key = self.keys[key_id]
            key.last_used_at = max(key.last_used_at or 0, at)
        counts = self.usage.by_day[(partner_id, environment, day)]
        counts[0] += 1
        counts[1] += error
        endpoint = self.usage.by_endpoint[(partner_id, environment, day, method, route)]
        endpoint[0] += 1
        endpoint[1] += error
        endpoint[2] += elapsed_ms
        if status == 429:
            throttled = self.usage.throttled.setdefault((partner_id, environment, key_id, method, route), [0, at, None])
            throttled[0] += 1
            throttled[1], throttled[2] = at, None
        elif status < 400 and self.usage.throttled:
            for (partner, env, key, *_), throttled in self.usage.throttled.items():
                if (partner, env, key) == (partner_id, environment, key_id) and throttled[2] is None and at >= throttled[1]:
                    throttled[2] = at  # the same caller came back after its 429 and got through
        if key_id:
            per_key = self.usage.by_key[(key_id, day)]
            per_key[0] += 1
            per_key[1] += error
            recent = self.usage.recent[key_id]
            if not recent or recent[-1] <= at:
                recent.append(at)
            else:  # the clock was moved back: keep the times in order, so that counting them is a binary search
                recent.insert(bisect.bisect_right(recent, at), at)
            while recent and recent[0] < at - DAY:
                recent.popleft()

    # -- events and deliveries --------------------------------------------------------------------

    @journaled
    def raise_event(self, partner_id: str, environment: str, event_type: str, data: dict,
                    only_webhook: str | None = None) -> dict:
        """Record an event and queue a delivery to every webhook of that partner and environment that wants it."""
        event = {"id": self.new_id("evt"), "type": event_type, "createdAt": iso(self.now()), "data": data}
        self.events.append({**event, "partnerId": partner_id, "environment": environment})
        body = json.dumps(event, separators=(",", ":")).encode()
        queued = []
        for hook in self.webhooks.values():
            if hook.partner_id != partner_id or hook.environment != environment:
                continue
            if only_webhook is not None:
                if hook.id != only_webhook:
                    continue
            elif not hook.wants(event_type):
                continue
            delivery = Delivery(id=self.new_id("dlv"), webhook_id=hook.id, partner_id=partner_id,
                                event_id=event["id"], event_type=event_type, payload=body,
                                created_at=self.now(), next_retry_at=self.now())
            self.deliveries[delivery.id] = delivery
            self.deliveries_by_hook[hook.id].append(delivery)
            queued.append(delivery.id)
        if queued:
            self.delivery_wakeup.set()
        return {**event, "deliveryIds": queued}

    def due_deliveries(self) -> list[Delivery]:
        with self.lock:
            now = self.now()
            return [d for d in self.deliveries.values()
                    if d.next_retry_at is not None and d.next_retry_at <= now and d.status != "succeeded"]

    @journaled
    def record_attempt(self, delivery_id: str, status: int | None, body: str | None, error: str | None,
                       manual: bool = False, duration_ms: float | None = None, headers: dict | None = None) -> Delivery:
        """Count an attempt and keep it in the delivery's history (`headers`: those the request carried)."""
        delivery = self.deliveries[delivery_id]
        now = self.now()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_status = status
        delivery.response_body_excerpt = (body or "")[:500] or None
        delivery.error = error
        delivery.history.append({"at": now, "responseStatus": status, "responseBodyExcerpt": delivery.response_body_excerpt,
                                 "error": error, "durationMs": None if duration_ms is None else round(duration_ms, 1),
                                 "headers": dict(headers or {})})
        if status is not None and 200 <= status < 300:
            delivery.status, delivery.next_retry_at = "succeeded", None
        else:
            delivery.status = "failed"
            retries_left = delivery.attempts < MAX_ATTEMPTS and not manual
            delivery.next_retry_at = now + RETRY_BACKOFF[delivery.attempts - 1] if retries_left else None
        return delivery

    @journaled
    def retry_delivery(self, delivery_id: str) -> Delivery:
        delivery = self.deliveries[delivery_id]
        delivery.next_retry_at = self.now()
        delivery.status = "pending" if delivery.status != "succeeded" else delivery.status
        self.delivery_wakeup.set()
        return delivery

    # -- pools ------------------------------------------------------------------------------------

    def pools_for(self, partner_id: str, environment: str) -> list[TokenPool]:
        return [p for p in self.pools.values() if p.partner_id == partner_id and p.environment == environment]

    def _debit(self, pool: TokenPool, tokens: int) -> None:
        before = pool.balance
        pool.consumed += tokens
        self._pool_crossings(pool, before)

    def _pool_crossings(self, pool: TokenPool, before: int) -> None:
        after = pool.balance
        data = {"poolId": pool.id, "poolName": pool.name, "balance": after, "threshold": pool.low_balance_threshold}
        if before > 0 >= after:
            self.raise_event(pool.partner_id, pool.environment, "token_pool.depleted", data)
        elif before >= pool.low_balance_threshold > after:
            self.raise_event(pool.partner_id, pool.environment, "token_pool.low_balance", data)

    @journaled
    def request_allocation(self, partner_id: str, environment: str, pool_id: str, amount: int, reason: str) -> AllocationRequest:
        pool = self.scoped(self.pools, pool_id, partner_id, environment)
        request = AllocationRequest(id=self.new_id("req"), partner_id=partner_id, environment=environment,
                                    pool_id=pool.id, amount=amount, reason=reason, created_at=self.now())
        self.requests[request.id] = request
        return request

    @journaled
    def decide_allocation_request(self, request_id: str, approve: bool = True, note: str | None = None) -> AllocationRequest:
        request = self.requests.get(request_id)
        if request is None:
            raise DomainError(404, "NOT_FOUND", "No such allocation request.")
        if request.status != "pending":
            raise DomainError(409, "CONFLICT", f"The request is already {request.status}.")
        request.status = "approved" if approve else "rejected"
        request.decided_at = self.now()
        request.decision_note = note or ("Approved by SIR Giving" if approve else "Rejected by SIR Giving")
        pool = self.pools[request.pool_id]
        data = {"requestId": request.id, "poolId": pool.id, "poolName": pool.name, "amount": request.amount,
                "status": request.status, "note": request.decision_note}
        if approve:
            pool.allocated += request.amount
            self.raise_event(request.partner_id, request.environment, "token_pool_request.approved", data)
            self.raise_event(request.partner_id, request.environment, "token_pool.refilled",
                             {"poolId": pool.id, "poolName": pool.name, "balance": pool.balance,
                              "amount": request.amount})
        else:
            self.raise_event(request.partner_id, request.environment, "token_pool_request.rejected", data)
        return request

    # -- users ------------------------------------------------------------------------------------

    def user_by_external(self, partner_id: str, environment: str, external_id: str) -> PartnerUser | None:
        return self.users.get((partner_id, environment, external_id))

    @journaled
    def create_user(self, partner_id: str, environment: str, external_id: str, email=None, first_name=None,
                    last_name=None, metadata=None, at: float | None = None) -> PartnerUser:
        at = self.now() if at is None else at
        user = PartnerUser(id=self.new_id("usr"), partner_id=partner_id, environment=environment,
                           external_user_id=external_id, email=email, first_name=first_name, last_name=last_name,
                           created_at=at, metadata=metadata or {})
        self.users[(partner_id, environment, external_id)] = user
        self.daily[(partner_id, environment, day_of(at))]["newUsers"] += 1
        return user

    # -- actions ----------------------------------------------------------------------------------

    def tokens_for(self, action_type: str, amount: float | None, multiplier: float) -> int:
        fixed = TOKENS_PER_ACTION.get(action_type)
        if fixed is None:
            base = max(5, int(round((amount or 0)))) if action_type == "PURCHASE" else max(5, int(round((amount or 0) / 2)))
        else:
            base = fixed
        return max(1, int(round(base * multiplier)))

    def active_campaign(self, partner_id: str, environment: str, at: float) -> Campaign | None:
        for campaign in self.campaigns.values():
            if (campaign.partner_id == partner_id and campaign.environment == environment and campaign.status == "active"
                    and (campaign.starts_at is None or campaign.starts_at <= at)
                    and (campaign.ends_at is None or at < campaign.ends_at)):
                return campaign
        return None

    def submit_action(self, partner_id: str, environment: str, body: dict, at: float | None = None,
                      quiet: bool = False) -> tuple[Action, bool]:
        """Process one action; returns (action, created). A repeated idempotencyKey returns the original
        (and is not journaled: it changes nothing)."""
        with self.lock:
            existing = self.actions_by_idem.get((partner_id, environment, body["idempotencyKey"]))
            if existing is not None:
                return self.actions[existing], False
            return self._submit_action(partner_id, environment, body, at, quiet)

    @journaled
    def _submit_action(self, partner_id: str, environment: str, body: dict, at: float | None = None,
                       quiet: bool = False) -> tuple[Action, bool]:
        at = self.now() if at is None else at
        campaign = self.active_campaign(partner_id, environment, at)
        pools = [p for p in self.pools_for(partner_id, environment) if p.status == "active"]
        pool = None
        if campaign and campaign.pool_id:
            pool = next((p for p in pools if p.id == campaign.pool_id), None)
        pool = pool or (pools[0] if pools else None)
        if pool is None:
            if environment == "sandbox":
                raise DomainError(422, "NO_SANDBOX_POOL",
                                  "Your sandbox key is valid, but no active sandbox token pool exists.")
            raise DomainError(422, "NO_ACTIVE_POOL", "No active token pool found")
        stakeholders = body["stakeholders"]
        per_user = self.tokens_for(body["actionType"], body.get("amount"), campaign.reward_multiplier if campaign else 1.0)
        total = per_user * len(stakeholders)
        action = Action(id=self.new_id("act"), partner_id=partner_id, environment=environment,
                        idempotency_key=body["idempotencyKey"], action_type=body["actionType"],
                        amount=body.get("amount"), currency=body.get("currency"), created_at=at,
                        status="COMPLETED", tokens_distributed=0, pool_id=pool.id,
                        campaign_id=campaign.id if campaign else None, stakeholders=stakeholders,
                        metadata=body.get("metadata") or {})
        missing = [s["partnerUserId"] for s in stakeholders
                   if self.user_by_external(partner_id, environment, s["partnerUserId"]) is None]
        if missing and not body.get("autoCreateUsers", False):
            action.status, action.failure_code = "FAILED", "USER_NOT_FOUND"
            action.failure_reason = f"Unknown partner user(s): {', '.join(missing)}; set autoCreateUsers to create them."
        elif pool.balance < total:
            action.status, action.failure_code = "FAILED", "INSUFFICIENT_POOL_BALANCE"
            action.failure_reason = f"Pool {pool.name} has {pool.balance} tokens left; this action needs {total}."
        day = day_of(at)
        stats = self.daily[(partner_id, environment, day)]
        stats["actions"] += 1
        if action.status == "FAILED":
            stats["failed"] += 1
        else:
            for stakeholder in stakeholders:
                user = self.user_by_external(partner_id, environment, stakeholder["partnerUserId"])
                if user is None:
                    user = self.create_user(partner_id, environment, stakeholder["partnerUserId"],
                                            stakeholder.get("userEmail"), stakeholder.get("userFirstName"),
                                            stakeholder.get("userLastName"), at=at)
                credited = per_user
                if user.debt:  # earlier reversals are paid back from new earnings first
                    repaid = min(user.debt, credited)
                    user.debt -= repaid
                    credited -= repaid
                user.balance += credited
                user.lifetime_tokens += per_user
                user.last_action_at = at
                txn = Transaction(id=self.new_id("txn"), partner_id=partner_id, environment=environment,
                                  action_id=action.id, external_user_id=user.external_user_id,
                                  kind="distribution", tokens=per_user, pool_id=pool.id, created_at=at)
                self.transactions[txn.id] = txn
                self._index_transaction(txn)
                action.transaction_ids.append(txn.id)
                self.user_day_tokens[(partner_id, environment, day)][user.external_user_id] += per_user
                if not quiet:
                    self.raise_event(partner_id, environment, "transaction.completed", txn.to_wire())
            action.tokens_distributed = total
            stats["completed"] += 1
            stats["tokens"] += total
            stats["activeUsers"] = stats.get("activeUsers", 0)
            if campaign:
                c = self.campaign_daily[(campaign.id, day)]
                c["actions"] += 1
                c["tokens"] += total
                c["participants"] += len(stakeholders)
            self._debit(pool, total) if not quiet else setattr(pool, "consumed", pool.consumed + total)
        self.actions[action.id] = action
        self.actions_by_env[(partner_id, environment)].append(action)
        self.actions_by_idem[(partner_id, environment, action.idempotency_key)] = action.id
        if not quiet:
            kind = "action.completed" if action.status == "COMPLETED" else "action.failed"
            self.raise_event(partner_id, environment, kind, {
                "actionId": action.id, "idempotencyKey": action.idempotency_key, "status": action.status,
                "tokensDistributed": action.tokens_distributed, "failureCode": action.failure_code})
        return action, True

    @journaled
    def reverse_action(self, partner_id: str, environment: str, action_id: str, percentage: float,
                       reason: str, refund_key: str | None) -> dict:
        action = self.scoped(self.actions, action_id, partner_id, environment)
        if refund_key and (partner_id, environment, "refund:" + refund_key) in self.actions_by_idem:
            return json.loads(self.actions_by_idem[(partner_id, environment, "refund:" + refund_key)])
        if action.status not in ("COMPLETED", "PARTIALLY_REVERSED"):
            raise DomainError(409, "CONFLICT", f"Only a completed action can be reversed; this one is {action.status}.")
        remaining = action.tokens_distributed - action.reversed_tokens
        wanted = int(round(action.tokens_distributed * percentage / 100))
        to_reverse = min(wanted, remaining)
        if to_reverse <= 0:
            raise DomainError(409, "CONFLICT", "Nothing is left to reverse on this action.")
        pool = self.pools.get(action.pool_id)
        per_user = to_reverse // max(1, len(action.stakeholders))
        reversal_ids, debt_total = [], 0
        for stakeholder in action.stakeholders:
            user = self.user_by_external(partner_id, environment, stakeholder["partnerUserId"])
            taken = min(user.balance, per_user)
            debt = per_user - taken
            user.balance -= taken
            user.debt += debt
            user.lifetime_tokens -= per_user
            debt_total += debt
            txn = Transaction(id=self.new_id("txn"), partner_id=partner_id, environment=environment,
                              action_id=action.id, external_user_id=user.external_user_id, kind="reversal",
                              tokens=-per_user, pool_id=action.pool_id, created_at=self.now(), debt_created=debt)
            self.transactions[txn.id] = txn
            self._index_transaction(txn)
            reversal_ids.append(txn.id)
            self.user_day_tokens[(partner_id, environment, day_of(action.created_at))][user.external_user_id] -= per_user
            self.raise_event(partner_id, environment, "transaction.reversed", txn.to_wire())
        reversed_now = per_user * len(action.stakeholders)
        action.reversed_tokens += reversed_now
        action.status = "REVERSED" if action.reversed_tokens >= action.tokens_distributed else "PARTIALLY_REVERSED"
        if pool is not None:
            pool.consumed -= reversed_now  # the tokens go back to the pool they came from
        self.daily[(partner_id, environment, day_of(action.created_at))]["tokens"] -= reversed_now
        result = {"actionId": action.id, "status": action.status, "reversedTokens": reversed_now,
                  "totalReversedTokens": action.reversed_tokens, "debtCreated": debt_total,
                  "transactionIds": reversal_ids, "reason": reason}
        self.raise_event(partner_id, environment, "action.reversed", result)
        if refund_key:
            self.actions_by_idem[(partner_id, environment, "refund:" + refund_key)] = json.dumps(result)
        return result

    # -- keys -------------------------------------------------------------------------------------

    @journaled
    def create_key(self, partner_id: str, name: str, environment: str, key_type: str) -> ApiKey:
        suffix = "test" if environment == "sandbox" else "live"
        key = ApiKey(id=self.new_id("key"), partner_id=partner_id, name=name, environment=environment,
                     key_type=key_type, public_key=f"pk_{suffix}_{self.new_secret(16)}",
                     secret_key=f"sk_{suffix}_{self.new_secret(24)}" if key_type == "secret" else None,
                     hmac_secret=self.new_secret(32) if key_type == "secret" else None,
                     created_at=self.now())
        self.keys[key.id] = key
        self.keys_by_token[key.public_key] = key
        if key.secret_key:
            self.keys_by_token[key.secret_key] = key
        return key

    @journaled
    def update_key(self, partner_id: str, key_id: str, changes: dict) -> ApiKey:
        """`changes` holds attribute names (name, is_active, expires_at) already validated by the route."""
        key = self.scoped(self.keys, key_id, partner_id)
        if key.revoked_at is not None:
            raise DomainError(409, "CONFLICT", "A revoked key cannot be changed.")
        for name, value in changes.items():
            setattr(key, name, value)
        if "expires_at" in changes:
            key.expiring_notified = False
        self._check_expiring_keys()
        return key

    @journaled
    def revoke_key(self, partner_id: str, key_id: str) -> ApiKey:
        key = self.scoped(self.keys, key_id, partner_id)
        if key.revoked_at is None:
            key.revoked_at = self.now()
            key.is_active = False
        return key

    def check_expiring_keys(self) -> None:
        """What the passing of real time does: raise `api_key.expiring` for keys now within 7 days of expiry, and
        complete the active campaigns whose end has come (`campaign.completed`)."""
        now = self.now()
        with self.lock:
            if (any(self._expiring(key, now) for key in self.keys.values())
                    or any(self._ended(campaign, now) for campaign in self.campaigns.values())):
                self._notify_expiring_keys()

    @journaled
    def _notify_expiring_keys(self) -> None:
        self._check_expiring_keys()

    @staticmethod
    def _expiring(key: ApiKey, now: float) -> bool:
        return bool(key.expires_at and not key.expiring_notified and key.revoked_at is None
                    and now < key.expires_at <= now + 7 * DAY)

    # -- donations, users, webhooks, campaigns ----------------------------------------------------

    @journaled
    def create_donation(self, partner_id: str, environment: str, slug: str, amount: int, currency: str) -> dict:
        donation_id = self.new_id("pdn")
        self.donations[donation_id] = {"partnerDonationId": donation_id, "partnerId": partner_id,
                                       "environment": environment, "nonprofitSlug": slug, "amount": amount,
                                       "currency": currency, "status": "PENDING", "createdAt": iso(self.now())}
        return self.donations[donation_id]

    @journaled
    def update_user(self, partner_id: str, environment: str, external_id: str, metadata: dict | None,
                    fields: dict) -> PartnerUser:
        user = self.user_by_external(partner_id, environment, external_id)
        if user is None:
            raise DomainError(404, "NOT_FOUND", f"No partner user with externalUserId {external_id!r}.")
        if metadata is not None:
            user.metadata.update(metadata)
        for name, value in fields.items():
            setattr(user, name, value)
        return user

    @journaled
    def register_webhook(self, partner_id: str, environment: str, url: str, description: str | None,
                         event_types: list[str], receive_all_events: bool) -> Webhook:
        hook = Webhook(id=self.new_id("whk"), partner_id=partner_id, environment=environment, url=url,
                       description=description, event_types=sorted(set(event_types)),
                       receive_all_events=receive_all_events, secret=f"whsec_{self.new_secret(24)}",
                       created_at=self.now())
        self.webhooks[hook.id] = hook
        return hook

    @journaled
    def delete_webhook(self, partner_id: str, environment: str, webhook_id: str) -> Webhook:
        hook = self.scoped(self.webhooks, webhook_id, partner_id, environment)
        del self.webhooks[hook.id]
        for delivery in self.deliveries_by_hook.get(hook.id, ()):
            if delivery.status != "succeeded":
                delivery.next_retry_at = None  # nothing more is sent to a deleted endpoint
        return hook

    @journaled
    def create_campaign(self, partner_id: str, environment: str, pool_id: str | None, fields: dict) -> Campaign:
        """`fields` holds attribute names already validated by the route (name required)."""
        fields = dict(fields)
        if pool_id is not None:
            self.scoped(self.pools, pool_id, partner_id, environment)
        campaign = Campaign(id=self.new_id("cmp"), partner_id=partner_id, environment=environment,
                            name=fields.pop("name"), status=fields.pop("status", "draft"), created_at=self.now(),
                            starts_at=fields.pop("starts_at", None), ends_at=fields.pop("ends_at", None),
                            pool_id=pool_id)
        for name, value in fields.items():
            setattr(campaign, name, value)
        self.campaigns[campaign.id] = campaign
        if campaign.status == "active":
            self.raise_event(partner_id, environment, "campaign.activated", campaign.to_wire())
        return campaign

    @journaled
    def update_campaign(self, partner_id: str, environment: str, campaign_id: str, changes: dict) -> Campaign:
        campaign = self.scoped(self.campaigns, campaign_id, partner_id, environment)
        before = campaign.status
        for name, value in changes.items():
            setattr(campaign, name, value)
        if campaign.status != before and campaign.status in CAMPAIGN_EVENTS:
            self.raise_event(partner_id, environment, CAMPAIGN_EVENTS[campaign.status], campaign.to_wire())
        return campaign

    @staticmethod
    def _ended(campaign: Campaign, now: float) -> bool:
        return campaign.status == "active" and campaign.ends_at is not None and campaign.ends_at <= now

    def _check_expiring_keys(self) -> None:
        now = self.now()
        for campaign in self.campaigns.values():
            if self._ended(campaign, now):  # its end has come: the list says so, as /campaigns/active already does
                campaign.status = "completed"
                self.raise_event(campaign.partner_id, campaign.environment, "campaign.completed", campaign.to_wire())
        for key in self.keys.values():
            if self._expiring(key, now):
                key.expiring_notified = True
                self.raise_event(key.partner_id, key.environment, "api_key.expiring", {
                    "keyId": key.id, "name": key.name, "expiresAt": iso(key.expires_at)})

    # -- dashboard aggregates ---------------------------------------------------------------------

    def days(self, count: int) -> list[str]:
        today = self.now()
        return [day_of(today - (count - 1 - i) * DAY) for i in range(count)]

    def new_daily(self):
        return defaultdict(Counter)


def empty_state() -> dict:
    return {
        "partners": {}, "accounts": {}, "keys": {}, "users": {}, "pools": {}, "requests": {}, "actions": {},
        "actions_by_idem": {}, "transactions": {}, "campaigns": {}, "webhooks": {}, "deliveries": {}, "events": [],
        "daily": defaultdict(Counter), "user_day_tokens": defaultdict(Counter), "campaign_daily": defaultdict(Counter),
        "usage": Usage(), "jwt_private_pem": None, "donations": {}, "seed_time": 0.0,
        "lax_endpoints": set(),
    }

