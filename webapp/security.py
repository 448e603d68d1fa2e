"""Security headers on every response: a strict CSP with a per-request nonce, and friends.

Scripts come only from this origin (`script-src 'self'`: no inline script, no eval). Styles come from
this origin plus `<style>` elements carrying the request's nonce: plotly.js adds its own stylesheet at
run time: base.html creates its stylesheet element up front with the nonce, and plotly inserts its rules into it through CSSOM.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, request


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


def init_app(app: Flask) -> None:
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
        # Pages about a signed-in partner are private; a page that shows a secret sets no-store itself.
        if "Cache-Control" not in headers and request.endpoint != "static":
            headers["Cache-Control"] = "private, no-cache"
        return response
