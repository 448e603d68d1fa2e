"""Who is signed in: loaded from the server-side session before every request, with JWT expiry handled."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone

from flask import flash, g, request, session, url_for
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from .. import clock
from ..web import go, is_htmx_partial_request, return_path
from .kept_forms import keep_lapsed_form


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim, read without verifying: SIR Giving verifies the token; this only saves a round trip."""
    try:
        claims = json.loads(extract_compact(token.encode()).payload)
        return float(claims["exp"])
    except (JoseError, KeyError, ValueError, TypeError, AttributeError):
        return None


# The page warns this long before SIR Giving's token (and with it the sign-in) ends.
WARN_BEFORE_SECONDS = 5 * 60


def session_end() -> dict | None:
    """When the sign-in ends (the JWT's `exp`) and whether that is near enough to warn now; None when signed out.
    The notice is in every signed-in page; app.js shows it when the moment comes on a page left open."""
    expires_at = session.get("jwt_expires_at") if g.get("admin") else None
    if expires_at is None:
        return None
    return {"at": datetime.fromtimestamp(expires_at, tz=timezone.utc), "warn_seconds": WARN_BEFORE_SECONDS,
            "near": expires_at - clock.timestamp() <= WARN_BEFORE_SECONDS}


def load_signed_in_admin():
    g.admin = g.partner = None
    if "jwt" not in session:
        return None
    expires_at = session.get("jwt_expires_at")
    if expires_at is not None and clock.timestamp() >= expires_at:
        partner_id = (session.get("partner") or {}).get("id")
        session.clear()
        if request.endpoint in (None, "static", "auth.login"):
            return None
        flash("Your session expired. Sign in again to continue.", "warning")
        return go(url_for("auth.login", next=keep_lapsed_form(partner_id, return_path())))
    g.admin = session.get("admin")
    g.partner = session.get("partner")
    return None


def _to_login():
    return go(url_for("auth.login", next=return_path()))


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("admin") is None:
            if not is_htmx_partial_request() and request.method == "GET":
                flash("Sign in to continue.", "info")
            return _to_login()
        return view(*args, **kwargs)

    return wrapped


def require_login():
    """For `blueprint.before_request`: every view of the area needs a signed-in admin."""
    if g.get("admin") is None:
        return login_required(lambda: None)()
    return None
