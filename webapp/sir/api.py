"""Bound clients the views use: one for the partner's data (signed), one for the admin's account (JWT).

`PartnerApi` holds the client, the credential and the environment, so a view asks for
`api.get("/v1/partner/dashboard/summary")` and nothing else; it has no Flask in it, so it can be
passed to worker threads that fetch several cards at once. Typed methods for each area live next to
the generic ones and return the parsed types of `models.py`.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

from . import models
from .client import CallRecord, Credential, Reply, SirClient
from .errors import NotFound
from .listing import MAX_PAGES, Listing, Pager, collect
from .times import parse_time


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

    def pager(self, path: str, parse_item, params: dict | None = None, fresh: bool = False,
              max_pages: int = MAX_PAGES) -> Pager:
        """A lazy reader of a list, page by page, whatever form it comes in; `replies` holds what it read."""
        replies: list[Reply] = []

        def fetch(page: int, limit: int):
            replies.append(self.get(path, {**(params or {}), "page": page, "limit": limit}, fresh=fresh))
            return replies[-1].data

        pager = Pager(fetch, parse_item, max_pages=max_pages, path=path)
        pager.replies = replies
        return pager

    def every(self, path: str, parse_item, params: dict | None = None, fresh: bool = False,
              max_pages: int = MAX_PAGES) -> Parsed:
        """Every item of a list (a Listing), read to its end; the reply is the first page's (for "updated
        at" and "stale since")."""
        pager = self.pager(path, parse_item, params, fresh, max_pages)
        items = [item for page in pager.pages() for item in page]
        return Parsed(Listing(items, bool(pager.complete)), pager.replies[0])

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
        return Parsed(models.Summary.parse(reply.data, "/v1/partner/dashboard/summary"), reply)

    def trends(self, days: int) -> Parsed:
        reply = self.get("/v1/partner/dashboard/trends", {"days": days})
        return Parsed(models.Trends.parse(reply.data, "/v1/partner/dashboard/trends"), reply)

    def top_earners(self, limit: int, days: int = 30) -> Parsed:
        reply = self.get("/v1/partner/dashboard/top-earners", {"limit": limit, "days": days})
        return Parsed(models.parse_top_earners(reply.data, "/v1/partner/dashboard/top-earners"), reply)

    def webhook_health(self) -> Parsed:
        reply = self.get("/v1/partner/dashboard/webhooks/health")
        return Parsed(models.parse_webhook_health(reply.data, "/v1/partner/dashboard/webhooks/health"), reply)

    def api_usage(self, days: int = 7, key_id: str | None = None, fresh: bool = False) -> Parsed:
        params = {"days": days}
        if key_id:
            params["keyId"] = key_id
        reply = self.get("/v1/partner/dashboard/api-usage", params, fresh=fresh)
        return Parsed(models.ApiUsage.parse(reply.data, "/v1/partner/dashboard/api-usage"), reply)

    def recent_activity(self, limit: int = 10) -> Parsed:
        reply = self.get("/v1/partner/dashboard/recent-activity", {"limit": limit})
        return Parsed(models.parse_recent_activity(reply.data, "/v1/partner/dashboard/recent-activity"), reply)

    def integration_health(self) -> Parsed:
        reply = self.get("/v1/partner/dashboard/integration-health")
        return Parsed(models.parse_integration_health(reply.data, "/v1/partner/dashboard/integration-health"), reply)

    def active_campaign(self, fresh: bool = False) -> Parsed:
        """The running campaign, or a Parsed whose value is None when none is active (a 404 upstream, which the
        cache keeps like an answer: `fresh` for a decision or an admin's Refresh)."""
        try:
            reply = self.get("/v1/partner/campaigns/active", fresh=fresh)
        except NotFound:
            return Parsed(None, Reply(data=None, status=404))
        return Parsed(models.Campaign.parse(reply.data, "/v1/partner/campaigns/active"), reply)

    def campaigns(self) -> Parsed:
        """Every campaign (a Listing)."""
        return self.every("/v1/partner/campaigns", models.Campaign.parse)

    def campaign(self, campaign_id: str) -> Parsed:
        reply = self.get(f"/v1/partner/campaigns/{campaign_id}")
        return Parsed(models.Campaign.parse(reply.data, "/v1/partner/campaigns/:id"), reply)

    def campaign_analytics(self, campaign_id: str) -> Parsed:
        reply = self.get(f"/v1/partner/dashboard/campaigns/{campaign_id}/analytics")
        return Parsed(models.CampaignAnalytics.parse(reply.data, "/v1/partner/dashboard/campaigns/:id/analytics"), reply)


    # -- token pools -------------------------------------------------------------------------------

    def token_pools(self, fresh: bool = False) -> Parsed:
        return self.every("/v1/partner/token-pools", models.TokenPool.parse, fresh=fresh)

    def pool_balance(self, pool_id: str, fresh: bool = False) -> Parsed:
        reply = self.get(f"/v1/partner/token-pools/{pool_id}/balance", fresh=fresh)
        return Parsed(models.TokenPool.parse_balance(reply.data, "/v1/partner/token-pools/:id/balance"), reply)

    def allocation_requests(self, status: str | None = None, pool_id: str | None = None, page: int = 1,
                            limit: int = 50, fresh: bool = False) -> Parsed:
        """One page (a Page cut by the portal) of the requests with `status` and `pool_id`. The filters are
        sent, and applied again here: an upstream that ignores them cannot make a count wrong."""
        params = {"status": status, "poolId": pool_id}
        every = self.every("/v1/partner/token-pools/requests", models.AllocationRequest.parse,
                           {k: v for k, v in params.items() if v}, fresh=fresh)
        chosen = [r for r in every.value if (not status or r.status == status) and (not pool_id or r.pool_id == pool_id)]
        return Parsed(models.Page.of(chosen, page, limit, every.value.complete), every.reply)

    def request_top_up(self, pool_id: str, amount: int, reason: str) -> models.AllocationRequest:
        reply = self.post("/v1/partner/token-pools/request", {"poolId": pool_id, "amount": amount, "reason": reason})
        return models.AllocationRequest.parse(reply.data, "/v1/partner/token-pools/request")


    # -- webhooks ----------------------------------------------------------------------------------

    def webhooks(self, fresh: bool = False) -> Parsed:
        return self.every("/v1/partner/webhooks", models.Webhook.parse, fresh=fresh)

    def webhook(self, webhook_id: str) -> models.Webhook | None:
        """One endpoint, or None when the partner has none with that id. The reference has no call for one
        endpoint: the list is read page by page only until it turns up (one call for most partners)."""
        pager = self.pager("/v1/partner/webhooks", models.Webhook.parse)
        return next((hook for page in pager.pages() for hook in page if hook.id == webhook_id), None)

    def register_webhook(self, url: str, description: str | None, event_types: list[str], receive_all: bool) -> dict:
        """The reply as the reference documents it (a camelCase dict): it carries the signing secret, shown once."""
        body = {"url": url, "eventTypes": event_types, "receiveAllEvents": receive_all}
        if description:
            body["description"] = description
        return models.RegisteredWebhook.parse(self.post("/v1/partner/webhooks", body).data, "/v1/partner/webhooks").wire()

    def delete_webhook(self, webhook_id: str) -> None:
        self.delete(f"/v1/partner/webhooks/{webhook_id}")

    def delivery_pages(self, webhook_id: str, status: str | None = None, since: str | None = None,
                       until: str | None = None, event_type: str | None = None, fresh: bool = False,
                       max_pages: int = MAX_PAGES, *, event_id: str | None = None
                       ) -> tuple[Pager, Iterator[list[models.Delivery]]]:
        """The endpoint's deliveries that the portal itself sees matching the filters, page by page as they
        are read (lazily). The filters are sent, and applied again here: an upstream that ignores `status` or
        `since` cannot make the portal count, show or retry a delivery outside them. With a time filter, a
        delivery without `createdAt` is left out: it cannot be shown to be inside the window."""
        params = {"status": status, "eventType": event_type, "eventId": event_id, "since": since, "until": until}
        pager = self.pager(f"/v1/partner/webhooks/{webhook_id}/deliveries", models.Delivery.parse,
                           {k: v for k, v in params.items() if v}, fresh, max_pages)
        start, end = parse_time(since), parse_time(until)

        def wanted(d: models.Delivery) -> bool:
            if (status and d.status != status) or (event_type and d.event_type != event_type):
                return False
            if event_id and d.event_id != event_id:
                return False
            if start or end:
                return d.created_at is not None and (not start or d.created_at >= start) and \
                    (not end or d.created_at < end)
            return True

        return pager, ([d for d in page if wanted(d)] for page in pager.pages())

    def every_delivery(self, webhook_id: str, status: str | None = None, since: str | None = None,
                       until: str | None = None, event_type: str | None = None, fresh: bool = False,
                       max_pages: int = MAX_PAGES) -> Parsed:
        """Every delivery of `delivery_pages` (a Listing), read to the end; the reply is the first page's."""
        pager, pages = self.delivery_pages(webhook_id, status, since, until, event_type, fresh, max_pages)
        items = [d for page in pages for d in page]
        return Parsed(Listing(items, bool(pager.complete)), pager.replies[0])

    def deliveries(self, webhook_id: str, status: str | None = None, page: int = 1, limit: int = 25,
                   since: str | None = None, fresh: bool = False, event_type: str | None = None,
                   until: str | None = None) -> Parsed:
        """One page (a Page cut by the portal) of `every_delivery`: its total is what the portal counted."""
        every = self.every_delivery(webhook_id, status, since, until, event_type, fresh)
        return Parsed(models.Page.of(every.value, page, limit, every.value.complete), every.reply)

    def find_delivery(self, webhook_id: str, delivery_id: str, event_id: str | None = None,
                      fresh: bool = False) -> Parsed:
        """One delivery of the endpoint (the reference has no detail endpoint: its list is read, page by page,
        until the delivery is found); NotFound when the endpoint's list does not have it. `event_id` narrows
        the list when the caller knows it."""
        pager, pages = self.delivery_pages(webhook_id, fresh=fresh, event_id=event_id)
        for page in pages:
            for delivery in page:
                if delivery.id == delivery_id:
                    return Parsed(delivery, pager.replies[-1])
        raise NotFound("No such delivery for this endpoint.", status=404)

    def deliveries_of_event(self, webhook_ids: list[str], event_id: str, fresh: bool = False) -> list[models.Delivery]:
        """Every delivery of `event_id` to any of the endpoints, in their order (asked with the `eventId`
        filter, checked here too: an upstream that ignores it is read to the end, bounded)."""
        found = []
        for webhook_id in webhook_ids:
            _, pages = self.delivery_pages(webhook_id, fresh=fresh, event_id=event_id)
            found.extend(d for page in pages for d in page)
        return found

    def retry_delivery(self, webhook_id: str, delivery_id: str) -> models.Delivery:
        return models.Delivery.parse(self.post(f"/v1/partner/webhooks/{webhook_id}/deliveries/{delivery_id}/retry").data,
                                     "/v1/partner/webhooks/:id/deliveries/:id/retry")

    def send_test_event(self, webhook_id: str) -> dict:
        return self.post(f"/v1/partner/webhooks/{webhook_id}/test").data

    # -- actions (raw: their reader parses what it needs) --------------------------------------------

    def recent_actions(self, limit: int = 100, fresh: bool = False) -> Parsed:
        """The newest actions (at most 100), as the wire has them: a list of camelCase dicts."""
        reply = self.get("/v1/partner/actions", {"limit": limit}, fresh=fresh)
        data = reply.data.get("data") if isinstance(reply.data, dict) else reply.data  # an envelope or a bare list
        return Parsed(data if isinstance(data, list) else [], reply)

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

    def call(self, method: str, path: str, json_body: Any = None, params: dict | None = None,
             environment: str | None = None) -> Any:
        """One JWT call; key management for a key of `environment` goes to that key's host (`SirClient.key_host`)."""
        return self.client.jwt_call(method, path, self.token, json_body=json_body, params=params, record=self.record,
                                    base_url=self.client.key_host(environment))

    def me(self) -> dict:
        return self.call("GET", "/v1/partner/auth/me")

    def partner_info(self) -> dict:
        return self.call("GET", "/v1/partner/keys/partner-info")

    def create_key(self, name: str, environment: str, key_type: str = "secret") -> dict:
        """The new key as the reference documents the reply (a camelCase dict with its secrets, shown once).
        The reply has no `keyType`: the type is the one asked for, unless SIR Giving says otherwise."""
        created = models.CreatedKey.parse(
            self.call("POST", "/v1/partner/keys", {"name": name, "environment": environment, "keyType": key_type},
                      environment=environment),
            "/v1/partner/keys")
        self._remember(created.id, created.environment or environment)
        return created.model_copy(update={"key_type": created.key_type or key_type}).wire()

    # -- typed key management ------------------------------------------------------------------------

    def _remember(self, key_id: str | None, environment: str | None) -> None:
        if key_id and environment:
            self.client.key_environments[key_id] = environment

    def _host_of(self, key_id: str, environment: str | None) -> str:
        return self.client.key_host(environment or self.client.key_environments.get(key_id))

    def key_list(self) -> Parsed:
        """Every key, page by page, for a page (value: a Listing, `complete` False when the cap was reached):
        each page retried once, or a recent copy marked stale; the reply is the first stale page's, if any.
        Read from every host that holds keys (`SirClient.key_hosts`); a key two hosts list counts once, as the
        host that holds its environment's keys says it."""
        def read(base_url: str) -> tuple[str, Listing, list[Reply]]:
            replies: list[Reply] = []

            def fetch(page: int, limit: int):
                reply = self.client.jwt_read("/v1/partner/keys", self.token, params={"page": page, "limit": limit},
                                             record=self.record, base_url=base_url)
                replies.append(reply)
                return reply.data

            return base_url, collect(fetch, models.ApiKey.parse, path="/v1/partner/keys"), replies

        hosts = self.client.key_hosts()
        if len(hosts) == 1:
            results = [read(hosts[0])]
        else:  # both hosts at once: the second host must not add a round to every page that shows keys
            with ThreadPoolExecutor(len(hosts)) as pool:
                futures = [pool.submit(contextvars.copy_context().run, read, host) for host in hosts]
                results = [future.result() for future in futures]
        replies: list[Reply] = []
        merged: dict[str, models.ApiKey] = {}
        complete = True
        for base_url, listing, host_replies in results:
            replies.extend(host_replies)
            complete = complete and listing.complete
            for key in listing:
                if key.id not in merged or self.client.key_host(key.environment) == base_url:
                    merged[key.id] = key
        for key in merged.values():
            self._remember(key.id, key.environment)
        return Parsed(Listing(merged.values(), complete), next((r for r in replies if r.stale), replies[0]))

    def key_page(self, key_id: str, environment: str | None = None) -> Parsed:
        """One key, for a page: retried once, or a recent copy marked stale."""
        reply = self.client.jwt_read(f"/v1/partner/keys/{key_id}", self.token, record=self.record,
                                     base_url=self._host_of(key_id, environment))
        return Parsed(models.ApiKey.parse(reply.data, "/v1/partner/keys/:id"), reply)

    def keys(self) -> list[models.ApiKey]:
        """Every key as SIR Giving says now (for decisions: never a stale copy)."""
        return _current(self.key_list())

    def key(self, key_id: str, environment: str | None = None) -> models.ApiKey:
        """One key as SIR Giving says now (for decisions: never a stale copy)."""
        return _current(self.key_page(key_id, environment))

    def update_key(self, key_id: str, environment: str | None = None, **changes) -> models.ApiKey:
        """PATCH with camelCase fields: name, isActive, expiresAt (ISO time or None)."""
        return models.ApiKey.parse(self.call("PATCH", f"/v1/partner/keys/{key_id}", changes,
                                             environment=environment or self.client.key_environments.get(key_id)),
                                   "/v1/partner/keys/:id")

    def revoke_key(self, key_id: str, environment: str | None = None) -> models.ApiKey:
        return models.ApiKey.parse(self.call("DELETE", f"/v1/partner/keys/{key_id}",
                                             environment=environment or self.client.key_environments.get(key_id)),
                                   "/v1/partner/keys/:id")


def _current(parsed: Parsed):
    if parsed.reply.stale:
        raise parsed.reply.error
    return parsed.value
