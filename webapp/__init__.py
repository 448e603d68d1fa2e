"""The Partner Ops Portal: `create_app()` reads as the list of steps that build it."""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask

from config import Settings, private_file, private_folder


def create_app(environ: dict[str, str] | None = None, *, simulator_config: dict | None = None,
               **overrides) -> Flask:
    """Build the portal. `environ` replaces `os.environ` (tests pass their own); `overrides` set settings."""
    settings = Settings.from_env(environ, **overrides)
    app = Flask(__name__, instance_path=str(settings.instance_path),
                template_folder="../templates", static_folder="../static")
    init_config(app, settings)
    init_proxies(app)
    init_observability(app)  # first: the request id and clock are set before any other hook may answer
    init_compression(app)  # early: its after-request hook then runs after every hook that may change a body
    init_store(app)
    init_sessions(app)
    init_csrf(app)
    init_limiter(app)
    init_sir(app, simulator_config or {})
    init_housekeeping(app)
    init_templates(app)
    init_security_headers(app)
    init_errors(app)
    init_blueprints(app)
    init_cli(app)
    init_alerts(app)
    return app


def warm_up(app: Flask) -> None:
    """What a fresh process would otherwise do for its first visitors, done as a worker starts (gunicorn.conf.py's
    post_worker_init): every template compiled, and the upstream worker threads started with their cache
    connections open (a fresh process's first overview paid ~1.5 ms of CPU per call for those, while its calls
    waited to leave). Local work only, bounded, and never a reason not to start. For any Flask app: the benches run
    a bare page under the same gunicorn.conf.py."""
    from .parallel import POOL
    from .templating import compile_templates

    compile_templates(app)
    client = app.extensions.get("sir_client")
    if client is not None:
        readied = POOL.start(client.open_thread_connections)
        if readied < POOL.workers:  # not a reason to refuse to start: those threads open theirs on first use
            app.logger.warning("%d of %d upstream worker threads could not open their cache connections ahead",
                               POOL.workers - readied, POOL.workers)


def init_config(app: Flask, settings: Settings) -> None:
    private_folder(settings.instance_path)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        SESSION_COOKIE_NAME="portal_session",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        # A session is saved when it changes (or its expiry is due to move: webapp/sessions.py), not on every request.
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=1024 * 1024 + 1024,  # the receiver refuses over 1 MiB itself, with a clear reply
        WTF_CSRF_HEADERS=["X-CSRFToken"],
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        TRUSTED_HOSTS=settings.trusted_hosts,  # a request to any other Host is answered 400
    )
    if settings.embedded_simulator:
        app.logger.info("SIR upstream: the embedded simulator (no SIR_API_URL set)")


def engine_options(database_url: str) -> dict:
    """A connection checked before use (a restarted database is found again without a restart); PostgreSQL given
    seconds to answer a connect, so a database host that stopped answering costs a request a 503 in seconds,
    not the operating system's TCP timeout."""
    from sqlalchemy.engine import make_url

    options: dict = {"pool_pre_ping": True}
    if make_url(database_url).get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": 5}
    return options


def init_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client's address, scheme and host are the ones they forward
    (so sign-in limits and the audit log key on the client, not the proxy). With none, X-Forwarded-* headers
    are ignored: a client could write them itself."""
    proxies = app.config["SETTINGS"].trusted_proxies
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)


def init_store(app: Flask) -> None:
    from sqlalchemy.engine import make_url

    from .store import db, schema
    from .store.db import schema_lock

    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    sqlite_file = (database.get_backend_name() == "sqlite" and database.database not in (None, "", ":memory:")
                   and not database.query.get("uri"))
    if sqlite_file:
        # The vault, the audit log and the sessions. A relative path is the instance folder's, as
        # Flask-SQLAlchemy reads it.
        private_file(Path(app.instance_path) / database.database)
    db.init_app(app)
    if sqlite_file:
        from sqlalchemy import event

        from .store.db import write_ahead_log

        with app.app_context():
            event.listen(db.engine, "connect", write_ahead_log)
    schema.init_app(app)
    with schema_lock(app), app.app_context():
        schema.upgrade()


def init_housekeeping(app: Flask) -> None:
    from . import housekeeping

    housekeeping.init_app(app)


def init_sessions(app: Flask) -> None:
    from .outages import refuse_without_session
    from .sessions import session_interface
    from .store import db
    from .store.db import schema_lock

    settings = app.config["SETTINGS"]
    with schema_lock(app):  # the SQL backend checks its table (migrated with the rest) as it starts
        app.session_interface = session_interface(app, db, settings.redis_url)
    # First of the before-request hooks: a session the store could not open is a 503 naming the store, before
    # the CSRF check or the sign-in check misread it as an expired form or a signed-out admin.
    app.before_request(refuse_without_session)


def init_csrf(app: Flask) -> None:
    from .csrf import PortalCSRFProtect

    app.extensions["csrf_protect"] = PortalCSRFProtect(app)  # tokens masked per response (BREACH): csrf.py


def init_limiter(app: Flask) -> None:
    from .limits import limiter

    settings = app.config["SETTINGS"]
    from .sessions import REDIS_TIMEOUT_SECONDS

    app.config.update(RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
                      RATELIMIT_HEADERS_ENABLED=True, RATELIMIT_KEY_PREFIX="portal",
                      # While Redis is away each worker counts in its own memory: limits stay on (per worker)
                      # and pages keep being served; Flask-Limiter goes back to Redis once it answers again.
                      RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True)
    if settings.redis_url:
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                                                   "socket_timeout": REDIS_TIMEOUT_SECONDS}
    limiter.init_app(app)


def init_sir(app: Flask, simulator_config: dict) -> None:
    from .metrics import observe_call
    from .sir.cache import make_cached_session, make_copies
    from .sir.client import SirClient
    from .sir.transport import WSGITransport
    from .store.vault import Vault

    settings = app.config["SETTINGS"]
    transport, clock = None, time.time
    if settings.embedded_simulator:
        from .embedded import make_simulator, simulator_time

        simulator_app = make_simulator(settings, app, simulator_config)
        app.extensions["simulator_app"] = simulator_app
        transport, clock = WSGITransport(simulator_app), simulator_time(simulator_app)
    if settings.redis_url:
        from .outages import note
        from .sessions import REDIS_TIMEOUT_SECONDS

        cached, generations = make_cached_session("redis", redis_url=settings.redis_url,
                                                  default_ttl=settings.cache_ttl_seconds,
                                                  redis_timeout=REDIS_TIMEOUT_SECONDS, on_error=note)
        copies = make_copies("redis", redis_url=settings.redis_url, redis_timeout=REDIS_TIMEOUT_SECONDS, on_error=note)
    else:
        private_file(settings.instance_path / "http_cache.sqlite3")
        cached, generations = make_cached_session("sqlite", sqlite_path=settings.instance_path / "http_cache.sqlite3",
                                                  default_ttl=settings.cache_ttl_seconds)
        copies = make_copies("sqlite", sqlite_path=settings.instance_path / "http_cache.sqlite3")
    app.extensions["sir_client"] = SirClient(
        sandbox_url=settings.sandbox_url, production_url=settings.production_url, cached_session=cached,
        generations=generations, transport=transport, connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout, clock=clock, observe=observe_call, copies=copies,
        live_keys_host=settings.sir_live_keys_host)
    app.extensions["vault"] = Vault(settings.vault_keys)


def init_templates(app: Flask) -> None:
    from . import templating

    templating.init_app(app)


def init_security_headers(app: Flask) -> None:
    from . import security

    security.init_app(app)


def init_observability(app: Flask) -> None:
    """The request's log line and id, Server-Timing, and the metrics with their `/metrics` endpoint."""
    from . import metrics, request_log, timing

    request_log.init_app(app)
    timing.init_app(app)
    metrics.init_app(app)


def init_compression(app: Flask) -> None:
    from . import compression

    compression.init_app(app)


def init_errors(app: Flask) -> None:
    from . import errors, outages

    errors.init_app(app)
    outages.init_app(app)


def init_blueprints(app: Flask) -> None:
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .dashboard import bp as dashboard_bp
    from .golive import bp as golive_bp
    from .keys import bp as keys_bp
    from .onboarding import bp as onboarding_bp
    from .pools import bp as pools_bp
    from .webhooks import bp as webhooks_bp
    from .webhooks.receiver import receiver_bp

    for blueprint in (auth_bp, onboarding_bp, dashboard_bp, keys_bp, pools_bp, webhooks_bp, audit_bp, receiver_bp,
                      golive_bp):
        app.register_blueprint(blueprint)
    from .connection import bp as connection_bp

    app.register_blueprint(connection_bp)
    app.extensions["csrf_protect"].exempt(receiver_bp)  # SIR Giving's deliveries: the signature is the check
    from .batches import bp as batches_bp

    app.register_blueprint(batches_bp)
    from .alerts import bp as alerts_bp

    app.register_blueprint(alerts_bp)
    # A batch file may be larger than the app's 1 MiB: its view raises the limit, then checks CSRF itself.
    app.extensions["csrf_protect"].exempt("webapp.batches.views.upload")
    if app.config["SETTINGS"].embedded_simulator:
        # Against real SIR Giving there is nobody to play: SIR Giving decides requests and keeps the time.
        from .demo import bp as demo_bp

        app.register_blueprint(demo_bp)

    from . import health

    health.init_app(app)  # /healthz and /readyz


def init_alerts(app: Flask) -> None:
    """The in-process schedule of alert checks (webapp/alerts/scheduler.py): built here, started with the
    first request served when ALERTS_SCHEDULER says so."""
    from .alerts import scheduler

    scheduler.init_app(app)


def init_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)
