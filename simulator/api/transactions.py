"""Partner transactions: reference section 4, "Transactions"."""

from __future__ import annotations

from flask import request

from .inputs import choice_arg, paginate, time_arg
from .routing import route

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
