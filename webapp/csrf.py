"""CSRF tokens masked anew in every response (BREACH).

Every page is compressed and carries the CSRF token (the `csrf-token` meta tag htmx sends back, and each form's
hidden field), and many pages also reflect what the address asked for (a filter, a search). An attacker who can
make the browser load such pages and watch their compressed lengths could then read the token a byte at a time.
So the token never leaves as itself: each time it is put into a page it is sent as `mask + (mask XOR token)` with
a fresh random mask, and unmasked when it comes back (Django's and Rails' defence). Flask-WTF still issues and
checks the token itself: `PortalCSRFProtect` unmasks what a request carries before its check, `PortalForm` masks
the hidden field, and `csrf_token()` in templates gives a masked token. A token that was never masked (a page
rendered before this was deployed) is still accepted: only what is sent matters for BREACH.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from flask import Flask, g
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect, _FlaskFormCSRF, generate_csrf


def mask(token: str) -> str:
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return base64.urlsafe_b64encode(pad + bytes(a ^ b for a, b in zip(pad, raw))).decode().rstrip("=")


def unmask(value: str | None) -> str | None:
    """The token inside a masked value; a value that was never masked (Flask-WTF's own, which holds dots) as it
    is; None for anything else (the check then refuses it)."""
    if not value or "." in value:
        return value
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None
    if len(data) % 2:
        return None
    half = len(data) // 2
    try:
        return bytes(a ^ b for a, b in zip(data[:half], data[half:])).decode("ascii")
    except UnicodeDecodeError:
        return None


def masked_csrf_token() -> str:
    """`csrf_token()` in templates: the request's token, masked afresh."""
    return mask(generate_csrf())


class PortalCSRFProtect(CSRFProtect):
    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        # Flask-WTF offers its own both as a global and from a context processor; the later processor wins.
        app.jinja_env.globals["csrf_token"] = masked_csrf_token
        app.context_processor(lambda: {"csrf_token": masked_csrf_token})

    def _get_csrf_token(self):
        return unmask(super()._get_csrf_token())


class _MaskedFormCSRF(_FlaskFormCSRF):
    def generate_csrf_token(self, csrf_token_field):
        return mask(super().generate_csrf_token(csrf_token_field))

    def validate_csrf_token(self, form, field):
        # Reached only where PortalCSRFProtect did not check the request (an exempt view).
        if not g.get("csrf_valid", False):
            field.data = unmask(field.data)
        super().validate_csrf_token(form, field)


class PortalForm(FlaskForm):
    """Every form of the portal: a FlaskForm whose CSRF field is masked in each page it is rendered into."""

    class Meta:
        csrf_class = _MaskedFormCSRF
