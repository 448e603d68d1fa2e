"""Dashboard metrics and health: reference section 4, "Dashboard"."""

from __future__ import annotations

import bisect
from collections import Counter

from flask import request

from ..model import day_of, iso
from ..state import DAY, DomainError
from .actions import env_actions
from .campaigns import campaign_analytics
from .inputs import int_arg
from .routing import route
from .users import env_users

def pool_totals(state, key) -> dict:
    pools = [p for p in state.pools_for(key.partner_id, key.environment) if p.is_active]
    return {"balance": sum(p.balance for p in pools), "allocated": sum(p.allocated for p in pools),
            "consumed": sum(p.consumed for p in pools), "pools": len(pools),
            "lowPools": sum(1 for p in pools if p.to_wire()["isLow"])}


def daily_window(state, key, days: int) -> list[dict]:
    series = []
    for day in state.days(days):
        stats = state.daily[(key.partner_id, key.environment, day)]
        series.append({"date": day, "actions": stats["actions"], "completed": stats["completed"],
                       "failed": stats["failed"], "tokens": stats["tokens"], "newUsers": stats["newUsers"],
                       "activeUsers": len([u for u, t in state.user_day_tokens[(key.partner_id, key.environment, day)].items() if t])})
    return series


@route("GET", "/dashboard/summary", "hmac", "Pool, activity and user summary", tag="Dashboard")
def dashboard_summary(state, key):
    with state.lock:
        week = daily_window(state, key, 7)
        today = week[-1]
        active = set()
        for day in state.days(30):
            active.update(u for u, t in state.user_day_tokens[(key.partner_id, key.environment, day)].items() if t)
        actions7 = sum(d["actions"] for d in week)
        completed7 = sum(d["completed"] for d in week)
        return {"environment": key.environment, "pool": pool_totals(state, key),
                "tokensDistributedToday": today["tokens"], "tokensDistributed7d": sum(d["tokens"] for d in week),
                "actionsToday": today["actions"],
                "actions7d": {"total": actions7, "completed": completed7, "failed": sum(d["failed"] for d in week)},
                "successRate7d": round(completed7 / actions7, 4) if actions7 else None,
                "activeUsers": len(active), "activeUsersWindowDays": 30,
                "totalUsers": len(env_users(state, key)), "asOf": iso(state.now())}


@route("GET", "/dashboard/trends", "hmac", "Daily activity trends", query=["days"], tag="Dashboard")
def dashboard_trends(state, key):
    days = int_arg("days", 30, 1, 90)
    with state.lock:
        series = daily_window(state, key, days)
    return {"days": days, "daily": series,
            "totals": {name: sum(d[name] for d in series) for name in ("actions", "completed", "failed", "tokens", "newUsers")}}


@route("GET", "/dashboard/top-earners", "hmac", "Top rewarded users", query=["limit", "days"], tag="Dashboard")
def dashboard_top_earners(state, key):
    limit = int_arg("limit", 10, 1, 100)
    days = int_arg("days", 30, 1, 90)
    with state.lock:
        tokens, actions = Counter(), Counter()
        for day in state.days(days):
            for user, amount in state.user_day_tokens[(key.partner_id, key.environment, day)].items():
                tokens[user] += amount
                actions[user] += 1
        earners = []
        for rank, (external_id, amount) in enumerate(tokens.most_common(limit), start=1):
            user = state.user_by_external(key.partner_id, key.environment, external_id)
            earners.append({"rank": rank, "externalUserId": external_id, "name": user.name if user else external_id,
                            "email": user.email if user else None, "tokens": amount, "activeDays": actions[external_id],
                            "balance": user.balance if user else None})
    return {"days": days, "limit": limit, "data": earners}


def webhook_health(state, key) -> dict:
    now = state.now()
    endpoints = []
    hooks = sorted((h for h in state.webhooks.values() if h.partner_id == key.partner_id
                    and h.environment == key.environment), key=lambda h: h.created_at)
    by_hook = {h.id: [] for h in hooks}
    for hook_id, found in by_hook.items():
        found.extend(d for d in state.deliveries_by_hook.get(hook_id, ())
                     if d.attempts and d.created_at > now - 7 * DAY)
    for hook in hooks:
        attempted = sorted(by_hook[hook.id], key=lambda d: d.last_attempt_at or d.created_at)
        succeeded = [d for d in attempted if d.status == "succeeded"]
        failed = [d for d in attempted if d.status == "failed"]
        consecutive = 0
        for delivery in reversed(attempted):
            if delivery.status != "failed":
                break
            consecutive += 1
        last_failure = failed[-1] if failed else None
        endpoints.append({
            "webhookId": hook.id, "url": hook.url, "isActive": hook.is_active, "delivered": len(succeeded),
            "failed": len(failed), "successRate": round(len(succeeded) / len(attempted), 4) if attempted else None,
            "lastSuccessAt": iso(succeeded[-1].last_attempt_at) if succeeded else None,
            "lastFailureAt": iso(last_failure.last_attempt_at) if last_failure else None,
            "lastFailureReason": (f"HTTP {last_failure.response_status}" if last_failure.response_status
                                  else last_failure.error) if last_failure else None,
            "consecutiveFailures": consecutive,
            "status": "failing" if consecutive >= 3 else ("degraded" if failed and consecutive else "healthy"),
        })
    delivered = sum(e["delivered"] for e in endpoints)
    total = delivered + sum(e["failed"] for e in endpoints)
    return {"windowDays": 7, "endpoints": endpoints,
            "overall": {"delivered": delivered, "failed": total - delivered,
                        "successRate": round(delivered / total, 4) if total else None}}


@route("GET", "/dashboard/webhooks/health", "hmac", "Webhook health", tag="Dashboard")
def dashboard_webhook_health(state, key):
    with state.lock:
        return webhook_health(state, key)


def count_since(times, moment: float) -> int:
    """How many of `times` (one key's request times, kept in order) are after `moment`: a binary search, so the
    cost does not grow with a busy day."""
    return len(times) - bisect.bisect_right(times, moment)


@route("GET", "/dashboard/api-usage", "hmac", "API usage metrics", query=["days", "hours", "keyId"], tag="Dashboard")
def dashboard_api_usage(state, key):
    days = int_arg("days", 7, 1, 90)
    hours = int_arg("hours", 0, 0, 24)
    only_key = request.args.get("keyId") or None
    with state.lock:
        partner_keys = [k for k in state.keys.values() if k.partner_id == key.partner_id and k.environment == key.environment]
        if only_key and only_key not in {k.id for k in partner_keys}:
            raise DomainError(404, "NOT_FOUND", "No such key in this environment.")
        window = state.days(days)
        now = state.now()
        by_key = []
        for k in partner_keys:
            if only_key and k.id != only_key:
                continue
            counts = [state.usage.by_key.get((k.id, day), (0, 0)) for day in window]
            recent = state.usage.recent.get(k.id, ())
            by_key.append({"keyId": k.id, "name": k.name, "keyType": k.key_type,
                           "requests": sum(c[0] for c in counts), "errors": sum(c[1] for c in counts),
                           "requestsLastHour": count_since(recent, now - 3600),
                           "requestsLast24h": count_since(recent, now - DAY),
                           "lastUsedAt": iso(k.last_used_at)})
        if only_key:
            daily = [{"date": day, "requests": state.usage.by_key.get((only_key, day), (0, 0))[0],
                      "errors": state.usage.by_key.get((only_key, day), (0, 0))[1]} for day in window]
        else:
            daily = [{"date": day, "requests": state.usage.by_day.get((key.partner_id, key.environment, day), (0, 0))[0],
                      "errors": state.usage.by_day.get((key.partner_id, key.environment, day), (0, 0))[1]} for day in window]
        endpoints: dict = {}
        wanted = set(window)
        for (partner, environment, day, method, path), (count, errors, elapsed) in state.usage.by_endpoint.items():
            if partner == key.partner_id and environment == key.environment and day in wanted:
                entry = endpoints.setdefault((method, path), [0, 0, 0.0])
                entry[0] += count
                entry[1] += errors
                entry[2] += elapsed
        by_endpoint = sorted(({"method": m, "path": p, "requests": c, "errors": e,
                               "avgLatencyMs": round(ms / c, 1) if c else None}
                              for (m, p), (c, e, ms) in endpoints.items()), key=lambda x: -x["requests"])
        reply = {"days": days, "keyId": only_key, "daily": daily, "byEndpoint": by_endpoint, "byKey": by_key,
                 "totals": {"requests": sum(d["requests"] for d in daily), "errors": sum(d["errors"] for d in daily)},
                 "rateLimit": {"requestsPerMinute": state.partner_of(key).rate_limit},
                 # Calls answered 429 in the window, per route, and whether the caller got through afterwards.
                 "rateLimited": [{"method": m, "path": p, "count": count, "lastAt": iso(last), "succeededAfterAt": iso(ok)}
                                 for (partner, environment, _key, m, p), (count, last, ok) in state.usage.throttled.items()
                                 if partner == key.partner_id and environment == key.environment
                                 and day_of(last) >= window[0]]}
        if hours:
            reply["hours"] = hours
            reply["lastHours"] = {"requests": sum(count_since(state.usage.recent.get(k["keyId"], ()), now - hours * 3600)
                                                  for k in by_key)}
        return reply


@route("GET", "/dashboard/recent-activity", "hmac", "Recent actions", query=["limit"], tag="Dashboard")
def dashboard_recent_activity(state, key):
    limit = int_arg("limit", 20, 1, 100)
    with state.lock:
        # Actions are kept in the order they happened, so the newest are the last ones: no scan, no sort.
        actions = env_actions(state, key)[-limit:][::-1]
        return {"limit": limit, "data": [{"actionId": a.id, "actionType": a.action_type, "status": a.status,
                                          "tokensDistributed": a.tokens_distributed, "amount": a.amount,
                                          "currency": a.currency, "idempotencyKey": a.idempotency_key,
                                          "users": [s["partnerUserId"] for s in a.stakeholders],
                                          "failureReason": a.failure_reason, "createdAt": iso(a.created_at)}
                                         for a in actions]}


@route("GET", "/dashboard/integration-health", "hmac", "Integration health", tag="Dashboard")
def dashboard_integration_health(state, key):
    with state.lock:
        now = state.now()
        checks = []
        keys = [k for k in state.keys.values() if k.partner_id == key.partner_id and k.environment == key.environment]
        active_secret = [k for k in keys if k.key_type == "secret" and k.status(now) == "active"]
        expiring = [k for k in active_secret if k.expires_at and k.expires_at <= now + 14 * DAY]
        if not active_secret:
            checks.append(("api_keys", "API keys", "fail", "No active secret key in this environment."))
        elif expiring:
            checks.append(("api_keys", "API keys", "warn",
                           f"{len(expiring)} active key(s) expire within 14 days: {', '.join(k.name for k in expiring)}."))
        else:
            checks.append(("api_keys", "API keys", "pass", f"{len(active_secret)} active secret key(s), none expiring soon."))
        pools = [p for p in state.pools_for(key.partner_id, key.environment) if p.is_active]
        depleted = [p for p in pools if p.balance <= 0]
        low = [p for p in pools if 0 < p.balance < p.low_balance_threshold]
        if not pools or len(depleted) == len(pools):
            checks.append(("token_pool", "Token pools", "fail", "No active token pool with a balance: actions will fail."))
        elif depleted or low:
            names = ", ".join(p.name for p in depleted + low)
            checks.append(("token_pool", "Token pools", "warn", f"Below threshold: {names}."))
        else:
            checks.append(("token_pool", "Token pools", "pass", "Every pool is above its low-balance threshold."))
        health = webhook_health(state, key)["endpoints"]
        failing = [e for e in health if e["consecutiveFailures"] >= 3]
        if not health:
            checks.append(("webhooks", "Webhooks", "warn", "No webhook endpoint registered: reward outcomes are not pushed to you."))
        elif failing:
            checks.append(("webhooks", "Webhooks", "fail",
                           f"{len(failing)} endpoint(s) failing repeatedly: {', '.join(e['url'] for e in failing)}."))
        else:
            checks.append(("webhooks", "Webhooks", "pass", f"{len(health)} endpoint(s) delivering."))
        day_counts = [state.usage.by_day.get((key.partner_id, key.environment, d), (0, 0)) for d in state.days(2)]
        requests_, errors = sum(c[0] for c in day_counts), sum(c[1] for c in day_counts)
        rate = errors / requests_ if requests_ else 0.0
        verdict = "pass" if rate < 0.02 else ("warn" if rate < 0.1 else "fail")
        checks.append(("error_rate", "API error rate", verdict,
                       f"{rate * 100:.1f} % of {requests_} request(s) failed in the last 2 days."))
        week = daily_window(state, key, 7)
        actions7, failed7 = sum(d["actions"] for d in week), sum(d["failed"] for d in week)
        failure = failed7 / actions7 if actions7 else 0.0
        checks.append(("action_failures", "Action failures", "pass" if failure < 0.05 else ("warn" if failure < 0.15 else "fail"),
                       f"{failed7} of {actions7} action(s) failed in the last 7 days."))
        campaign = state.active_campaign(key.partner_id, key.environment, now)
        checks.append(("campaign", "Active campaign", "pass" if campaign else "warn",
                       f"“{campaign.name}” is running." if campaign else "No campaign is active."))
        worst = "fail" if any(c[2] == "fail" for c in checks) else ("warn" if any(c[2] == "warn" for c in checks) else "pass")
        return {"status": worst, "checkedAt": iso(now),
                "checks": [{"id": c[0], "name": c[1], "status": c[2], "reason": c[3]} for c in checks]}


@route("GET", "/dashboard/campaigns/:campaign_id/analytics", "hmac", "Campaign performance", tag="Dashboard")
def dashboard_campaign_analytics(state, key, campaign_id):
    with state.lock:
        return campaign_analytics(state, key, campaign_id)
