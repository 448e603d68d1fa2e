from __future__ import annotations

from flask import abort, g, redirect, render_template, request, session, url_for

from ..keys.banner import key_flags_are_fresh, remember_key_flags
from ..sir import errors
from ..upstream import account_api, partner_api
from ..web import is_htmx_partial_request, render_htmx_template
from . import bp
from ..parallel import POOL
from .cards import CARDS, load, load_all, read_params, shared


@bp.get("/")
def overview():
    params = read_params(request.args)
    hint_key = f"overview_campaign:{session.get('environment', 'sandbox')}"
    hints = {"campaign_id": session.get(hint_key)}
    api = partner_api()
    # The banners of every page need the pools and the key list: fetch them in the cards' round, not after it.
    pools_for_banner = POOL.submit(shared, hints, "token_pools", api.token_pools)
    keys_for_banner = None if key_flags_are_fresh() else POOL.submit(account_api().keys)
    cards = load_all(api, params, hints)
    try:
        g.token_pools = pools_for_banner.result()
    except errors.SirError:
        pass
    if keys_for_banner is not None:
        try:
            remember_key_flags(keys_for_banner.result())
        except errors.SirError:
            pass
    if hints.get("seen_campaign_id") and hints["seen_campaign_id"] != hints["campaign_id"]:
        session[hint_key] = hints["seen_campaign_id"]
    return render_template("dashboard/page.html", cards=cards, params=params)


@bp.get("/overview/cards/<card_id>")
def card(card_id):
    """One card on its own: for refresh, retry, a range change, or a card that missed the page's budget."""
    chosen = CARDS.get(card_id) or abort(404)
    params = read_params(request.args)
    if not is_htmx_partial_request():
        return redirect(url_for("dashboard.overview", **params))
    response = render_htmx_template("dashboard/page.html", chosen.template,
                                    loaded=load(chosen, partner_api(), params), params=params)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/campaigns")
def campaigns():
    api = partner_api()
    listing = api.campaigns(limit=100)
    chosen_id = request.args.get("campaign") or next((c.id for c in listing.value.items if c.status == "active"), None)
    chosen = analytics = None
    if chosen_id:
        chosen = next((c for c in listing.value.items if c.id == chosen_id), None) or abort(404)
        analytics = api.campaign_analytics(chosen.id)
    return render_template("dashboard/campaigns.html", campaigns=listing.value.items, reply=listing.reply,
                           chosen=chosen, analytics=analytics)
