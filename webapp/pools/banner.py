"""A banner on every page while a pool of the current environment is below its threshold."""

from __future__ import annotations

from flask import g, url_for

from ..parallel import POOL
from ..sir import errors
from ..sir.api import Parsed, PartnerApi
from ..templating import Banner, starts_banner_calls
from ..upstream import current_environment, partner_api, portal_key_stored


def start_pools_call() -> None:
    """`before_app_request`: the banner's pool list asked as the page begins, alongside the view's own calls
    (it was a round of its own after them); the pools pages use the same answer (`pools_call`)."""
    from flask import request

    if not starts_banner_calls() or portal_key_stored(current_environment()) is None:
        return
    if request.blueprint == "pools" and request.args.get("refresh") == "1":
        return  # the page asks the list fresh and shares that answer with the banner
    g.token_pools_call = POOL.submit(partner_api().token_pools)


def pools_call(api: PartnerApi, fresh: bool = False):
    """The pool list for `pool_runways`: the call started with the page when it is the same one (same key,
    not fresh), so a page asks for it once."""
    started = g.get("token_pools_call")
    if fresh or started is None or api.environment != current_environment():
        return lambda: api.token_pools(fresh=fresh)
    return started.result


def share_pools(pools: Parsed) -> None:
    """Pools this view fetched anyway (`PartnerApi.token_pools`' answer): the banner uses them instead of
    asking again."""
    g.token_pools = pools


def share_forecast(forecast: Parsed) -> None:
    """The same, from `pool_runways`' answer."""
    share_pools(Parsed(forecast.value.pools, forecast.reply))


def low_balance_banners() -> list[Banner]:
    if portal_key_stored(current_environment()) is None:
        return []  # no credential yet: set-up comes first
    try:
        # The page may have fetched them already (`share_pools`), or started the call with the page.
        started = g.get("token_pools_call")
        pools = (g.get("token_pools") or (started.result() if started else partner_api().token_pools())).value
    except errors.SirError:
        return []  # the page itself will say what is wrong; a banner must not
    banners = []
    for pool in pools:
        if pool.status == "inactive" or not pool.is_low:
            continue
        if pool.is_depleted:
            message = f"Token pool “{pool.name}” is empty: rewards drawn from it fail until it is topped up."
        else:
            message = (f"Token pool “{pool.name}” is below its threshold: {pool.balance:,} tokens left "
                       f"(threshold {pool.threshold:,}).")
        banners.append(Banner("danger" if pool.is_depleted else "warning", message,
                              url_for("pools.request_top_up", pool_id=pool.id), "Request a top-up"))
    return banners
