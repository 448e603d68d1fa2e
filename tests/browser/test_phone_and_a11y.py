"""The portal on a desktop and on a 390 px phone: an axe-core pass over every page state (violations printed),
the collapsed navigation, tables and charts that fit, overview ranges that live in the URL together, alerts
dismissed where they show, a console without CSP violations after htmx swaps, and focus where typing starts.

One live server and one browser for the module; one signed-in context per viewport, reused by every test.
axe-core comes from the axe-playwright-python package (pinned in requirements-dev.txt), injected through the
DevTools protocol, so the portal's CSP does not see it."""

from __future__ import annotations

import time

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import CARDS_FILLED, CHARTS_DRAWN, open_page, settle, sign_in, urlpath, wait_until

# Every chart on a page without overview cards drawn by plotly.
DRAWN = ("[...document.querySelectorAll('script[data-chart]')].every(s => "
         "document.getElementById(s.dataset.chart)?.getAttribute('data-chart-drawn') === 'true')")
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# Everything axe checks by default, plus the rule the refresh buttons failed (a visible label that is not
# part of the accessible name), which axe still ships switched off.
# No CSSOM preload: for a page with a shadow root (the streamed overview) axe copies the shadow tree's style
# sheet into a <style> element of its own, which the CSP refuses; only css-orientation-lock reads that copy.
AXE_OPTIONS = {"resultTypes": ["violations"], "rules": {"label-content-name-mismatch": {"enabled": True}},
               "preload": False}
AXE = Axe()


@pytest.fixture(scope="module")
def signed_in_state(browser, live_server):
    """Acme's signed-in cookies, made once for the module (the portal key is created on this first sign-in)."""
    problems: list[str] = []
    page = open_page(browser, problems)
    sign_in(page, live_server, "acme")
    state = page.context.storage_state()
    page.context.close()
    assert not problems, "\n".join(problems)
    return state


@pytest.fixture(scope="module", params=list(VIEWPORTS))
def viewport_page(request, browser, live_server, signed_in_state):
    """One signed-in page per viewport; what the browser reports (CSP, console errors) is in `.problems`."""
    problems: list[str] = []
    page = open_page(browser, problems, viewport=VIEWPORTS[request.param], storage_state=signed_in_state)
    page.viewport_name = request.param
    yield page
    page.context.close()


@pytest.fixture
def shown(viewport_page):
    """The viewport's page, with the problems it reported during the test checked at the end."""
    viewport_page.problems.clear()
    yield viewport_page
    settle(viewport_page)
    problems = list(viewport_page.problems)
    viewport_page.problems.clear()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


def violations(page, name: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line per element; printed under the state's name."""
    found = []
    for violation in AXE.run(page, options=AXE_OPTIONS).response["violations"]:
        for node in violation["nodes"]:
            found.append(f"{name}: {violation['id']} ({violation['impact']}): {violation['help']} at "
                         f"{' '.join(map(str, node['target']))}")
    print(f"axe on {name} ({page.url}): {len(found)} violation(s)")
    for line in found:
        print("   ", line)
    return found


def first_href(page, base_url: str, path: str, selector: str) -> str:
    page.goto(base_url + path)
    return page.locator(selector).first.get_attribute("href")




def test_every_page_state_passes_axe_with_no_violations(shown, live_server, browser):
    page, base = shown, live_server
    found: list[str] = []

    def check(name: str, path: str | None = None, ready: str | None = None, shows: str | None = None) -> None:
        if path is not None:
            page.goto(base + path)
        if shows:
            page.wait_for_selector(shows)
        if ready:
            wait_until(page, ready)
        found.extend(violations(page, f"{page.viewport_name} {name}"))

    check("overview", "/", CHARTS_DRAWN)
    check("campaigns", "/campaigns", DRAWN)
    check("keys list", "/keys/")
    key_page = first_href(page, base, "/keys/", "table.keys-table tbody td a[href^='/keys/']")
    check("key page", key_page)
    check("new key", "/keys/new")
    check("roll", key_page + "/roll")
    check("token pools", "/token-pools/", DRAWN)
    top_up = first_href(page, base, "/token-pools/", "a[href$='/top-up']")
    check("top-up", top_up)
    check("top-up requests", "/token-pools/requests")
    check("webhooks list", "/webhooks/")
    endpoint = first_href(page, base, "/webhooks/", "table.webhooks-table a:has-text('Deliveries')")
    check("webhook endpoint", endpoint)
    check("new webhook", "/webhooks/new")
    check("webhook debugger", "/webhooks/debugger")
    page.fill("textarea[name=headers]", "X-SIR-Timestamp: 1764000000\nX-SIR-Signature: sha256=00")
    page.fill("textarea[name=body]", '{"id": "evt_1"}')
    page.click("#debugger-form button[type=submit]")
    check("webhook debugger with a result", shows="#debugger-result .verdict")
    check("events", "/webhooks/events")
    check("audit log", "/audit/")
    check("onboarding", "/onboarding/")
    check("simulator controls", "/simulator/")
    check("404", "/no-such-page")
    settle(page)
    expected = "console error: Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
    page.problems.remove(expected)  # the browser's own note on the 404 asked for
    # Once-only secret pages: a key and an endpoint made for this viewport.
    page.goto(base + "/keys/new")
    page.fill("input[name=name]", f"axe key {page.viewport_name}")
    page.click("button:has-text('Create key')")
    check("new key's secrets", shows="#secret-key")
    page.click("button:has-text('I have stored these')")
    page.wait_for_selector("table.keys-table")
    # Rolling that key: the replacement's secrets (focus on the secret), then the roll in its grace period.
    page.locator("table.keys-table tbody tr", has_text=f"axe key {page.viewport_name}").locator("a:has-text('Roll key')").click()
    page.check("input[name=grace][value='1h']")
    page.click("button:has-text('Create the replacement')")
    check("roll with the replacement's secrets", shows="#new-secret-key")
    assert page.evaluate("document.activeElement.id") == "new-secret-key"
    page.click("button:has-text('I have stored these — continue')")
    check("roll in its grace period", shows="table.traffic")
    page.goto(base + "/webhooks/new")
    page.click("button:has-text('Register')")  # empty: every field's error in place, through htmx
    check("new webhook with errors", shows="#register-webhook .field-errors")
    page.fill("input[name=url]", f"https://{page.viewport_name}.example/hooks/a/b")
    page.check("input[name=event_types][value='action.completed']")
    page.click("button:has-text('Register')")
    check("new endpoint's secret", shows="#webhook-secret")
    signed_out = open_page(browser, page.problems, viewport=page.viewport_size)
    signed_out.goto(base + "/login")
    signed_out.viewport_name = page.viewport_name
    found.extend(violations(signed_out, f"{page.viewport_name} login"))
    signed_out.context.close()
    assert not found, f"{len(found)} axe violation(s):\n" + "\n".join(found)


def test_the_navigation_folds_into_a_menu_on_a_phone_and_shows_every_entry(shown, live_server):
    page = shown
    page.goto(live_server + "/keys/")
    menu = page.get_by_role("button", name="Menu")
    audit = page.locator("nav[aria-label=Main] a", has_text="Audit log")
    if page.viewport_name == "desktop":
        assert not menu.is_visible() and audit.is_visible()
    else:
        assert menu.get_attribute("aria-expanded") == "false" and not audit.is_visible()
        menu.click()
        assert menu.get_attribute("aria-expanded") == "true" and audit.is_visible()
    width = page.viewport_size["width"]
    for link in page.locator("nav[aria-label=Main] a").all():  # every entry whole on the screen
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{link.inner_text()} is cut off: {box}"
    # The focus ring (3 px, 2 px out) is drawn whole: no box between the links and the page clips it.
    audit.focus()
    clipping = page.evaluate("""() => {
        const out = [];
        for (let el = document.activeElement.parentElement; el && el !== document.body; el = el.parentElement) {
            const style = getComputedStyle(el);
            if (style.overflowX !== 'visible' || style.overflowY !== 'visible') out.push(el.className);
        }
        return out; }""")
    assert clipping == []


def test_each_card_range_stays_in_the_url_when_another_changes_and_after_a_reload(shown, live_server):
    page = shown
    page.goto(live_server + "/")
    wait_until(page, CARDS_FILLED)
    page.locator("#card-top-earners nav.card-controls a", has_text="25 users").click()
    page.wait_for_url("**earners_limit=25**")
    page.locator("#card-trends nav.card-controls a", has_text="90 days").click()
    page.wait_for_url("**trend_days=90**")
    assert "earners_limit=25" in page.url
    page.get_by_role("button", name="Refresh Top earners").click()  # a refresh keeps the range too
    page.wait_for_selector("#card-top-earners:not(.htmx-request) table.top-earners")
    page.reload()
    wait_until(page, CARDS_FILLED)
    assert page.locator("#card-top-earners a[aria-current=true]").inner_text() == "25 users"
    assert page.locator("#card-trends a[aria-current=true]").inner_text() == "90 days"
    assert page.locator("table.top-earners tbody tr").count() == 25


def test_refresh_buttons_say_what_their_name_says(shown, live_server):
    page = shown
    page.goto(live_server + "/")
    wait_until(page, CARDS_FILLED)
    buttons = page.locator("button.card-refresh")
    assert buttons.count() >= 5
    for button in buttons.all():
        visible = button.evaluate("b => [...b.childNodes].filter(n => !(n.classList && n.classList.contains("
                                  "'visually-hidden'))).map(n => n.textContent).join('').replace('↻', '').trim()")
        name = button.evaluate("b => b.textContent.replace('↻', '').replace(/\\s+/g, ' ').trim()")
        assert visible == "Refresh" and name.startswith("Refresh ") and button.get_attribute("aria-label") is None


def test_wide_tables_scroll_inside_their_card_with_the_first_column_in_view(shown, live_server):
    page = shown
    page.goto(live_server + "/keys/")
    wrap = page.locator("table.keys-table").locator("xpath=ancestor::*[contains(@class, 'table-wrap')][1]")
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= page.viewport_size["width"], "the page itself scrolls sideways"
    if page.viewport_name == "phone":
        assert wrap.evaluate("w => w.scrollWidth > w.clientWidth"), "the table does not need to scroll at 390 px?"
        first = page.locator("table.keys-table tbody tr td").first
        before = first.bounding_box()["x"]
        wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
        assert first.bounding_box()["x"] == before, "the key's name scrolled away with the table"


def test_chart_legends_do_not_overlap_the_axis_labels(shown, live_server):
    page = shown
    page.goto(live_server + "/")
    wait_until(page, CHARTS_DRAWN)
    overlaps = page.evaluate("""() => {
        const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
        const out = [];
        for (const plot of document.querySelectorAll('.js-plotly-plot')) {
            const legend = plot.querySelector('g.legend');
            if (!legend) continue;
            const box = legend.getBoundingClientRect();
            for (const label of plot.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .gtitle')) {
                if (hit(box, label.getBoundingClientRect())) out.push(plot.id + ': ' + label.textContent);
            }
        }
        return out; }""")
    assert page.locator(".js-plotly-plot g.legend").count() >= 1
    assert overlaps == []


def test_long_endpoint_paths_break_at_their_slashes(shown, live_server):
    page = shown
    url = f"https://{page.viewport_name}-paths.example/partners/integrations/sir-giving/webhooks/rewards/v2/inbox"
    page.goto(live_server + "/webhooks/new")
    page.fill("input[name=url]", url)
    page.check("input[name=event_types][value='action.completed']")
    page.click("button:has-text('Register')")
    page.wait_for_selector("#webhook-secret")
    page.click("button:has-text('I have stored it')")
    cell = page.locator("table.webhooks-table code.path", has_text=f"{page.viewport_name}-paths.example").first
    assert cell.locator("wbr").count() == url.count("/")
    assert cell.inner_text().replace("\n", "") == url
    if page.viewport_name == "phone":
        lines = cell.evaluate("c => c.getClientRects().length")
        assert lines > 1  # wrapped, and each line ends at a slash
        assert cell.evaluate("c => c.scrollWidth <= c.parentElement.parentElement.clientWidth")


def test_keyboard_focus_starts_at_the_first_field_and_at_the_secret_shown_once(shown, live_server):
    page = shown
    focused = "document.activeElement && (document.activeElement.name || document.activeElement.id)"
    page.goto(live_server + "/keys/new")
    assert wait_until(page, focused) == "name"
    page.goto(live_server + "/webhooks/new")
    assert wait_until(page, focused) == "use_portal_receiver"
    page.click("button:has-text('Register')")  # errors come back in place: focus on the first one
    page.wait_for_selector("#register-webhook .field-errors")
    assert page.evaluate("!!document.activeElement.closest('.field-invalid, [aria-invalid=true]')")
    page.goto(live_server + "/keys/new")
    page.fill("input[name=name]", f"focus key {page.viewport_name}")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("#secret-key")
    assert wait_until(page, focused) == "secret-key"
    page.click("button:has-text('I have stored these')")
    page.wait_for_selector("table.keys-table")


def test_htmx_swaps_on_the_key_page_and_the_webhook_form_raise_no_csp_violation(shown, live_server):
    """The `shown` fixture fails the test on any CSP violation or console error these swaps cause."""
    page = shown
    page.goto(live_server + "/keys/")
    page.locator("table.keys-table tbody tr td a").first.click()
    page.fill("#rename-key input[name=name]", "")
    page.click("#rename-key button[type=submit]")
    page.wait_for_selector("#rename-key .field-errors")
    page.fill("#rename-key input[name=name]", f"renamed in place {page.viewport_name}")
    page.click("#rename-key button[type=submit]")
    page.wait_for_selector("#key-actions .flash-success")
    page.goto(live_server + "/webhooks/new")
    # An inline style set through CSSOM (allowed: a resized field, plotly on its own elements) on an element the
    # swap brings back with the same id: htmx's settle step copied it over as a style *attribute*, which the CSP
    # refused ("Applying inline style violates style-src").
    page.evaluate("document.getElementById('url').style.minWidth = '10rem'")
    page.click("button:has-text('Register')")
    page.wait_for_selector("#register-webhook .field-errors")


def test_an_alert_is_dismissed_from_the_banner_where_it_shows(shown, live_server):
    """A top-up SIR Giving approves (played on the simulator's page) arrives at the portal's own receiver as an
    alert: its banner shows on every page, and Dismiss there removes it and stays on that page."""
    page = shown
    page.goto(live_server + "/webhooks/new")
    page.check("input[name=use_portal_receiver]")
    page.check("input[name=event_types][value='token_pool_request.approved']")
    page.click("button:has-text('Register')")
    page.wait_for_selector("#webhook-secret")
    page.click("button:has-text('I have stored it')")
    page.wait_for_selector("table.webhooks-table")
    page.goto(live_server + first_href(page, live_server, "/token-pools/", "a[href$='/top-up']"))
    amount = 4321 if page.viewport_name == "desktop" else 4322  # one alert per viewport
    page.fill("input[name=amount]", str(amount))
    page.fill("textarea[name=reason]", f"Alert banner check from the {page.viewport_name}")
    page.click("button:has-text('Review request')")
    page.click("button:has-text('Send request to SIR Giving')")
    page.wait_for_url("**/token-pools/requests?status=pending*")
    page.goto(live_server + "/simulator/")
    with page.expect_navigation():
        page.locator("tr", has_text=f"{amount:,}").first.locator("button:has-text('Approve')").click()
    banner = page.locator(".banner", has_text=f"approved the top-up of {amount:,} tokens")
    deadline = time.monotonic() + 15
    while True:  # the delivery reaches the receiver on its own time: look again on each page load
        page.goto(live_server + "/audit/")
        if banner.count() or time.monotonic() > deadline:
            break
    assert banner.count() == 1, "the approval's alert did not show"
    with page.expect_navigation():
        banner.get_by_role("button", name="Dismiss this alert").click()
    assert urlpath(page.url) == "/audit/" and banner.count() == 0
