"""One delivery's page: every attempt the simulator made (time, status, duration, response), the headers of
section 5 with the signature cut short, the envelope, the next try, retry, and the signature debugger filled
from it; search by event id across the partner's endpoints; partner-scoped look-ups that 404 otherwise."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from tests.conftest import AuthActions, page, text_of
from tests.webhooks.helpers import csrf, receiver_of, register_portal_receiver, webhook_id_of


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


@pytest.fixture
def legacy(signed_in):
    return webhook_id_of(signed_in, "legacy.acme.example")


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def newest(simulator, hook, **match):
    return max((d for d in simulator.deliveries.values() if d.webhook_id == hook
                and all(getattr(d, k) == v for k, v in match.items())), key=lambda d: d.created_at)


def attempt_rows(response):
    return page(response).select("table.attempts-table tbody tr")


def test_the_delivery_page_shows_every_attempt_with_its_time_status_duration_and_response(signed_in, simulator, legacy):
    delivery = newest(simulator, legacy, status="failed", attempts=6)
    response = signed_in.get(f"/webhooks/{legacy}/deliveries/{delivery.id}")
    assert response.status_code == 200
    shown = attempt_rows(response)
    assert len(shown) == 6 == len(delivery.history)
    for row, attempt in zip(shown, reversed(delivery.history)):  # newest first
        assert row.select_one("time")["datetime"] == iso(attempt["at"])
        assert "failed" in row.get_text() and f"HTTP {attempt['responseStatus']}" in row.get_text()
        assert row.select("td")[2].get_text(strip=True) == f"{round(attempt['durationMs'])} ms"
        assert row.select_one(".response-excerpt").get_text(strip=True) == attempt["responseBodyExcerpt"]
    text = text_of(response)
    assert delivery.event_id in text and "No more automatic retries" in text
    assert page(response).select_one(".page-actions button").get_text() == "Retry now"


def test_the_page_shows_section_5_headers_with_the_signature_cut_short_and_the_envelope(signed_in, simulator, legacy):
    delivery = newest(simulator, legacy, status="failed")
    sent = delivery.history[-1]["headers"]
    response = signed_in.get(f"/webhooks/{legacy}/deliveries/{delivery.id}")
    headers = {row.select_one("th").get_text(strip=True): row.select_one("td").get_text(" ", strip=True)
               for row in page(response).select("table.headers-table tr")}
    assert list(headers) == ["Content-Type", "User-Agent", "X-SIR-Signature", "X-SIR-Timestamp"]
    assert headers["Content-Type"] == "application/json" and headers["User-Agent"] == "SIRGiving-Webhooks/1.0"
    assert headers["X-SIR-Timestamp"] == sent["X-SIR-Timestamp"]
    assert headers["X-SIR-Signature"].startswith(sent["X-SIR-Signature"][:19] + "…")
    assert sent["X-SIR-Signature"] not in response.get_data(as_text=True)  # never the whole signature
    assert json.loads(page(response).select_one("pre.json-view").get_text()) == json.loads(delivery.payload)


def test_a_delivery_gains_attempts_as_they_happen_and_says_when_it_is_tried_next(signed_in, simulator, legacy):
    sent = signed_in.post(f"/webhooks/{legacy}/test", data={"csrf_token": csrf(signed_in, f"/webhooks/{legacy}")})
    assert sent.status_code == 302
    delivery = newest(simulator, legacy, event_type="webhook.test")
    url = f"/webhooks/{legacy}/deliveries/{delivery.id}?refresh=1"
    queued = signed_in.get(url)
    assert attempt_rows(queued) == [] and "Queued" in text_of(queued)
    assert page(queued).select_one("#delivery-attempts")["hx-get"]  # polls while it settles
    simulator.deliver_due()  # legacy.acme.example does not resolve: a failed attempt, retried in 30 s
    first = signed_in.get(url, headers={"HX-Request": "true"})
    (row,) = attempt_rows(first)
    assert "could not resolve host legacy.acme.example" in row.get_text()
    assert "Next automatic try" in text_of(first)
    assert page(first).select_one("time[datetime='%s']" % iso(delivery.next_retry_at))
    simulator.advance_clock(31)
    simulator.deliver_due()
    assert len(attempt_rows(signed_in.get(url))) == 2


def test_retry_from_the_delivery_page_comes_back_to_it(signed_in, simulator, legacy):
    delivery = newest(simulator, legacy, status="failed")
    detail = f"/webhooks/{legacy}/deliveries/{delivery.id}"
    response = signed_in.post(f"/webhooks/{legacy}/deliveries/{delivery.id}/retry?from=detail",
                              data={"csrf_token": csrf(signed_in, detail)})
    assert response.status_code == 302 and response.headers["Location"].startswith(detail)
    assert "Retry queued" in text_of(signed_in.get(response.headers["Location"]))
    assert simulator.deliveries[delivery.id].status == "pending"


def test_a_delivery_is_found_only_under_its_own_endpoint_and_partner(app, signed_in, simulator, legacy):
    delivery = newest(simulator, legacy, status="failed")
    healthy = webhook_id_of(signed_in, "hooks.acme.example")
    assert signed_in.get(f"/webhooks/{healthy}/deliveries/{delivery.id}").status_code == 404
    assert signed_in.get(f"/webhooks/{legacy}/deliveries/dlv_nope").status_code == 404
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    assert other.get(f"/webhooks/{legacy}/deliveries/{delivery.id}").status_code == 404
    assert other.get(f"/webhooks/debugger?webhook={legacy}&delivery={delivery.id}").status_code == 404
    searched = page(other.get(f"/webhooks/search?event={delivery.event_id}"))
    assert not searched.select("table.search-table") and "No endpoint has a delivery" in searched.get_text()


def test_search_by_event_id_finds_its_delivery_on_every_endpoint(signed_in, simulator, legacy):
    delivery = newest(simulator, legacy, status="failed")
    both = [d for d in simulator.deliveries.values() if d.event_id == delivery.event_id]
    assert len(both) == 2  # the seeded actions went to both of Acme's endpoints
    box = page(signed_in.get("/webhooks/")).select_one("form.delivery-search")
    assert box["action"] == "/webhooks/search" and box.select_one("input")["name"] == "event"
    assert page(signed_in.get(f"/webhooks/{legacy}")).select_one("form.delivery-search")
    found = signed_in.get(f"/webhooks/search?event=%20{delivery.event_id}%20")
    links = {a["href"] for a in page(found).select("table.search-table a")}
    assert links == {f"/webhooks/{d.webhook_id}/deliveries/{d.id}" for d in both}
    for link in links:
        assert delivery.event_id in text_of(signed_in.get(link))
    assert "No endpoint has a delivery" in text_of(signed_in.get("/webhooks/search?event=evt_0000000000000000"))
    empty = signed_in.get("/webhooks/search?event=")
    assert empty.status_code == 422 and "Enter an event id" in page(empty).select_one(".field-errors").get_text()


def test_the_debugger_opens_filled_from_a_delivery_and_with_a_kept_secret_says_only_yes_or_no(app, signed_in, simulator):
    register_portal_receiver(signed_in)
    receiver, secret = receiver_of(app)
    hook = receiver.webhook_id
    signed_in.post(f"/webhooks/{hook}/test", data={"csrf_token": csrf(signed_in, f"/webhooks/{hook}")})
    simulator.deliver_due()
    delivery = newest(simulator, hook)
    detail = signed_in.get(f"/webhooks/{hook}/deliveries/{delivery.id}")
    link = page(detail).find("a", string="Check the signature")["href"]
    debugger = signed_in.get(link)
    html = page(debugger)
    sent = delivery.history[-1]["headers"]
    assert sent["X-SIR-Signature"] in html.select_one("textarea[name=headers]").get_text()
    assert json.loads(html.select_one("textarea[name=body]").get_text()) == json.loads(delivery.payload)
    assert html.select_one("#receiver_choice option[selected]")["value"] == hook
    assert "matches" in text_of(debugger)
    assert secret not in debugger.get_data(as_text=True)
    assert not html.select("code.expected") and html.select_one(".expected-withheld")  # nothing to copy


def test_a_delivery_without_a_kept_secret_is_checked_only_with_a_pasted_one(signed_in, simulator, legacy):
    delivery = newest(simulator, legacy, status="failed")
    debugger = signed_in.get(f"/webhooks/debugger?webhook={legacy}&delivery={delivery.id}")
    assert debugger.status_code == 200
    assert "Choose an endpoint whose secret the portal keeps" in text_of(debugger)
    assert page(debugger).select_one("#receiver_choice option[selected]") is None or \
        page(debugger).select_one("#receiver_choice option[selected]")["value"] == ""


def test_delivery_pages_read_newer_and_older_and_keep_the_filters(signed_in, simulator, legacy):
    first = page(signed_in.get(f"/webhooks/{legacy}?type=action.completed"))
    older = first.select_one("nav.pagination a[rel=next]")
    assert older.get_text(strip=True) == "Older →" and "type=action.completed" in older["href"]
    second = page(signed_in.get(older["href"]))
    newer = second.select_one("nav.pagination a[rel=prev]")
    assert newer.get_text(strip=True) == "← Newer" and "type=action.completed" in newer["href"]
    rows = second.select("table.deliveries-table tbody tr")
    assert rows and all("action.completed" in r.get_text() for r in rows)
    newest_of_second = second.select_one("table.deliveries-table tbody tr time")["datetime"]
    oldest_of_first = first.select("table.deliveries-table tbody tr")[-1].select_one("time")["datetime"]
    assert newest_of_second <= oldest_of_first
