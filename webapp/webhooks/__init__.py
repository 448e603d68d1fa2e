"""Webhooks: endpoints and their health, deliveries with retry and recovery, the portal's own signed
receiver, the live event feed with alerts drawn from it, and a signature debugger.

The receiver (`receiver.py`, `/hooks/<token>`) is a blueprint of its own, registered by `create_app()`:
SIR Giving calls it, not a signed-in admin."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
from .alerts import alert_events, event_banners  # noqa: E402


@bp.record_once
def register(state):
    from ..templating import register_banner_provider

    register_banner_provider(state.app, event_banners, reads=alert_events)
