"""Operator controls for tests and demos, under `/_sim/` — never mixed into the SIR paths, and not part of
SIR Giving's API. They need no auth: the simulator is a local tool. Bodies and replies are JSON.
"""

from __future__ import annotations

import math

from flask import Blueprint, current_app, jsonify, request

from .api.inputs import body_json
from .api.inputs import invalid as refuse
from .state import DomainError

bp = Blueprint("sim_ops", __name__, url_prefix="/_sim")


def sim():
    return current_app.extensions["sir_simulator"]


MAX_CLOCK_MOVE = 100 * 366 * 86_400  # a century either way keeps every time a real calendar date
METHODS = {"*", "GET", "POST", "PATCH", "PUT", "DELETE"}


def body() -> dict:
    """The JSON object sent (an empty body is `{}`), read as strictly as the SIR routes read theirs."""
    return body_json() if request.get_data(cache=True) else {}


def whole(payload: dict, name: str, low: int, high: int | None, problems: list):
    """An optional whole number in [low, high]; a problem is noted, not raised, so every field is named at once."""
    value = payload.get(name)
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value != int(value)):
        problems.append((name, "must be a whole number"))
        return None
    if value < low or (high is not None and value > high):
        problems.append((name, f"must be between {low} and {high}" if high is not None else f"must be at least {low}"))
        return None
    return int(value)


def note_of(payload: dict):
    note = payload.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        refuse(("note", "must be a string of at most 500 characters"))
    return note


@bp.get("/state")
def state_summary():
    state = sim()
    return jsonify({"now": state.now(), "clockOffsetSeconds": state.clock_offset, "requestsServed": state.usage.served,
                    "partners": [dict(p.to_wire(), adminEmails=[a.email for a in state.accounts.values() if a.partner_id == p.id])
                                 for p in state.partners.values()],
                    "counts": {"keys": len(state.keys), "users": len(state.users), "actions": len(state.actions),
                               "pools": len(state.pools), "requests": len(state.requests),
                               "webhooks": len(state.webhooks), "deliveries": len(state.deliveries),
                               "events": len(state.events)},
                    "faults": [f.to_wire() for f in state.traffic.faults]})


@bp.post("/token-pools/requests/<request_id>/approve")
def approve(request_id):
    decided = sim().decide_allocation_request(request_id, True, note_of(body()))
    return jsonify(decided.to_wire(sim().pools[decided.pool_id].name))


@bp.post("/token-pools/requests/<request_id>/reject")
def reject(request_id):
    decided = sim().decide_allocation_request(request_id, False, note_of(body()))
    return jsonify(decided.to_wire(sim().pools[decided.pool_id].name))


@bp.post("/events")
def raise_event():
    payload = body()
    partner_id, environment, event_type = payload.get("partnerId"), payload.get("environment", "sandbox"), payload.get("type")
    problems = []
    if not isinstance(partner_id, str) or partner_id not in sim().partners:
        problems.append(("partnerId", "must be the id of a known partner"))
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 100:
        problems.append(("type", "is required: an event type such as action.completed"))
    if environment not in ("sandbox", "production"):
        problems.append(("environment", "must be sandbox or production"))
    if payload.get("data") is not None and not isinstance(payload["data"], dict):
        problems.append(("data", "must be an object"))
    if problems:
        refuse(*problems)
    return jsonify(sim().raise_event(partner_id, environment, event_type, payload.get("data") or {})), 201


@bp.post("/clock")
def move_clock():
    seconds = body().get("advanceSeconds")
    if (not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds != seconds
            or abs(seconds) > MAX_CLOCK_MOVE):
        refuse(("advanceSeconds", f"must be a number of seconds (may be negative), at most {MAX_CLOCK_MOVE} either way"))
    now = sim().advance_clock(float(seconds))
    return jsonify({"now": now, "clockOffsetSeconds": sim().clock_offset})


@bp.get("/faults")
def list_faults():
    return jsonify({"data": [f.to_wire() for f in sim().traffic.faults]})


@bp.post("/faults")
def add_fault():
    payload = body()
    problems = []
    method = payload.get("method", "*")
    if not isinstance(method, str) or method.upper() not in METHODS:
        problems.append(("method", f"must be one of {', '.join(sorted(METHODS))}"))
    path = payload.get("path", "*")
    if not isinstance(path, str) or not path or len(path) > 500:
        problems.append(("path", "must be a path or a glob such as /v1/partner/users*"))
    status = whole(payload, "status", 100, 599, problems)
    delay_ms = whole(payload, "delayMs", 0, 120_000, problems) or 0
    count = whole(payload, "count", 1, None, problems)
    flags = {}
    for name in ("malformed", "drop"):
        value = payload.get(name, False)
        if not isinstance(value, bool):
            problems.append((name, "must be true or false"))
        flags[name] = value is True
    if not problems and not (status or delay_ms or flags["malformed"] or flags["drop"]):
        problems.append(("status", "give what the fault does: status, delayMs, malformed or drop"))
    if problems:
        refuse(*problems)
    fault = sim().add_fault(method=method, path=path, status=status, delay_ms=delay_ms, malformed=flags["malformed"],
                            drop=flags["drop"], count=count)
    return jsonify(fault.to_wire()), 201


@bp.delete("/faults")
def clear_faults():
    sim().clear_faults()
    return jsonify({"cleared": True})


@bp.post("/traffic")
def set_traffic():
    payload = body()
    problems = []
    latency = whole(payload, "latencyMs", 0, 60_000, problems)
    jitter = whole(payload, "jitterMs", 0, 60_000, problems)
    rate_limit = whole(payload, "rateLimit", 0, None, problems)  # 0: no limit
    error_rate = payload.get("errorRate")
    if error_rate is not None and (isinstance(error_rate, bool) or not isinstance(error_rate, (int, float))
                                   or not 0 <= error_rate <= 1):
        problems.append(("errorRate", "must be a number between 0 and 1"))
    if problems:
        refuse(*problems)
    sim().set_traffic(latency, jitter, error_rate, rate_limit)
    traffic = sim().traffic
    return jsonify({"latencyMs": traffic.latency_ms, "jitterMs": traffic.jitter_ms, "errorRate": traffic.error_rate,
                    "rateLimit": traffic.rate_limit})


@bp.post("/partners/<slug>/status")
def partner_status(slug):
    partner = sim().partner_by_slug(slug)
    status = body().get("status")
    if partner is None:
        raise DomainError(404, "NOT_FOUND", f"No partner with slug {slug!r}.")
    if status not in ("active", "pending", "suspended"):
        refuse(("status", "must be active, pending or suspended"))
    sim().set_partner_status(partner.id, status)
    return jsonify(partner.to_wire())


@bp.post("/partners")
def add_partner():
    payload = body()
    problems = [(name, "is required: a non-empty string") for name in ("name", "slug", "email", "password")
                if not isinstance(payload.get(name), str) or not payload[name].strip() or len(payload[name]) > 200]
    if problems:
        refuse(*problems)
    partner = sim().add_partner(payload["name"], payload["slug"], payload["email"], payload["password"])
    return jsonify(partner.to_wire()), 201


def partner_and_environment(slug: str, payload: dict, problems: list):
    """The partner `slug` names (404 if none) and the body's `environment` (production unless given)."""
    partner = sim().partner_by_slug(slug)
    if partner is None:
        raise DomainError(404, "NOT_FOUND", f"No partner with slug {slug!r}.")
    environment = payload.get("environment", "production")
    if environment not in ("sandbox", "production"):
        problems.append(("environment", "must be sandbox or production"))
    return partner, environment


@bp.post("/partners/<slug>/token-pools")
def provision_pool(slug):
    payload, problems = body(), []
    partner, environment = partner_and_environment(slug, payload, problems)
    tokens = whole(payload, "tokens", 1, None, problems)
    threshold = whole(payload, "lowBalanceThreshold", 0, None, problems) or 0
    name = payload.get("name", "Production pool")
    if tokens is None and not any(field == "tokens" for field, _ in problems):
        problems.append(("tokens", "is required: the pool's allocation"))
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        problems.append(("name", "must be a non-empty string of at most 100 characters"))
    if problems:
        refuse(*problems)
    pool = sim().provision_pool(partner.id, environment, name, tokens, threshold)
    return jsonify(pool.to_wire()), 201


@bp.post("/partners/<slug>/endpoints")
def endpoint_checks(slug):
    """{"environment": "production", "acceptForged": true}: the partner's sample handler takes unsigned deliveries."""
    payload, problems = body(), []
    partner, environment = partner_and_environment(slug, payload, problems)
    accepts = payload.get("acceptForged")
    if not isinstance(accepts, bool):
        problems.append(("acceptForged", "must be true or false"))
    if problems:
        refuse(*problems)
    sim().set_endpoint_accepts_forged(partner.id, environment, accepts)
    return jsonify({"partner": slug, "environment": environment, "acceptForged": accepts})


@bp.post("/deliveries/run")
def run_deliveries():
    return jsonify({"attempted": sim().deliver_due()})


@bp.post("/reset")
def reset():
    sim().clear_faults()
    sim().reset()
    return jsonify({"reset": True})
