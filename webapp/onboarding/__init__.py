"""Set-up: give the portal a credential of the partner's own for the current environment."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("onboarding", __name__, url_prefix="/onboarding")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
