"""The API keys pages when SIR Giving fails: the key list and a key's record (JWT reads, never cached) are
retried once on a 5xx or a timeout, then shown from a recent copy marked stale, with the error and a retry,
instead of an error page."""

from __future__ import annotations

from tests.conftest import form_values, page, read_timeout, text_of

# The key list is read from the sign-in host and from the production host that manages live keys
# (SIR_LIVE_KEYS_HOST=production), at once: the embedded simulator answers both, so a fault must hit two tries
# on each host for the list to fail twice.
TWICE_ON_EACH_HOST = 4


def stale_notice(response):
    return page(response).select_one(".stale-notice")


def listed_names(response) -> list[str]:
    return [row.select_one("td a").get_text(strip=True) for row in page(response).select("table.keys-table tbody tr")]


def test_one_5xx_on_the_key_list_is_retried_and_the_list_is_fresh(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/keys", status=500, count=1)
    response = signed_in.get("/keys/")
    assert response.status_code == 200 and stale_notice(response) is None
    assert listed_names(response)


def test_the_key_list_fails_twice_and_the_page_shows_its_copy_marked_stale_with_a_retry(signed_in, simulator):
    fresh = signed_in.get("/keys/")
    simulator.add_fault(method="GET", path="/v1/partner/keys", status=503, count=TWICE_ON_EACH_HOST)
    response = signed_in.get("/keys/")
    assert response.status_code == 200
    notice = stale_notice(response)
    assert notice is not None and "Stale since" in notice.get_text() and "This list is a copy" in notice.get_text()
    assert "SIR Giving" in notice.get_text()  # the error the copy stands in for, in plain words
    assert notice.find("a", string="Retry")["href"] == "/keys/"
    assert listed_names(response) == listed_names(fresh)
    assert stale_notice(signed_in.get("/keys/")) is None  # SIR Giving answers again: the list is fresh


def test_the_key_list_timing_out_twice_shows_its_copy_marked_stale(app, signed_in, simulator):
    signed_in.get("/keys/")
    simulator.add_fault(method="GET", path="/v1/partner/keys", delay_ms=1500, count=TWICE_ON_EACH_HOST)
    with read_timeout(app, 0.3):
        response = signed_in.get("/keys/")
    assert response.status_code == 200
    assert "took too long" in stale_notice(response).get_text()


def test_a_keys_page_fails_twice_and_shows_its_copy_marked_stale(signed_in, simulator):
    key_id = page(signed_in.get("/keys/")).select_one("table.keys-table tbody tr")["id"].removeprefix("key-")
    fresh = signed_in.get(f"/keys/{key_id}")
    for path in (f"/keys/{key_id}", f"/keys/{key_id}/roll"):
        simulator.add_fault(method="GET", path=f"/v1/partner/keys/{key_id}", status=502, count=2)
        response = signed_in.get(path)
        assert response.status_code == 200, text_of(response)[:300]
        assert "Stale since" in stale_notice(response).get_text()
        assert page(response).select_one("h1").get_text() in (page(fresh).select_one("h1").get_text(),
                                                              f"Roll “{page(fresh).select_one('h1').get_text()}”")


def test_without_a_copy_two_failures_say_what_failed(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/keys", status=500, count=TWICE_ON_EACH_HOST)
    response = signed_in.get("/keys/")
    assert response.status_code == 502 and "Try again" in text_of(response)


def test_a_change_to_a_key_is_never_made_on_a_stale_copy(signed_in, simulator):
    """A copy is for showing: a rename after two failed reads is refused with the error, not made blind."""
    key_id = page(signed_in.get("/keys/")).select_one("table.keys-table tbody tr")["id"].removeprefix("key-")
    data = form_values(signed_in.get(f"/keys/{key_id}"), "form#rename-key")
    data["name"] = "Renamed while SIR Giving fails"
    simulator.add_fault(method="GET", path=f"/v1/partner/keys/{key_id}", status=500, count=2)
    response = signed_in.post(f"/keys/{key_id}/rename", data=data)
    assert response.status_code == 502
    assert "Renamed while SIR Giving fails" not in text_of(signed_in.get("/keys/"))
