"""The overview in a real browser: every card filled, every chart drawn, no console error or CSP violation."""

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, free_port, instance_folder, open_page, sign_in, start_server, stop_server

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


CARD_IDS = ["summary", "trends", "runway", "top-earners", "integration-health", "webhook-health", "api-usage",
            "recent-activity", "campaign"]


def test_without_javascript_the_streamed_overview_shows_every_card_in_its_place(browser, live_server):
    problems: list[str] = []
    signing_in = open_page(browser, problems)
    sign_in(signing_in, live_server, "acme")
    state = signing_in.context.storage_state()
    signing_in.context.close()
    page = open_page(browser, problems, storage_state=state, java_script_enabled=False)
    page.goto(live_server + "/")
    for card_id in CARD_IDS:
        expect(page.locator(f"#card-{card_id} .updated")).to_be_visible()
    # The placeholders (in the shadow tree) gave way to the cards; the cards stand in the slots' order.
    placeholders = page.locator(".overview-stream .is-loading")
    assert placeholders.count() == len(CARD_IDS) and not any(p.is_visible() for p in placeholders.all())
    assert in_slot_order(page)
    expect(page.locator(".overview-banners .banner").first).to_be_visible()
    assert page.locator(".overview-banners").bounding_box()["y"] < page.locator("h1").bounding_box()["y"]
    page.context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A portal pointed at `python -m simulator` on its own port, whose faults a test sets over HTTP."""
    port = free_port()
    simulator = subprocess.Popen([sys.executable, "-m", "simulator", "--port", str(port)], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sim_url = f"http://127.0.0.1:{port}"
    instance = instance_folder(tmp_path_factory)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(sim_url + "/partner-api/openapi.json", timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and simulator.poll() is None, "the simulator did not start"
                time.sleep(0.05)  # not answering yet: ask again
        process, base_url, log = start_server(instance, {"SIR_API_URL": sim_url})
        base_url.sim_url = sim_url
        yield base_url
        stop_server(process, log)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        shutil.rmtree(instance, ignore_errors=True)


def add_fault(sim_url: str, **fault) -> None:
    request = urllib.request.Request(sim_url + "/_sim/faults", data=json.dumps(fault).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 201


def test_a_failing_card_shows_its_error_in_its_own_place_and_retries_there(page, standalone):
    # Before signing in, which ends on the overview: a later view would take the card from the HTTP cache.
    add_fault(standalone.sim_url, method="GET", path="/v1/partner/dashboard/webhooks/health", status=500, count=1)
    sign_in(page, standalone, "acme")
    broken = page.locator("#card-webhook-health")
    expect(broken.locator(".error-state")).to_contain_text("SIR Giving had an internal error")
    assert in_slot_order(page)
    broken.get_by_role("button", name="Retry").click()
    expect(broken.locator("table")).to_be_visible()
    assert in_slot_order(page)  # the retried card took the same slot


def in_slot_order(page) -> bool:
    """The cards stand in the page's order, whatever order they came in (each where its slot is)."""
    tops = [page.locator(f"#card-{card_id}").bounding_box()["y"] for card_id in CARD_IDS]
    return tops == sorted(tops)
