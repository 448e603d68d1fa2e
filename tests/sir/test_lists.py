"""Lists in any form the reference allows (a bare array, `{data}`, `{data, pagination}`), read to their end
page by page, and honest ("at least N") when the end could not be reached."""

from __future__ import annotations

import pytest

from tests.conftest import make_app, page, text_of
from webapp.sir import errors
from webapp.sir.listing import collect
from webapp.sir.models import Page


def _item(entry):
    return entry


class Thing:
    def __init__(self, entry):
        self.id = entry["id"]


@pytest.mark.parametrize("payload", [
    [{"id": "a"}, {"id": "b"}],
    {"data": [{"id": "a"}, {"id": "b"}]},
    {"data": [{"id": "a"}, {"id": "b"}], "pagination": {"page": 1, "limit": 50, "total": 2, "totalPages": 1,
                                                        "hasMore": False}},
], ids=["bare", "data", "envelope"])
def test_a_page_reads_every_form_of_list(payload):
    parsed = Page.parse(payload, _item)
    assert [i["id"] for i in parsed.items] == ["a", "b"] and parsed.page == 1


def test_a_reply_that_is_no_list_is_malformed_naming_the_endpoint():
    with pytest.raises(errors.MalformedReply) as caught:
        Page.parse({"items": []}, _item, path="/v1/partner/webhooks")
    assert "/v1/partner/webhooks" in str(caught.value)


def _pages(total, *, honour_page=True, bare=True, per=100):
    every = [{"id": f"t{n}"} for n in range(total)]
    asked = []

    def fetch(number, limit):
        asked.append(number)
        start = (number - 1) * per if honour_page else 0
        chunk = every[start:start + per]
        return chunk if bare else {"data": chunk, "pagination": {"total": total, "hasMore": start + per < total}}
    return fetch, asked


def test_a_bare_list_is_read_until_a_short_page():
    fetch, asked = _pages(219)
    listing = collect(fetch, Thing)
    assert len(listing) == 219 and listing.complete and asked == [1, 2, 3]


def test_an_upstream_that_ignores_page_is_read_once_and_said_to_be_partial():
    fetch, asked = _pages(219, honour_page=False, bare=False)
    listing = collect(fetch, Thing)
    assert len(listing) == 100 and not listing.complete and asked == [1, 2]
    assert listing.count_label == "at least 100"


def test_reading_stops_at_the_cap_and_says_so():
    fetch, asked = _pages(5000)
    listing = collect(fetch, Thing, max_pages=3)
    assert len(listing) == 300 and not listing.complete and asked == [1, 2, 3]


def test_the_keys_page_shows_every_key_not_the_first_hundred(tmp_path):
    app = make_app(tmp_path, simulator_config={"VARIANT": "lists=bare"})
    client = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(client).sign_in("acme")
    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    for n in range(120):
        simulator.create_key(partner_id, f"Batch key {n:03d}", "sandbox", "secret")
    response = client.get("/keys/")
    assert response.status_code == 200
    names = [a.get_text(strip=True) for a in page(response).select(".keys-table tbody tr td:first-child a")]
    assert {f"Batch key {n:03d}" for n in range(120)} <= set(names)
    assert "at least" not in text_of(response)
