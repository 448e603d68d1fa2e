"""Simulator controls, on the embedded default only: the admin plays SIR Giving's part (decide a top-up
request, let time pass, deliver due webhooks) so every loop of the portal can be seen with no second program."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("demo", __name__, url_prefix="/simulator")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
