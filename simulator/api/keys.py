"""Partner auth and key management (JWT): reference section 4, "Partner auth" and "Partner key management"."""

from __future__ import annotations

from datetime import datetime, timezone

from .. import auth
from ..model import iso
from .inputs import body_json, choice_arg, invalid, paginate, text_field
from .routing import route

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
