"""What is wrong for a partner now, as alerts: the same rules the portal's banners and pages use, read without
an admin signed in (with the portal's own credential, from the vault).

- a key expiring within 14 days, and again within 3 days and within 1 day (once per stage): from the newest key
  list the portal read (the key list is an admin's call, so the scheduled checks cannot ask it) and from
  `api_key.expiring` events the portal's receiver took in;
- a token pool below its threshold, or lasting fewer days at the current pace than approvals typically take
  (the pools pages' runway and approval-time rules);
- a webhook endpoint failing N times in a row (the partner's setting; SIR Giving's webhook health says how many);
- a top-up request decided since alerts were set up (once per request);
- the portal's own credential refused by SIR Giving (then nothing else can be checked in that environment).
No Flask request here: the run calls it in an app context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .. import clock
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.times import parse_time
from ..store import events, rotations
from ..store.alerts import AlertSettings
from ..templating import time_left

KEY_STAGES = (1, 3, 14)  # days before expiry at which a key is flagged again
# SIR Giving refuses the portal's own key (or the partner) with these: no other check can run.
REFUSED = (errors.InvalidApiKey, errors.InvalidSignature, errors.CredentialRefused, errors.TimestampExpired,
           errors.PartnerNotActive, errors.PartnerSuspended, errors.SecretKeyRequired)
CONDITIONS = {
    "key_expiring": "A key expiring",
    "pool_low": "A token pool running low",
    "webhook_failing": "A webhook endpoint failing",
    "top_up_decided": "A top-up decided",
    "credential_refused": "The portal's key refused",
}


@dataclass(frozen=True)
class Alert:
    condition: str  # one of CONDITIONS
    subject: str  # what it is about (a key, a pool, an endpoint, a request, an environment) and, for keys, the stage
    environment: str
    title: str  # the e-mail's subject line
    message: str
    endpoint: str  # the page that fixes it (url_for endpoint and arguments)
    args: dict = field(default_factory=dict)
    once: bool = False  # once ever for this subject (a stage of expiry, a decision), not once a day

    @property
    def link_text(self) -> str:
        return {"key_expiring": "Roll this key", "pool_low": "Request a top-up", "webhook_failing": "See its deliveries",
                "top_up_decided": "See requests", "credential_refused": "Fix the portal's credential"}[self.condition]


def check(api: PartnerApi, row: AlertSettings, portal_key_id: str | None) -> tuple[list[Alert], list[str]]:
    """Every alert for one partner in `api`'s environment, and a sentence for each check that could not run."""
    env = api.environment
    try:
        api.check_credential()
    except REFUSED as refused:
        return [Alert("credential_refused", env, env, f"SIR Giving refused the portal's {env} key",
                      f"SIR Giving refused the key the portal signs with in {env}: {refused.message} "
                      f"{refused.next_step}", "onboarding.index")], []
    except errors.SirError as error:
        return [], [f"{env}: SIR Giving could not be asked ({error.title}); the checks run again next time."]
    alerts: list[Alert] = []
    problems: list[str] = []
    for name, checker in (("keys", lambda: key_alerts(row, env, portal_key_id)),
                          ("pools and top-ups", lambda: pool_alerts(api, row)),
                          ("webhooks", lambda: webhook_alerts(api, row))):
        try:
            alerts.extend(checker())
        except errors.SirError as error:
            problems.append(f"{env}: the {name} could not be checked ({error.title}).")
    return alerts, problems


# -- keys ------------------------------------------------------------------------------------------------

def expiring_keys(row: AlertSettings, environment: str) -> dict[str, dict]:
    """The partner's keys of `environment` with an expiry, by id: the last key list read, and what
    `api_key.expiring` events said since (an event names a key's expiry too)."""
    keys = {k["id"]: k for k in row.keys if k.get("environment") == environment and k.get("expires_at")
            and k.get("status") not in ("revoked", "expired")}
    since = clock.now() - timedelta(days=max(KEY_STAGES))
    for event in reversed(events.alerts(row.partner_id, environment, ("api_key.expiring",), since, limit=50)):
        data = (json.loads(event.raw_body).get("data") or {})
        if data.get("keyId") and data.get("expiresAt"):
            keys[data["keyId"]] = {**keys.get(data["keyId"], {}), "id": data["keyId"],
                                   "name": data.get("name") or keys.get(data["keyId"], {}).get("name") or data["keyId"],
                                   "environment": environment, "expires_at": data["expiresAt"]}
    return keys


def stage_of(expires_at: datetime, now: datetime) -> int | None:
    left = expires_at - now
    if left <= timedelta(0):
        return None  # expired: the key pages and banners say so; its stages have been alerted
    return next((days for days in KEY_STAGES if left <= timedelta(days=days)), None)


def key_alerts(row: AlertSettings, environment: str, portal_key_id: str | None) -> list[Alert]:
    now = clock.now()
    rolled = rotations.latest_by_old_key(row.partner_id)  # being replaced, or replaced already: as the banner
    alerts = []
    for key in expiring_keys(row, environment).values():
        if key["id"] in rolled:
            continue
        expires_at = parse_time(key["expires_at"], lenient=True)
        stage = stage_of(expires_at, now) if expires_at else None
        if stage is None:
            continue
        when = time_left(expires_at - now)
        message = f"API key “{key['name']}” ({environment}) expires {when} ({expires_at:%Y-%m-%d %H:%M} UTC)."
        if key["id"] == portal_key_id:
            message += " The portal signs with this key: when it expires, every page of the portal stops working."
        alerts.append(Alert("key_expiring", f"{key['id']}:{stage}d", environment,
                            f"API key “{key['name']}” expires {when}", message + " Roll it to a new key before then.",
                            "keys.roll_key", {"key_id": key["id"]}, once=True))
    return alerts


# -- pools and top-ups -------------------------------------------------------------------------------------

def pool_alerts(api: PartnerApi, row: AlertSettings) -> list[Alert]:
    from ..pools.approvals import ApprovalTimes, every_request
    from ..pools.forecast import pool_runways

    items = every_request(api).value.items
    typical = ApprovalTimes.of(items).typical_days
    alerts = []
    for pool, runway in pool_runways(api, fresh=True).value.rows:
        if pool.status == "inactive":
            continue
        if pool.is_low:
            message = (f"Token pool “{pool.name}” ({api.environment}) is empty: rewards drawn from it fail until it is "
                       "topped up." if pool.is_depleted else
                       f"Token pool “{pool.name}” ({api.environment}) is below its threshold: {pool.balance:,} tokens "
                       f"left (threshold {pool.threshold:,}).")
        elif typical is not None and runway.shorter_than(typical):
            message = (f"Token pool “{pool.name}” ({api.environment}) lasts about {runway.days:.1f} days at the current "
                       f"pace, fewer than the {typical:.1f} days SIR Giving typically takes to approve a top-up.")
        else:
            continue
        alerts.append(Alert("pool_low", pool.id, api.environment, f"Token pool “{pool.name}” needs a top-up",
                            message + " Request a top-up now.", "pools.request_top_up", {"pool_id": pool.id}))
    # Decisions since alerts were set up (not the partner's history); SIR Giving's times are whole seconds.
    since = (row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)).replace(
        microsecond=0)
    for request in items:
        if request.status in ("approved", "rejected") and request.decided_at and request.decided_at >= since:
            note = f" Note: {request.decision_note}" if request.decision_note else ""
            alerts.append(Alert(
                "top_up_decided", request.id, api.environment,
                f"Top-up {request.status}: {request.amount:,} tokens for “{request.pool_name}”",
                f"SIR Giving {request.status} the top-up of {request.amount:,} tokens for “{request.pool_name}” "
                f"({api.environment}).{note}", "pools.top_up_requests", {"status": request.status}, once=True))
    return alerts


# -- webhooks --------------------------------------------------------------------------------------------

def webhook_alerts(api: PartnerApi, row: AlertSettings) -> list[Alert]:
    alerts = []
    for endpoint in api.webhook_health().value:
        if endpoint.consecutive_failures >= row.failing_after:
            reason = f" The last failure: {endpoint.last_failure_reason}." if endpoint.last_failure_reason else ""
            alerts.append(Alert(
                "webhook_failing", endpoint.webhook_id, api.environment, f"Webhook endpoint failing: {endpoint.url}",
                f"The webhook endpoint {endpoint.url} ({api.environment}) failed {endpoint.consecutive_failures} "
                f"deliveries in a row.{reason} Events are not reaching it: fix the endpoint, then retry its failed "
                "deliveries.", "webhooks.deliveries", {"webhook_id": endpoint.webhook_id}))
    return alerts
