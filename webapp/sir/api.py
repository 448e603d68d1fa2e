"""Bound clients the views use: one for the partner's data (signed), one for the admin's account (JWT).

`PartnerApi` holds the client, the credential and the environment, so a view asks for
`api.get("/v1/partner/dashboard/summary")` and nothing else; it has no Flask in it, so it can be
passed to worker threads that fetch several cards at once. Typed methods for each area live next to
the generic ones and return the parsed types of `models.py`.
"""

from __future__ import annotations

from typing import Any, Callable

from . import models
from .client import CallRecord, Credential, Reply, SirClient
from .errors import NotFound


class Parsed:
    """A parsed answer with the reply it came from (for "updated at" and "stale since" marks)."""

    def __init__(self, value, reply: Reply):
        self.value, self.reply = value, reply


class PartnerApi:
    def __init__(self, client: SirClient, credential: Credential, environment: str,
                 record: Callable[[CallRecord], None] | None = None):
        self.client = client
        self.credential = credential
        self.environment = environment
        self.record = record

    def get(self, path: str, params: dict | None = None, fresh: bool = False) -> Reply:
        return self.client.signed_call(self.credential, self.environment, "GET", path, params=params,
                                       record=self.record, fresh=fresh)

    def post(self, path: str, json_body: Any = None) -> Reply:
        return self.client.signed_call(self.credential, self.environment, "POST", path, json_body=json_body,
                                       record=self.record)

    def delete(self, path: str) -> Reply:
        return self.client.signed_call(self.credential, self.environment, "DELETE", path, record=self.record)

    # -- dashboard ---------------------------------------------------------------------------------

    def check_credential(self) -> None:
        """One signed read that proves the key and its HMAC secret belong together (and the key works);
        raises the SirError that says why not. Fresh: a cached answer, or a stale one standing in for a
        failure, proves nothing about the key now."""
        reply = self.get("/v1/partner/users", {"limit": 1}, fresh=True)
        if reply.stale:
            raise reply.error

    def summary(self) -> Parsed:
        reply = self.get("/v1/partner/dashboard/summary")
        return Parsed(models.Summary.parse(reply.data), reply)

    def trends(self, days: int) -> Parsed:
        reply = self.get("/v1/partner/dashboard/trends", {"days": days})
        return Parsed(models.Trends.parse(reply.data), reply)

    def top_earners(self, limit: int, days: int = 30) -> Parsed:
        reply = self.get("/v1/partner/dashboard/top-earners", {"limit": limit, "days": days})
        return Parsed(models.parse_top_earners(reply.data), reply)

    def webhook_health(self) -> Parsed:
        reply = self.get("/v1/partner/dashboard/webhooks/health")
        return Parsed(models.parse_webhook_health(reply.data), reply)

    def api_usage(self, days: int = 7, key_id: str | None = None, fresh: bool = False) -> Parsed:
        params = {"days": days}
        if key_id:
            params["keyId"] = key_id
        reply = self.get("/v1/partner/dashboard/api-usage", params, fresh=fresh)
        return Parsed(models.ApiUsage.parse(reply.data), reply)

    def recent_activity(self, limit: int = 10) -> Parsed:
        reply = self.get("/v1/partner/dashboard/recent-activity", {"limit": limit})
        return Parsed(models.parse_recent_activity(reply.data), reply)

    def integration_health(self) -> Parsed:
        reply = self.get("/v1/partner/dashboard/integration-health")
        return Parsed(models.parse_integration_health(reply.data), reply)

    def active_campaign(self) -> Parsed:
        """The running campaign, or a Parsed whose value is None when none is active (a 404 upstream)."""
        try:
            reply = self.get("/v1/partner/campaigns/active")
        except NotFound:
            return Parsed(None, Reply(data=None, status=404))
        return Parsed(models.Campaign.parse(reply.data), reply)

    def campaigns(self, page: int = 1, limit: int = 50) -> Parsed:
        reply = self.get("/v1/partner/campaigns", {"page": page, "limit": limit})
        return Parsed(models.Page.parse(reply.data, models.Campaign.parse), reply)

    def campaign(self, campaign_id: str) -> Parsed:
        reply = self.get(f"/v1/partner/campaigns/{campaign_id}")
        return Parsed(models.Campaign.parse(reply.data), reply)

    def campaign_analytics(self, campaign_id: str) -> Parsed:
        reply = self.get(f"/v1/partner/dashboard/campaigns/{campaign_id}/analytics")
        return Parsed(models.CampaignAnalytics.parse(reply.data), reply)


    # -- token pools -------------------------------------------------------------------------------

    def token_pools(self, fresh: bool = False) -> Parsed:
        reply = self.get("/v1/partner/token-pools", {"limit": 100}, fresh=fresh)
        return Parsed(models.Page.parse(reply.data, models.TokenPool.parse).items, reply)

    def pool_balance(self, pool_id: str, fresh: bool = False) -> Parsed:
        reply = self.get(f"/v1/partner/token-pools/{pool_id}/balance", fresh=fresh)
        return Parsed(models.TokenPool.parse_balance(reply.data), reply)

    def allocation_requests(self, status: str | None = None, pool_id: str | None = None, page: int = 1,
                            limit: int = 50, fresh: bool = False) -> Parsed:
        params = {"page": page, "limit": limit}
        if status:
            params["status"] = status
        if pool_id:
            params["poolId"] = pool_id
        reply = self.get("/v1/partner/token-pools/requests", params, fresh=fresh)
        return Parsed(models.Page.parse(reply.data, models.AllocationRequest.parse), reply)

    def request_top_up(self, pool_id: str, amount: int, reason: str) -> models.AllocationRequest:
        reply = self.post("/v1/partner/token-pools/request", {"poolId": pool_id, "amount": amount, "reason": reason})
        return models.AllocationRequest.parse(reply.data)


    # -- webhooks ----------------------------------------------------------------------------------

    def webhooks(self) -> Parsed:
        reply = self.get("/v1/partner/webhooks", {"limit": 100})
        return Parsed(models.Page.parse(reply.data, models.Webhook.parse).items, reply)

    def register_webhook(self, url: str, description: str | None, event_types: list[str], receive_all: bool) -> dict:
        """Returns the raw reply: it carries the signing secret, shown once."""
        body = {"url": url, "eventTypes": event_types, "receiveAllEvents": receive_all}
        if description:
            body["description"] = description
        return self.post("/v1/partner/webhooks", body).data

    def delete_webhook(self, webhook_id: str) -> None:
        self.delete(f"/v1/partner/webhooks/{webhook_id}")

    def deliveries(self, webhook_id: str, status: str | None = None, page: int = 1, limit: int = 25,
                   since: str | None = None, fresh: bool = False, event_type: str | None = None,
                   until: str | None = None) -> Parsed:
        params = {"page": page, "limit": limit}
        if status:
            params["status"] = status
        if event_type:
            params["eventType"] = event_type
        if since:
            params["since"] = since
        if until:
            params["until"] = until
        reply = self.get(f"/v1/partner/webhooks/{webhook_id}/deliveries", params, fresh=fresh)
        return Parsed(models.Page.parse(reply.data, models.Delivery.parse), reply)

    def retry_delivery(self, webhook_id: str, delivery_id: str) -> models.Delivery:
        return models.Delivery.parse(self.post(f"/v1/partner/webhooks/{webhook_id}/deliveries/{delivery_id}/retry").data)

    def send_test_event(self, webhook_id: str) -> dict:
        return self.post(f"/v1/partner/webhooks/{webhook_id}/test").data

    # -- batches -----------------------------------------------------------------------------------

    def bulk_actions(self, actions: list[dict]) -> dict:
        """`POST /v1/partner/actions/bulk` (at most 100): the raw reply, parsed by webapp/batches/sending.py.
        A write: never retried here, so a lost answer reaches the caller, which resends with the same keys."""
        return self.post("/v1/partner/actions/bulk", {"actions": actions}).data


def check_publishable_key(client: SirClient, public_key: str, environment: str) -> None:
    """One widget call (`GET /v1/partner/config`, as a browser sends it) that proves a publishable key works;
    a publishable key cannot sign, so this is its proof. Raises the SirError that says why not."""
    client.widget_call(public_key, environment, "GET", "/v1/partner/config")


class AccountApi:
    """Calls made with the signed-in admin's JWT: their partner record and key management."""

    def __init__(self, client: SirClient, token: str, record: Callable[[CallRecord], None] | None = None):
        self.client = client
        self.token = token
        self.record = record

    def call(self, method: str, path: str, json_body: Any = None, params: dict | None = None) -> Any:
        return self.client.jwt_call(method, path, self.token, json_body=json_body, params=params, record=self.record)

    def me(self) -> dict:
        return self.call("GET", "/v1/partner/auth/me")

    def partner_info(self) -> dict:
        return self.call("GET", "/v1/partner/keys/partner-info")

    def create_key(self, name: str, environment: str, key_type: str = "secret") -> dict:
        return self.call("POST", "/v1/partner/keys", {"name": name, "environment": environment, "keyType": key_type})

    # -- typed key management ------------------------------------------------------------------------

    def key_list(self) -> Parsed:
        """Every key, for a page: retried once, or a recent copy marked stale (`reply.stale`, `reply.error`)."""
        reply = self.client.jwt_read("/v1/partner/keys", self.token, params={"limit": 100}, record=self.record)
        records = reply.data["data"] if isinstance(reply.data, dict) and "data" in reply.data else reply.data
        return Parsed([models.ApiKey.parse(k) for k in records], reply)

    def key_page(self, key_id: str) -> Parsed:
        """One key, for a page: retried once, or a recent copy marked stale."""
        reply = self.client.jwt_read(f"/v1/partner/keys/{key_id}", self.token, record=self.record)
        return Parsed(models.ApiKey.parse(reply.data), reply)

    def keys(self) -> list[models.ApiKey]:
        """Every key as SIR Giving says now (for decisions: never a stale copy)."""
        return _current(self.key_list())

    def key(self, key_id: str) -> models.ApiKey:
        """One key as SIR Giving says now (for decisions: never a stale copy)."""
        return _current(self.key_page(key_id))

    def update_key(self, key_id: str, **changes) -> models.ApiKey:
        """PATCH with camelCase fields: name, isActive, expiresAt (ISO time or None)."""
        return models.ApiKey.parse(self.call("PATCH", f"/v1/partner/keys/{key_id}", changes))

    def revoke_key(self, key_id: str) -> models.ApiKey:
        return models.ApiKey.parse(self.call("DELETE", f"/v1/partner/keys/{key_id}"))


def _current(parsed: Parsed):
    if parsed.reply.stale:
        raise parsed.reply.error
    return parsed.value
