"""Degraded, never bare: what the portal does while Redis or the database is unreachable.

A request that needs a dependency that is down answers 503 with `Retry-After` and says what is down, in the
partner's words: a page with a way back, or JSON `{"error": ...}` for SIR Giving's deliveries (so it retries).
The operator gets one log line per outage per interval, not a traceback per request. Every caught database error
rolls the SQLAlchemy session back first, so the rest of the request (the error page, the teardown) does not fail
with `PendingRollbackError`.

Where an outage is seen:
- the session store (`sessions.py`): the session could not be opened or saved; the request goes on with an empty
  session that writes nothing, and `refuse_without_session` answers 503 unless the endpoint needs no session;
- a view, a hook or a template raising a Redis or SQLAlchemy connection error: the handlers below;
- a banner or an after-effect that catches its own errors: `note(error)`.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from flask import Flask, current_app, g, has_app_context, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

REDIS, DATABASE = "redis", "database"

RETRY_AFTER_SECONDS = 30
LOG_INTERVAL_SECONDS = 60.0

MESSAGES = {
    REDIS: ("Sign-in storage is unreachable",
            "Sign-in storage (Redis) is unreachable; you will need to sign in again once it is back."),
    DATABASE: ("The database is unreachable",
               "The database is unreachable, so the portal cannot show or change anything that it keeps. "
               "Nothing was changed."),
}

RECEIVER_MESSAGES = {
    REDIS: "Redis is unreachable; nothing was stored, retry later.",
    DATABASE: "The database is unreachable; nothing was stored, retry later.",
}

# Endpoints that work without a session: SIR Giving's deliveries need only the database, static files nothing.
SESSIONLESS_ENDPOINTS = {"static", "receiver.receive", "healthz", "readyz", "metrics"}

logger = logging.getLogger("webapp.outages")


class DependencyDown(HTTPException):
    code = 503
    description = "A service the portal depends on is unreachable."

    def __init__(self, dependency: str):
        super().__init__()
        self.dependency = dependency


def dependency_of(error: BaseException | None) -> str | None:
    """REDIS or DATABASE when `error` says that service cannot be reached (or answer), else None.

    A database error that is the query's own fault (an integrity error, a programming error) is not an outage."""
    from redis import exceptions as redis_errors
    from sqlalchemy import exc

    # Redis refusing, timing out, loading its data, or a replica that cannot take writes; not a command's own error.
    redis_down = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError)
    seen = set()
    while error is not None and id(error) not in seen:  # a wrapped cause counts too (requests-cache, Flask)
        seen.add(id(error))
        if isinstance(error, DependencyDown):
            return error.dependency
        if isinstance(error, redis_down):
            return REDIS
        if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)):
            return DATABASE
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return DATABASE
        error = getattr(error, "original_exception", None) or error.__cause__ or error.__context__
    return None


class _OutageLog:
    """At most one line per dependency per interval (per process), counting the occurrences it held back."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS, clock=time.monotonic):
        self.interval, self.clock = interval, clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def seen(self, dependency: str, error: BaseException) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(dependency)
            if last is not None and now - last < self.interval:
                self._held[dependency] = self._held.get(dependency, 0) + 1
                return
            held = self._held.pop(dependency, 0)
            self._last[dependency] = now
        name = "Redis" if dependency == REDIS else "the database"
        more = f" ({held} more since the last line)" if held else ""
        logger.error("%s is unreachable: %s: %s; what needs it answers 503 until it is back%s", name,
                     type(error).__name__,
                     str(error).splitlines()[0][:200] if str(error) else "", more)

    def reset(self) -> None:
        with self._lock:
            self._last.clear()
            self._held.clear()


OUTAGE_LOG = _OutageLog()


def note(error: BaseException) -> str | None:
    """Record a caught error: roll the database session back if it was a database error, log the outage (at
    most once per interval) and remember it for this request. Returns the dependency that is down, or None."""
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(error, SQLAlchemyError) or dependency_of(error) == DATABASE:
        rollback()
    dependency = dependency_of(error)
    if dependency is not None:
        OUTAGE_LOG.seen(dependency, error)
        if has_app_context():  # the page says what is down
            g.setdefault("outages", set()).add(dependency)
    return dependency


def rollback() -> None:
    """Roll the request's SQLAlchemy session back; with the database gone, the rollback itself may fail too."""
    from .store import db

    try:
        db.session.rollback()
    except Exception:  # the connection is dead: the pool discards it, nothing is left to undo
        pass


@contextmanager
def held_back():
    """Around a look-up that has a fallback (the overview's cards tried from the cache before SIR Giving is
    asked): an outage noted inside is logged as usual but does not make this request's page the outage page.
    Yields a set that receives the dependencies found down."""
    before = set(g.get("outages", ())) if has_app_context() else set()
    found: set[str] = set()
    try:
        yield found
    finally:
        if has_app_context():
            found.update(g.get("outages", set()) - before)
            g.outages = before


def current_outage() -> str | None:
    """The dependency this request found down, if any."""
    outages = (g.get("outages") if has_app_context() else None) or ()
    return DATABASE if DATABASE in outages else next(iter(outages), None)


def outage_response(dependency: str):
    """The 503 for a dependency outage: JSON for the webhook receiver (SIR Giving retries on 503), a page or an
    htmx fragment for a person."""
    from .web import is_htmx_partial_request

    title, message = MESSAGES[dependency]
    if request.blueprint == "receiver":
        response = jsonify({"error": RECEIVER_MESSAGES[dependency], "received": False,
                            "reason": f"{dependency}_unavailable"})
        response.headers["Cache-Control"] = "no-store"
    elif is_htmx_partial_request():
        # A fragment keeps status 503 with `Retry-After`; htmx swaps error responses in place (DESIGN: htmx 4).
        response = current_app.make_response(render_template(
            "errors/_inline.html", title=title, message=message, next_step="Try again in a minute.",
            retry_url=request.full_path.rstrip("?") if request.method == "GET" else None))
    else:
        response = current_app.make_response(render_template(
            "errors/unavailable.html", title=title, message=message,
            retry_url=request.full_path.rstrip("?") if request.method == "GET" else None))
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def refuse_without_session():
    """`before_request`, first of all: a request whose session could not be opened answers 503 at once, unless
    its endpoint needs no session (the receiver, static files, health)."""
    dependency = current_outage()
    if dependency is not None and request.endpoint not in SESSIONLESS_ENDPOINTS:
        raise DependencyDown(dependency)


def init_app(app: Flask) -> None:
    from redis import exceptions as redis_errors
    from sqlalchemy import exc

    @app.errorhandler(DependencyDown)
    def dependency_down(error: DependencyDown):
        return outage_response(error.dependency)

    def unreachable(error):
        dependency = note(error)
        if dependency is None:  # an error that is a bug, not an outage: the 500 page, with its traceback
            raise error
        return outage_response(dependency)

    for kind in (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError,
                 exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError):
        app.register_error_handler(kind, unreachable)

    @app.after_request
    def name_a_database_outage(response):
        # A page that could be drawn without the database (its credential held in memory, its session in Redis)
        # has still left out what the database holds (alerts, audit, stored state): say so with the named 503
        # rather than show a page that is quietly incomplete. Redis outages degrade on purpose (cache misses).
        if (current_outage() == DATABASE and response.status_code < 400 and response.mimetype == "text/html"
                and request.blueprint != "receiver"):
            return outage_response(DATABASE)
        return response
