"""One endpoint's deliveries: filters and pages (also in the live refresh), retry one, recover every failed
delivery since a moment in bounded steps, a test event end to end, and the CSV export."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from bs4 import BeautifulSoup

from tests.conftest import form_values, page, text_of
from tests.webhooks.helpers import csrf, receiver_of, register_portal_receiver, stored_events, webhook_id_of
from webapp.sir import errors


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


@pytest.fixture
def legacy(signed_in):
    return webhook_id_of(signed_in, "legacy.acme.example")


def of_hook(simulator, hook, **match):
    return [d for d in simulator.deliveries.values() if d.webhook_id == hook
            and all(getattr(d, k) == v for k, v in match.items())]


def rows(response):
    return page(response).select("table.deliveries-table tbody tr")


def test_each_delivery_shows_its_event_time_attempts_response_and_body_excerpt(signed_in, simulator, legacy):
    newest = max(of_hook(simulator, legacy, status="failed"), key=lambda d: d.created_at)
    row = page(signed_in.get(f"/webhooks/{legacy}?status=failed")).select_one(f"#delivery-{newest.id}")
    cells = [c.get_text(" ", strip=True) for c in row.select("td")]
    assert newest.event_type in cells[1] and newest.event_id in cells[1]
    assert row.select_one("td time")["datetime"] == datetime.fromtimestamp(newest.created_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cells[2].startswith("failed") and cells[3] == str(newest.attempts)
    assert f"HTTP {newest.response_status}" in cells[4] and "Service Unavailable" in row.select_one(".response-excerpt").get_text()
    assert row.select_one("button").get_text() == "Retry"


def test_deliveries_filter_by_status_and_come_in_pages(signed_in, simulator, legacy):
    # How many failed depends on the day the demo data ends on: compare with the simulator, page size 25.
    failed_response = signed_in.get(f"/webhooks/{legacy}?status=failed")
    failed, all_failed = rows(failed_response), of_hook(simulator, legacy, status="failed")
    assert len(failed) == min(25, len(all_failed)) and f"{len(all_failed)} deliveries" in text_of(failed_response)
    assert all(r.select_one(".badge").get_text() == "failed" for r in failed)
    everything = of_hook(simulator, legacy)
    first = signed_in.get(f"/webhooks/{legacy}")
    assert len(rows(first)) == 25 and f"{len(everything)} deliveries" in text_of(first)
    pages = -(-len(everything) // 25)
    assert f"Page 1 of {pages}" in text_of(first)
    second = signed_in.get(page(first).select_one("a[rel=next]")["href"])
    assert f"Page 2 of {pages}" in text_of(second)
    assert not {r["id"] for r in rows(first)} & {r["id"] for r in rows(second)}
    newest_first = sorted(everything, key=lambda d: -d.created_at)
    assert rows(first)[0]["id"] == f"delivery-{newest_first[0].id}"


def test_deliveries_filter_by_event_type_and_by_day(signed_in, simulator, legacy):
    failed_actions = of_hook(simulator, legacy, event_type="action.failed")
    shown = rows(signed_in.get(f"/webhooks/{legacy}?type=action.failed"))
    assert {r["id"] for r in shown} == {f"delivery-{d.id}" for d in failed_actions}
    day = datetime.fromtimestamp(max(d.created_at for d in of_hook(simulator, legacy)), timezone.utc).strftime("%Y-%m-%d")
    on_that_day = [d for d in of_hook(simulator, legacy)
                   if datetime.fromtimestamp(d.created_at, timezone.utc).strftime("%Y-%m-%d") == day]
    response = signed_in.get(f"/webhooks/{legacy}?from={day}&to={day}")
    assert f"{len(on_that_day)} deliver" in page(response).select_one("#deliveries .card-title").get_text()
    form = page(response).select_one("form.deliveries-filters")
    assert form.select_one("input[name=from]")["value"] == day and form.select_one("input[name=to]")["value"] == day


def test_the_live_refresh_keeps_the_filters_and_the_page(signed_in, simulator, legacy):
    shown = page(signed_in.get(f"/webhooks/{legacy}?status=failed&type=action.completed&page=1"))
    poll = shown.select_one("#deliveries")
    assert poll["hx-trigger"].startswith("every 5s")
    refreshed = signed_in.get(poll["hx-get"], headers={"HX-Request": "true"})
    assert refreshed.status_code == 200
    fragment = page(refreshed)
    assert fragment.select_one("h1") is None  # the table alone, not the whole page
    expected = of_hook(simulator, legacy, status="failed", event_type="action.completed")
    assert len(fragment.select("table.deliveries-table tbody tr")) == min(25, len(expected))
    second = page(signed_in.get(f"/webhooks/{legacy}?page=2")).select_one("#deliveries")["hx-get"]
    assert "page=2" in second


def test_a_bad_filter_value_is_named_and_ignored(signed_in, legacy):
    response = signed_in.get(f"/webhooks/{legacy}?status=lost&from=yesterday")
    assert response.status_code == 200
    shown = text_of(response)
    assert "“lost” is not a delivery status" in shown and "From: enter a date like 2026-11-24" in shown
    assert len(rows(response)) == 25


def test_retry_one_failed_delivery_sends_it_again(signed_in, simulator, legacy):
    row = rows(signed_in.get(f"/webhooks/{legacy}?status=failed"))[0]
    delivery_id = row["id"].removeprefix("delivery-")
    attempts = simulator.deliveries[delivery_id].attempts
    form = row.select_one("form")
    response = signed_in.post(form["action"], data={"csrf_token": form.select_one("input")["value"]})
    assert response.status_code == 302 and "status=failed" in response.headers["Location"]
    assert "Retry queued" in text_of(signed_in.get(response.headers["Location"]))
    assert simulator.deliveries[delivery_id].status == "pending"
    assert simulator.deliver_due() >= 1
    assert simulator.deliveries[delivery_id].attempts == attempts + 1
    assert "delivery retried" in text_of(signed_in.get("/audit/"))


def test_retrying_a_delivery_that_already_succeeded_says_so_and_changes_nothing(signed_in, simulator):
    hook = webhook_id_of(signed_in, "hooks.acme.example/sir")
    done = of_hook(simulator, hook, status="succeeded")[0]
    response = signed_in.post(f"/webhooks/{hook}/deliveries/{done.id}/retry", data={"csrf_token": csrf(signed_in)})
    assert "already succeeded" in text_of(signed_in.get(response.headers["Location"]))
    assert simulator.deliveries[done.id].status == "succeeded"


def test_recover_counts_first_then_retries_every_failed_delivery_in_bounded_steps(signed_in, simulator, legacy):
    failed_before = of_hook(simulator, legacy, status="failed")
    since = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 8 * 86400))
    preview = signed_in.get(f"/webhooks/{legacy}/recover?since={since}")
    count = len(failed_before)
    assert f"{count} failed deliveries since {since.replace('T', ' ')} UTC will be retried" in text_of(preview)
    assert all(d.status == "failed" for d in failed_before)  # counting sent nothing
    started = signed_in.post(f"/webhooks/{legacy}/recover", data=form_values(preview, "form#recover-form"))
    progress_url = started.headers["Location"]
    shown = page(signed_in.get(progress_url))
    assert f"0 of {count} retried" in shown.get_text()
    assert shown.select_one("progress")["max"] == str(count)
    assert all(d.status == "failed" for d in failed_before)  # showing the progress sends nothing either
    step = shown.select_one("#recovery-progress")["hx-post"]
    seen = []
    for _ in range(10):
        fragment = page(signed_in.post(step, headers={"HX-Request": "true", "X-CSRFToken": csrf(signed_in)}))
        seen.append(int(fragment.select_one("progress")["value"]))
        if fragment.select_one("#recovery-progress")["data-state"] == "finished":
            break
    assert seen == [min(count, 10 * n) for n in range(1, len(seen) + 1)]  # at most 10 per step
    assert f"{count} of {count} retried: how each one landed is below." in fragment.get_text()
    assert not fragment.select_one("#recovery-progress").has_attr("hx-post")
    assert sorted(d.id for d in of_hook(simulator, legacy, status="pending")) == sorted(d.id for d in failed_before)
    assert simulator.deliver_due() == count
    assert "deliveries recovered" in text_of(signed_in.get("/audit/"))


def test_recover_only_counts_failures_since_the_chosen_moment(signed_in, simulator, legacy):
    failed = sorted(of_hook(simulator, legacy, status="failed"), key=lambda d: d.created_at)
    moment = datetime.fromtimestamp(failed[-3].created_at, timezone.utc).replace(second=0)
    since = moment.strftime("%Y-%m-%dT%H:%M")
    expected = [d for d in failed if d.created_at >= moment.timestamp()]
    preview = signed_in.get(f"/webhooks/{legacy}/recover?since={since}")
    assert page(preview).select_one(".recover-count strong").get_text() == str(len(expected))


def test_recover_refuses_a_bad_or_future_moment_and_sends_nothing(signed_in, simulator, legacy):
    bad = signed_in.get(f"/webhooks/{legacy}/recover?since=soon")
    assert bad.status_code == 422 and "Enter a date and time like" in text_of(bad)
    future = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 86400))
    later = signed_in.get(f"/webhooks/{legacy}/recover?since={future}")
    assert later.status_code == 422 and "in the future" in text_of(later)
    assert not of_hook(simulator, legacy, status="pending")


def test_a_test_event_goes_end_to_end_into_the_receiver_and_onto_the_events_page(app, signed_in, simulator):
    _, shown = register_portal_receiver(signed_in)
    receiver, secret = receiver_of(app)
    assert page(shown).select_one("#webhook-secret").get_text() == secret
    hook = receiver.webhook_id
    sent = signed_in.post(f"/webhooks/{hook}/test", data={"csrf_token": csrf(signed_in, f"/webhooks/{hook}")})
    after = signed_in.get(sent.headers["Location"])
    assert "Test event" in text_of(after) and "Events page" in text_of(after)
    pending = rows(after)[0]
    assert "webhook.test" in pending.get_text() and "pending" in pending.get_text()
    assert stored_events(app) == []
    assert simulator.deliver_due() == 1  # the simulator signs and posts to /hooks/<token>, in process
    (stored,) = stored_events(app)
    assert stored.event_type == "webhook.test"
    events = page(signed_in.get("/webhooks/events")).select("table.events-table tbody tr")
    assert len(events) == 1 and events[0].select_one(".badge").get_text() == "webhook.test"
    assert stored.event_id in events[0].get_text()
    delivery = rows(signed_in.get(f"/webhooks/{hook}?refresh=1"))[0]
    assert "succeeded" in delivery.get_text() and "HTTP 200" in delivery.get_text()


def test_deliveries_export_as_csv_with_the_same_filters_and_without_bodies(signed_in, simulator, legacy):
    link = page(signed_in.get(f"/webhooks/{legacy}?status=failed&type=action.completed")).find("a", string=lambda s: s and "Export CSV" in s)
    response = signed_in.get(link["href"])
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    exported = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = of_hook(simulator, legacy, status="failed", event_type="action.completed")
    assert {r["delivery_id"] for r in exported} == {d.id for d in expected}
    assert set(exported[0]) == {"delivery_id", "event_id", "event_type", "status", "attempts", "response_status",
                                "error", "created_at", "last_attempt_at", "next_retry_at"}
    body = response.get_data(as_text=True)
    assert "Service Unavailable" not in body and json.loads(expected[0].payload)["data"].get("actionId", "~") not in body
    everything = list(csv.DictReader(io.StringIO(signed_in.get(f"/webhooks/{legacy}/deliveries.csv").get_data(as_text=True))))
    assert len(everything) == len(of_hook(simulator, legacy)) > 25  # every page, not just the first


def test_without_javascript_a_recovery_advances_one_step_per_click(signed_in, simulator, legacy):
    preview = signed_in.get(f"/webhooks/{legacy}/recover?since=2026-01-01T00:00")
    count = int(page(preview).select_one(".recover-count strong").get_text())
    started = signed_in.post(f"/webhooks/{legacy}/recover", data=form_values(preview, "form#recover-form"))
    noscript = page(signed_in.get(started.headers["Location"])).select_one("#recovery-progress noscript")
    form = BeautifulSoup(noscript.decode_contents(), "html5lib").select_one("form")  # what a browser without JS shows
    assert form.get_text(strip=True) == "Retry the next 10"
    clicked = signed_in.post(form["action"], data={"csrf_token": form.select_one("input[name=csrf_token]")["value"]})
    assert clicked.status_code == 302 and clicked.headers["Location"] == started.headers["Location"]
    assert f"10 of {count} retried" in text_of(signed_in.get(clicked.headers["Location"]))
    assert len(of_hook(simulator, legacy, status="pending")) == 10


def exported(response):
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_deliveries_export_writes_a_formula_from_upstream_as_text(signed_in, simulator, legacy):
    hostile = sorted(of_hook(simulator, legacy), key=lambda d: d.id)[:5]
    texts = ['=HYPERLINK("https://evil.example","open")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1"]
    for delivery, text in zip(hostile, texts):
        delivery.event_type, delivery.error = text, "\r" + text
    rows = {r["delivery_id"]: r for r in exported(signed_in.get(f"/webhooks/{legacy}/deliveries.csv"))}
    for delivery, text in zip(hostile, texts):
        assert rows[delivery.id]["event_type"] == "'" + text
        assert rows[delivery.id]["error"] == "'\r" + text


def test_the_deliveries_export_streams_its_rows_with_the_download_headers(signed_in, simulator, legacy):
    response = signed_in.get(f"/webhooks/{legacy}/deliveries.csv?status=failed", buffered=False)
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.mimetype == "text/csv" and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == f"attachment; filename=deliveries-{legacy}-failed.csv"
    failed = of_hook(simulator, legacy, status="failed")
    rows = exported(response)
    assert len(rows) == len(failed) and {r["delivery_id"] for r in rows} == {d.id for d in failed}
    for row in rows:
        delivery = simulator.deliveries[row["delivery_id"]]
        assert (row["event_id"], row["event_type"], row["status"], row["attempts"], row["response_status"]) == \
            (delivery.event_id, delivery.event_type, "failed", str(delivery.attempts), str(delivery.response_status))


def test_a_refused_export_is_a_page_that_says_so_not_a_broken_download(signed_in, simulator, legacy):
    simulator.add_fault(method="GET", path=f"/v1/partner/webhooks/{legacy}/deliveries", status=503, count=1)
    response = signed_in.get(f"/webhooks/{legacy}/deliveries.csv")
    assert response.status_code == 502 and response.mimetype == "text/html"
    assert "attachment" not in response.headers.get("Content-Disposition", "")


def test_the_deliveries_export_reads_its_later_pages_only_while_it_streams(signed_in, simulator, legacy):
    seeded = of_hook(simulator, legacy)
    for n in range(250 - len(seeded)):  # three pages of 100
        copy = replace(seeded[n % len(seeded)], id=f"dlv_copy_{n:04d}", created_at=seeded[0].created_at - n)
        simulator.deliveries[copy.id] = copy
        simulator.deliveries_by_hook[legacy].append(copy)

    response = signed_in.get(f"/webhooks/{legacy}/deliveries.csv", buffered=False)  # sent: its headers, and the first page read
    simulator.add_fault(method="GET", path=f"/v1/partner/webhooks/{legacy}/deliveries", status=503)
    with pytest.raises(errors.SirError):  # the second page is asked for only now, and ends the download unfinished
        response.get_data()
    simulator.clear_faults()
    assert len(exported(signed_in.get(f"/webhooks/{legacy}/deliveries.csv"))) == 250
