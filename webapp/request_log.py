"""The portal's log: one line per request, a request id on every line, as text or JSON (`LOG_FORMAT`).

- The request id is the incoming `X-Request-ID` when a trusted reverse proxy set it (`TRUSTED_PROXIES` > 0)
  and it is well-formed; otherwise a new one. It is sent back as `X-Request-ID`, and to SIR Giving with every
  call made for the request, so a line here can be found in theirs.
- The request line says method, route (the URL rule, never the path: a receiver's path is its secret
  address, and a query string may carry a token), status, duration, the calls to SIR Giving and their time,
  and the partner. Nothing from cookies, headers or bodies.
- Every line goes to stderr through one handler on the root logger: JSON for log collectors (gunicorn),
  text for a person (`flask run`).
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

from .metrics import route_of_request
from .sir.client import REQUEST_ID

log = logging.getLogger("portal.requests")

WELL_FORMED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
HANDLER_NAME = "portal"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _Stderr(logging.StreamHandler):
    """Writes to `sys.stderr` as it is when a line is written (test runners and daemons replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


def configure(log_format: str) -> logging.Handler:
    """The one handler, installed once per process (apps built after it change only its format)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = _Stderr()
        handler.set_name(HANDLER_NAME)
        handler.addFilter(_RequestIdFilter())
        root.addHandler(handler)
    if log_format == "json":
        handler.setFormatter(JsonFormatter("{levelname}{name}{message}", style="{", timestamp="time",
                                           rename_fields={"levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    # Flask-Limiter's breach line names the limit's key: for sign-in, the email typed, which is sometimes a
    # password typed in the wrong field. A 429 is in the request line and the metrics already.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
    return handler


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    configure(settings.log_format)
    app.logger.removeHandler(default_handler)  # the root handler writes the app's lines too, once
    trust_incoming = settings.trusted_proxies > 0

    @app.before_request
    def take_request_id():
        incoming = request.headers.get("X-Request-ID", "") if trust_incoming else ""
        g.request_id = incoming if WELL_FORMED_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.request_id_token = REQUEST_ID.set(g.request_id)

    @app.after_request
    def log_request(response):
        request_id = g.get("request_id")
        if request_id is None:
            return response
        response.headers["X-Request-ID"] = request_id
        if g.get("streamed"):  # its calls are made while the body streams: counted once it has (below)
            g.streamed_status = response.status_code
            return response
        fields = _request_fields(response.status_code)
        log.info(REQUEST_LINE % fields, extra=fields)
        return response

    @app.teardown_request
    def forget_request_id(error=None):
        # A streamed response's teardown runs twice (Flask's stream_with_context): after the view, and after the
        # body, which sets `stream_finished` (its end, or the browser gone).
        status = g.get("streamed_status") if g.get("stream_finished") else None
        if status is not None and g.get("request_id") is not None:
            del g.streamed_status
            fields = _request_fields(status)
            log.info(REQUEST_LINE % fields, extra=fields)
        token = g.pop("request_id_token", None)
        if token is not None:
            REQUEST_ID.reset(token)


def note_partner(partner_id: str | None) -> None:
    """The partner a request without a signed-in admin acted for (a webhook delivery), for its log line."""
    g.log_partner_id = partner_id


REQUEST_LINE = ("%(method)s %(route)s %(status)s in %(duration_ms)s ms; SIR Giving: %(upstream_calls)s call(s) "
                "in %(upstream_ms)s ms, %(upstream_cache_hits)s from cache; partner %(partner_id)s")


def _request_fields(status: int) -> dict:
    calls = g.get("sir_calls") or []
    upstream = [c for c in calls if not c.from_cache]
    started = g.get("request_started")
    return {
        "request_id": g.request_id,
        "method": request.method,
        "route": route_of_request(),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started is not None else None,
        "upstream_calls": len(upstream),
        "upstream_cache_hits": len(calls) - len(upstream),
        "upstream_ms": round(sum(c.elapsed_ms for c in upstream), 1),
        "partner_id": (g.get("partner") or {}).get("id") or g.get("log_partner_id"),
    }
