"""Reward actions: reference section 4, "Actions"."""

from __future__ import annotations

import re
from collections import Counter

from ..state import DomainError
from .inputs import MAX_AMOUNT, body_json, choice_arg, invalid, paginate, text_field, time_arg
from .routing import route

ACTION_TYPES = {"PURCHASE", "VOLUNTEER", "DONATION", "REFERRAL", "ADVOCACY"}


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
