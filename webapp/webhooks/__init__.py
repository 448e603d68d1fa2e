"""Webhooks: endpoints and their health, deliveries with retry and recovery, the portal's own signed
receiver, the live event feed with alerts drawn from it, and a signature debugger."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
from .alerts import event_banners  # noqa: E402
from .receiver import receiver_bp  # noqa: E402,F401


@bp.record_once
def register(state):
    from ..templating import register_banner_provider

    register_banner_provider(state.app, event_banners)
    state.app.extensions["csrf_protect"].exempt(receiver_bp)  # machine to machine: the signature is the check
    state.app.register_blueprint(receiver_bp)
