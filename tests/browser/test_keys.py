"""API keys in a real browser: roll the portal's own key from the keys page, with the leave guard, the copy
buttons and the secrets shown once."""

from tests.browser.conftest import sign_in, wait_until


def test_rolling_the_portals_key_from_the_keys_page(page, live_server):
    sign_in(page, live_server, "acme")
    page.click("nav[aria-label=Main] a:has-text('API keys')")
    portal_row = page.locator("table.keys-table tbody tr", has_text="portal signs with this")
    old_name = portal_row.locator("td").first.locator("a").inner_text()
    portal_row.locator("a:has-text('Roll key')").click()
    page.check("input[name=grace][value='1h']")
    page.click("button:has-text('Create the replacement')")
    page.wait_for_selector("#new-secret-key")
    secret = page.locator("#new-secret-key").inner_text()
    assert secret.startswith("sk_test_")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page.locator("button[data-copy-target='#new-secret-key']").click()
    wait_until(page, "document.querySelector(\"button[data-copy-target='#new-secret-key']\").textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Leaving before confirming asks first; staying keeps the secrets on screen.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("a:has-text('All keys')")
    wait_until(page, "document.querySelector('#new-secret-key') !== null")
    assert asked and "will not be shown again" in asked[0]
    assert page.locator("#new-secret-key").inner_text() == secret

    page.click("button:has-text('I have stored these — continue')")
    page.wait_for_selector("table.traffic")
    main = page.locator("main").inner_text()
    assert "stops working" in main and secret not in page.content()
    assert page.locator("ol.roll-steps li.done").count() == 5
    # The proving call, and the portal's own reads since it switched to the new key (its banners' pools list).
    assert int(page.locator("tr.new-key .requests-last-hour").inner_text()) >= 1

    page.reload()  # coming back does not show the secrets again
    page.wait_for_selector("table.traffic")
    assert secret not in page.content()

    page.goto(live_server + "/")  # the overview still loads, now signed with the new key
    page.wait_for_selector("#card-summary .tile-value")
    page.goto(live_server + "/keys/")
    marked = page.locator("table.keys-table tbody tr", has_text="portal signs with this")
    assert marked.count() == 1 and marked.locator("td").first.inner_text().startswith(old_name + " (")
    assert "grace period" in page.locator(".roll-in-progress").inner_text()
    assert secret not in page.content()


def test_creating_a_key_shows_its_secrets_once_and_asks_before_leaving(page, live_server):
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/keys/new")
    page.fill("input[name=name]", "Browser-made key")
    page.click("button:has-text('Create key')")
    page.wait_for_selector("#secret-key")
    secret = page.locator("#secret-key").inner_text()
    assert secret.startswith("sk_test_") and len(page.locator("#hmac-secret").inner_text()) == 64

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("nav[aria-label=Main] a:has-text('Overview')")
    wait_until(page, "document.querySelector('#secret-key') !== null")
    assert asked and page.locator("#secret-key").inner_text() == secret

    page.click("button:has-text('I have stored these')")  # releases the guard: no question asked
    page.wait_for_selector("table.keys-table")
    assert page.locator("table.keys-table tbody tr", has_text="Browser-made key").count() == 1
    page.go_back()  # the browser's back button: not from any cache, and the secrets are gone
    page.wait_for_selector("h1")
    assert "These secrets are no longer available" in page.locator("main").inner_text()
    assert secret not in page.content()


def test_changing_a_key_happens_in_place_and_revoking_waits_for_its_name(page, live_server):
    sign_in(page, live_server, "acme")
    page.goto(live_server + "/keys/")
    page.click("table.keys-table a:has-text('Checkout widget')")
    page.wait_for_selector("form#rename-key")
    url = page.url
    page.fill("form#rename-key input[name=name]", "Checkout widget v2")
    page.click("form#rename-key button:has-text('Rename')")
    page.wait_for_selector("#key-actions .flash-success")
    assert "Renamed to “Checkout widget v2”" in page.locator("#key-actions").inner_text() and page.url == url

    revoke = page.locator("form#revoke-key button:has-text('Revoke key')")
    assert revoke.is_disabled()
    page.fill("form#revoke-key input[name=confirm_name]", "Checkout widget")  # the old name: not this key's
    assert revoke.is_disabled()
    page.fill("form#revoke-key input[name=confirm_name]", "Checkout widget v2")
    assert revoke.is_enabled()
    revoke.click()
    wait_until(page, "document.querySelector('#key-actions').innerText.includes('revoked for good')")
    assert page.locator("form#revoke-key").count() == 0

    page.goto(live_server + "/keys/")
    page.locator("table.keys-table tbody tr", has_text="portal signs with this").locator("td a").first.click()
    # The portal's own key: Deactivate is disabled before any click, with the reason beside it.
    deactivate = page.locator("form#key-active button:has-text('Deactivate')")
    assert deactivate.is_disabled()
    reason = page.locator("#" + deactivate.get_attribute("aria-describedby"))
    assert "so it cannot be deactivated" in reason.inner_text()
    assert reason.locator("a:has-text('roll it')").get_attribute("href").endswith("/roll")


def test_the_roll_page_moves_to_done_by_itself_when_the_grace_period_ends(page, live_server):
    """Last in this module: it moves the live server's one simulator clock an hour on."""
    from tests.browser.conftest import ACCOUNTS, PASSWORD, form_fields, poll_until

    page.clock.install()  # the roll's page checks every 20 s during the grace period: move time on instead
    sign_in(page, live_server, "globex")
    page.goto(live_server + "/keys/")
    page.locator("table.keys-table tbody tr", has_text="portal signs with this").locator("a:has-text('Roll key')").click()
    page.check("input[name=grace][value='1h']")
    page.click("button:has-text('Create the replacement')")
    page.wait_for_selector("#new-secret-key")
    page.click("button:has-text('I have stored these — continue')")
    page.wait_for_selector(".grace-ends")
    roll_url = page.url
    assert page.locator(".roll-state").inner_text() == "grace period"

    # SIR Giving's clock moves past the old key's end (the simulator page's form, sent from this browser's
    # session), and the admin signs in again: all without leaving or reloading the roll's page.
    request = page.context.request
    fields = form_fields(request.get(live_server + "/simulator/").text(), "#card-demo-clock form")
    fields.update(seconds="3600", everyone="y")
    assert request.post(live_server + "/simulator/clock", form=fields, max_redirects=0).status == 302
    login = form_fields(request.get(live_server + "/login").text(), "form#login-form")
    login.update(email=ACCOUNTS["globex"], password=PASSWORD)
    assert request.post(live_server + "/login", form=login, max_redirects=0).status == 302

    poll_until(page, page.locator(".roll-done"), every_ms=20_000)
    assert page.url == roll_url  # it moved on its own
    assert page.locator(".roll-state").inner_text() == "completed"
    assert page.locator("ol.roll-steps li.done").count() == 6
    assert page.locator(".grace-ends").count() == 0
