"""A batch of rewards in a real browser: upload, preflight Hold, a top-up approved, Go, sent with progress, the
result downloaded."""

from tests.browser.conftest import sign_in

HEADER = "partner_user_id,action_type,amount,currency,idempotency_key,email,first_name,last_name,metadata"


def csv_payload(rows: int) -> dict:
    lines = [HEADER] + [f"browser_{n:04d},ADVOCACY,,,,,,," for n in range(rows)]
    return {"name": "winners.csv", "mimeType": "text/csv", "buffer": ("\n".join(lines) + "\n").encode()}


def test_a_batch_held_for_its_pool_goes_after_a_top_up_and_is_sent_with_progress(page, live_server):
    sign_in(page, live_server, "globex")
    page.click("nav.mainnav a:has-text('Batches')")
    page.set_input_files("#batch-file", files=[csv_payload(250)])
    page.click("button:has-text('Check the file')")
    page.wait_for_selector("#preflight-result")
    assert page.get_attribute("#preflight-result", "data-verdict") == "Hold"
    assert page.is_disabled("#batch-confirm button[type=submit]")
    batch_url = page.url

    # The pool's reason links to its fix: a top-up, which SIR Giving (the simulator's operator page) approves.
    page.click('li[data-check="pool"] a:has-text("Request a top-up")')
    page.wait_for_selector("form#top-up-form")
    page.fill("input[name=amount]", "30000")
    page.fill("textarea[name=reason]", "The winners of the giving week")
    page.click("button:has-text('Review request')")
    page.wait_for_selector("form#top-up-confirm")
    page.click("button:has-text('Send request to SIR Giving')")
    page.wait_for_url("**/token-pools/requests?status=pending*")
    page.click("a:has-text(\"Simulator controls\")")
    page.locator("tr:has-text('The winners of the giving week') button:has-text('Approve')").click()
    page.wait_for_load_state()

    page.goto(batch_url)
    assert page.get_attribute("#preflight-result", "data-verdict") == "Go"
    assert " ".join(page.inner_text(".confirm-statement").split()) == (
        "Send 250 actions to sandbox, distributing about 10,000 tokens from Giving week pool.")
    page.click("#batch-confirm button[type=submit]")
    page.wait_for_selector("#batch-progress[data-state=finished]", timeout=20_000)
    assert "250 of 250 sent · 250 completed · 0 failed · 10,000 tokens distributed — done." in page.inner_text(
        ".batch-status")

    page.reload()  # the progress is stored, not kept by the page
    assert page.get_attribute("#batch-progress", "data-state") == "finished"
    with page.expect_download() as download:
        page.click("a:has-text('Download the result (CSV)')")
    lines = open(download.value.path()).read().splitlines()
    assert len(lines) == 251 and lines[0].startswith("row,partner_user_id,action_type")
