"""The overview streams: its head and every card's placeholder first, then each card as its own answer arrives."""

import re

from bs4 import BeautifulSoup

from tests.conftest import page, text_of

CARD_IDS = ["summary", "trends", "runway", "top-earners", "integration-health", "webhook-health", "api-usage",
            "recent-activity", "campaign"]


def served(simulator, path: str) -> int:
    """How many requests for `path` the simulator has answered (it counts a request once it is answered)."""
    return sum(counts[0] for key, counts in simulator.usage.by_endpoint.items() if key[4] == path)


def chunks_of(response):
    """The body as the server hands it out, chunk by chunk (what goes on the wire as it is produced)."""
    return iter(response.response)


def card_ids_in(chunk: bytes) -> list[str]:
    """The streamed cards in a chunk, by the slot they take."""
    soup = BeautifulSoup(chunk.decode(), "html5lib")
    return [section["slot"].removeprefix("card-") for section in soup.select("section[data-card][slot]")]


def test_the_head_and_every_placeholder_leave_before_a_slow_call_answers(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/summary", delay_ms=2000, count=1)
    before = served(simulator, "/v1/partner/dashboard/summary")
    response = signed_in.get("/", buffered=False)
    chunks = chunks_of(response)
    head = next(chunks)
    # The slow call is still on its way when the head has been handed out.
    assert served(simulator, "/v1/partner/dashboard/summary") == before
    soup = BeautifulSoup(head.decode(), "html5lib")
    assert soup.select_one("link[rel=stylesheet]") and soup.select_one("nav#mainnav") and soup.select_one("h1")
    host = soup.select_one(".overview-stream > template[shadowrootmode=open]")
    assert [slot["name"] for slot in host.select(".cards slot")] == [f"card-{card_id}" for card_id in CARD_IDS]
    assert all(slot.select_one(".is-loading") for slot in host.select(".cards slot"))  # the placeholders
    assert card_ids_in(head) == []
    rest = b"".join(chunks)
    assert served(simulator, "/v1/partner/dashboard/summary") == before + 1
    assert sorted(card_ids_in(rest)) == sorted(CARD_IDS)


def test_cards_arrive_in_the_order_their_answers_do_each_in_its_own_chunk(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/summary", delay_ms=1500, count=1)
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/top-earners*", delay_ms=3000, count=1)
    arrived = [card_ids_in(chunk) for chunk in chunks_of(signed_in.get("/", buffered=False))]
    cards = [ids for ids in arrived if ids]
    assert all(len(ids) == 1 for ids in cards)  # one card per chunk: each is sent as soon as it is ready
    order = [ids[0] for ids in cards]
    assert sorted(order) == sorted(CARD_IDS)
    assert order[-2:] == ["summary", "top-earners"]  # the slow ones last, the slowest at the very end


def test_the_streamed_page_is_still_the_page_in_the_cards_order(signed_in):
    shown = page(signed_in.get("/"))
    assert shown.select_one("html > head") and shown.select_one("footer.footer")  # closed after the last card
    host = shown.select_one("main .overview-stream")
    placed = [section["id"] for section in host.find_all("section", attrs={"data-card": True}, recursive=False)]
    assert sorted(placed) == sorted(f"card-{card_id}" for card_id in CARD_IDS)
    assert all(section["slot"] == section["id"] for section in host.select("section[data-card]"))


def test_a_failing_card_is_streamed_into_its_own_slot_with_its_error(signed_in, simulator):
    simulator.add_fault(method="GET", path="/v1/partner/dashboard/webhooks/health", status=500, count=1)
    broken = page(signed_in.get("/")).select_one("#card-webhook-health")
    assert broken["slot"] == "card-webhook-health"
    assert "SIR Giving had an internal error" in broken.select_one(".error-state").get_text()
    assert broken.select_one("button[hx-get]").get_text(strip=True) == "Retry"


def test_a_refreshed_card_keeps_its_slot(signed_in):
    refreshed = page(signed_in.get("/overview/cards/trends", headers={"HX-Request": "true"}))
    assert refreshed.select_one("#card-trends")["slot"] == "card-trends"


def test_the_banners_are_streamed_into_their_slot_above_the_heading(signed_in):
    shown = page(signed_in.get("/"))
    banners = shown.select_one(".overview-stream > .overview-banners[slot=banners]")
    assert "Holiday promotions" in banners.get_text()  # the seeded pool below its threshold
    assert any(link["href"].endswith("/top-up") for link in banners.select(".banner a"))
    slots = shown.select_one(".overview-stream > template").find_all("slot", recursive=False)
    assert [slot.get("name") for slot in slots] == ["banners", None]  # banners, then the heading


def test_what_the_round_learns_is_saved_in_the_session_after_the_body(signed_in):
    signed_in.get("/").get_data()
    with signed_in.session_transaction() as stored:
        assert stored["overview_campaign:sandbox"].startswith("cmp_")  # the next view asks its analytics at once
        assert "key_flags" in stored


def test_a_flashed_message_is_shown_once_though_the_session_is_saved_before_the_body(signed_in):
    with signed_in.session_transaction() as stored:
        stored["_flashes"] = [("success", "Webhook saved.")]
    assert "Webhook saved." in text_of(signed_in.get("/"))
    assert "Webhook saved." not in text_of(signed_in.get("/"))


def test_an_htmx_history_restore_gets_the_whole_page_without_a_shadow_root(signed_in):
    restored = signed_in.get("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    shown = page(restored)
    assert shown.select_one("template[shadowrootmode]") is None
    assert len(shown.select(".cards > section[data-card]")) == len(CARD_IDS)
    assert re.search(r"HX-Request", restored.headers["Vary"])


def test_a_database_failure_after_the_head_left_is_said_in_the_banners_slot_and_the_cards_still_come(app, signed_in):
    from sqlalchemy.exc import OperationalError

    from webapp.templating import register_banner_provider

    def unreachable():  # the database going away between the page's start and its banners
        raise OperationalError("SELECT alerts", {}, ConnectionRefusedError("connection refused"))

    register_banner_provider(app, unreachable)
    response = signed_in.get("/")
    assert response.status_code == 200
    shown = page(response)
    banner = shown.select_one(".overview-banners[slot=banners] .banner-danger")
    assert "Alerts could not be checked: the database is unreachable" in banner.get_text(" ", strip=True)
    assert sorted(s["slot"] for s in shown.select("section[data-card][slot]")) == sorted(f"card-{c}" for c in CARD_IDS)


def test_the_banners_read_the_database_while_the_calls_are_in_flight_not_after_them(app, signed_in, simulator):
    from sqlalchemy import event

    from webapp.store.db import db

    # The pool list is the banners' own call: slow, so the banners come last.
    simulator.add_fault(method="GET", path="/v1/partner/token-pools", delay_ms=1500, count=1)
    with app.app_context():
        engine = db.engine
    produced, reads = [0], []

    def seen(conn, cursor, statement, *args):
        for table in ("vault_credentials", "key_rotations", "received_events"):
            if f"FROM {table}" in statement:
                reads.append((table, produced[0]))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        banners_at = None
        for produced[0], chunk in enumerate(chunks_of(signed_in.get("/", buffered=False)), start=1):
            if b'slot="banners"' in chunk:
                banners_at = produced[0]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert banners_at > 3  # after the head and the cards that did not wait on the pools
    # The rolls and the alert events once each, while the chunk after the head was being made (before any answer
    # had arrived); the vault before the body (the key to sign with, the navigation's Go live entry), not again.
    assert sorted(table for table, at in reads if at == 1) == ["key_rotations", "received_events"], reads
    assert {at for _, at in reads} == {0, 1}, reads


def test_a_banners_read_that_fails_is_reported_once_by_its_provider_not_again_by_the_read_ahead(app, signed_in,
                                                                                              caplog):
    from webapp.templating import register_banner_provider

    def broken_read():
        raise ValueError("a banner's query is wrong")

    def broken_banner():  # a provider reads what its read-ahead did not keep, as every provider does
        broken_read()
        return []

    register_banner_provider(app, broken_banner, reads=broken_read)
    response = signed_in.get("/")
    assert response.status_code == 200
    assert sorted(s["slot"] for s in page(response).select("section[data-card][slot]")) == sorted(
        f"card-{c}" for c in CARD_IDS)
    reported = [r for r in caplog.records if r.getMessage() == "banner provider broken_banner failed"]
    assert len(reported) == 1 and "a banner's query is wrong" in reported[0].exc_text
    assert not [r for r in caplog.records if "broken_read" in r.getMessage()]


class SetOff:
    """When each call, prepared and signed, is handed to the HTTP session to be sent (the client's `_send`), by path.
    Not the transport's own moment: the cache's look-up and the HTTP layer's work come between the two."""

    def __init__(self, monkeypatch):
        import time

        from webapp.sir.client import SirClient

        self.sent, real = [], SirClient._send

        def send(client, session, prepared, **kwargs):
            self.sent.append((time.perf_counter(), prepared.path_url.split("?")[0]))
            return real(client, session, prepared, **kwargs)

        monkeypatch.setattr(SirClient, "_send", send)


def slow_signing(monkeypatch, seconds: float, only: str = ""):
    """Every signed call (or those whose path holds `only`) takes `seconds` longer to get ready to leave, as on a
    machine busy with other work."""
    import time

    from webapp.sir.client import SirClient

    real = SirClient._sign

    def sign(client, prepared, *args, **kwargs):
        if only in prepared.path_url:
            time.sleep(seconds)
        return real(client, prepared, *args, **kwargs)

    monkeypatch.setattr(SirClient, "_sign", sign)


def test_the_head_is_made_once_the_rounds_calls_are_on_their_way(app, signed_in, monkeypatch):
    import time

    signed_in.get("/")  # the key list and the campaign are known: what is left is the round itself
    from tests.conftest import expire_cached_answers

    expire_cached_answers(app)
    # However busy the machine running the tests, the head is not let go on the time limit here: the order is.
    monkeypatch.setattr("webapp.dashboard.views.HEAD_WAIT_SECONDS", 10.0)
    wire = SetOff(monkeypatch)
    slow_signing(monkeypatch, 0.01)
    response = signed_in.get("/", buffered=False)
    chunks = chunks_of(response)
    next(chunks)
    head_at = time.perf_counter()
    rest = b"".join(chunks)
    assert len(wire.sent) >= 10 and b'slot="card-summary"' in rest
    assert all(at < head_at for at, _ in wire.sent), [(round((at - head_at) * 1000), path) for at, path in wire.sent]


def test_the_head_waits_for_a_call_that_cannot_leave_only_a_moment(app, signed_in, monkeypatch):
    import time

    signed_in.get("/")
    from tests.conftest import expire_cached_answers

    expire_cached_answers(app)
    slow_signing(monkeypatch, 1.0, only="/dashboard/summary")
    began = time.perf_counter()
    chunks = chunks_of(signed_in.get("/", buffered=False))
    next(chunks)
    assert time.perf_counter() - began < 0.5
    assert b'slot="card-summary"' in b"".join(chunks)  # it still comes, once its call has answered


def test_every_card_of_the_round_has_left_before_any_answer_comes_even_one_that_shares_anothers_call(app, client,
                                                                                                     signed_in,
                                                                                                     simulator):
    from tests.conftest import expire_cached_answers, partner_api_for
    from webapp.dashboard.cards import Departures, read_params, start_overview

    signed_in.get("/")
    expire_cached_answers(app)
    for path in ("/v1/partner/dashboard/", "/v1/partner/token-pools", "/v1/partner/campaigns/"):
        simulator.add_fault(method="GET", path=path, delay_ms=600, count=5)  # no answer for a while
    departures = Departures()
    with app.test_request_context():
        tasks = start_overview(partner_api_for(app, client), read_params({}), {}, departures=departures)
        # The runway card makes no call of its own (it waits on the pools, trends and campaign cards' answers).
        assert departures.wait(0.4)
        assert not tasks["runway"].done()
        for task in tasks.values():  # the answers, before the app goes
            task.future.result(timeout=10)
