"""The shell in a real browser: sign in on the embedded default and land on the overview cleanly; the header,
navigation, environment badge, landmarks and error pages. Every test fails on a console error or a CSP
violation (the `page` fixture)."""

from playwright.sync_api import expect

from tests.browser.conftest import CHARTS_DRAWN, sign_in, sign_in_through_the_form, urlpath, wait_until


def test_signing_in_lands_on_the_overview_with_no_console_error_or_csp_violation(page, live_server):
    sign_in_through_the_form(page, live_server, "acme")
    assert urlpath(page.url) == "/"
    assert page.title().startswith("Overview")
    assert page.locator("h1").first.inner_text() == "Overview"
    # plotly loaded and every chart drawn: any problem on the way has been reported (the `page` fixture).
    wait_until(page, CHARTS_DRAWN)


def test_the_header_shows_nav_partner_admin_and_environment(page, live_server):
    sign_in(page, live_server, "acme")
    assert page.locator(".partner-name").inner_text() == "Acme Rewards"
    assert page.locator(".admin-email").inner_text() == "admin@acme.example"
    assert page.locator(".env-badge").inner_text() == "Sandbox"
    assert page.locator(".prod-bar").count() == 0
    nav = page.get_by_role("navigation", name="Main")
    assert [link.inner_text() for link in nav.get_by_role("link").all()] == [
        "Overview", "Campaigns", "API keys", "Token pools", "Webhooks", "Events", "Batches", "Alerts",
        "Audit log", "Go live"]  # Acme has no production key in the portal yet: it has not gone live
    assert nav.locator("a[aria-current=page]").inner_text() == "Overview"
    nav.get_by_role("link", name="Audit log").click()
    expect(nav.locator("a[aria-current=page]")).to_have_text("Audit log")


def test_landmarks_and_skip_link(page, live_server):
    sign_in(page, live_server, "globex")
    for role in ("banner", "main", "contentinfo"):
        assert page.get_by_role(role).count() == 1, role
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server + "/#main")  # the page's URL is reported a moment after the key


def test_switching_to_production_is_clearly_marked(page, live_server):
    sign_in(page, live_server, "globex")
    page.get_by_role("button", name="Switch to production").click()
    expect(page.locator(".env-badge")).to_have_text("Production")
    assert "live data" in page.locator(".prod-bar").inner_text()
    assert "env-production" in page.locator("body").get_attribute("class")
    page.get_by_role("button", name="Switch to sandbox").click()
    expect(page.locator(".env-badge")).to_have_text("Sandbox")


def test_the_sign_in_page_has_no_navigation(page, live_server):
    page.goto(live_server + "/login")
    assert page.get_by_role("navigation", name="Main").count() == 0
    assert page.get_by_label("Email").count() == 1 and page.get_by_label("Password").count() == 1


def test_a_missing_page_says_so_with_a_way_back(page, live_server):
    sign_in(page, live_server, "acme")
    response = page.goto(live_server + "/no-such-page")
    assert response.status == 404
    # Chromium logs the document's own 404 as a console error: expected here, and only that one.
    expected = [p for p in page.problems if "status of 404" in p]
    assert len(expected) == 1, page.problems
    page.problems.remove(expected[0])
    assert page.get_by_role("heading", name="Page not found").is_visible()
    page.get_by_role("link", name="Go to the overview").click()
    page.wait_for_url(live_server + "/")
    expect(page.locator("h1").first).to_have_text("Overview")


def test_the_overview_fits_a_360_pixel_screen(page, live_server):
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, live_server, "acme")
    wait_until(page, CHARTS_DRAWN)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
