"""Webhook endpoints and deliveries: reference section 4, "Webhooks"."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import request

from ..state import EVENT_TYPES, TEST_EVENT_TYPE, DomainError
from .inputs import body_json, choice_arg, invalid, paginate, text_field, time_arg
from .routing import route

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


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


@route("GET", "/webhooks/:webhook_id/deliveries", "hmac", "List deliveries", query=["page", "limit", "status", "eventType", "eventId", "since", "until"], tag="Webhooks")
def list_deliveries(state, key, webhook_id):
    hook = state.scoped(state.webhooks, webhook_id, key.partner_id, key.environment)
    status = choice_arg("status", {"pending", "succeeded", "failed"})
    event_type = request.args.get("eventType") or None
    event_id = request.args.get("eventId") or None
    since, until = time_arg("since"), time_arg("until")
    with state.lock:
        items = [d for d in state.deliveries_by_hook.get(hook.id, ())
                 if (status is None or d.status == status) and (event_type is None or d.event_type == event_type)
                 and (event_id is None or d.event_id == event_id)
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
