"""plotly.js 4.1.1 (basic bundle) under the portal's strict CSP, `style-src 'self' 'nonce-…'`: the standalone
check behind the finding in static/README.md.

plotly.js has no nonce option. It looks for `<style id="plotly.js-style-global">`, creates an empty one if it is
missing (which the CSP refuses), and adds its rules with CSSOM `insertRule`, which CSP does not police. base.html
creates that element up front with the request's nonce, so the element is allowed and plotly fills it. What CSP does refuse is a `style` attribute
set from markup in chart text (`<span style=…>` in a title or label) and the colour bar's `style=""`, so figures
use layout/trace properties for colour and never show a colour scale.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from types import SimpleNamespace

import plotly.io

from tests.browser.conftest import open_page, settle, wait_until
from tests.browser.fakesite import serve
from tests.browser.test_app_js import chart_markup
from webapp import charts


def house_figure() -> dict:
    """A real figure from webapp/charts.py: bars, a line on a second axis, dates, unified hover, a legend."""
    start = date(2026, 1, 1)
    daily = [SimpleNamespace(date=(start + timedelta(days=i)).isoformat(), tokens=1000 + 37 * i, actions=40 + i)
             for i in range(14)]
    return json.loads(plotly.io.to_json(charts.trends_chart(SimpleNamespace(daily=daily, days=14))))


PIE = {"data": [{"type": "pie", "labels": ["Sandbox", "Production"], "values": [3, 4]}], "layout": {"height": 260}}


def test_charts_draw_and_respond_with_no_csp_violation(page):
    base = serve(page, {"/": "<body><main>" + chart_markup("trend", house_figure()) + chart_markup("pie", PIE)
                        + "</main></body>"})
    page.goto(base + "/")
    page.wait_for_selector("#trend[data-chart-drawn=true] .main-svg")
    page.wait_for_selector("#pie[data-chart-drawn=true] .main-svg")

    # plotly's rules went into the nonce'd element base.html provides, and they apply.
    assert page.evaluate("document.querySelectorAll('style').length") == 1
    assert page.evaluate("document.getElementById('plotly.js-style-global').sheet.cssRules.length") > 10
    assert page.evaluate("getComputedStyle(document.querySelector('#trend .main-svg')).position") == "absolute"

    # Hover labels, a slice hover and a responsive relayout create styled SVG at run time.
    box = page.locator("#trend .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#trend .hoverlayer g")
    page.locator("#pie .slice").first.hover()
    page.set_viewport_size({"width": 400, "height": 800})
    wait_until(page, "document.querySelector('#trend .main-svg').getAttribute('width') <= 400")
    # The `page` fixture settles the page, then fails the test on any CSP violation or console error.


def test_without_the_nonced_element_plotlys_own_style_element_is_refused(browser):
    # The negative control: plotly's own (empty) <style> is refused (style-src-elem, the hash of "") and the
    # chart loses plotly's stylesheet. This is why base.html provides the element with the nonce.
    problems: list[str] = []
    page = open_page(browser, problems)
    base = serve(page, {"/": "<body>" + chart_markup("trend", house_figure()) + "</body>"}, nonce_style=False)
    page.goto(base + "/")
    page.wait_for_selector("#trend[data-chart-drawn=true] .main-svg")
    assert page.evaluate("document.getElementById('plotly.js-style-global').sheet") is None
    assert any(p.startswith("CSP violation: style-src-elem") for p in problems), problems
    page.context.close()


def test_inline_style_markup_in_chart_text_is_refused_so_figures_must_not_use_it(browser):
    problems: list[str] = []
    page = open_page(browser, problems)
    figure = house_figure()
    figure["layout"]["title"]["text"] = 'Tokens <span style="color:#b42318">falling</span>'
    base = serve(page, {"/": "<body>" + chart_markup("trend", figure) + "</body>"})
    page.goto(base + "/")
    page.wait_for_selector("#trend[data-chart-drawn=true] .main-svg")
    settle(page)  # the violation, raised while the chart was drawn, has been reported
    assert any("CSP violation: style-src-attr" in p for p in problems), problems
    page.context.close()


def test_house_figures_carry_no_inline_style_markup():
    text = json.dumps(house_figure())
    assert "style=" not in text and "showscale" not in text
