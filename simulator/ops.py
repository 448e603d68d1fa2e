"""Operator controls for tests and demos, under `/_sim/` — never mixed into the SIR paths, and not part of
SIR Giving's API. They need no auth: the simulator is a local tool. Bodies and replies are JSON.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .state import DomainError

bp = Blueprint("sim_ops", __name__, url_prefix="/_sim")


def sim():
    return current_app.extensions["sir_simulator"]


def body() -> dict:
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else {}


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
    decided = sim().decide_allocation_request(request_id, True, body().get("note"))
    return jsonify(decided.to_wire(sim().pools[decided.pool_id].name))


@bp.post("/token-pools/requests/<request_id>/reject")
def reject(request_id):
    decided = sim().decide_allocation_request(request_id, False, body().get("note"))
    return jsonify(decided.to_wire(sim().pools[decided.pool_id].name))


@bp.post("/events")
def raise_event():
    payload = body()
    partner_id, environment, event_type = payload.get("partnerId"), payload.get("environment", "sandbox"), payload.get("type")
    if partner_id not in sim().partners or not event_type:
        raise DomainError(400, "VALIDATION_ERROR", "Give partnerId (a known partner), type, and optionally environment and data.")
    return jsonify(sim().raise_event(partner_id, environment, event_type, payload.get("data") or {})), 201


@bp.post("/clock")
def move_clock():
    seconds = body().get("advanceSeconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        raise DomainError(400, "VALIDATION_ERROR", "Give advanceSeconds (a number, may be negative).")
    now = sim().advance_clock(float(seconds))
    return jsonify({"now": now, "clockOffsetSeconds": sim().clock_offset})


@bp.get("/faults")
def list_faults():
    return jsonify({"data": [f.to_wire() for f in sim().traffic.faults]})


@bp.post("/faults")
def add_fault():
    payload = body()
    fault = sim().add_fault(method=payload.get("method", "*"), path=payload.get("path", "*"), status=payload.get("status"),
                            delay_ms=int(payload.get("delayMs", 0)), malformed=bool(payload.get("malformed", False)),
                            drop=bool(payload.get("drop", False)), count=payload.get("count"))
    return jsonify(fault.to_wire()), 201


@bp.delete("/faults")
def clear_faults():
    sim().clear_faults()
    return jsonify({"cleared": True})


@bp.post("/traffic")
def set_traffic():
    payload = body()
    sim().set_traffic(payload.get("latencyMs"), payload.get("jitterMs"), payload.get("errorRate"), payload.get("rateLimit"))
    traffic = sim().traffic
    return jsonify({"latencyMs": traffic.latency_ms, "jitterMs": traffic.jitter_ms, "errorRate": traffic.error_rate,
                    "rateLimit": traffic.rate_limit})


@bp.post("/partners/<slug>/status")
def partner_status(slug):
    partner = sim().partner_by_slug(slug)
    status = body().get("status")
    if partner is None or status not in ("active", "pending", "suspended"):
        raise DomainError(400, "VALIDATION_ERROR", "Give a known partner slug and status active, pending or suspended.")
    sim().set_partner_status(partner.id, status)
    return jsonify(partner.to_wire())


@bp.post("/deliveries/run")
def run_deliveries():
    return jsonify({"attempted": sim().deliver_due()})


@bp.post("/reset")
def reset():
    sim().clear_faults()
    sim().reset()
    return jsonify({"reset": True})
