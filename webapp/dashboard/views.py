from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import abort, current_app, make_response, redirect, render_template, request, session, url_for

from ..keys.banner import key_flags_are_fresh, remember_key_flags
from ..pools.banner import share_pools
from ..upstream import account_api, current_environment, partner_api
from ..web import is_htmx_partial_request
from . import bp
from .campaigns import campaign_report
from .cards import CARDS, PARAMS, load, load_overview, read_params
from .rendered import card_html


def card_params() -> tuple[dict, bool]:
    """A card's parameters: the page's own (its URL, as htmx reports it) with the request's on top, so changing
    one card's range keeps every other card's in the URL. Also: whether the request changes one of them."""
    page_query = urlsplit(request.headers.get("HX-Current-URL", "")).query
    merged = dict(parse_qsl(page_query))
    merged.update({name: value for name, value in request.args.items() if name in PARAMS})
    return read_params(merged), any(name in PARAMS for name in request.args)


@bp.get("/")
def overview():
    params = read_params(request.args)
    # The active campaign's id seen last time lets its analytics be asked at once (see cards._campaign).
    hint_key = f"overview_campaign:{current_environment()}"
    hints = {"campaign_id": session.get(hint_key)}
    shown = load_overview(partner_api(), params, hints, None if key_flags_are_fresh() else account_api().keys,
                          budget=current_app.config["SETTINGS"].overview_budget_seconds)
    if shown.pools is not None:
        share_pools(shown.pools)
    if shown.keys is not None:
        remember_key_flags(shown.keys)
    if hints.get("seen_campaign_id") and hints["seen_campaign_id"] != hints["campaign_id"]:
        session[hint_key] = hints["seen_campaign_id"]
    return render_template("dashboard/page.html", cards=shown.cards, params=params, card_html=card_html)


@bp.get("/overview/cards/<card_id>")
def card(card_id):
    """One card on its own: for refresh, retry, a range change, or a card that missed the page's budget."""
    chosen = CARDS.get(card_id) or abort(404)
    if not is_htmx_partial_request():
        return redirect(url_for("dashboard.overview", **read_params(request.args)))
    params, changed = card_params()
    response = make_response(card_html(load(chosen, partner_api(), params), params))  # kept per answer: rendered.py
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "private, no-cache"
    if changed:  # the page's address then names every card's range, this one's new value included
        response.headers["HX-Push-Url"] = url_for("dashboard.overview", **params)
    return response


@bp.get("/campaigns")
def campaigns():
    hint_key = f"overview_campaign:{current_environment()}"  # the overview's: the active campaign seen last
    report = campaign_report(partner_api(), request.args.get("campaign"), session.get(hint_key)) or abort(404)
    if not request.args.get("campaign") and report.chosen is not None and session.get(hint_key) != report.chosen.id:
        session[hint_key] = report.chosen.id
    return render_template("dashboard/campaigns.html", campaigns=report.listing.value, reply=report.listing.reply,
                           chosen=report.chosen, analytics=report.analytics)
