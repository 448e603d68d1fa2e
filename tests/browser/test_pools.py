"""Token pools in a real browser: request a top-up starting from the low-balance banner."""

import re

from tests.browser.conftest import sign_in, wait_until


def pending_rows_for(page, base_url, amount_text):
    page.goto(base_url + "/token-pools/requests?status=pending")
    return [row for row in page.locator("table tbody tr").all_inner_texts() if amount_text in row]


def test_a_top_up_requested_from_the_banner_lands_as_pending_once(page, live_server):
    sign_in(page, live_server, "globex")
    page.locator(".banner a:has-text('Request a top-up')").first.click()
    page.wait_for_selector("form#top-up-form")
    assert page.input_value("input[name=amount]") != ""  # the suggestion covering 30 days

    # Checked as the admin leaves the field, before any submit.
    page.fill("input[name=amount]", "12.5")
    page.press("input[name=amount]", "Tab")
    page.wait_for_selector("#amount-errors")
    assert page.inner_text("#amount-errors") == "Enter a whole number of tokens, like 25000."

    # Submitted with a missing reason: the form comes back in place (htmx), with the message.
    page.fill("input[name=amount]", "30000")
    page.fill("textarea[name=reason]", "")
    page.click("button:has-text('Review request')")
    page.wait_for_selector("#reason-errors")
    assert "Say why the pool needs more tokens" in page.inner_text("#reason-errors")
    assert page.locator("#amount-errors").count() == 0

    page.fill("textarea[name=reason]", "Giving week is drawing faster than planned")
    page.click("button:has-text('Review request')")
    page.wait_for_selector("form#top-up-confirm")
    assert page.inner_text(".confirm-amount") == "30,000 tokens"
    assert re.fullmatch(r"about \d+ days at the (current|30-day) pace of [\d,]+ tokens a day(, up from .+)?",
                        page.inner_text(".runway-after"))

    # "Change" goes back to the form with what was typed; reviewing again gives the same confirmation.
    page.click("button:has-text('Change the amount or reason')")
    page.wait_for_selector("form#top-up-form")
    assert page.input_value("input[name=amount]") == "30000"
    page.click("button:has-text('Review request')")
    page.wait_for_selector("form#top-up-confirm")

    # An impatient double click sends one request.
    page.dblclick("button:has-text('Send request to SIR Giving')")
    page.wait_for_url("**/token-pools/requests?status=pending*")
    assert "Requested 30,000 tokens" in page.inner_text("#request-sent")
    new_row = page.locator("tr.row-new")
    assert "30,000" in new_row.inner_text() and "pending" in new_row.inner_text()

    # The back button, then the requests page again: still one.
    page.go_back()  # returns once the page it goes back to has loaded
    assert len(pending_rows_for(page, live_server, "30,000")) == 1


def test_choosing_another_pool_updates_the_form(page, live_server):
    sign_in(page, live_server, "acme")
    page.locator(".banner a:has-text('Request a top-up')").first.click()
    page.wait_for_selector("form#top-up-form")
    page.fill("textarea[name=reason]", "Spring volunteering starts early this year")
    first = page.inner_text("#top-up-pool")
    options = page.locator("select[name=pool_id] option").all()
    other = next(o.get_attribute("value") for o in options if o.get_attribute("selected") is None)
    page.select_option("select[name=pool_id]", other)
    wait_until(page, f"document.querySelector('#top-up-form').getAttribute('action').includes('{other}')")
    assert page.inner_text("#top-up-pool") != first
    assert page.input_value("textarea[name=reason]") == "Spring volunteering starts early this year"


def press_review_request(page):
    """The mouse pressed on "Review request" and held, until what the press started has landed: the focus leaves
    the reason, and a live check it sends is answered and swapped in (htmx marks a request's source with
    .htmx-request until its answer is in place). A person's click is this slow; Playwright's usually is not."""
    box = page.locator("button:has-text('Review request')").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    wait_until(page, "!document.querySelector('.htmx-request')")


def a_form_with_a_reason_error(page, live_server):
    sign_in(page, live_server, "globex")
    page.locator(".banner a:has-text('Request a top-up')").first.click()
    page.wait_for_selector("form#top-up-form")
    page.fill("textarea[name=reason]", "")
    page.click("button:has-text('Review request')")
    page.wait_for_selector("#reason-errors")
    page.fill("textarea[name=reason]", "Giving week is drawing faster than planned")


def test_a_slow_click_on_review_request_that_leaves_a_corrected_field_is_not_lost(page, live_server):
    # The reason's check, answered mid-click, would take its error away and move the button up from under the
    # pointer: the release would land beside the button and nothing would be sent.
    a_form_with_a_reason_error(page, live_server)
    press_review_request(page)
    page.mouse.up()
    page.wait_for_selector("form#top-up-confirm")
    assert page.inner_text(".confirm-reason") == "Giving week is drawing faster than planned"


def test_a_press_on_review_request_dragged_off_still_checks_the_field_left(page, live_server):
    a_form_with_a_reason_error(page, live_server)
    press_review_request(page)
    page.mouse.move(5, 5)
    page.mouse.up()
    page.wait_for_selector("#reason-errors", state="detached")
    assert page.locator("form#top-up-confirm").count() == 0
