"""`/healthz` (liveness) and `/readyz` (readiness) for load balancers and orchestrators.

Liveness says only that the process answers: restarting a worker cures nothing when the database is down.
Readiness checks what a request needs (the database, Redis where configured) and answers 503 while one of
them fails, so a balancer sends traffic elsewhere. SIR Giving is reported but only counts when asked for
(`/readyz?upstream=1`): an upstream outage is not cured by taking every portal out of rotation.

Neither touches the session, the CSRF check or a rate limit, and neither names a URL, a host's credentials
or an exception's text: only the check, its state, its latency and the error's kind.
"""

from __future__ import annotations

import socket
import time
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, request
bp = Blueprint("health", __name__)

# A check that takes longer than this is as good as failing: the balancer's own timeout is usually 2-5 s.
CHECK_TIMEOUT_SECONDS = 2.0


def _timed(check: Callable[[], str | None]) -> dict:
    started = time.perf_counter()
    try:
        state = check() or "ok"
        result = {"state": state}
    except Exception as error:  # any failure is "failing"; its kind, never its text (it may hold a URL)
        result = {"state": "failing", "error": type(error).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _redis_client():
    client = current_app.extensions.get("health_redis")
    if client is None:
        from redis import Redis

        client = Redis.from_url(current_app.config["SETTINGS"].redis_url, socket_timeout=CHECK_TIMEOUT_SECONDS,
                                socket_connect_timeout=CHECK_TIMEOUT_SECONDS)
        current_app.extensions["health_redis"] = client
    return client


def _redis() -> str | None:
    if not current_app.config["SETTINGS"].redis_url:
        return "not configured"
    _redis_client().ping()
    return None


def _sir(probe: bool) -> str | None:
    settings = current_app.config["SETTINGS"]
    if settings.embedded_simulator:
        return "embedded"
    if not probe:
        return "not checked"
    for url in {settings.sandbox_url, settings.production_url}:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname, port), timeout=CHECK_TIMEOUT_SECONDS).close()
    return None


@bp.get("/healthz")
def healthz():
    return {"status": "ok", "checks": {"process": _timed(lambda: None)}}


@bp.get("/readyz")
def readyz():
    probe_upstream = request.args.get("upstream") in ("1", "true", "yes")
    from .store.db import ping

    checks = {"database": _timed(ping), "redis": _timed(_redis),
              "sir": _timed(lambda: _sir(probe_upstream))}
    counted = ("database", "redis", "sir") if probe_upstream else ("database", "redis")
    ready = all(checks[name]["state"] != "failing" for name in counted)
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


def init_app(app) -> None:
    from .limits import limiter

    app.register_blueprint(bp)
    app.extensions["csrf_protect"].exempt(bp)
    limiter.exempt(bp)
