"""Partner users: reference section 4, "Users"."""

from __future__ import annotations

from flask import request

from ..state import DomainError
from .inputs import body_json, invalid, paginate, text_field
from .routing import route

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
