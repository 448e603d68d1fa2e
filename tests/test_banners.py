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


def test_a_page_reads_which_keys_the_portal_signs_with_once(app, client, signed_in):
    from sqlalchemy import event

    client.get("/token-pools/")
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        from webapp.store.db import db

        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        shown = client.get("/token-pools/")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    banners = " ".join(banner.get_text(" ", strip=True) for banner in page(shown).select(".banner"))
    assert "Holiday promotions" in banners and "Legacy batch job" in banners  # the pool's and the key's banners
    vault_reads = [s for s in statements if "FROM vault_credentials" in s]
    # Sandbox and production in one read: the pools banner, the key banner and the navigation's "Go live" entry
    # asked five times between them.
    assert len(vault_reads) == 1, vault_reads
