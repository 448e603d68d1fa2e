"""Webhooks in a real browser: a test event sent to the portal's own receiver shows up live on the events page;
the deliveries list refreshes itself with its filters kept; a recovery runs in visible, bounded steps."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import poll_until, sign_in


def register_portal_receiver(page, live_server, description):
    page.goto(live_server + "/webhooks/new")
    page.check("input[name=use_portal_receiver]")
    page.fill("input[name=description]", description)
    page.check("input[name=event_types][value='action.completed']")
    page.click("button:has-text('Register')")
    page.wait_for_selector("#webhook-secret")
    assert page.locator("#webhook-secret").inner_text().startswith("whsec_")
    page.click("button:has-text('I have stored it')")
    page.locator("table.webhooks-table tr", has_text=description).get_by_role("link", name="Deliveries").click()
    expect(page.locator("#deliveries")).to_be_visible()
    return page.url


def test_a_test_event_arrives_live_on_the_events_page(page, live_server):
    page.clock.install()  # the events page refreshes every 3 s, the deliveries every 5 s: move time on
    sign_in(page, live_server, "acme")
    deliveries_url = register_portal_receiver(page, live_server, "Live events inbox")

    events = page.context.new_page()  # the events page is open while the event is sent
    events.goto(live_server + "/webhooks/events")
    assert events.locator("table.events-table").count() == 0

    page.goto(deliveries_url)
    page.click("button:has-text('Send a test event')")
    poll_until(events, events.locator("table.events-table tbody tr", has_text="webhook.test"), every_ms=3000)
    assert events.url == live_server + "/webhooks/events"  # arrived without a reload
    poll_until(page, page.locator("table.deliveries-table tbody tr", has_text="succeeded"), every_ms=5000)

    events.locator("table.events-table tbody tr", has_text="webhook.test").get_by_role("link", name="Check signature").click()
    expect(events.locator(".verdict")).to_contain_text("Signature matches")
    events.click("#debugger-form button:has-text('Check')")  # the same delivery, through the form (htmx)
    events.wait_for_selector("#debugger-result .signed-string")
    assert "Signature matches" in events.locator("#debugger-result .verdict").inner_text()
    events.close()


def test_the_deliveries_list_refreshes_itself_with_its_filters(page, live_server):
    page.clock.install()  # the list refreshes every 5 s: move time on instead of waiting
    sign_in(page, live_server, "acme")
    register_portal_receiver(page, live_server, "Filtered inbox")
    page.select_option("select[name=type]", "webhook.test")
    page.click("form.deliveries-filters button:has-text('Apply')")
    page.wait_for_url(re.compile(r".*[?&]type=webhook\.test"))
    expect(page.locator("#deliveries")).to_contain_text("No deliveries match these filters")
    filtered_url = page.url

    # The event is sent from outside this page (the form's own POST, with this session), so that only the
    # page's polling can bring it in. A second tab did the same, but closing it could hang Chromium for good.
    send_test = page.locator("form:has(button:has-text('Send a test event'))")
    sent = page.context.request.post(live_server + send_test.get_attribute("action"),
                                     form={"csrf_token": send_test.locator("input[name=csrf_token]").input_value()},
                                     max_redirects=0)
    assert sent.status == 302

    poll_until(page, page.locator("table.deliveries-table tbody tr", has_text="webhook.test"), every_ms=5000)
    assert page.url == filtered_url and "type=webhook.test" in page.url
    assert page.locator("select[name=type]").input_value() == "webhook.test"


def test_a_recovery_counts_first_then_shows_its_progress_to_the_end(page, live_server):
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/webhooks/")
    page.locator("table.webhooks-table tr", has_text="legacy.acme.example").get_by_role("link", name="Deliveries").click()
    page.fill("input[name=since]", "2026-01-01T00:00")
    page.click("button:has-text('Count them')")
    count = int(page.locator(".recover-count strong").inner_text())
    assert count > 10  # more than one step
    page.click(f"button:has-text('Retry {count} deliveries')")
    page.wait_for_selector("#recovery-progress[data-state=finished]", timeout=30000)
    assert re.search(rf"{count} of {count}\s+retried: how each one landed", page.locator(".recovery-status").inner_text())
    assert page.locator("progress").get_attribute("value") == str(count)
    page.click("text=see them in the list")
    expect(page.locator("table.deliveries-table tbody tr").first).to_be_visible()


def test_rotating_the_secret_of_the_portals_receiver_runs_to_the_end_with_the_proof_shown_live(page, live_server):
    from tests.browser.test_phone_and_a11y import violations  # axe-core, as the other pages are checked

    page.clock.install()  # the replacement's page polls the test event's answer every second: move time on
    sign_in(page, live_server, "acme")
    register_portal_receiver(page, live_server, "Rotating inbox")
    page.goto(live_server + "/webhooks/")
    page.locator("table.webhooks-table tr", has_text="Rotating inbox").get_by_role("link", name="Replace or rotate secret").click()
    assert not violations(page, "replace form")
    page.click("#replace-webhook button:has-text('Register the replacement')")  # unchanged: a new secret only
    expect(page.locator("#overlap")).to_contain_text("Receivers must de-duplicate by event id")
    expect(page.locator(".replacement-steps li.done")).to_have_count(2)  # registered; the portal took the secret
    assert not violations(page, "replacement")
    page.click("button:has-text('Send a test event')")
    poll_until(page, page.locator("#finish", has_text="The replacement answered the test event with HTTP 200"),
               every_ms=1000)
    assert not violations(page, "replacement proven")
    page.click("#finish button:has-text('Delete the old endpoint')")
    expect(page.locator(".replacement-done")).to_contain_text("Done. The old endpoint was deleted")
    page.goto(live_server + "/webhooks/")
    expect(page.locator("table.webhooks-table tr", has_text="Rotating inbox")).to_have_count(1)
