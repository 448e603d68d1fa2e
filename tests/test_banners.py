"""Banners (a low pool, an expiring key, an alert) sit on full pages only: a card partial never shows them, so it
never asks SIR Giving or the database for them."""

from __future__ import annotations

import re

from tests.conftest import expire_cached_answers, page

PARTIAL = {"HX-Request": "true", "HX-Current-URL": "http://localhost/"}


def upstream_calls(response) -> int:
    return int(re.search(r'"(\d+) upstream call', response.headers["Server-Timing"]).group(1))


def test_a_card_partial_asks_only_for_its_own_data(app, client, signed_in):
    client.get("/")
    expire_cached_answers(app)
    partial = client.get("/overview/cards/summary", headers=PARTIAL)
    assert partial.status_code == 200
    assert upstream_calls(partial) == 1  # the summary; not the pools a low-balance banner would need
    assert not page(partial).select(".banner")


def test_a_full_page_still_asks_for_its_banners(app, client, signed_in):
    client.get("/")
    expire_cached_answers(app)
    full = client.get("/audit/")
    assert upstream_calls(full) >= 1  # the banners' pools
