"""The route machinery every section's endpoints share.

Each route is declared once with `@route(method, path, auth, summary, …)`: that registers the Flask view,
applies the auth, and feeds the OpenAPI document, so the docs cannot drift from what is served.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.datastructures import ImmutableMultiDict

from .. import auth

bp = Blueprint("sir", __name__)
ROUTES: list[dict] = []
PREFIX = "/v1/partner"


def sim():
    return current_app.extensions["sir_simulator"]


def route(method: str, path: str, auth_kind: str, summary: str, *, query: list[str] | None = None,
          body: dict | None = None, tag: str = "Partner"):
    flask_path = re.sub(r":(\w+)", r"<\1>", PREFIX + path)

    def decorator(handler):
        ROUTES.append({"method": method, "path": PREFIX + path, "auth": auth_kind, "summary": summary,
                       "query": query or [], "body": body, "tag": tag})

        def view(**kwargs):
            state = sim()
            g.sim_route = PREFIX + path
            # Read the body before the lock: a slow or oversized upload never holds up other requests.
            request.get_data(cache=True)
            if auth_kind == "public":  # sign-in: reads only what never changes, and hashes a password unlocked
                return reply(handler(state, None, **kwargs))
            # One request at a time sees and changes the state: lists never iterate a collection another
            # thread is growing, and every reply is one consistent snapshot (the lock is re-entrant).
            with state.lock:
                if auth_kind == "jwt":
                    principal = auth.authenticate_jwt(state)
                else:
                    principal = auth.authenticate_key(state, signed=auth_kind.startswith("hmac"),
                                                      secret_only=auth_kind == "hmac-secret")
                variant = current_app.extensions.get("sir_variant")
                if variant is not None and variant.ignore_query:
                    # Checked as sent (the signature covers the query), then ignored as an upstream would
                    # that does not implement page, limit or filters.
                    request.args = ImmutableMultiDict()
                return reply(handler(state, principal, **kwargs))

        view.__name__ = f"{handler.__name__}_{method.lower()}"
        bp.add_url_rule(flask_path, endpoint=view.__name__, view_func=view, methods=[method])
        return handler

    return decorator


def reply(result):
    payload, status = result if isinstance(result, tuple) else (result, 200)
    return jsonify(payload), status
