"""The go-live page: the reference's go-live checklist and production-approval items, checked against live state."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("golive", __name__, url_prefix="/go-live")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
