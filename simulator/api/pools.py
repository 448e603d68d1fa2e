"""Token pools and allocation requests: reference section 4, "Token pools"."""

from __future__ import annotations

from flask import request

from ..model import iso
from .inputs import MAX_AMOUNT, body_json, choice_arg, invalid, paginate
from .routing import route

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
