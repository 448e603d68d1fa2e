"""API keys in a real browser: roll the portal's own key from the keys page."""

from tests.browser.conftest import sign_in


def test_rolling_the_portals_key_from_the_keys_page(page, live_server):
    sign_in(page, live_server, "acme")
    page.click("nav[aria-label=Main] a:has-text('API keys')")
    portal_row = page.locator("table.keys-table tbody tr", has_text="portal signs with this")
    portal_row.locator("a:has-text('Roll key')").click()
    page.check("input[name=grace][value='1h']")
    page.click("button:has-text('Create the replacement')")
    page.wait_for_selector("#new-secret-key")
    secret = page.locator("#new-secret-key").inner_text()
    assert secret.startswith("sk_test_")
    page.click("button:has-text('I have stored these — continue')")
    page.wait_for_selector("table.traffic")
    assert "stops working" in page.locator("main").inner_text()
    steps = page.locator("ol.rotation-steps li.done").count()
    assert steps == 5
    page.goto(live_server + "/")  # the overview still loads, now signed with the new key
    page.wait_for_selector("#card-summary .tile-value")
    page.goto(live_server + "/keys/")
    assert page.locator("table.keys-table tbody tr", has_text="portal signs with this").count() == 1
    assert secret not in page.content()
