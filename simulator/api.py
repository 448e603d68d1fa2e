"""Every endpoint of section 4 of the reference, with its documented auth.

Each route is declared once with `@route(method, path, auth, summary, …)`: that registers the Flask view,
applies the auth, and feeds the OpenAPI document, so the docs cannot drift from what is served.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import math
import re
from collections import Counter
from datetime import datetime, timezone
from fnmatch import fnmatch
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, request

from . import auth
from .model import day_of, iso
from .state import DAY, EVENT_TYPES, TEST_EVENT_TYPE, DomainError

bp = Blueprint("sir", __name__)
ROUTES: list[dict] = []
PREFIX = "/v1/partner"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
ACTION_TYPES = {"PURCHASE", "VOLUNTEER", "DONATION", "REFERRAL", "ADVOCACY"}
MAX_AMOUNT = 10_000_000


def sim():
    return current_app.extensions["sir_simulator"]


def route(method: str, path: str, auth_kind: str, summary: str, *, query: list[str] | None = None,
          body: dict | None = None, tag: str = "Partner"):
    flask_path = re.sub(r":(\w+)", r"<\1>", PREFIX + path)

    def decorator(handler):
        ROUTES.append({"method": method, "path": PREFIX + path, "auth": auth_kind, "summary": summary,
                       "query": query or [], "body": body, "tag": tag})

        def view(**kwargs):
            state = sim()
            g.sim_route = PREFIX + path
            # Read the body before the lock: a slow or oversized upload never holds up other requests.
            request.get_data(cache=True)
            if auth_kind == "public":  # sign-in: reads only what never changes, and hashes a password unlocked
                return reply(handler(state, None, **kwargs))
            # One request at a time sees and changes the state: lists never iterate a collection another
            # thread is growing, and every reply is one consistent snapshot (the lock is re-entrant).
            with state.lock:
                if auth_kind == "jwt":
                    principal = auth.authenticate_jwt(state)
                else:
                    principal = auth.authenticate_key(state, signed=auth_kind.startswith("hmac"),
                                                      secret_only=auth_kind == "hmac-secret")
                return reply(handler(state, principal, **kwargs))

        view.__name__ = f"{handler.__name__}_{method.lower()}"
        bp.add_url_rule(flask_path, endpoint=view.__name__, view_func=view, methods=[method])
        return handler

    return decorator


def reply(result):
    payload, status = result if isinstance(result, tuple) else (result, 200)
    return jsonify(payload), status


# -- input helpers -------------------------------------------------------------------------------

def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:40]}")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def body_json() -> dict:
    raw = request.get_data(cache=True)
    if not raw:
        raise DomainError(400, "INVALID_JSON", "The request body must be a JSON object.")
    try:
        # Strict JSON: NaN, Infinity and numbers too large for a float are refused, not smuggled into the state.
        payload = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(400, "INVALID_JSON", "The request body is not valid JSON.") from None
    except RecursionError:
        raise DomainError(400, "INVALID_JSON", "The request body is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise DomainError(400, "INVALID_JSON", "The request body must be a JSON object.")
    return payload


def invalid(*problems: tuple[str, str]):
    raise DomainError(400, "VALIDATION_ERROR", "; ".join(f"{f}: {m}" for f, m in problems),
                      [{"field": f, "message": m} for f, m in problems])


def text_field(payload: dict, name: str, *, required: bool = True, max_length: int = 200) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        invalid((name, "must be a string"))
    value = (value or "").strip()
    if not value:
        if required:
            invalid((name, "is required"))
        return None
    if len(value) > max_length:
        invalid((name, f"must be at most {max_length} characters"))
    return value


def positive_int(payload: dict, name: str, maximum: int = MAX_AMOUNT) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        invalid((name, "must be a whole number"))
    if value <= 0:
        invalid((name, "must be greater than zero"))
    if value > maximum:
        invalid((name, f"must be at most {maximum}"))
    return int(value)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        invalid((name, "must be a whole number"))
    if not low <= value <= high:
        invalid((name, f"must be between {low} and {high}"))
    return value


def time_arg(name: str) -> float | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        invalid((name, "must be an ISO 8601 time such as 2026-11-25T09:00:00Z"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def choice_arg(name: str, choices) -> str | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        invalid((name, f"must be one of {', '.join(sorted(choices))}"))
    return raw


def paginate(items: list, to_wire, *, newest_last: bool = False) -> dict:
    """One page of `items`. With `newest_last`, `items` is in the order things happened and the page is cut
    from its end (newest first) without sorting or copying the whole list."""
    page = int_arg("page", 1, 1, 1_000_000)
    limit = int_arg("limit", 50, 1, 100)
    total = len(items)
    pages = max(1, math.ceil(total / limit))
    if newest_last:
        stop, start = total - (page - 1) * limit, max(0, total - page * limit)
        chunk = items[start:stop][::-1] if stop > 0 else []
    else:
        chunk = items[(page - 1) * limit: page * limit]
    return {"data": [to_wire(item) for item in chunk],
            "pagination": {"page": page, "limit": limit, "total": total, "totalPages": pages, "hasMore": page < pages}}


# -- partner auth and key management (JWT) ----------------------------------------------------------

@route("POST", "/auth/login", "public", "Sign in to the partner portal", body={"email": "string", "password": "string"}, tag="Auth")
def login(state, _):
    payload = body_json()
    problems = [(name, "is required" if payload.get(name) in (None, "") else "must be a string")
                for name in ("email", "password") if not isinstance(payload.get(name), str) or not payload[name]]
    if problems:
        invalid(*problems)
    account = auth.check_password(state, payload["email"], payload["password"])
    token, expires = auth.issue_token(state, account)
    return {"token": token, "accessToken": token, "tokenType": "Bearer", "expiresAt": iso(expires),
            "user": account.to_wire(), "partner": state.partners[account.partner_id].to_wire()}


def publishable_key_of(state, partner_id: str) -> str | None:
    now = state.now()
    keys = sorted((k for k in state.keys.values() if k.partner_id == partner_id and k.environment == "sandbox"
                   and k.status(now) == "active"), key=lambda k: k.created_at)
    return keys[0].public_key if keys else None


@route("GET", "/auth/me", "jwt", "The signed-in partner user and publishable key", tag="Auth")
def me(state, account):
    return {"user": account.to_wire(), "partner": state.partners[account.partner_id].to_wire(),
            "publishableKey": publishable_key_of(state, account.partner_id)}


@route("POST", "/keys", "jwt", "Create an API key pair", body={"name": "string", "environment": "sandbox|production", "keyType": "secret|publishable"}, tag="Keys")
def create_key(state, account):
    payload = body_json()
    name = text_field(payload, "name", max_length=100)
    environment = payload.get("environment")
    key_type = payload.get("keyType", "secret")
    problems = []
    if environment not in ("sandbox", "production"):
        problems.append(("environment", "must be sandbox or production"))
    if key_type not in ("secret", "publishable"):
        problems.append(("keyType", "must be secret or publishable"))
    if problems:
        invalid(*problems)
    key = state.create_key(account.partner_id, name, environment, key_type)
    reply = key.to_wire(state.now())
    reply.update({"secretKey": key.secret_key, "hmacSecret": key.hmac_secret})
    return reply, 201


@route("GET", "/keys", "jwt", "List your API keys (no secret values)", query=["page", "limit", "environment"], tag="Keys")
def list_keys(state, account):
    environment = choice_arg("environment", {"sandbox", "production"})
    keys = sorted((k for k in state.keys.values() if k.partner_id == account.partner_id
                   and (environment is None or k.environment == environment)), key=lambda k: -k.created_at)
    now = state.now()
    return paginate(keys, lambda k: k.to_wire(now))


@route("GET", "/keys/partner-info", "jwt", "Your partner record", tag="Keys")
def partner_info(state, account):
    return state.partners[account.partner_id].to_wire()


@route("GET", "/keys/:key_id", "jwt", "One key record", tag="Keys")
def get_key(state, account, key_id):
    return state.scoped(state.keys, key_id, account.partner_id).to_wire(state.now())


@route("PATCH", "/keys/:key_id", "jwt", "Rename, deactivate or set expiry", body={"name": "string", "isActive": "boolean", "expiresAt": "ISO time|null"}, tag="Keys")
def update_key(state, account, key_id):
    payload = body_json()
    state.scoped(state.keys, key_id, account.partner_id)  # an unknown key is a 404 before a 400
    changes = {}
    if "name" in payload:
        changes["name"] = text_field(payload, "name", max_length=100)
    if "isActive" in payload:
        if not isinstance(payload["isActive"], bool):
            invalid(("isActive", "must be true or false"))
        changes["is_active"] = payload["isActive"]
    if "expiresAt" in payload:
        if payload["expiresAt"] is None:
            changes["expires_at"] = None
        else:
            try:
                moment = datetime.fromisoformat(str(payload["expiresAt"]).replace("Z", "+00:00"))
            except ValueError:
                invalid(("expiresAt", "must be an ISO 8601 time"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
            if moment.timestamp() <= state.now():
                invalid(("expiresAt", "must be in the future"))
            changes["expires_at"] = moment.timestamp()
    if not changes:
        invalid(("body", "give at least one of name, isActive, expiresAt"))
    return state.update_key(account.partner_id, key_id, changes).to_wire(state.now())


@route("DELETE", "/keys/:key_id", "jwt", "Revoke a key (it stays listed as revoked)", tag="Keys")
def revoke_key(state, account, key_id):
    return state.revoke_key(account.partner_id, key_id).to_wire(state.now())


# -- widget / config (publishable key) --------------------------------------------------------------

ORGANIZATIONS = {
    "american-red-cross": {"slug": "american-red-cross", "name": "American Red Cross", "ein": "53-0196605",
                           "category": "Disaster relief", "acceptsDonations": True},
    "feeding-america": {"slug": "feeding-america", "name": "Feeding America", "ein": "36-3673599",
                        "category": "Hunger", "acceptsDonations": True},
    "doctors-without-borders": {"slug": "doctors-without-borders", "name": "Doctors Without Borders USA",
                                "ein": "13-3433452", "category": "Health", "acceptsDonations": True},
}


@route("GET", "/config", "widget", "Partner widget configuration", tag="Widget")
def widget_config(state, key):
    partner = state.partner_of(key)
    return {"partnerId": partner.id, "partnerName": partner.name, "environment": key.environment,
            "currencies": ["USD"], "providers": ["stripe"], "minimumAmount": 100, "features": partner.features}


@route("GET", "/organizations/:slug", "widget", "Look up a nonprofit", tag="Widget")
def organization(state, key, slug):
    if slug not in ORGANIZATIONS:
        raise DomainError(404, "NOT_FOUND", f"No nonprofit with slug {slug!r}.")
    return ORGANIZATIONS[slug]


@route("POST", "/donations/create-link", "widget", "Create a donation checkout link", body={"nonprofitSlug": "string", "amount": "integer (cents)", "currency": "string", "frequency": "once|monthly", "provider": "stripe", "donorEmail": "string"}, tag="Widget")
def create_donation_link(state, key):
    payload = body_json()
    slug = text_field(payload, "nonprofitSlug")
    amount = positive_int(payload, "amount")
    problems = []
    if slug not in ORGANIZATIONS:
        problems.append(("nonprofitSlug", "is not a known nonprofit"))
    if payload.get("frequency", "once") not in ("once", "monthly"):
        problems.append(("frequency", "must be once or monthly"))
    if problems:
        invalid(*problems)
    currency = text_field(payload, "currency", required=False, max_length=3) or "USD"
    donation_id = state.create_donation(key.partner_id, key.environment, slug, amount, currency)["partnerDonationId"]
    host = "checkout.sandbox.sirgiving.org" if key.environment == "sandbox" else "checkout.sirgiving.org"
    return {"partnerDonationId": donation_id, "donationLink": f"https://{host}/d/{donation_id}"}, 201


@route("GET", "/donations/status/:donation_id", "widget", "Donation reward status", tag="Widget")
def donation_status(state, key, donation_id):
    donation = state.donations.get(donation_id)
    if donation is None or donation["partnerId"] != key.partner_id or donation["environment"] != key.environment:
        raise DomainError(404, "NOT_FOUND", "No such donation.")
    return {k: v for k, v in donation.items() if k != "partnerId"}


# -- users -----------------------------------------------------------------------------------------

def env_users(state, key):
    return [u for (p, e, _), u in state.users.items() if p == key.partner_id and e == key.environment]


def find_user(state, key, external_id):
    user = state.user_by_external(key.partner_id, key.environment, external_id)
    if user is None:
        raise DomainError(404, "NOT_FOUND", f"No partner user with externalUserId {external_id!r}.")
    return user


@route("GET", "/users", "hmac", "List partner users", query=["page", "limit", "search"], tag="Users")
def list_users(state, key):
    search = (request.args.get("search") or "").lower()
    users = [u for u in env_users(state, key)
             if not search or search in u.external_user_id.lower() or search in (u.email or "").lower()
             or search in u.name.lower()]
    users.sort(key=lambda u: u.external_user_id)
    return paginate(users, lambda u: u.to_wire())


@route("POST", "/users", "hmac-secret", "Create a partner user", body={"externalUserId": "string", "email": "string", "firstName": "string", "lastName": "string", "metadata": "object"}, tag="Users")
def create_user(state, key):
    payload = body_json()
    external_id = text_field(payload, "externalUserId", max_length=128)
    with state.lock:
        if state.user_by_external(key.partner_id, key.environment, external_id):
            raise DomainError(409, "CONFLICT", f"A user with externalUserId {external_id!r} exists.")
        user = state.create_user(key.partner_id, key.environment, external_id, text_field(payload, "email", required=False),
                                 text_field(payload, "firstName", required=False), text_field(payload, "lastName", required=False),
                                 payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {})
        return user.to_wire(), 201


@route("GET", "/users/:external_id", "hmac", "Get a user by your external ID", tag="Users")
def get_user(state, key, external_id):
    return find_user(state, key, external_id).to_wire()


@route("PATCH", "/users/:external_id", "hmac-secret", "Update user metadata", body={"metadata": "object", "email": "string"}, tag="Users")
def update_user(state, key, external_id):
    payload = body_json()
    find_user(state, key, external_id)
    if "metadata" in payload and not isinstance(payload["metadata"], dict):
        invalid(("metadata", "must be an object"))
    fields = {attribute: text_field(payload, field, required=False)
              for field, attribute in (("email", "email"), ("firstName", "first_name"), ("lastName", "last_name"))
              if field in payload}
    if not fields and "metadata" not in payload:
        invalid(("body", "give at least one of metadata, email, firstName, lastName"))
    return state.update_user(key.partner_id, key.environment, external_id, payload.get("metadata"), fields).to_wire()


@route("GET", "/users/:external_id/balance", "hmac", "Get user balance", tag="Users")
def user_balance(state, key, external_id):
    user = find_user(state, key, external_id)
    return {"externalUserId": user.external_user_id, "balance": user.balance, "debt": user.debt,
            "availableBalance": user.balance - user.debt, "lifetimeTokens": user.lifetime_tokens}


@route("GET", "/users/:external_id/transactions", "hmac", "Get user action history", query=["page", "limit"], tag="Users")
def user_transactions(state, key, external_id):
    user = find_user(state, key, external_id)
    with state.lock:
        items = state.transactions_by_user.get((key.partner_id, key.environment, user.external_user_id), [])
        return paginate(items, lambda t: t.to_wire(), newest_last=True)


# -- actions ---------------------------------------------------------------------------------------

def validate_action(payload: dict, prefix: str = "") -> dict:
    problems = []
    idem = payload.get("idempotencyKey")
    if not isinstance(idem, str) or not idem.strip():
        problems.append((f"{prefix}idempotencyKey", "is required"))
    elif len(idem) > 128:
        problems.append((f"{prefix}idempotencyKey", "must be at most 128 characters"))
    if not isinstance(payload.get("actionType"), str) or payload["actionType"] not in ACTION_TYPES:
        problems.append((f"{prefix}actionType", f"must be one of {', '.join(sorted(ACTION_TYPES))}"))
    amount = payload.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0):
        problems.append((f"{prefix}amount", "must be a number greater than zero"))
    elif amount is not None and amount > MAX_AMOUNT:
        problems.append((f"{prefix}amount", f"must be at most {MAX_AMOUNT}"))
    currency = payload.get("currency")
    if currency is not None and (not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency)):
        problems.append((f"{prefix}currency", "must be a three-letter currency code such as USD"))
    for name, kind, label in (("metadata", dict, "an object"), ("autoCreateUsers", bool, "true or false")):
        if payload.get(name) is not None and not isinstance(payload[name], kind):
            problems.append((f"{prefix}{name}", f"must be {label}"))
    stakeholders = payload.get("stakeholders")
    if not isinstance(stakeholders, list) or not stakeholders:
        problems.append((f"{prefix}stakeholders", "must be a non-empty list"))
    elif len(stakeholders) > 100:
        problems.append((f"{prefix}stakeholders", "at most 100 stakeholders per action"))
    else:
        for index, stakeholder in enumerate(stakeholders):
            where = f"{prefix}stakeholders[{index}]"
            if not isinstance(stakeholder, dict):
                problems.append((where, "must be an object"))
                continue
            user_id = stakeholder.get("partnerUserId")
            if not isinstance(user_id, str) or not user_id.strip():
                problems.append((f"{where}.partnerUserId", "is required"))
            elif len(user_id) > 128:
                problems.append((f"{where}.partnerUserId", "must be at most 128 characters"))
            # What a stakeholder brings is stored on the user it creates: text only, or later lists would break.
            for name in ("stakeholderTypeCode", "userEmail", "userFirstName", "userLastName"):
                value = stakeholder.get(name)
                if value is not None and (not isinstance(value, str) or len(value) > 200):
                    problems.append((f"{where}.{name}", "must be a string of at most 200 characters"))
    if problems:
        invalid(*problems)
    return payload


@route("POST", "/actions/submit", "hmac-secret", "Submit one reward action", body={"idempotencyKey": "string", "actionType": "PURCHASE|VOLUNTEER|DONATION|REFERRAL|ADVOCACY", "amount": "number", "currency": "string", "stakeholders": "[{partnerUserId, stakeholderTypeCode, userEmail, userFirstName, userLastName}]", "autoCreateUsers": "boolean", "metadata": "object"}, tag="Actions")
def submit_action(state, key):
    payload = validate_action(body_json())
    action, created = state.submit_action(key.partner_id, key.environment, payload)
    return action.to_wire(), 201 if created else 200


@route("POST", "/actions/bulk", "hmac-secret", "Submit up to 100 actions synchronously", body={"actions": "[action, …] (1 to 100)"}, tag="Actions")
def bulk_actions(state, key):
    payload = body_json()
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        invalid(("actions", "must be a non-empty list"))
    if len(actions) > 100:
        invalid(("actions", f"at most 100 actions per request, got {len(actions)}"))
    for index, item in enumerate(actions):
        if not isinstance(item, dict):
            invalid((f"actions[{index}]", "must be an object"))
        validate_action(item, f"actions[{index}].")
    results = []
    for item in actions:
        try:
            action, created = state.submit_action(key.partner_id, key.environment, item)
            results.append({**action.to_wire(), "duplicate": not created})
        except DomainError as error:
            results.append({"idempotencyKey": item["idempotencyKey"], "status": "FAILED", "failureCode": error.code,
                            "failureReason": error.message})
    counts = Counter(r["status"] for r in results)
    return {"total": len(results), "completed": counts.get("COMPLETED", 0), "failed": counts.get("FAILED", 0),
            "results": results}


@route("GET", "/actions/bulk/:job_id", "hmac", "Deprecated: bulk actions are synchronous", tag="Actions")
def bulk_job(state, key, job_id):
    raise DomainError(410, "DEPRECATED", "Bulk actions are processed synchronously; the result came with POST /actions/bulk.")


def env_actions(state, key):
    return state.actions_by_env.get((key.partner_id, key.environment), [])


@route("GET", "/actions", "hmac", "List actions", query=["page", "limit", "status", "actionType", "since", "until"], tag="Actions")
def list_actions(state, key):
    status = choice_arg("status", {"COMPLETED", "FAILED", "REVERSED", "PARTIALLY_REVERSED"})
    action_type = choice_arg("actionType", ACTION_TYPES)
    since, until = time_arg("since"), time_arg("until")
    with state.lock:
        items = env_actions(state, key)
        if status or action_type or since is not None or until is not None:
            items = [a for a in items
                     if (status is None or a.status == status) and (action_type is None or a.action_type == action_type)
                     and (since is None or a.created_at >= since) and (until is None or a.created_at < until)]
        return paginate(items, lambda a: a.to_wire(), newest_last=True)


@route("GET", "/actions/:action_id", "hmac", "Get action status and details", tag="Actions")
def get_action(state, key, action_id):
    return state.scoped(state.actions, action_id, key.partner_id, key.environment).to_wire()


@route("POST", "/actions/:action_id/reverse", "hmac-secret", "Reverse a completed action", body={"reversalPercentage": "number (0, 100]", "reason": "string", "refundIdempotencyKey": "string"}, tag="Actions")
def reverse_action(state, key, action_id):
    payload = body_json()
    percentage = payload.get("reversalPercentage", 100)
    if isinstance(percentage, bool) or not isinstance(percentage, (int, float)) or not 0 < percentage <= 100:
        invalid(("reversalPercentage", "must be a number greater than 0 and at most 100"))
    reason = text_field(payload, "reason", max_length=500)
    return state.reverse_action(key.partner_id, key.environment, action_id, float(percentage), reason,
                                text_field(payload, "refundIdempotencyKey", required=False, max_length=128))


# -- token pools -----------------------------------------------------------------------------------

@route("GET", "/token-pools", "hmac", "List allocated token pools", tag="Token pools")
def list_pools(state, key):
    pools = sorted(state.pools_for(key.partner_id, key.environment), key=lambda p: p.created_at)
    return paginate(pools, lambda p: p.to_wire())


@route("GET", "/token-pools/requests", "hmac", "List allocation requests", query=["page", "limit", "status", "poolId"], tag="Token pools")
def list_requests(state, key):
    status = choice_arg("status", {"pending", "approved", "rejected"})
    pool_id = request.args.get("poolId")
    items = sorted((r for r in state.requests.values() if r.partner_id == key.partner_id
                    and r.environment == key.environment and (status is None or r.status == status)
                    and (not pool_id or r.pool_id == pool_id)), key=lambda r: -r.created_at)
    return paginate(items, lambda r: r.to_wire(state.pools[r.pool_id].name))


@route("GET", "/token-pools/:pool_id/balance", "hmac", "Get pool balance", tag="Token pools")
def pool_balance(state, key, pool_id):
    pool = state.scoped(state.pools, pool_id, key.partner_id, key.environment)
    return {"poolId": pool.id, "name": pool.name, "balance": pool.balance, "allocated": pool.allocated,
            "consumed": pool.consumed, "lowBalanceThreshold": pool.low_balance_threshold, "status": pool.status,
            "isLow": pool.to_wire()["isLow"], "asOf": iso(state.now())}


@route("POST", "/token-pools/request", "hmac-secret", "Request more allocation", body={"poolId": "string", "amount": "integer", "reason": "string"}, tag="Token pools")
def request_allocation(state, key):
    payload = body_json()
    problems = []
    pool_id = payload.get("poolId")
    if not isinstance(pool_id, str) or not pool_id:
        problems.append(("poolId", "is required"))
    amount = payload.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount != int(amount):
        problems.append(("amount", "must be a whole number"))
    elif amount <= 0:
        problems.append(("amount", "must be greater than zero"))
    elif amount > MAX_AMOUNT:
        problems.append(("amount", f"must be at most {MAX_AMOUNT}"))
    reason = payload.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(("reason", "is required"))
    elif len(reason) > 1000:
        problems.append(("reason", "must be at most 1000 characters"))
    if problems:
        invalid(*problems)
    created = state.request_allocation(key.partner_id, key.environment, pool_id, int(amount), reason.strip())
    return created.to_wire(state.pools[created.pool_id].name), 201


# -- campaigns -------------------------------------------------------------------------------------

def env_campaigns(state, key):
    return [c for c in state.campaigns.values() if c.partner_id == key.partner_id and c.environment == key.environment]


@route("GET", "/campaigns", "hmac", "List campaigns", query=["page", "limit", "status"], tag="Campaigns")
def list_campaigns(state, key):
    state.check_expiring_keys()  # a campaign whose end has come reads as completed, even between ticks
    status = choice_arg("status", {"draft", "active", "paused", "completed"})
    items = sorted((c for c in env_campaigns(state, key) if status is None or c.status == status),
                   key=lambda c: -c.created_at)
    return paginate(items, lambda c: c.to_wire())


@route("GET", "/campaigns/active", "hmac", "Get the active campaign", tag="Campaigns")
def active_campaign(state, key):
    state.check_expiring_keys()  # a campaign whose end has come reads as completed, even between ticks
    campaign = state.active_campaign(key.partner_id, key.environment, state.now())
    if campaign is None:
        raise DomainError(404, "NOT_FOUND", "No campaign is active right now.")
    return campaign.to_wire()


@route("GET", "/campaigns/:campaign_id", "hmac", "Get campaign details", tag="Campaigns")
def get_campaign(state, key, campaign_id):
    state.check_expiring_keys()  # a campaign whose end has come reads as completed, even between ticks
    return state.scoped(state.campaigns, campaign_id, key.partner_id, key.environment).to_wire()


def campaign_analytics(state, key, campaign_id):
    state.check_expiring_keys()
    campaign = state.scoped(state.campaigns, campaign_id, key.partner_id, key.environment)
    now = state.now()
    start = campaign.starts_at or campaign.created_at
    end = min(campaign.ends_at or now, now)
    days = []
    moment = start
    while moment <= end + 1 and len(days) < 400:
        days.append(day_of(moment))
        moment += DAY
    series = [{"date": d, "actions": state.campaign_daily[(campaign.id, d)]["actions"],
               "tokens": state.campaign_daily[(campaign.id, d)]["tokens"],
               "participants": state.campaign_daily[(campaign.id, d)]["participants"]} for d in days]
    tokens = sum(p["tokens"] for p in series)
    return {"campaignId": campaign.id, "name": campaign.name, "status": campaign.status,
            "totals": {"actions": sum(p["actions"] for p in series), "tokens": tokens,
                       "participants": sum(p["participants"] for p in series),
                       "budget": campaign.budget, "budgetUsed": (tokens / campaign.budget) if campaign.budget else None},
            "daily": series}


@route("GET", "/campaigns/:campaign_id/analytics", "hmac", "Get campaign analytics", tag="Campaigns")
def get_campaign_analytics(state, key, campaign_id):
    return campaign_analytics(state, key, campaign_id)


def campaign_fields(payload: dict, *, partial: bool) -> dict:
    changes = {}
    if "name" in payload or not partial:
        changes["name"] = text_field(payload, "name", max_length=120)
    if "description" in payload:
        changes["description"] = text_field(payload, "description", required=False, max_length=500)
    if "status" in payload:
        if payload["status"] not in ("draft", "active", "paused", "completed"):
            invalid(("status", "must be draft, active, paused or completed"))
        changes["status"] = payload["status"]
    if "rewardMultiplier" in payload:
        value = payload["rewardMultiplier"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
            invalid(("rewardMultiplier", "must be a number greater than 0 and at most 10"))
        changes["reward_multiplier"] = float(value)
    if "budget" in payload and payload["budget"] is not None:
        changes["budget"] = positive_int(payload, "budget")
    for field, attribute in (("startsAt", "starts_at"), ("endsAt", "ends_at")):
        if field in payload and payload[field] is not None:
            try:
                moment = datetime.fromisoformat(str(payload[field]).replace("Z", "+00:00"))
            except ValueError:
                invalid((field, "must be an ISO 8601 time"))
            changes[attribute] = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return changes


def check_campaign_dates(starts_at: float | None, ends_at: float | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        invalid(("endsAt", "must be after startsAt"))


@route("POST", "/campaigns", "hmac-secret", "Create a campaign", body={"name": "string", "description": "string", "startsAt": "ISO time", "endsAt": "ISO time", "rewardMultiplier": "number", "budget": "integer", "poolId": "string"}, tag="Campaigns")
def create_campaign(state, key):
    payload = body_json()
    changes = campaign_fields(payload, partial=False)
    pool_id = payload.get("poolId")
    if pool_id is not None and not isinstance(pool_id, str):
        invalid(("poolId", "must be a string"))
    check_campaign_dates(changes.get("starts_at"), changes.get("ends_at"))
    return state.create_campaign(key.partner_id, key.environment, pool_id, changes).to_wire(), 201


@route("PATCH", "/campaigns/:campaign_id", "hmac-secret", "Update a campaign", body={"name": "string", "status": "draft|active|paused|completed", "rewardMultiplier": "number", "budget": "integer", "endsAt": "ISO time"}, tag="Campaigns")
def update_campaign(state, key, campaign_id):
    payload = body_json()
    campaign = state.scoped(state.campaigns, campaign_id, key.partner_id, key.environment)  # 404 before 400
    changes = campaign_fields(payload, partial=True)
    if not changes:
        invalid(("body", "give at least one of name, description, status, rewardMultiplier, budget, startsAt, endsAt"))
    check_campaign_dates(changes.get("starts_at", campaign.starts_at), changes.get("ends_at", campaign.ends_at))
    return state.update_campaign(key.partner_id, key.environment, campaign_id, changes).to_wire()


# -- transactions ----------------------------------------------------------------------------------

@route("GET", "/transactions", "hmac", "List partner transactions", query=["page", "limit", "type", "externalUserId", "since", "until"], tag="Transactions")
def list_transactions(state, key):
    kind = choice_arg("type", {"distribution", "reversal"})
    user = request.args.get("externalUserId")
    since, until = time_arg("since"), time_arg("until")
    with state.lock:
        if user:
            items = state.transactions_by_user.get((key.partner_id, key.environment, user), [])
        else:
            items = state.transactions_by_env.get((key.partner_id, key.environment), [])
        if kind or since is not None or until is not None:
            items = [t for t in items if (kind is None or t.kind == kind)
                     and (since is None or t.created_at >= since) and (until is None or t.created_at < until)]
        return paginate(items, lambda t: t.to_wire(), newest_last=True)


@route("GET", "/transactions/:transaction_id", "hmac", "Get transaction details", tag="Transactions")
def get_transaction(state, key, transaction_id):
    return state.scoped(state.transactions, transaction_id, key.partner_id, key.environment).to_wire()


# -- dashboard -------------------------------------------------------------------------------------

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
                 "rateLimit": {"requestsPerMinute": state.partner_of(key).rate_limit}}
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


# -- webhooks --------------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # all of 127.0.0.0/8, and ::1
    except ValueError:
        return False


def webhook_url_problem(url: str, environment: str) -> str | None:
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # a bad port or an unclosed [IPv6 is refused here, not later
    except ValueError:
        return "must be an absolute http(s) URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an absolute http(s) URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if len(url) > 2048:
        return "must be at most 2048 characters"
    if parts.scheme == "https":
        return None
    if environment == "sandbox" and is_loopback(host):
        return None
    return "must use HTTPS (plain http is accepted only for loopback hosts in the sandbox)"


@route("POST", "/webhooks", "hmac-secret", "Register a webhook", body={"url": "string", "description": "string", "eventTypes": "[string]", "receiveAllEvents": "boolean"}, tag="Webhooks")
def register_webhook(state, key):
    payload = body_json()
    url = text_field(payload, "url", max_length=2048)
    problems = []
    problem = webhook_url_problem(url, key.environment)
    if problem:
        problems.append(("url", problem))
    receive_all = payload.get("receiveAllEvents", False)
    if not isinstance(receive_all, bool):
        problems.append(("receiveAllEvents", "must be true or false"))
    event_types = payload.get("eventTypes", [])
    if not isinstance(event_types, list) or any(t not in EVENT_TYPES for t in event_types):
        problems.append(("eventTypes", f"must be a list of: {', '.join(EVENT_TYPES)}"))
    elif not event_types and not receive_all:
        problems.append(("eventTypes", "choose at least one event type, or set receiveAllEvents"))
    if problems:
        invalid(*problems)
    description = text_field(payload, "description", required=False, max_length=200)
    hook = state.register_webhook(key.partner_id, key.environment, url, description, event_types, receive_all)
    return {**hook.to_wire(), "secret": hook.secret}, 201


@route("GET", "/webhooks", "hmac", "List webhooks", query=["page", "limit"], tag="Webhooks")
def list_webhooks(state, key):
    hooks = sorted((h for h in state.webhooks.values() if h.partner_id == key.partner_id
                    and h.environment == key.environment), key=lambda h: h.created_at)
    return paginate(hooks, lambda h: h.to_wire())


@route("DELETE", "/webhooks/:webhook_id", "hmac-secret", "Delete a webhook", tag="Webhooks")
def delete_webhook(state, key, webhook_id):
    hook = state.delete_webhook(key.partner_id, key.environment, webhook_id)
    return {"id": hook.id, "deleted": True}


@route("GET", "/webhooks/:webhook_id/deliveries", "hmac", "List deliveries", query=["page", "limit", "status", "eventType", "since", "until"], tag="Webhooks")
def list_deliveries(state, key, webhook_id):
    hook = state.scoped(state.webhooks, webhook_id, key.partner_id, key.environment)
    status = choice_arg("status", {"pending", "succeeded", "failed"})
    event_type = request.args.get("eventType") or None
    since, until = time_arg("since"), time_arg("until")
    with state.lock:
        items = [d for d in state.deliveries_by_hook.get(hook.id, ())
                 if (status is None or d.status == status) and (event_type is None or d.event_type == event_type)
                 and (since is None or d.created_at >= since) and (until is None or d.created_at < until)]
    items.sort(key=lambda d: (-d.created_at, d.id))
    return paginate(items, lambda d: d.to_wire())


@route("POST", "/webhooks/:webhook_id/deliveries/:delivery_id/retry", "hmac-secret", "Retry a delivery", tag="Webhooks")
def retry_delivery(state, key, webhook_id, delivery_id):
    hook = state.scoped(state.webhooks, webhook_id, key.partner_id, key.environment)
    delivery = state.deliveries.get(delivery_id)
    if delivery is None or delivery.webhook_id != hook.id:
        raise DomainError(404, "NOT_FOUND", "No such delivery for this webhook.")
    if delivery.status == "succeeded":
        raise DomainError(409, "CONFLICT", "This delivery already succeeded.")
    state.retry_delivery(delivery.id)
    return {**delivery.to_wire(), "retryQueued": True}, 202


@route("POST", "/webhooks/:webhook_id/test", "hmac-secret", "Send a test webhook", tag="Webhooks")
def test_webhook(state, key, webhook_id):
    hook = state.scoped(state.webhooks, webhook_id, key.partner_id, key.environment)
    event = state.raise_event(key.partner_id, key.environment, TEST_EVENT_TYPE,
                              {"message": "This is a test event from SIR Giving.", "webhookId": hook.id},
                              only_webhook=hook.id)
    return {"eventId": event["id"], "deliveryId": event["deliveryIds"][0], "status": "pending"}, 202


def matches(path_glob: str, path: str) -> bool:
    return fnmatch(path, path_glob)
