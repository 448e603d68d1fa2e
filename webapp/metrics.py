"""Prometheus metrics at `/metrics` (prometheus_client): upstream calls, the receiver, rate limits, requests.

Under gunicorn with several workers, set `PROMETHEUS_MULTIPROC_DIR` to an empty folder writable by the portal:
each worker writes its counters there and a scrape of any worker adds them up (`gunicorn.conf.py` marks a
dead worker's files). Without it, the counters are the one process's.

Who may read them: with `METRICS_TOKEN` set, a request with `Authorization: Bearer <token>` (401 otherwise);
without one, only a request made on this host (a loopback address, not relayed by a proxy), and 404 to anyone
else, so the endpoint is not advertised.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from flask import Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest

from config import ConfigError

from .sir.client import CallRecord

UPSTREAM_CALLS = Counter(
    "portal_upstream_calls", "Calls to SIR Giving, by endpoint family, method, status and cache result",
    ["family", "method", "status", "cache"])
UPSTREAM_SECONDS = Histogram(
    "portal_upstream_call_seconds", "Time of the calls that went to SIR Giving (cache hits left out)",
    ["family"], buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
STALE_ANSWERS = Counter(
    "portal_stale_answers", "Cached answers served, marked stale, in place of a failed call", ["family"])
RECEIVER_DELIVERIES = Counter(
    "portal_receiver_deliveries", "Webhook deliveries to the portal's receiver by outcome (refused: by reason)",
    ["outcome", "reason"])
RATE_LIMITED = Counter("portal_rate_limited", "Requests refused by a rate limit, by route and limit", ["route", "limit"])
REQUEST_SECONDS = Histogram(
    "portal_request_seconds", "Time to answer a request, by route (the URL rule, never the path)",
    ["method", "route", "status"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def observe_call(call: CallRecord) -> None:
    """The SIR client's `observe` hook: every call, from a request or not."""
    status = str(call.status) if call.status is not None else (call.failure or "none")
    UPSTREAM_CALLS.labels(call.family, call.method, status, call.cache_result).inc()
    if call.stale:
        STALE_ANSWERS.labels(call.family).inc()
    elif not call.from_cache:
        UPSTREAM_SECONDS.labels(call.family).observe(call.elapsed_ms / 1000)


def delivery(outcome: str, reason: str = "") -> None:
    """A delivery to the receiver: stored, duplicate, or refused with its reason."""
    RECEIVER_DELIVERIES.labels(outcome, reason).inc()


def rate_limited(limit: str) -> None:
    """A request refused with 429; `limit` names the limit (e.g. "10 per 1 minute", "receiver refusals")."""
    RATE_LIMITED.labels(route_of_request(), limit).inc()


def route_of_request() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    token = app.config["SETTINGS"].metrics_token
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
        # prometheus_client would fail at the first count, in the middle of a request
        raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR: {folder} is not a folder the portal can write to")

    @app.after_request
    def time_request(response):
        started = g.get("request_started")
        if started is not None:
            REQUEST_SECONDS.labels(request.method, route_of_request(), str(response.status_code)).observe(
                time.perf_counter() - started)
        return response

    @app.get("/metrics")
    def metrics():
        if token:
            given = request.headers.get("Authorization", "")
            if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())):
                return Response("A bearer token is required.\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"',
                                                                     "Cache-Control": "no-store"})
        elif not _from_this_host():
            abort(404)
        return Response(generate_latest(_registry()), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                               "Cache-Control": "no-store"})


def _from_this_host() -> bool:
    """A loopback peer that no proxy relayed: a reverse proxy on the same host connects from loopback too,
    and says so with X-Forwarded-For / Forwarded (with TRUSTED_PROXIES, remote_addr is already the client's)."""
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()  # a fresh one per scrape, as prometheus_client's multiprocess mode asks
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
