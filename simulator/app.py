"""The simulator's Flask app: SIR routes, operator controls, docs, JSON errors, usage counting."""

from __future__ import annotations

import time
from email.utils import formatdate

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .delivery import Deliverer, sender_for
from .faults import Traffic, TrafficMiddleware
from .state import DomainError, Simulator
from .variant import Variant
from .variant import init_app as init_variant

MAX_BODY_BYTES = 1024 * 1024

DEFAULTS = {"SEED": 42, "STATE_PATH": None, "STATE_KEY": None, "LATENCY_MS": 0, "JITTER_MS": 0, "ERROR_RATE": 0.0, "RATE_LIMIT": None,
            "DELIVERY_MODE": "thread", "DELIVER": None,
            "DELIVER_TO": "public", "RESOLVE": None, "VARIANT": None}


def create_app(config: dict | None = None) -> Flask:
    settings = {**DEFAULTS, **(config or {})}
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    sim = Simulator(seed=settings["SEED"], state_path=settings["STATE_PATH"], state_key=settings["STATE_KEY"])
    sim.traffic = Traffic(settings["LATENCY_MS"], settings["JITTER_MS"], settings["ERROR_RATE"], settings["RATE_LIMIT"])
    # Public addresses only unless told otherwise: a simulator that posts to whatever URL it is given, from
    # inside someone's network, is a way in (`python -m simulator --deliver-to anywhere` for local work).
    from .endpoints import in_process

    deliver = in_process(app, settings["DELIVER"] or sender_for(settings["DELIVER_TO"], settings["RESOLVE"]))
    sim.deliverer = Deliverer(sim, deliver, settings["DELIVERY_MODE"])
    app.extensions["sir_simulator"] = sim

    from .api.routing import bp as api_bp
    from .docs import bp as docs_bp
    from .endpoints import bp as endpoints_bp
    from .ops import bp as ops_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(endpoints_bp)
    app.register_blueprint(docs_bp)
    init_errors(app)
    init_usage(app, sim)
    variant = settings["VARIANT"]
    sim.variant = variant if isinstance(variant, Variant) else Variant.parse(variant)
    init_variant(app, sim.variant)
    sim.skew = float(sim.variant.clock_offset)
    app.wsgi_app = TrafficMiddleware(app.wsgi_app, sim, sim.traffic)
    return app


def error_reply(status: int, code: str, message: str, details=None):
    payload = {"statusCode": status, "code": code, "message": message}
    if details is not None:
        payload["details"] = details
    return jsonify(payload), status


def init_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return error_reply(error.status, error.code, error.message, error.details)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 400: "BAD_REQUEST",
                500: "INTERNAL_ERROR"}.get(error.code, "HTTP_ERROR")
        message = {404: "No such endpoint.", 413: "The request body is larger than 1 MiB.",
                   500: "The simulator hit an unexpected error."}.get(error.code, error.description)
        return error_reply(error.code, code, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("simulator error on %s %s", request.method, request.path)
        return error_reply(500, "INTERNAL_ERROR", "The simulator hit an unexpected error.")


def init_usage(app: Flask, sim: Simulator) -> None:
    @app.before_request
    def start_timer():
        g.sim_started = time.perf_counter()

    @app.after_request
    def date_header(response):
        # Every answer states the simulator's time, as any HTTP server does (RFC 9110 `Date`): moved, and off
        # real time by a variant's clock offset. A standalone server keeps this one rather than adding its own.
        response.headers["Date"] = formatdate(sim.now(), usegmt=True)
        return response

    @app.after_request
    def count_request(response):
        route = g.get("sim_route")
        if route:
            key = g.get("sim_key")
            sim.record_request(g.get("sim_partner_id"), g.get("sim_environment"), key.id if key else None,
                               request.method, route, response.status_code,
                               (time.perf_counter() - g.get("sim_started", time.perf_counter())) * 1000,
                               authenticated=g.get("sim_authenticated", False))
        elif request.path.startswith("/v1/partner"):
            sim.record_request(None, None, None, request.method, request.path, response.status_code, 0.0)
        return response

