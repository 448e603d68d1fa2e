"""The audit log page: every state-changing thing the portal did for this partner, filterable, as CSV too."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
