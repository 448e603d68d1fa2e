"""Token pools in a real browser: request a top-up starting from the low-balance banner."""

from tests.browser.conftest import sign_in


def test_a_top_up_requested_from_the_banner_lands_as_pending(page, live_server):
    sign_in(page, live_server, "globex")
    banner = page.locator(".banner a:has-text('Request a top-up')").first
    banner.click()
    page.wait_for_selector("form#top-up-form")
    page.fill("textarea[name=reason]", "")
    page.click("button:has-text('Review request')")
    page.wait_for_selector("form#top-up-form .field-errors")  # validated in place, by htmx
    assert "Say why the pool needs more tokens" in page.locator("form#top-up-form").inner_text()
    page.fill("input[name=amount]", "30000")
    page.fill("textarea[name=reason]", "Giving week is drawing faster than planned")
    page.click("button:has-text('Review request')")
    page.wait_for_selector("form#top-up-confirm")
    assert "30,000 tokens" in page.locator(".confirm-amount").inner_text()
    page.click("button:has-text('Send request to SIR Giving')")
    page.wait_for_url("**/token-pools/requests?status=pending")
    assert "Requested 30,000 tokens" in page.locator(".flash").inner_text()
    first_row = page.locator("table tbody tr").first
    assert "30,000" in first_row.inner_text() and "pending" in first_row.inner_text()
