"""Token pools: balances, runway, top-up requests and their follow-up, and the low-balance banner."""

from flask import Blueprint

from ..auth.session import require_login

bp = Blueprint("pools", __name__, url_prefix="/token-pools")
bp.before_request(require_login)

from . import views  # noqa: E402,F401
from .banner import low_balance_banners, start_pools_call  # noqa: E402

bp.before_app_request(start_pools_call)  # after auth's (registered first), so the sign-in is loaded


@bp.record_once
def register_banner(state):
    from ..templating import register_banner_provider

    register_banner_provider(state.app, low_balance_banners)
