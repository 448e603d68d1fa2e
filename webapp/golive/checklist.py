"""The go-live checklist: one row per item of the reference's go-live checklist (section 2) and its
production-approval table, each computed from live state, with its evidence and the one action that fixes it.

Every row's upstream calls go out in one parallel round on the portal's worker pool; a call two rows need
(the production webhook list) is made once (`dashboard.cards.shared`). No Flask here: the view hands in the
clients, the resolver and what the audit log says of the last signature check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlsplit

from .. import clock
from ..dashboard.cards import shared
from ..parallel import POOL
from ..sir import errors
from ..sir.api import AccountApi, PartnerApi
from ..sir.times import parse_time

PASSED, FAILING, NEEDS_YOU, UNKNOWN = "passed", "failing", "needs you", "unknown"
EXPIRY_DAYS = 14  # a live key expiring sooner than this is not a key to launch on
DUPLICATE_WINDOW = timedelta(minutes=10)  # same user, type and amount under two keys this close: likely a retry
SIGNATURE_CHECK = "webhook_signature_checked"  # its audit action: the row reads its last outcome there
EMBEDDED_SUFFIX = ".simulator.invalid"  # the embedded simulator's hosts, reached in process


@dataclass
class Action:
    label: str
    endpoint: str | None = None  # a portal endpoint for url_for; None: nothing the portal can do (say who can)
    params: dict = field(default_factory=dict)
    post: bool = False  # a button that runs the check (the signature row), not a link
    production: bool = False  # done in production: from the sandbox, the link switches first
    come_back: bool = False  # the page it opens returns to the checklist when done (its `next`)


@dataclass
class Row:
    id: str
    title: str
    state: str
    evidence: list[str]
    action: Action | None = None



@dataclass
class Inputs:
    """What the rows are computed from. `production`/`sandbox` are None when the portal holds no key there;
    `address_of(url)` classifies an endpoint's address without sending it anything; `last_check` is the newest
    audit entry of the signature check (or None)."""

    account: AccountApi
    production: PartnerApi | None
    sandbox: PartnerApi | None
    address_of: Callable[[str], tuple[bool, str]]
    last_check: Any = None
    fresh: bool = False
    now: datetime = field(default_factory=clock.now)  # the portal's one clock
    hints: dict = field(default_factory=dict)

    def once(self, name: str, call: Callable[[], Any]):
        return shared(self.hints, name, call)


NO_PRODUCTION_KEY = Action("Give the portal a production key", "onboarding.index", production=True, come_back=True)


def _production(inputs: Inputs) -> PartnerApi:
    if inputs.production is None:
        raise errors.NoCredential()
    return inputs.production


# -- the rows ----------------------------------------------------------------------------------------------

def partner_record(inputs: Inputs) -> Row:
    info = inputs.account.partner_info() or {}
    status = str(info.get("status") or "unknown")
    features = [str(f) for f in info.get("features") or []]
    limit = (info.get("rateLimit") or {}).get("requestsPerMinute") if isinstance(info.get("rateLimit"), dict) else None
    evidence = [f"Status: {status}",
                "Enabled features: " + (", ".join(features) if features else "none"),
                f"Rate limit: {limit} requests a minute" if limit else "Rate limit: not stated"]
    if status == "active":
        return Row("partner_record", TITLES["partner_record"], PASSED, evidence)
    if status == "suspended":
        return Row("partner_record", TITLES["partner_record"], FAILING, evidence,
                   Action("Contact SIR Giving support: a suspended partner cannot call the API"))
    return Row("partner_record", TITLES["partner_record"], NEEDS_YOU, evidence,
               Action("Ask SIR Giving to approve your partner record (the production-approval items)"))


def live_keys(inputs: Inputs) -> Row:
    title = TITLES["live_keys"]
    keys = inputs.account.key_list().value
    live = [k for k in keys if k.environment == "production" and k.key_type == "secret"
            and (k.public_key or "").startswith("pk_live_") and (k.secret_prefix or "").startswith("sk_live_")]
    active = [k for k in live if k.status == "active"]
    lasting = [k for k in active if not k.expires_within(EXPIRY_DAYS, inputs.now)]
    if lasting:
        key = lasting[0]
        until = f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "no expiry"
        return Row("live_keys", title, PASSED, [f"“{key.name}”: {key.public_key[:16]}… and {key.secret_prefix}, active, {until}"])
    if active:
        key = active[0]
        return Row("live_keys", title, FAILING,
                   [f"“{key.name}” expires {key.expires_at:%Y-%m-%d}, within {EXPIRY_DAYS} days"],
                   Action("Roll this key", "keys.roll", {"key_id": key.id}))
    evidence = ["No active production secret key pair"]
    if live:
        evidence.append(", ".join(f"“{k.name}” is {k.status}" for k in live))
    return Row("live_keys", title, NEEDS_YOU, evidence, Action("Create a live key pair (environment: production)", "keys.new"))


def credential_signs(inputs: Inputs) -> Row:
    title = TITLES["credential_signs"]
    if inputs.production is None:
        return Row("credential_signs", title, NEEDS_YOU, ["The portal holds no production key to sign with"],
                   NO_PRODUCTION_KEY)
    try:
        inputs.production.check_credential()
    except errors.SirError as error:
        if isinstance(error, errors.Unauthorized):
            raise
        return Row("credential_signs", title, FAILING, [f"A signed read-only call failed just now: {error.title}",
                                                         error.message], NO_PRODUCTION_KEY)
    prefix = inputs.production.credential.secret_key[:12]
    return Row("credential_signs", title, PASSED,
               [f"A signed read-only call (GET /v1/partner/users) with {prefix}… succeeded just now"])


def production_pool(inputs: Inputs) -> Row:
    from ..pools.forecast import pool_runways

    title = TITLES["production_pool"]
    if inputs.production is None:
        return Row("production_pool", title, UNKNOWN, ["The portal needs a production key to look"], NO_PRODUCTION_KEY)
    rows = pool_runways(inputs.production, fresh=inputs.fresh).value.rows
    active = [(pool, runway) for pool, runway in rows if pool.status == "active"]
    if not active:
        return Row("production_pool", title, NEEDS_YOU,
                   ["No active production token pool" + (f" ({len(rows)} inactive or depleted)" if rows else "")],
                   Action("Ask SIR Giving for a production pool (it comes with production approval)"))
    pool, runway = max(active, key=lambda pair: pair[0].balance - pair[0].threshold)
    days = runway.days
    pace = f"runway about {days:,.0f} days at the current pace" if days is not None else "runway: nothing drawn yet"
    evidence = [f"“{pool.name}”: {pool.balance:,} tokens, low-balance threshold {pool.threshold:,}", pace]
    if pool.balance > pool.threshold:
        return Row("production_pool", title, PASSED, evidence)
    return Row("production_pool", title, FAILING, evidence,
               Action("Request a top-up", "pools.request_top_up", {"pool_id": pool.id}, production=True))


def choose_endpoint(hooks):
    """The production endpoint the checklist judges: the first active one served over https, else the first active."""
    active = [h for h in hooks if h.is_active]
    return next((h for h in active if h.url.startswith("https://")), active[0] if active else None)


def _endpoint(inputs: Inputs):
    return choose_endpoint(inputs.once("webhooks", lambda: _production(inputs).webhooks()).value)


REGISTER = Action("Register a production webhook endpoint", "webhooks.new", production=True)


def webhook_endpoint(inputs: Inputs) -> Row:
    title = TITLES["webhook_endpoint"]
    if inputs.production is None:
        return Row("webhook_endpoint", title, UNKNOWN, ["The portal needs a production key to look"], NO_PRODUCTION_KEY)
    health_task = POOL.submit(lambda: _production(inputs).webhook_health())
    hook = _endpoint(inputs)
    if hook is None:
        return Row("webhook_endpoint", title, NEEDS_YOU, ["No active production webhook endpoint"], REGISTER)
    public, where = inputs.address_of(hook.url)
    evidence = [hook.url, where]
    try:
        health = next((e for e in health_task.result().value if e.webhook_id == hook.id), None)
    except errors.SirError as error:
        health, evidence = None, evidence + [f"Delivery health unknown: {error.title}"]
    if not public:
        return Row("webhook_endpoint", title, FAILING, evidence, REGISTER)
    open_deliveries = Action("Open its deliveries", "webhooks.deliveries", {"webhook_id": hook.id}, production=True)
    if health is None or health.delivered + health.failed == 0:
        return Row("webhook_endpoint", title, NEEDS_YOU, evidence + ["No deliveries yet: send it a test event"],
                   open_deliveries)
    evidence.append(f"{health.delivered} delivered, {health.failed} failed recently"
                    + (f"; last failure: {health.last_failure_reason}" if health.last_failure_reason else ""))
    if health.consecutive_failures:
        evidence.append(f"The last {health.consecutive_failures} deliveries failed")
        return Row("webhook_endpoint", title, FAILING, evidence, open_deliveries)
    return Row("webhook_endpoint", title, PASSED, evidence)


def signature_check(inputs: Inputs) -> Row:
    title = TITLES["signature_check"]
    if inputs.production is None:
        return Row("signature_check", title, UNKNOWN, ["The portal needs a production key to look"], NO_PRODUCTION_KEY)
    hook = _endpoint(inputs)
    if hook is None:
        return Row("signature_check", title, NEEDS_YOU, ["Register a production endpoint first"], REGISTER)
    run = Action("Send it two forged test deliveries", post=True)
    entry = inputs.last_check
    if entry is None or not (entry.target or "").endswith(f"({hook.id})"):
        return Row("signature_check", title, NEEDS_YOU,
                   [f"Not checked yet: the portal sends {hook.url} one delivery with a wrong signature and one "
                    "with a 10-minute-old timestamp; your handler must refuse both"], run)
    when = f"Checked {entry.at:%Y-%m-%d %H:%M} UTC by {entry.actor}"
    details = [when] + [part.strip() for part in (entry.detail or "").split(";") if part.strip()]
    if entry.outcome == "success":
        return Row("signature_check", title, PASSED, details, Action("Check again", post=True))
    if (entry.detail or "").startswith("accepted"):
        return Row("signature_check", title, FAILING, ["Your handler accepts forged events"] + details,
                   Action("Fix the handler, then check again", post=True))
    return Row("signature_check", title, UNKNOWN, details, Action("Check again", post=True))


def idempotency(inputs: Inputs) -> Row:
    title = TITLES["idempotency"]
    if inputs.sandbox is None:
        return Row("idempotency", title, UNKNOWN, ["The portal needs a sandbox key to look at your test actions"])
    actions = [a for a in (_action(raw) for raw in inputs.sandbox.recent_actions(100, inputs.fresh).value) if a]
    if not actions:
        return Row("idempotency", title, NEEDS_YOU,
                   ["No sandbox actions yet. Test it: submit an action, resend it with the same idempotencyKey, "
                    "and check that one reward was issued"])
    pairs = likely_duplicates(actions[::-1])  # oldest first: the list is newest first, and times tie within a second
    if not pairs:
        return Row("idempotency", title, PASSED,
                   [f"No likely duplicates among your {len(actions)} latest sandbox actions (same user, type and "
                    f"amount within {DUPLICATE_WINDOW.seconds // 60} minutes under different keys)"])
    evidence = [f"{len(pairs)} likely duplicate{'s' if len(pairs) != 1 else ''} in your latest sandbox actions:"]
    evidence += [f"{a['user']} {a['type']} {a['amount'] if a['amount'] is not None else '(no amount)'}: "
                 f"{a['id']} (key {a['key']}) and {b['id']} (key {b['key']}), "
                 f"{int((b['at'] - a['at']).total_seconds())} s apart" for a, b in pairs[:5]]
    return Row("idempotency", title, FAILING, evidence,
               Action("Reuse the real-world operation's key (order id, shift id) on every retry: see your recent activity",
                      "dashboard.overview"))


def _action(raw) -> dict | None:
    if not isinstance(raw, dict):
        return None
    at = parse_time(raw.get("createdAt"))
    stakeholders = raw.get("stakeholders") or [{}]
    user = stakeholders[0].get("partnerUserId") if isinstance(stakeholders[0], dict) else None
    if at is None or not raw.get("idempotencyKey"):
        return None
    return {"id": raw.get("actionId") or raw.get("id"), "key": raw["idempotencyKey"], "type": raw.get("actionType"),
            "amount": raw.get("amount"), "user": user, "at": at}


def likely_duplicates(actions: list[dict]) -> list[tuple[dict, dict]]:
    """Pairs of actions for the same user, type and amount, under different idempotency keys, within the window
    (`actions` oldest first; the sort keeps that order among actions of the same second)."""
    pairs, latest = [], {}
    for action in sorted(actions, key=lambda a: a["at"]):
        same = (action["user"], action["type"], action["amount"])
        earlier = latest.get(same)
        if earlier is not None and earlier["key"] != action["key"] and action["at"] - earlier["at"] <= DUPLICATE_WINDOW:
            pairs.append((earlier, action))
        latest[same] = action
    return pairs


def retries(inputs: Inputs) -> Row:
    title = TITLES["retries"]
    if inputs.sandbox is None:
        return Row("retries", title, UNKNOWN, ["The portal needs a sandbox key to look at your API usage"])
    usage = inputs.sandbox.api_usage(7, fresh=inputs.fresh)
    limited = (usage.reply.data or {}).get("rateLimited") if isinstance(usage.reply.data, dict) else None
    limit = usage.value.rate_limit_per_minute
    if not limited:
        return Row("retries", title, NEEDS_YOU,
                   ["No 429 answers in your sandbox usage of the last 7 days, so nothing shows how your code retries",
                    f"Test it: exceed {limit or 'your'} requests a minute on the sandbox, wait as Retry-After says, "
                    "then retry with the same idempotencyKey"])
    recovered = [e for e in limited if e.get("succeededAfterAt")]
    evidence = [f"{e.get('count')}× 429 on {e.get('method')} {e.get('path')}, "
                + (f"then a success at {e['succeededAfterAt']}" if e.get("succeededAfterAt") else "and no success since")
                for e in limited[:5]]
    if len(recovered) == len(limited):
        return Row("retries", title, PASSED, evidence)
    return Row("retries", title, FAILING, evidence,
               Action("Back off as Retry-After says and retry: see API usage", "dashboard.overview"))


ROWS: dict[str, Callable[[Inputs], Row]] = {
    "partner_record": partner_record,
    "live_keys": live_keys,
    "credential_signs": credential_signs,
    "production_pool": production_pool,
    "webhook_endpoint": webhook_endpoint,
    "signature_check": signature_check,
    "idempotency": idempotency,
    "retries": retries,
}
TITLES = {"partner_record": "Partner record", "live_keys": "Live key pair (pk_live_ and sk_live_)",
          "credential_signs": "The portal's production credential signs", "production_pool": "Active production token pool",
          "webhook_endpoint": "Production webhook endpoint: registered, delivering, public https",
          "signature_check": "Your webhook handler verifies X-SIR-Signature",
          "idempotency": "Actions use stable idempotency keys", "retries": "Retries and rate-limit handling"}


def compute(row_id: str, inputs: Inputs) -> Row:
    """One row; an upstream failure makes it "unknown" with what went wrong (the admin's expired sign-in is
    raised, for the page to send them to sign in again)."""
    try:
        return ROWS[row_id](inputs)
    except errors.Unauthorized:
        raise
    except errors.SirError as error:
        return Row(row_id, TITLES[row_id], UNKNOWN, [f"{error.title}: {error.message}"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return Row(row_id, TITLES[row_id], UNKNOWN, ["SIR Giving's answer could not be read"])


def compute_all(inputs: Inputs) -> list[Row]:
    """Every row at once, on the worker pool: one round of upstream calls."""
    tasks = [POOL.submit(compute, row_id, inputs) for row_id in ROWS]
    return [task.result() for task in tasks]


def all_passed(rows: list[Row]) -> bool:
    return all(row.state == PASSED for row in rows)


def is_embedded_host(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith(EMBEDDED_SUFFIX)
