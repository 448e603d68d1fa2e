"""API keys: list, create (secrets shown once), rename, expiry, deactivate, revoke, and roll (a guided rotation)."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("keys", __name__, url_prefix="/keys")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
from .banner import expiring_key_banners, read_key_banner_inputs, start_key_list_call  # noqa: E402

bp.before_app_request(start_key_list_call)  # after auth's (registered first), so the sign-in is loaded


@bp.record_once
def register_banner(state):
    from ..templating import register_banner_provider

    register_banner_provider(state.app, expiring_key_banners, reads=read_key_banner_inputs)
