"""static/app.js in Chromium, under the portal's real CSP, on small pages served by Playwright's router:
the CSRF header, htmx with eval refused, charts and their tables, copy buttons, the leave guard, refresh only
while the tab is visible, local times, and confirm-by-typing."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_page, settle, wait_until
from tests.browser.fakesite import html_response, serve

FIGURE = {"data": [{"type": "bar", "x": ["2026-01-01", "2026-01-02"], "y": [1200, 900], "name": "Tokens"}],
          "layout": {"height": 240, "title": {"text": "Tokens"}}}


def chart_markup(chart_id: str, figure: dict = FIGURE) -> str:
    # What the chart macro renders (macros/ui.html), with the JSON escaped the way |tojson does.
    data = json.dumps(figure).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"""<figure class="chart" id="{chart_id}-figure">
  <div class="chart-canvas" id="{chart_id}" role="img" aria-label="Tokens"></div>
  <script type="application/json" data-chart="{chart_id}">{data}</script>
  <button type="button" class="btn btn-link btn-small chart-table-toggle" aria-controls="{chart_id}-table" aria-expanded="false">Show as table</button>
  <div class="chart-table" id="{chart_id}-table" hidden><table class="table"><tr><td>2026-01-01</td><td class="num">1,200</td></tr></table></div>
</figure>"""


def test_non_get_htmx_requests_carry_the_csrf_header_and_gets_do_not(page):
    seen = []

    def echo(route, request):
        seen.append((request.method, request.headers.get("x-csrftoken")))
        html_response(route, f"<p id='answer'>{request.method}</p>")

    base = serve(page, {"/": """<body><button id="post" hx-post="/echo" hx-target="#out">Post</button>
        <button id="get" hx-get="/echo" hx-target="#out">Get</button><div id="out"></div></body>"""},
                 {"/echo": echo})
    page.goto(base + "/")
    page.click("#post")
    page.wait_for_selector("#answer:has-text('POST')")
    page.click("#get")
    page.wait_for_selector("#answer:has-text('GET')")
    assert seen == [("POST", "csrf-123"), ("GET", None)]


def test_htmx_features_that_need_eval_are_refused_without_a_csp_violation(browser):
    problems: list[str] = []
    page = open_page(browser, problems)
    requests = []

    def echo(route, request):
        requests.append(request.url)
        html_response(route, "<p>answer</p>")

    base = serve(page, {"/": """<body><button id="on" hx-on:click="document.title = 'evaluated'">On</button>
        <button id="filtered" hx-get="/echo" hx-trigger="click[true]" hx-target="#out">Filtered</button>
        <div id="out"></div></body>"""}, {"/echo": echo})
    page.goto(base + "/")
    wait_until(page, "!!(window.htmx && document.querySelector('#filtered[data-htmx-powered]'))")
    page.click("#on")
    page.click("#filtered")
    settle(page)  # what the clicks did (or refused) has been reported
    assert page.title() == "/"
    assert requests == []
    assert not [p for p in problems if p.startswith("CSP violation")], problems
    errors = [p for p in problems if p.startswith("console error")]
    assert any("hx-on" in e for e in errors) and any("evaluate JavaScript" in e for e in errors), problems
    page.context.close()


def test_charts_are_drawn_toggle_a_table_and_are_purged_when_swapped_out(page):
    def swap(route, request):
        html_response(route, chart_markup("chart-b"))

    base = serve(page, {"/": f"""<body><div id="slot">{chart_markup("chart-a")}</div>
        <button id="swap" hx-get="/swap" hx-target="#slot" hx-swap="innerHTML">Swap</button></body>"""},
                 {"/swap": swap})
    page.goto(base + "/")
    page.wait_for_selector("#chart-a[data-chart-drawn=true] .main-svg")
    toggle = page.locator("button[aria-controls=chart-a-table]")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert toggle.inner_text() == "Hide table"
    assert page.locator("#chart-a-table").is_visible()
    toggle.click()
    assert page.locator("#chart-a-table").is_hidden()

    page.evaluate("window.__old = document.getElementById('chart-a')")
    assert page.evaluate("'_fullLayout' in window.__old")
    page.click("#swap")
    page.wait_for_selector("#chart-b[data-chart-drawn=true] .main-svg")
    wait_until(page, "!('_fullLayout' in window.__old)")  # Plotly.purge ran on the removed chart


def test_copy_button_copies_the_target_text_and_says_so(browser):
    problems: list[str] = []
    page = open_page(browser, problems, permissions=["clipboard-read", "clipboard-write"])
    page.clock.install()  # the label comes back after 2 s: move time on instead of waiting
    base = serve(page, {"/": """<body><code id="secret">sk_test_abc123</code>
        <button type="button" id="copy" data-copy-target="#secret">Copy</button></body>"""})
    page.goto(base + "/")
    page.click("#copy")
    page.wait_for_selector("#copy:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == "sk_test_abc123"
    # The live region is filled a moment after it is emptied, so screen readers announce a repeat too.
    page.wait_for_selector("#app-live:has-text('Copied to the clipboard')")
    page.clock.fast_forward(2000)
    expect(page.locator("#copy")).to_have_text("Copy")  # the label came back
    page.context.close()
    assert not problems, problems


GUARDED = """<body><div data-confirm-leave>
  <code id="secret">whsec_1</code>
  <form method="post" action="/stored" data-confirm-leave-release><button id="stored">I have stored these</button></form>
</div><a id="away" href="/elsewhere">Somewhere else</a></body>"""


def test_leave_guard_asks_before_leaving_until_the_release_form_is_sent(page):
    def stored(route, request):
        html_response(route, "<body><p id='done'>stored</p></body>")

    base = serve(page, {"/": GUARDED, "/elsewhere": "<body><p id='elsewhere'>elsewhere</p></body>"},
                 {"/stored": stored})
    page.goto(base + "/")
    dialogs = []

    def answer(dialog, accept):
        dialogs.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    with page.expect_event("dialog"):
        page.click("#away")
    settle(page)  # the dismissed question cancelled the navigation
    assert page.url == base + "/" and "will not be shown again" in dialogs[0]

    page.once("dialog", lambda d: answer(d, True))
    page.click("#away")
    page.wait_for_selector("#elsewhere")

    page.goto(base + "/")
    page.on("dialog", lambda d: answer(d, False))
    page.click("#stored")
    page.wait_for_selector("#done")
    assert len(dialogs) == 2  # the release form left without a question


def test_auto_refresh_waits_while_the_tab_is_hidden_and_catches_up_once_when_it_shows(page):
    page.add_init_script("""
      window.__hidden = false;
      Object.defineProperty(Document.prototype, 'visibilityState', {configurable: true,
        get() { return window.__hidden ? 'hidden' : 'visible'; }});
    """)
    # The card refreshes every 60 s, as the overview's cards do; the test moves the browser's clock on a
    # period at a time, so what happens between two refreshes never depends on how fast the machine is.
    page.clock.install()
    calls = []
    card = ('<section id="card" data-card data-auto-refresh hx-get="/card" hx-trigger="every 60s, refresh" '
            'hx-swap="outerHTML"><p class="n">{n}</p></section>')

    def refresh(route, request):
        calls.append(1)
        html_response(route, card.format(n=len(calls)))

    base = serve(page, {"/": "<body>" + card.format(n=0) + "</body>"}, {"/card": refresh})
    page.goto(base + "/")
    wait_until(page, "!!document.querySelector('#card[data-htmx-powered]')")
    # Each refresh htmx starts, counted after app.js has had its say (it cancels those of a hidden tab).
    page.evaluate("""window.__refreshes = {sent: 0, skipped: 0};
      document.addEventListener('htmx:config:request', e => { window.__refreshes[e.defaultPrevented ? 'skipped' : 'sent']++; });""")

    page.clock.fast_forward(60_000)
    wait_until(page, "document.querySelector('#card .n').textContent === '1'")

    page.evaluate("window.__hidden = true")
    for _ in range(3):
        page.clock.fast_forward(60_000)
    wait_until(page, "window.__refreshes.skipped === 3")  # the timer fired three times; nothing was sent
    assert len(calls) == 1 and page.locator("#card .n").inner_text() == "1"

    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    wait_until(page, "document.querySelector('#card .n').textContent === '2'")  # caught up at once...
    settle(page)
    assert len(calls) == 2 and page.evaluate("window.__refreshes") == {"sent": 2, "skipped": 3}  # ...once


def test_local_times_use_the_admins_locale_and_keep_iso_in_the_title(browser):
    problems: list[str] = []
    page = open_page(browser, problems, locale="en-GB", timezone_id="Europe/Paris")
    base = serve(page, {"/": """<body><time id="t" datetime="2026-01-02T03:04:05Z" data-local>2026-01-02 03:04 UTC</time>
        <time id="only-time" datetime="2026-01-02T03:04:05Z" data-local data-format="time">03:04:05</time></body>"""})
    page.goto(base + "/")
    wait_until(page, "document.getElementById('t').textContent !== '2026-01-02 03:04 UTC'")
    assert page.locator("#t").inner_text() == "2 Jan 2026, 04:04"
    assert page.locator("#t").get_attribute("title") == "2026-01-02T03:04:05Z"
    assert page.locator("#only-time").inner_text() == "04:04:05"
    page.context.close()
    assert not problems, problems


def test_confirm_by_typing_enables_the_button_only_on_an_exact_match(page):
    base = serve(page, {"/": """<body><form method="post" action="/revoke">
        <label for="confirm-name">Type the name</label><input id="confirm-name" data-expected="Production key">
        <button id="revoke" type="submit" data-confirm-match="#confirm-name">Revoke</button></form></body>"""})
    page.goto(base + "/")
    button = page.locator("#revoke")
    wait_until(page, "document.getElementById('revoke').disabled")
    page.fill("#confirm-name", "Production")
    assert button.is_disabled()
    page.fill("#confirm-name", "Production key")
    assert button.is_enabled()
    page.fill("#confirm-name", "production key")
    assert button.is_disabled()


@pytest.mark.parametrize("width", [360, 1280])
def test_the_stylesheet_keeps_a_page_within_the_viewport(page, width):
    page.set_viewport_size({"width": width, "height": 800})
    base = serve(page, {"/": """<body><main class="container"><div class="filters"><label>Status
        <select class="input"><option>all</option></select></label></div>
        <div class="cards"><section class="card"><header class="card-header"><h2 class="card-title">Pool</h2></header>
        <div class="card-body"><div class="tiles"><div class="tile"><div class="tile-value">1,234,567</div></div></div>
        <div class="secret-row"><code class="secret-value">sk_test_0123456789abcdef0123456789abcdef0123456789</code>
        <button class="btn btn-secondary btn-small">Copy</button></div></div></section></div></main></body>"""})
    page.goto(base + "/")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0


def test_the_sign_in_notice_shows_itself_when_the_warning_time_comes_on_a_page_left_open(browser):
    import time
    from datetime import datetime, timezone

    problems: list[str] = []
    page = open_page(browser, problems)
    # What base.html renders an hour before the end, with the end moved to 3 s past the 5-minute warning.
    ends = datetime.fromtimestamp(time.time() + 300 + 3, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = serve(page, {"/": f"""<body><div id="session-ends" class="alert alert-warning session-ends" role="status"
        data-ends-at="{ends}" data-warn-seconds="300" hidden><span>Your sign-in ends soon.</span></div>
        </body>"""})
    page.goto(base + "/")
    assert page.locator("#session-ends").is_hidden()
    page.wait_for_selector("#session-ends", state="visible", timeout=5000)
    page.context.close()
    assert not problems, problems
