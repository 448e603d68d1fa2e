"""The walkthrough of issue 17 in Chromium, on a desktop and a 390 px phone: one clock that moves every stated
time, seeded times that are not in the future, a key retired by a roll that says so, actions that say why they
are unavailable before the click, every form error at once, a completed campaign with its tokens, the portal's
own API calls apart from the integration's, and the sign-in notice on a phone. Items 7-9 (navigation, phone
layout, console and axe) are in test_phone_and_a11y.py.

One live server for the module, one signed-in context per viewport (the fixtures of test_phone_and_a11y.py).
The clock test moves the simulator's one clock, so it has a server of its own."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.browser.conftest import CARDS_FILLED, open_page, serving, settle, sign_in, wait_until
from tests.browser.fakesite import serve
from tests.browser.test_phone_and_a11y import VIEWPORTS, shown, signed_in_state, viewport_page  # noqa: F401

ONE_DAY = 86400


def stated_times(page, selector: str) -> list[datetime]:
    """Every <time datetime> the page states inside `selector`, but those later by design: a retry's "next try"
    and when the admin's sign-in ends."""
    values = page.locator(f"{selector} time[datetime]").evaluate_all(
        "els => els.filter(e => !e.parentElement.textContent.trim().startsWith('next try') && !e.closest('#session-ends'))"
        ".map(e => e.getAttribute('datetime'))")
    return [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]


def test_no_seeded_webhook_time_is_later_than_now(shown, live_server):
    page = shown
    page.goto(live_server + "/webhooks/")
    listed = stated_times(page, "table.webhooks-table")
    endpoint = page.locator("table.webhooks-table a:has-text('Deliveries')").first.get_attribute("href")
    page.goto(live_server + endpoint)
    page.wait_for_selector("main h1")
    delivered = stated_times(page, "main")
    now = datetime.now(timezone.utc) + timedelta(seconds=5)  # a fresh server: the simulator's clock is the machine's
    assert listed and delivered, "the seeded webhooks state no times"
    assert [t for t in listed + delivered if t > now] == []


def test_the_portals_key_shows_deactivate_and_revoke_disabled_with_the_reason(shown, live_server):
    page = shown
    page.goto(live_server + "/keys/")
    page.locator("table.keys-table tbody tr", has_text="portal signs with this").locator("td a").first.click()
    page.wait_for_selector("#key-actions")
    for button, said in (("form#key-active button:has-text('Deactivate')", "so it cannot be deactivated"),
                         ("form#revoke-key button:has-text('Revoke key')", "")):
        control = page.locator(button)
        assert control.is_disabled()
        reason = page.locator("#" + control.get_attribute("aria-describedby"))
        assert reason.is_visible() and said in reason.inner_text() and reason.inner_text().strip()


def test_an_empty_webhook_form_reports_every_fields_error_at_once(shown, live_server):
    page = shown
    page.goto(live_server + "/webhooks/new")
    page.click("button:has-text('Register')")
    page.wait_for_selector("#register-webhook .field-errors")
    errors = page.locator("#register-webhook .field-errors")
    assert errors.count() >= 2, errors.all_inner_texts()  # the URL and the event types, not one of them
    fields_in_error = page.locator("#register-webhook [aria-invalid=true]").evaluate_all(
        "els => els.map(e => e.name)")
    assert "url" in fields_in_error, fields_in_error


def test_a_completed_campaign_shows_its_tokens(shown, live_server):
    page = shown
    page.goto(live_server + "/campaigns")
    row = page.locator("main table tbody tr", has=page.locator(".badge", has_text="completed")).first
    row.locator("a").first.click()
    page.wait_for_url("**campaign=**")
    analytics = page.locator("#card-analytics, section:has(.tiles)").first
    analytics.wait_for()
    assert "No activity for this campaign yet" not in analytics.inner_text()
    tokens = page.locator(".tile", has=page.locator(".tile-label", has_text="Tokens")).locator(".tile-value")
    assert int(tokens.inner_text().replace(",", "")) > 0


def test_the_api_usage_card_counts_the_integration_and_the_portal_apart(shown, live_server):
    page = shown
    page.goto(live_server + "/")
    page.wait_for_selector(".usage-split")
    integration = page.locator(".usage-split .usage-integration").inner_text()
    portal = page.locator(".usage-split .usage-portal").inner_text()
    assert re.fullmatch(r"Your integration: [\d,]+ calls?(, [\d,]+ errors?)?", integration.strip()), integration
    assert re.fullmatch(r"The portal: [\d,]+ calls?", portal.strip()), portal
    assert int(re.search(r"[\d,]+", portal).group().replace(",", "")) > 0  # the portal signed in and read


def test_the_sign_in_notice_shows_itself_and_fits_the_screen(browser, viewport_page):
    problems: list[str] = []
    page = open_page(browser, problems, viewport=VIEWPORTS[viewport_page.viewport_name])
    # What base.html renders an hour before the end, with the end moved to 2 s past the 5-minute warning.
    ends = datetime.fromtimestamp(time.time() + 300 + 2, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = serve(page, {"/": f"""<body><div id="session-ends" class="alert alert-warning session-ends" role="status"
        data-ends-at="{ends}" data-warn-seconds="300" hidden><span>Your sign-in ends soon.</span></div>
        </body>"""})
    page.goto(base + "/")
    page.wait_for_selector("#session-ends", state="visible", timeout=5000)
    box = page.locator("#session-ends").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    settle(page)
    page.context.close()
    assert not problems, problems


def test_a_bogus_pasted_production_key_is_named_in_onboarding(browser, live_server, viewport_page):
    problems: list[str] = []
    page = open_page(browser, problems, viewport=VIEWPORTS[viewport_page.viewport_name])
    sign_in(page, live_server, "globex")  # its own session: the switch to production stays in it
    request = page.context.request
    page.goto(live_server + "/audit/")
    page.click("form.env-switch button:has-text('Switch to production')")
    page.wait_for_selector(".env-badge-production")
    page.goto(live_server + "/onboarding/")
    page.fill("form#paste-credential input[name=secret_key]", "sk_live_bogus0000000000abcd")
    page.fill("form#paste-credential input[name=hmac_secret]", "a" * 64)
    page.locator("form#paste-credential button[type=submit]").click()
    page.wait_for_selector("form#paste-credential .field-errors, form#paste-credential .alert")
    said = page.locator("form#paste-credential").inner_text()
    assert "sk_live_…abcd" in said and "the key the portal signs with" not in page.locator("main").inner_text()
    settle(page)
    page.context.close()
    problems = [p for p in problems if "status of 422" not in p]  # the refusal's own HTTP status
    assert not problems, problems


@pytest.fixture
def own_server(tmp_path_factory):
    """A server of its own for a test that moves the simulator's one clock."""
    yield from serving(tmp_path_factory)


def expires_in_days(page, base: str, name: str) -> int:
    page.goto(base + "/keys/")
    text = page.locator("table.keys-table tbody tr", has_text=name).locator(".expires-in").inner_text()
    return int(re.fullmatch(r"in (\d+) days?", text.strip()).group(1))


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_moving_the_clock_a_day_moves_every_stated_time_and_a_roll_retires_its_key(browser, own_server, viewport):
    problems: list[str] = []
    page = open_page(browser, problems, viewport=VIEWPORTS[viewport])
    base = own_server
    sign_in(page, base, "acme")
    # A key that expires in ten days, and a roll of another key with an hour's grace.
    page.goto(base + "/keys/new")
    page.fill("input[name=name]", "Expiring key")
    page.click("button:has-text('Create key')")
    page.click("button:has-text('I have stored these')")
    page.locator("table.keys-table a", has_text="Expiring key").click()
    page.fill("form#key-expiry input[name=expires_on]", (datetime.now(timezone.utc) + timedelta(days=10)).date().isoformat())
    page.click("form#key-expiry button:has-text('Set expiry')")
    page.wait_for_selector("#key-actions .flash-success")
    before = expires_in_days(page, base, "Expiring key")
    page.goto(base + "/")
    banner = page.locator(".banner", has_text="Expiring key")
    assert f"expires in {before} days" in banner.inner_text()

    page.goto(base + "/keys/")
    old_url = page.locator("table.keys-table tbody tr td a", has_text="Checkout widget").first.get_attribute("href")
    old_row = page.locator(f"table.keys-table tbody tr:has(a[href='{old_url}'])")
    old_row.locator("a:has-text('Roll key')").click()
    page.check("input[name=grace][value='1h']")
    page.click("button:has-text('Create the replacement')")
    page.click("button:has-text('I have stored these — continue')")
    page.wait_for_selector(".grace-ends")
    roll_url = page.url

    # The simulator page's form moves SIR Giving's clock a day (the tick box said), and the admin signs in again.
    page.goto(base + "/simulator/")
    page.check("#card-demo-clock input[name=seconds][value='86400']")
    page.check("#card-demo-clock input[name=everyone]")
    with page.expect_navigation():
        page.locator("#card-demo-clock button[type=submit]").click()
    sign_in(page, base, "acme")
    moved_now = datetime.now(timezone.utc) + timedelta(days=1)

    assert expires_in_days(page, base, "Expiring key") == before - 1
    page.goto(base + "/")
    page.wait_for_selector(".banner")
    assert f"expires in {before - 1} days" in page.locator(".banner", has_text="Expiring key").inner_text()
    page.wait_for_selector("#card-summary .tile-value")
    # The overview's "Updated" and the audit log's newest entry are on the moved clock, a day ahead of the machine.
    for path, selector in (("/", "main .updated"), ("/audit/", "main table tbody tr:first-child td:first-child")):
        page.goto(base + path)
        if path == "/":
            wait_until(page, CARDS_FILLED)
        times = stated_times(page, selector)
        assert times, f"{path} states no time"
        newest = max(times)
        assert abs((newest - moved_now).total_seconds()) < 120, (
            f"{path} states {newest}, not about {moved_now}: {page.locator('main tr').all_inner_texts()[:4]}")

    # The roll finished by itself: the retired key says it was replaced and offers neither Roll nor Deactivate.
    page.goto(roll_url)
    page.wait_for_selector(".roll-done")
    assert page.locator(".roll-state").inner_text() == "completed"
    page.goto(base + old_url)
    page.wait_for_selector("#key-actions")
    assert "replaced by a roll" in page.locator(".key-replaced").inner_text()
    assert page.locator("#key-actions a:has-text('Roll key')").count() == 0
    assert page.locator("#key-actions button:has-text('Deactivate')").count() == 0
    assert "Roll it to replace it" not in page.locator("main").inner_text()
    page.goto(base + "/keys/")
    assert "replaced" in old_row.locator(".key-rolled").inner_text()
    settle(page)
    page.context.close()
    assert not problems, problems
