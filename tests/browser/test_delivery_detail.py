"""A delivery in a real browser: found by its event id from the webhooks page, its page shows every attempt,
the headers and the envelope under the strict CSP, and a retry from it appears as a new attempt by itself."""

from playwright.sync_api import expect

from tests.browser.conftest import poll_until, sign_in


def test_a_delivery_found_by_its_event_id_shows_every_attempt_and_a_retry_adds_one(page, live_server):
    page.clock.install()  # the delivery's attempts refresh every 5 s while it settles: move time on
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/webhooks/")
    page.locator("table.webhooks-table tr", has_text="legacy.acme.example").get_by_role("link", name="Deliveries").click()
    page.select_option("select[name=status]", "failed")
    page.click("button:has-text('Apply')")
    newest = page.locator("table.deliveries-table tbody tr").first
    event_id = newest.locator("td").nth(1).locator(".mono").inner_text().strip()
    attempts = int(newest.locator("td.num").inner_text())
    assert attempts == 6  # the legacy endpoint has failed every retry

    page.goto(live_server + "/webhooks/")
    page.fill("#event-search", event_id)
    page.click("form.delivery-search button")
    found = page.locator("table.search-table tbody tr")
    expect(found).to_have_count(2)  # the event went to both of Acme's endpoints
    found.filter(has_text="legacy.acme.example").get_by_role("link").click()

    expect(page.locator("h1")).to_contain_text("Delivery of")
    expect(page.locator("table.attempts-table tbody tr")).to_have_count(attempts)
    expect(page.locator("table.headers-table")).to_contain_text("sha256=")
    expect(page.locator("table.headers-table")).to_contain_text("(cut short)")
    expect(page.locator("pre.json-view")).to_contain_text(f'"id": "{event_id}"')
    expect(page.locator("#delivery-attempts")).to_contain_text("No more automatic retries")

    page.click("button:has-text('Retry now')")
    expect(page.locator(".flash")).to_contain_text("Retry queued")
    # SIR Giving sends it again (legacy.acme.example never resolves): the attempt appears without a reload.
    poll_until(page, page.locator("table.attempts-table tbody tr").nth(attempts), every_ms=5000)
    expect(page.locator("table.attempts-table tbody tr").first).to_contain_text("could not resolve host")


def test_the_recover_page_sends_a_test_event_and_warns_while_the_endpoint_is_not_answering(page, live_server):
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/webhooks/")
    page.locator("table.webhooks-table tr", has_text="legacy.acme.example").get_by_role("link", name="Deliveries").click()
    page.fill("input[name=since]", "2026-01-01T00:00")
    page.click("button:has-text('Count them')")
    count = int(page.locator(".recover-count strong").inner_text())
    # On its own: the test event is sent as the page loads, and its answer shows once SIR Giving has tried it.
    expect(page.locator("#probe.probe-failing")).to_contain_text("not answering", timeout=30000)
    expect(page.locator("#probe")).to_contain_text("could not resolve host legacy.acme.example")
    expect(page.get_by_role("button", name=f"Retry {count} deliveries")).to_be_enabled()  # a warning, not a block
