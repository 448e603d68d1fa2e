from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import (Response, abort, current_app, g, get_flashed_messages, make_response, redirect, render_template,
                   request, session, stream_with_context, url_for)
from markupsafe import Markup

from ..keys.banner import key_flags_are_fresh, remember_key_flags
from ..pools.banner import share_pools
from ..outages import current_outage, note
from ..store.db import ping as ping_database
from ..templating import Banner, portal_banners, read_banner_inputs
from ..upstream import account_api, partner_api
from ..web import is_htmx_partial_request
from . import bp
from .campaign_hint import campaign_hint, remember_campaign
from .campaigns import campaign_report
from .cards import (BANNERS, CARDS, PARAMS, Departures, Loaded, in_order_of_arrival, load, load_overview, read_params,
                    start_overview)
from .rendered import card_html

# Where the streamed overview's banners and cards go in its page (dashboard/page.html).
ARRIVALS = Markup("<!-- the cards follow, as they arrive -->")
# The longest the head waits for the round's calls to leave (a machine too busy to send them is not kept blank).
HEAD_WAIT_SECONDS = 0.05


def card_params() -> tuple[dict, bool]:
    """A card's parameters: the page's own (its URL, as htmx reports it) with the request's on top, so changing
    one card's range keeps every other card's in the URL. Also: whether the request changes one of them."""
    page_query = urlsplit(request.headers.get("HX-Current-URL", "")).query
    merged = dict(parse_qsl(page_query))
    merged.update({name: value for name, value in request.args.items() if name in PARAMS})
    return read_params(merged), any(name in PARAMS for name in request.args)


@bp.get("/")
def overview():
    """The overview, streamed: the page's head, navigation and every card's placeholder leave at once (the
    browser fetches the style sheet and scripts meanwhile), then each card the moment its own answer arrives,
    and the banners when theirs has (dashboard/page.html places them without script). An htmx navigation that
    swaps the page in (history restore) gets it whole: a swap does not attach a declarative shadow root."""
    params = read_params(request.args)
    # The active campaign's id seen last time lets its analytics be asked at once (see cards._campaign).
    hints = {"campaign_id": campaign_hint()}
    keys_call = None if key_flags_are_fresh() else account_api().keys
    budget = current_app.config["SETTINGS"].overview_budget_seconds
    if request.headers.get("HX-Request") == "true":
        shown = load_overview(partner_api(), params, hints, keys_call, budget=budget)
        _share_banner_answers(shown.pools, shown.keys)
        remember_campaign(hints.get("seen_campaign_id"))
        response = make_response(render_template("dashboard/page.html", cards=shown.cards, params=params,
                                                 card_html=card_html))
        response.vary.add("HX-Request")
        return response

    # Once the head has left, the status is 200: a database that is down must be found now, so the page is the
    # named 503 (outages.py) rather than a page that stops half-way.
    ping_database()
    departures = Departures()
    tasks = start_overview(partner_api(), params, hints, keys_call, departures)
    departures.wait(HEAD_WAIT_SECONDS)  # the head once the round's calls have left (cards.Departures)
    g.banners_streamed = g.streamed = True
    # The session is saved before the body streams: what the page takes from it (its flashed messages) is
    # taken now. What the round teaches (the key flags, the campaign's id) is saved once it has arrived.
    get_flashed_messages(with_categories=True)
    head, tail = render_template("dashboard/page.html", streamed=True, card_list=list(CARDS.values()),
                                 arrivals=ARRIVALS, params=params, card_html=card_html).split(ARRIVALS, 1)

    def body():
        try:
            yield head
            read_banner_inputs()  # while the calls are in flight: the banners then cost only what needs them
            banners_late = False
            for key, task in in_order_of_arrival(tasks, budget):
                if key == BANNERS:
                    if task is None:
                        banners_late = True  # the cards' skeletons go first; then these are waited for
                    else:
                        yield _banners(*task.result())
                    continue
                loaded = task.result() if task is not None else Loaded(CARDS[key], pending=True)
                yield card_html(loaded, params)
            if banners_late:
                yield _banners(*tasks[BANNERS].result())
            remember_campaign(hints.get("seen_campaign_id"))
            if session.modified:
                # The response's own save ran before the body; this one stores what the round added.
                current_app.session_interface.save_session(current_app, session, Response())
            yield tail
        finally:
            g.stream_finished = True  # for the request's log line (request_log)

    response = Response(stream_with_context(body()), mimetype="text/html")
    response.vary.add("HX-Request")
    return response


def _share_banner_answers(pools, keys) -> None:
    if pools is not None:
        share_pools(pools)
    if keys is not None:
        remember_key_flags(keys)


def _banners(pools, keys) -> str:
    _share_banner_answers(pools, keys)
    try:
        banners = portal_banners()  # a provider's outage is noted there (outages.note) and yields no banner
    except Exception as error:  # after the head has left, a failure can only be said in place
        if note(error) is None:
            current_app.logger.exception("the overview's banners failed")
        banners = []
    dependency = current_outage()
    if dependency is not None:
        banners = [Banner("danger", f"Alerts could not be checked: the {dependency} is unreachable. "
                                    "Reload the page to try again.")]
    return render_template("dashboard/_banners.html", banners=banners)


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
    report = campaign_report(partner_api(), request.args.get("campaign"), campaign_hint()) or abort(404)
    if not request.args.get("campaign") and report.chosen is not None:
        remember_campaign(report.chosen.id)
    return render_template("dashboard/campaigns.html", campaigns=report.listing.value, reply=report.listing.reply,
                           chosen=report.chosen, analytics=report.analytics)
