"""The connection check page: every endpoint the portal reads, asked once with the partner's own key."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("connection", __name__, url_prefix="/connection")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
