"""Sign-in, sign-out and the environment switch. The admin's JWT stays on the server, in the session."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import views  # noqa: E402,F401  (registers the routes)
from .session import load_signed_in_admin  # noqa: E402

bp.before_app_request(load_signed_in_admin)
