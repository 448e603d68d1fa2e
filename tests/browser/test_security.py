"""Security in a real browser: a name with plotly markup is drawn as text, never as a link; after signing out,
Back shows no private page (pages are no-store, so the browser kept none)."""

from __future__ import annotations

import json

import plotly.io
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, open_page, sign_in, urlpath
from tests.browser.fakesite import serve
from tests.browser.test_app_js import chart_markup
from webapp import charts
from webapp.sir.models import TopEarner

LINK = '<a href="https://evil.example/">Click me</a>'


def test_a_user_named_like_a_link_is_drawn_as_text_not_as_a_link(page):
    earners = [TopEarner(rank=1, external_user_id="u-1", name=LINK, email=None, tokens=300, active_days=2),
               TopEarner(rank=2, external_user_id="u-2", name="Ada Lovelace", email=None, tokens=200, active_days=2)]
    figure = json.loads(plotly.io.to_json(charts.top_earners_chart(earners)))
    base = serve(page, {"/": "<body><main>" + chart_markup("earners", figure) + "</main></body>"})
    page.goto(base + "/")
    page.wait_for_selector("#earners[data-chart-drawn=true] .main-svg")
    assert page.locator("#earners a").count() == 0
    ticks = page.locator("#earners .ytick text").evaluate_all("texts => texts.map(t => t.textContent)")
    assert LINK in ticks and "Ada Lovelace" in ticks


@pytest.fixture
def browser_with_back_forward_cache(browser):
    """Chromium as people run it: Playwright turns the back/forward cache off by default, which would hide
    the problem (a page kept in memory and shown again by Back)."""
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                           ignore_default_args=["--disable-back-forward-cache"])
    yield chromium
    chromium.close()


def test_back_after_signing_out_shows_no_private_page(browser_with_back_forward_cache, live_server):
    problems: list[str] = []
    page = open_page(browser_with_back_forward_cache, problems)
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/audit/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#audit-entries tbody tr").count() > 0
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state("networkidle")
    assert urlpath(page.url) == "/login"
    page.go_back(wait_until="commit")  # a page restored from the back/forward cache fires no new "load"
    page.wait_for_load_state("networkidle")
    assert page.locator("#audit-entries").count() == 0
    assert urlpath(page.url) == "/login"
    page.context.close()
    assert not problems, problems
