"""A banner on every page while a pool of the current environment is below its threshold."""

from __future__ import annotations

from flask import g, url_for

from ..sir import errors
from ..sir.api import Parsed
from ..templating import Banner
from ..upstream import current_environment, partner_api, vault


def share_pools(pools: Parsed) -> None:
    """Pools this view fetched anyway (`PartnerApi.token_pools`' answer): the banner uses them instead of
    asking again."""
    g.token_pools = pools


def share_forecast(forecast: Parsed) -> None:
    """The same, from `pool_runways`' answer."""
    share_pools(Parsed(forecast.value.pools, forecast.reply))


def low_balance_banners() -> list[Banner]:
    if vault().record_for(g.partner["id"], current_environment()) is None:
        return []  # no credential yet: set-up comes first
    try:
        # The page may have fetched them already (`share_pools`); elsewhere the answer is cached.
        pools = (g.get("token_pools") or partner_api().token_pools()).value
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
