"""A warm card partial is a look-up: the card's HTML is kept per (partner, key, card, parameters, fetch time) and
rendered again only when a new answer arrives."""

from __future__ import annotations

from contextlib import contextmanager

from flask import template_rendered

from tests.conftest import AuthActions, expire_cached_answers, page

PARTIAL = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}


@contextmanager
def templates_rendered(app):
    names = []

    def record(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    try:
        yield names
    finally:
        template_rendered.disconnect(record, app)


def test_the_same_answer_is_rendered_once_then_looked_up(app, signed_in):
    first = signed_in.get("/overview/cards/top_earners", headers=PARTIAL)
    with templates_rendered(app) as rendered:
        again = signed_in.get("/overview/cards/top_earners", headers=PARTIAL)
    assert again.get_data() == first.get_data()
    assert rendered == []
    assert page(again).select("table.top-earners tbody tr")


def test_a_new_answer_is_rendered_anew(app, signed_in):
    signed_in.get("/overview/cards/summary", headers=PARTIAL)
    expire_cached_answers(app)  # the next view asks SIR Giving again
    with templates_rendered(app) as rendered:
        fresh = signed_in.get("/overview/cards/summary", headers=PARTIAL)
    assert "dashboard/_summary.html" in rendered
    assert page(fresh).select(".tile-value")


def test_each_range_is_its_own_card(app, signed_in):
    five = page(signed_in.get("/overview/cards/top_earners?earners_limit=5", headers=PARTIAL))
    ten = page(signed_in.get("/overview/cards/top_earners?earners_limit=10", headers=PARTIAL))
    assert len(five.select("table.top-earners tbody tr")) == 5
    assert len(ten.select("table.top-earners tbody tr")) == 10


def test_two_partners_never_see_each_others_card(app, signed_in):
    acme = page(signed_in.get("/overview/cards/top_earners", headers=PARTIAL))
    globex_client = app.test_client()
    AuthActions(globex_client).sign_in("globex")
    globex = page(globex_client.get("/overview/cards/top_earners", headers=PARTIAL))
    names = lambda soup: [row.select("td")[1].get_text(" ", strip=True) for row in soup.select("table.top-earners tbody tr")]
    assert names(acme) and names(globex) and names(acme) != names(globex)


def test_the_overview_uses_the_same_kept_cards(app, signed_in):
    first = page(signed_in.get("/"))
    with templates_rendered(app) as rendered:
        again = page(signed_in.get("/"))
    cards = [name for name in rendered if name.startswith("dashboard/_") and name != "dashboard/_banners.html"]
    assert cards == ["dashboard/_campaign.html"]  # built from two answers, so rendered each time (and the runway)
    # The same cards (streamed in the order their answers arrived, which varies).
    assert sorted(card["id"] for card in again.select("[data-card]")) == sorted(card["id"] for card in first.select("[data-card]"))
    assert again.select_one("#card-top-earners table.top-earners") is not None
