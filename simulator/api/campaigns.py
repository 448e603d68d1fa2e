"""Campaigns: reference section 4, "Campaigns"."""

from __future__ import annotations

from datetime import datetime, timezone

from ..model import day_of
from ..state import DAY, DomainError
from .inputs import body_json, choice_arg, invalid, paginate, positive_int, text_field
from .routing import route

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
