"""Alerts outside the portal: a settings page per partner (e-mail recipients, a chat webhook, each with a test),
and the scheduled checks that send them (`flask --app wsgi alerts run`, or the in-process schedule).

Not the banners inside the portal (webapp/webhooks/alerts.py, webapp/keys/banner.py, webapp/pools/banner.py):
these use the same rules, for admins who are not signed in."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
bp.before_request(require_login)

from . import views  # noqa: E402,F401  (registers the routes)
