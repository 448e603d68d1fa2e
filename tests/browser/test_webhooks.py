"""Webhooks in a real browser: a test event sent to the portal's own receiver shows up live on the events page."""

from tests.browser.conftest import sign_in


def test_a_test_event_arrives_live_on_the_events_page(page, live_server):
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/webhooks/new")
    page.check("input[name=use_portal_receiver]")
    page.check("input[name=event_types][value='action.completed']")
    page.click("button:has-text('Register')")
    page.wait_for_selector("#webhook-secret")
    assert page.locator("#webhook-secret").inner_text().startswith("whsec_")
    page.click("button:has-text('I have stored it')")
    page.locator("table.webhooks-table tr", has_text="portal receiver").locator("a").first.click()
    deliveries_url = page.url

    events = page.context.new_page()  # the events page is open while the event is sent
    events.goto(live_server + "/webhooks/events")
    assert events.locator("table.events-table").count() == 0

    page.goto(deliveries_url)
    page.click("button:has-text('Send a test event')")
    events.wait_for_selector("table.events-table tbody tr:has-text('webhook.test')", timeout=15000)
    page.wait_for_selector("table.deliveries-table tbody tr:has-text('succeeded')", timeout=15000)
    events.close()
