"""Preflight before a batch run (reference, scenario 5): integration health, the pool's balance, the active campaign,
webhook health and API usage, asked at once, weighed against a planned batch → Go or Hold, with reasons.

Each reason says what was found and names where it is fixed (an endpoint of the portal, for the template's
`url_for`). A check that cannot be made (SIR Giving did not answer) holds the batch: a preflight that cannot see
the pool cannot say the pool covers it. Balances are asked fresh: a top-up approved a minute ago counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..parallel import POOL
from ..sir import errors
from ..sir.api import PartnerApi
from .plan import Plan, with_multiplier

GO, WARN, HOLD = "go", "warn", "hold"
# Above this share of failed calls today (with enough calls to tell) the integration is not healthy enough.
ERROR_RATE_HOLD, ERROR_RATE_WARN, ERROR_RATE_MIN_CALLS = 0.05, 0.01, 20


@dataclass(frozen=True)
class Reason:
    check: str  # pool, integration, campaign, webhooks, usage
    state: str  # go, warn, hold
    title: str
    message: str
    fix_endpoint: str
    fix_args: dict = field(default_factory=dict)
    fix_text: str = "Open"


@dataclass(frozen=True)
class Preflight:
    plan: Plan
    environment: str
    reasons: list[Reason]
    planned_tokens: int  # with the campaign's multiplier
    pool_id: str | None
    pool_name: str | None
    pools: list = field(default_factory=list)  # the active pools, for choosing another

    @property
    def verdict(self) -> str:
        return "Hold" if any(r.state == HOLD for r in self.reasons) else "Go"

    @property
    def go(self) -> bool:
        return self.verdict == "Go"


# check → (title, where it is fixed, the link's text); a reason may name a more precise fix of its own.
WHERE = {
    "pool": ("Pool balance", "pools.index", "Token pools"),
    "integration": ("Integration health", "dashboard.overview", "Overview"),
    "campaign": ("Active campaign", "dashboard.campaigns", "Campaigns"),
    "webhooks": ("Webhook health", "webhooks.index", "Webhooks"),
    "usage": ("API errors and rate limit", "keys.index", "API keys and traffic"),
}


def _reason(check: str, state: str, message: str, endpoint: str | None = None, args: dict | None = None,
            text: str | None = None) -> Reason:
    title, where, link = WHERE[check]
    return Reason(check, state, title, message, endpoint or where, args or {}, text or link)


def run(api: PartnerApi, plan: Plan) -> Preflight:
    """The five checks in one parallel round (with the pool list, to choose from), then the chosen pool's balance
    when the plan names none (the campaign's pool, or the first active one)."""
    tasks = {
        "integration": POOL.submit(api.integration_health),
        "campaign": POOL.submit(api.active_campaign, True),  # a decision: which campaign runs now, not 60 s ago
        "webhooks": POOL.submit(api.webhook_health),
        "usage": POOL.submit(api.api_usage, 1, None, True),
    }
    tasks["pools"] = POOL.submit(api.token_pools, True)
    if plan.pool_id:
        tasks["balance"] = POOL.submit(api.pool_balance, plan.pool_id, True)
    results = {name: _outcome(task) for name, task in tasks.items()}
    campaign = _value(results["campaign"])
    multiplier = (campaign.reward_multiplier or 1.0) if campaign else 1.0
    planned = with_multiplier(plan.base_tokens, multiplier)
    pool_reason, pool_id, pool_name = _pool(api, plan, results, campaign, planned)
    weigh = {"integration": _integration, "campaign": lambda value: _campaign(value, multiplier),
             "webhooks": _webhooks, "usage": lambda value: _usage(value, plan)}
    reasons = [pool_reason] + [_unknown(check, results[check]) if isinstance(results[check], errors.SirError)
                               else judge(results[check].value) for check, judge in weigh.items()]
    pools = [p for p in (_value(results["pools"]) or []) if p.status == "active"]
    return Preflight(plan, api.environment, reasons, planned, pool_id, pool_name, pools)


def _outcome(task):
    try:
        parsed = task.result()
    except errors.SirError as error:
        return error
    if getattr(parsed.reply, "stale", False) and parsed.reply.error is not None:
        return parsed.reply.error  # an old copy cannot vouch for now
    return parsed


def _value(outcome):
    return None if isinstance(outcome, errors.SirError) else outcome.value


def _unknown(check: str, error: errors.SirError) -> Reason:
    return _reason(check, HOLD, f"Could not check: {error.message} {error.next_step}", text="Look there")


def _pool(api, plan, results, campaign, planned) -> tuple[Reason, str | None, str | None]:
    if "balance" in results:
        outcome = results["balance"]
        if isinstance(outcome, errors.SirError):
            return _unknown("pool", outcome), plan.pool_id, None
        pool = outcome.value
    else:
        outcome = results["pools"]
        if isinstance(outcome, errors.SirError):
            return _unknown("pool", outcome), None, None
        active = [p for p in outcome.value if p.status == "active"]
        wanted = campaign.pool_id if campaign and campaign.pool_id else None
        pool = next((p for p in active if p.id == wanted), None) or (active[0] if active else None)
        if pool is None:
            return _reason("pool", HOLD, "There is no active token pool to draw the rewards from."), None, None
        try:
            pool = api.pool_balance(pool.id, fresh=True).value  # the balance endpoint is the one to trust
        except errors.SirError as error:
            return _unknown("pool", error), pool.id, pool.name
    left = pool.balance - planned
    if pool.status != "active":
        state, message = HOLD, f"Pool {pool.name} is {pool.status}."
    elif left < 0:
        state, message = HOLD, (f"Pool {pool.name} has {pool.balance:,} tokens; the batch needs about {planned:,}: "
                                f"{-left:,} short.")
    elif left < pool.threshold:
        state, message = HOLD, (f"Pool {pool.name} has {pool.balance:,} tokens; after about {planned:,} it would have "
                                f"{left:,}, below its threshold of {pool.threshold:,}.")
    else:
        state, message = GO, (f"Pool {pool.name} has {pool.balance:,} tokens; after about {planned:,} it keeps "
                              f"{left:,}, above its threshold of {pool.threshold:,}.")
    fix = _reason("pool", state, message, "pools.request_top_up", {"pool_id": pool.id}, "Request a top-up")
    return fix, pool.id, pool.name


# Integration checks that have a reason of their own here, weighed more precisely against the planned batch.
OWN_REASONS = {"token_pool", "webhooks"}


def _integration(value) -> Reason:
    """Holds on a failing check that would make the batch's actions fail (no key, errors, failing actions);
    the pool and webhooks have reasons of their own."""
    _, checks = value
    bad = [c for c in checks if c.status != "pass" and c.id not in OWN_REASONS]
    described = "; ".join(f"{c.name}: {c.reason.rstrip('.')}" for c in bad)
    if any(c.status == "fail" for c in bad):
        return _reason("integration", HOLD, f"SIR Giving reports a failing check — {described}.")
    if bad:
        return _reason("integration", WARN, f"Warnings — {described}.")
    return _reason("integration", GO, "Every check SIR Giving makes passes.")


def _campaign(campaign, multiplier: float) -> Reason:
    if campaign is None:
        return _reason("campaign", GO, "No campaign is active: rewards go at the base rates.")
    return _reason("campaign", GO, f"{campaign.name} is active: its ×{multiplier:g} multiplier is counted in the "
                                   f"tokens.")


def _webhooks(endpoints) -> Reason:
    if not endpoints:
        return _reason("webhooks", WARN, "No webhook endpoint is registered: your backend will not hear of the "
                                         "outcomes.", text="Register one")
    failing = [e for e in endpoints if e.status not in ("healthy", "degraded")]
    degraded = [e for e in endpoints if e.status == "degraded"]
    if failing:  # the rewards still land; the missed deliveries can be recovered once the endpoint is fixed
        return _reason("webhooks", WARN, "Failing: " + ", ".join(f"{e.url} ({e.consecutive_failures} failures in a "
                                                                 f"row)" for e in failing)
                       + ". The batch's outcomes will not reach your backend until it is fixed.",
                       text="Fix the endpoint")
    if degraded:
        return _reason("webhooks", WARN, "Some deliveries fail: " + ", ".join(e.url for e in degraded) + ".")
    return _reason("webhooks", GO, f"{len(endpoints)} endpoint(s) receive their deliveries.")


def _usage(usage, plan: Plan) -> Reason:
    calls, failed = usage.total_requests, usage.total_errors
    rate = failed / calls if calls else 0.0
    limit = usage.rate_limit_per_minute
    headroom = (f"{plan.bulk_calls:,} bulk call(s) of at most 100 actions; the limit is {limit:,} a minute"
                if limit else f"{plan.bulk_calls:,} bulk call(s) of at most 100 actions")
    errors_today = f"{failed:,} of {calls:,} calls failed today ({rate:.1%})"
    if calls >= ERROR_RATE_MIN_CALLS and rate > ERROR_RATE_HOLD:
        return _reason("usage", HOLD, f"{errors_today}: find out why before sending more. {headroom}.")
    if limit and plan.bulk_calls > limit:
        minutes = -(-plan.bulk_calls // limit)
        return _reason("usage", WARN, f"{errors_today}. {headroom}: sending takes at least {minutes} minutes (the "
                                      f"portal waits when SIR Giving says so).")
    state = WARN if calls >= ERROR_RATE_MIN_CALLS and rate > ERROR_RATE_WARN else GO
    return _reason("usage", state, f"{errors_today}. {headroom}.")
