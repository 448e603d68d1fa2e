"""Deterministic demo data: the same seed gives the same partners, keys, users, 90 days of actions, pools,
campaigns, webhooks with deliveries, and allocation requests (times are relative to the day it runs).

Everything goes through the same domain rules as live traffic (`Simulator.submit_action`), so the numbers
agree across endpoints. Seeding takes a moment, so the result is kept per (seed, day) and handed out as a
fresh copy each time.
"""

from __future__ import annotations

import gc
import json
import pickle
import random
from datetime import datetime, timezone

from .model import (Account, AllocationRequest, ApiKey, Campaign, Delivery, Partner, TokenPool, Webhook, day_of, iso)
from .state import DAY, Simulator, empty_state, hash_password

DEMO_PASSWORD = "sandbox-demo"
PASSWORD_SALT = b"sir-simulator-demo"  # demo accounts only; a real service salts each password at random

FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elena", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo",
         "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vik", "Wen", "Yara", "Zane", "Maya",
         "Leo", "Iris", "Noah", "Ana"]
LAST = ["Okafor", "Smith", "Garcia", "Chen", "Novak", "Haddad", "Silva", "Kim", "Patel", "Moreau", "Rossi",
        "Larsen", "Nguyen", "Costa", "Ahmed", "Walsh", "Sato", "Ibrahim", "Fischer", "Lopez"]
ACTION_TYPES = [("PURCHASE", 50), ("VOLUNTEER", 15), ("DONATION", 15), ("REFERRAL", 10), ("ADVOCACY", 10)]

PARTNERS = [
    {"slug": "acme-rewards", "name": "Acme Rewards", "email": "admin@acme.example", "admin": "Avery Acme",
     "host": "acme.example", "users": 320, "weekday": 55, "weekend": 22, "pool": "Sandbox rewards",
     "promo": "Holiday promotions", "live_pool": "Production rewards"},
    {"slug": "globex-giving", "name": "Globex Giving", "email": "admin@globex.example", "admin": "Gale Globex",
     "host": "globex.example", "users": 240, "weekday": 38, "weekend": 14, "pool": "Globex sandbox pool",
     "promo": "Giving week pool", "live_pool": "Globex live pool"},
]

_CACHE: dict[tuple[int, str], tuple[float, bytes]] = {}


def seeded_state(seed: int, now: float, exact: bool = False) -> dict:
    """The seeded state for `seed`, ending on the day of `now`. Built once per (seed, day) and copied; with
    `exact`, built at exactly `now` (a journal replays over the very state it was written against)."""
    key = (seed, day_of(now))
    cached = _CACHE.get(key)
    if cached is None or (exact and cached[0] != now):
        cached = (now, pickle.dumps(_build(seed, now), protocol=pickle.HIGHEST_PROTOCOL))
        if key not in _CACHE:
            _CACHE[key] = cached
    return _unpickle(cached[1])


def _unpickle(blob: bytes) -> dict:
    """The copy, with the cyclic garbage collector paused: the state is a few hundred thousand small objects,
    and letting the collector run while they are created makes it rescan the whole heap several times
    over (3-6x the time of the load itself in a process that already holds a lot, like a test run)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(blob)
    finally:
        if enabled:
            gc.enable()


class _Builder(Simulator):
    """A simulator without locks' overhead concerns, used only to replay the seed through the domain rules."""

    def __init__(self, seed: int, now: float):  # noqa: D107 - deliberately not calling Simulator.__init__
        import threading

        self.seed, self.state_path, self.journal, self.lock = seed, None, None, threading.RLock()
        self.clock_offset, self._op, self._frozen_by = 0.0, None, None
        self.delivery_wakeup = threading.Event()
        self._fixed_now = now
        self.rng = random.Random(f"ids-{seed}")  # ids from the seed too: same seed, same ids
        self.__dict__.update(empty_state())
        self.seed_time = now
        self._index()

    def now(self) -> float:
        return self._fixed_now

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(64):016x}"

    def new_secret(self, nbytes: int) -> str:
        return f"{self.rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"


def _build(seed: int, now: float) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    sim = _Builder(seed, now)

    def rid(prefix: str) -> str:
        return f"{prefix}_{rng.getrandbits(64):016x}"  # the current partner's generator (bound in the loop)

    today_start = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    for spec in PARTNERS:
        # One generator per partner, and every draw made whatever the time of day (an action later today is drawn,
        # then left out): a run at 09:00 and one at 15:00 of the same day hold the same partners, keys, users,
        # pools, campaigns, requests, webhooks and the same actions up to 09:00, with the same ids.
        rng = random.Random(f"{seed}:{spec['slug']}")
        sim.rng = random.Random(f"ids-{seed}:{spec['slug']}:users")
        partner = Partner(id=rid("ptn"), name=spec["name"], slug=spec["slug"])
        sim.partners[partner.id] = partner
        account = Account(id=rid("acc"), email=spec["email"], name=spec["admin"], partner_id=partner.id,
                          password_salt=PASSWORD_SALT, password_hash=hash_password(DEMO_PASSWORD, PASSWORD_SALT))
        sim.accounts[account.id] = account

        keys = {}
        for name, environment, key_type, age_days, expires_in in (
                ("Backend integration", "sandbox", "secret", 120, None),
                ("Checkout widget", "sandbox", "publishable", 120, None),
                ("Legacy batch job", "sandbox", "secret", 300, 10),
                ("Live backend", "production", "secret", 60, None),
                ("Live widget", "production", "publishable", 60, None)):
            suffix = "test" if environment == "sandbox" else "live"
            key = ApiKey(id=rid("key"), partner_id=partner.id, name=name, environment=environment, key_type=key_type,
                         public_key=f"pk_{suffix}_{rng.getrandbits(128):032x}",
                         secret_key=f"sk_{suffix}_{rng.getrandbits(192):048x}" if key_type == "secret" else None,
                         hmac_secret=f"{rng.getrandbits(256):064x}" if key_type == "secret" else None,
                         created_at=now - age_days * DAY,
                         expires_at=now + expires_in * DAY if expires_in else None)
            sim.keys[key.id] = key
            keys[(name, environment)] = key

        for environment, count in (("sandbox", spec["users"]), ("production", spec["users"] // 3)):
            for n in range(count):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                sim.create_user(partner.id, environment, f"user_{n + 1:04d}", f"{first.lower()}.{last.lower()}{n}@{spec['host']}",
                                first, last, {"tier": rng.choice(["bronze", "silver", "gold"])},
                                at=now - rng.uniform(91, 200) * DAY)

        main = TokenPool(id=rid("pool"), partner_id=partner.id, environment="sandbox", name=spec["pool"],
                         allocated=0, consumed=0, low_balance_threshold=25_000, created_at=now - 150 * DAY)
        promo = TokenPool(id=rid("pool"), partner_id=partner.id, environment="sandbox", name=spec["promo"],
                          allocated=0, consumed=0, low_balance_threshold=10_000, created_at=now - 40 * DAY)
        live = TokenPool(id=rid("pool"), partner_id=partner.id, environment="production", name=spec["live_pool"],
                         allocated=0, consumed=0, low_balance_threshold=15_000, created_at=now - 60 * DAY)
        for pool in (main, promo, live):
            pool.allocated = 10_000_000  # generous while replaying; set to the real figure below
            sim.pools[pool.id] = pool

        campaigns = [
            Campaign(id=rid("cmp"), partner_id=partner.id, environment="sandbox", name="Back to school",
                     status="active", created_at=now - 95 * DAY, starts_at=today_start - 80 * DAY,
                     ends_at=today_start - 50 * DAY, pool_id=main.id, reward_multiplier=1.5,
                     description="1.5× rewards on school supplies", action_types=["PURCHASE"]),
            Campaign(id=rid("cmp"), partner_id=partner.id, environment="sandbox", name="Holiday double rewards",
                     status="active", created_at=now - 30 * DAY, starts_at=today_start - 21 * DAY,
                     ends_at=today_start + 30 * DAY, pool_id=promo.id, reward_multiplier=2.0, budget=400_000,
                     description="Double tokens on every action through the holidays", action_types=[]),
            Campaign(id=rid("cmp"), partner_id=partner.id, environment="sandbox", name="Spring volunteering",
                     status="draft", created_at=now - 3 * DAY, starts_at=today_start + 90 * DAY,
                     ends_at=today_start + 120 * DAY, pool_id=main.id, reward_multiplier=1.25,
                     description="Extra tokens for volunteer shifts", action_types=["VOLUNTEER"]),
            Campaign(id=rid("cmp"), partner_id=partner.id, environment="production", name="Launch week",
                     status="active", created_at=now - 20 * DAY, starts_at=today_start - 14 * DAY,
                     ends_at=today_start + 16 * DAY, pool_id=live.id, reward_multiplier=1.2,
                     description="Welcome bonus for new members", action_types=[]),
        ]
        for campaign in campaigns:
            sim.campaigns[campaign.id] = campaign

        backend = {"sandbox": keys[("Backend integration", "sandbox")], "production": keys[("Live backend", "production")]}
        legacy = keys[("Legacy batch job", "sandbox")]
        weights = [w for _, w in ACTION_TYPES]
        serial = 0
        for environment, days, scale in (("sandbox", 90, 1.0), ("production", 30, 0.3)):
            sim.rng = random.Random(f"ids-{seed}:{spec['slug']}:{environment}")
            population = [u for (p, e, _), u in sim.users.items() if p == partner.id and e == environment]
            # A few users earn far more than the rest, as in real programmes.
            user_weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(population))]
            for offset in range(days - 1, -1, -1):
                day_start = today_start - offset * DAY
                weekday = datetime.fromtimestamp(day_start, timezone.utc).weekday()
                base = spec["weekend"] if weekday >= 5 else spec["weekday"]
                growth = 1 + (days - offset) / (days * 3)
                count = max(1, int(base * scale * growth * rng.uniform(0.8, 1.2)))
                # In time order, as they would have arrived: the newest actions are the last ones stored.
                for at in sorted(day_start + rng.uniform(7 * 3600, 22 * 3600) for _ in range(count)):
                    serial += 1
                    action_type = rng.choices([t for t, _ in ACTION_TYPES], weights)[0]
                    amount = round(rng.uniform(10, 200), 2) if action_type in ("PURCHASE", "DONATION") else None
                    stakeholders = []
                    for user in rng.choices(population, user_weights, k=2 if rng.random() < 0.1 else 1):
                        stakeholders.append({"stakeholderTypeCode": "CUSTOMER", "partnerUserId": user.external_user_id})
                    if rng.random() < 0.03:  # an integration bug: a user the partner never created
                        stakeholders = [{"stakeholderTypeCode": "CUSTOMER", "partnerUserId": f"ghost_{serial}"}]
                    body = {"idempotencyKey": f"seed_{environment}_{serial:06d}", "actionType": action_type,
                            "amount": amount, "currency": "USD" if amount else None, "stakeholders": stakeholders,
                            "metadata": {"source": "seed"}}
                    key = legacy if environment == "sandbox" and rng.random() < 0.08 else backend[environment]
                    elapsed_ms = rng.uniform(20, 90)
                    if at > now:  # later today: drawn, so that what follows does not depend on the hour, then left out
                        continue
                    sim.submit_action(partner.id, environment, body, at=at, quiet=True)
                    sim.record_request(partner.id, environment, key.id, "POST", "/v1/partner/actions/submit",
                                       201, elapsed_ms, at=at)
                    key.last_used_at = max(key.last_used_at or 0, at)

        # "Back to school" ran (and earned) while its actions were replayed; it has been over for 50 days.
        campaigns[0].status = "completed"

        # The real allocations: the main pool comfortable, the promotions pool below its threshold.
        main.allocated = main.consumed + 95_000 + rng.randrange(0, 5_000)
        promo.allocated = promo.consumed + 6_000 + rng.randrange(0, 1_000)
        live.allocated = live.consumed + 60_000

        for pool, amount, age, decided_after, status, reason in (
                (main, 100_000, 62, 2.5, "approved", "Quarterly top-up for the loyalty programme"),
                (promo, 50_000, 31, 1.5, "rejected", "Holiday campaign budget"),
                (main, 80_000, 18, 3.0, "approved", "Growth in weekday purchases"),
                (promo, 20_000, 1, None, "pending", "Holiday double rewards is running faster than planned"),
                (live, 50_000, 40, 2.0, "approved", "Production launch allocation")):
            request = AllocationRequest(id=rid("req"), partner_id=partner.id, environment=pool.environment,
                                        pool_id=pool.id, amount=amount, reason=reason, created_at=now - age * DAY,
                                        status=status)
            if decided_after is not None:
                request.decided_at = request.created_at + decided_after * DAY
                request.decision_note = ("Approved by SIR Giving" if status == "approved"
                                         else "Please split this into smaller monthly requests")
            sim.requests[request.id] = request

        healthy = Webhook(id=rid("whk"), partner_id=partner.id, environment="sandbox",
                          url=f"https://hooks.{spec['host']}/sir", description="Rewards ledger sync",
                          event_types=["action.completed", "action.failed", "action.reversed"],
                          receive_all_events=False, secret=f"whsec_{rng.getrandbits(192):048x}",
                          created_at=now - 100 * DAY)
        failing = Webhook(id=rid("whk"), partner_id=partner.id, environment="sandbox",
                          url=f"https://legacy.{spec['host']}/webhooks", description="Old CRM bridge",
                          event_types=[], receive_all_events=True, secret=f"whsec_{rng.getrandbits(192):048x}",
                          created_at=now - 200 * DAY)
        for hook in (healthy, failing):
            sim.webhooks[hook.id] = hook
        recent_actions = [a for a in sim.actions.values()
                          if a.partner_id == partner.id and a.environment == "sandbox" and a.created_at > now - 7 * DAY]
        recent_actions.sort(key=lambda a: a.created_at)
        for action in recent_actions:
            if int(action.idempotency_key.rsplit("_", 1)[1]) % 6:
                continue  # every sixth action was pushed to the webhooks; which ones does not depend on the hour
            drawn = random.Random(f"{seed}:{action.id}")  # its event and deliveries: the same whenever it is built
            event_type = "action.completed" if action.status == "COMPLETED" else "action.failed"
            # Nothing seeded happens after `now`: an action of the last seconds was raised and sent at `now`, and a
            # failure's last retry of "an hour later" is cut at `now` (the portal shows these times as past).
            event = {"id": f"evt_{drawn.getrandbits(64):016x}", "type": event_type, "createdAt": iso(min(action.created_at + 1, now)),
                     "data": {"actionId": action.id, "idempotencyKey": action.idempotency_key,
                              "status": action.status, "tokensDistributed": action.tokens_distributed}}
            sim.events.append({**event, "partnerId": partner.id, "environment": "sandbox"})
            body = json.dumps(event, separators=(",", ":")).encode()
            for hook in (healthy, failing):
                sent = min(action.created_at + 2, now)
                # The legacy endpoint broke two days ago and has failed ever since.
                broken = hook is failing and action.created_at > now - 2 * DAY
                flaky = hook is healthy and drawn.random() < 0.02
                ok = not (broken or flaky)
                delivery = Delivery(id=f"dlv_{drawn.getrandbits(64):016x}", webhook_id=hook.id, partner_id=partner.id, event_id=event["id"],
                                    event_type=event_type, payload=body, created_at=sent,
                                    status="succeeded" if ok else "failed", attempts=1 if ok else (6 if broken else 2),
                                    response_status=200 if ok else (503 if broken else 500),
                                    response_body_excerpt='{"ok":true}' if ok else (
                                        "Service Unavailable" if broken else "Internal Server Error"),
                                    last_attempt_at=min(sent + (0 if ok else 3600), now), next_retry_at=None)
                if flaky:  # the retry went through
                    delivery.status, delivery.response_status, delivery.response_body_excerpt = "succeeded", 200, '{"ok":true}'
                delivery.history = _seeded_attempts(delivery, hook.secret, broken, drawn)
                sim.deliveries[delivery.id] = delivery

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim.jwt_private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode()
    return sim.state_dict()


def _seeded_attempts(delivery: Delivery, secret: str, broken: bool, drawn: random.Random) -> list[dict]:
    """The attempts a seeded delivery's counts stand for, each signed as it was sent: on the retry schedule
    from its creation, the last one at its `last_attempt_at`; only the last may have succeeded."""
    from .delivery import USER_AGENT, sign
    from .state import RETRY_BACKOFF

    times, at = [], delivery.created_at
    for number in range(delivery.attempts):
        times.append(min(at, delivery.last_attempt_at))
        if number < len(RETRY_BACKOFF):
            at += RETRY_BACKOFF[number]
    times[-1] = delivery.last_attempt_at
    history = []
    for number, at in enumerate(times, start=1):
        last = number == len(times)
        status = delivery.response_status if last else (503 if broken else 500)
        excerpt = delivery.response_body_excerpt if last else ("Service Unavailable" if broken else "Internal Server Error")
        timestamp = str(int(at))
        history.append({"at": at, "responseStatus": status, "responseBodyExcerpt": excerpt,
                        "error": None,  # as the seeded record has it: the status says what went wrong
                        "durationMs": round(drawn.uniform(20, 400), 1),
                        "headers": {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                                    "X-SIR-Signature": sign(secret, timestamp, delivery.payload),
                                    "X-SIR-Timestamp": timestamp}})
    return history
