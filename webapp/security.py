"""Security headers on every response: a strict CSP with a per-request nonce, and friends.

Scripts come only from this origin (`script-src 'self'`: no inline script, no eval). Styles come from
this origin plus `<style>` elements carrying the request's nonce: plotly.js adds its own stylesheet at
run time: base.html creates its stylesheet element up front with the nonce, and plotly inserts its rules into it through CSSOM.

Besides the CSRF token, a state-changing request whose `Origin` names another site is refused (defence in
depth); one with no `Origin` (SIR Giving posting to the webhook receiver, older clients) is left to the token.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask_wtf.csrf import CSRFError

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str) -> str:
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def own_origins(public_url: str | None) -> set[str]:
    """The origins the portal's own pages have: the address this request came to, and PORTAL_PUBLIC_URL."""
    host = request.host.lower()
    origins = {f"{request.scheme}://{host}"}
    if request.scheme == "http":
        # TLS ended by a proxy that TRUSTED_PROXIES does not count: the browser's page was https.
        origins.add(f"https://{host}")
    if public_url:
        parts = urlsplit(public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def refuse_other_origins(public_url: str | None) -> None:
    origin = request.headers.get("Origin")
    if request.method in STATE_CHANGING and origin is not None and origin.lower() not in own_origins(public_url):
        raise CSRFError("The request came from another site.")


def init_app(app: Flask) -> None:
    @app.before_request
    def check_origin():
        refuse_other_origins(app.config["SETTINGS"].public_url)

    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if app.config["SETTINGS"].production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Pages about a signed-in partner are private: kept by no cache, not even the browser's, so Back after
        # signing out shows none of them. Only static assets (fingerprinted) are cached.
        if "Cache-Control" not in headers and request.endpoint != "static":
            headers["Cache-Control"] = "no-store"
        return response
