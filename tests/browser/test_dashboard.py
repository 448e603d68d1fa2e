"""The overview in a real browser: every card filled, every chart drawn, no console error or CSP violation."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import sign_in

CHARTS = ["chart-trends", "chart-top-earners", "chart-api-usage", "chart-campaign"]


def test_the_overview_fills_every_card_and_draws_every_chart(page, live_server):
    sign_in(page, live_server, "acme")
    page.wait_for_function("document.querySelectorAll('[data-card]').length === 9 && "
                           "document.querySelectorAll('[data-card].is-loading').length === 0")
    for chart in CHARTS:
        page.wait_for_selector(f"#{chart}[data-chart-drawn=true] .main-svg", timeout=15000)
    assert page.locator("#card-top-earners table tbody tr").count() == 10


def test_a_range_change_swaps_only_that_card_and_updates_the_url(page, live_server):
    sign_in(page, live_server, "acme")
    summary_before = page.locator("#card-summary .updated time").get_attribute("datetime")
    page.click("#card-trends nav.card-controls a:has-text('7 days')")
    page.wait_for_selector("#card-trends nav.card-controls a[aria-current=true]:has-text('7 days')")
    page.wait_for_selector("#chart-trends[data-chart-drawn=true]")
    expect(page).to_have_url(re.compile(r"[?&]trend_days=7"))  # pushed by htmx, reported a moment later
    assert "last 7 days" in page.locator("#card-trends .trend-totals").inner_text()
    assert page.locator("#card-summary .updated time").get_attribute("datetime") == summary_before
    page.click("#card-trends .chart-table-toggle")
    assert page.locator("#chart-trends-table").is_visible()
