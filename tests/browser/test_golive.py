"""The go-live checklist in a real browser: reached from the production switch, a row's fixing action switches to
production and comes back, the fixed row shows green, and a row refreshes in place."""

from tests.browser.conftest import sign_in, urlpath


def state_of(page, row_id: str) -> str:
    return page.get_attribute(f"#golive-{row_id}", "data-state")


def test_the_admin_fixes_a_row_from_the_checklist_and_sees_it_turn_green(page, live_server):
    sign_in(page, live_server, "acme")
    assert page.locator("nav.mainnav a", has_text="Go live").count() == 1  # no production key yet: not live

    page.locator(".env-switch ~ a", has_text="Go-live checklist").click()
    page.wait_for_url(lambda url: urlpath(url) == "/go-live/")
    assert page.locator("li.golive-row").count() == 8
    assert state_of(page, "live_keys") == "passed"  # Acme's "Live backend" pair
    assert state_of(page, "credential_signs") == "needs you"

    # Its action switches to production, opens the portal-key set-up, and comes back here.
    page.locator("#golive-credential_signs button", has_text="Give the portal a production key").click()
    page.wait_for_url(lambda url: urlpath(url) == "/onboarding/")
    page.get_by_role("button", name="Create a portal key").click()
    page.wait_for_url(lambda url: urlpath(url) == "/go-live/")
    assert state_of(page, "credential_signs") == "passed"
    assert "succeeded just now" in page.inner_text("#golive-credential_signs")

    # One row checked again in place: the page stays, the row is swapped.
    page.evaluate("document.body.dataset.untouched = 'yes'")
    with page.expect_response(lambda r: "/go-live/rows/partner_record" in r.url):
        page.locator("#golive-partner_record button", has_text="Refresh").click()
    page.wait_for_selector("#golive-partner_record[data-state='passed']")
    assert page.evaluate("document.body.dataset.untouched") == "yes"
    assert "Rate limit: 600 requests a minute" in page.inner_text("#golive-partner_record")
