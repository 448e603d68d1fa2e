"""The overview: one card per dashboard endpoint."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("dashboard", __name__)
bp.before_request(require_login)

from . import views  # noqa: E402,F401
