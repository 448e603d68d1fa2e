"""A new admin's journey in Chromium against each simulator variant (tests/variants/conftest.py VARIANTS: a
variant added there joins here): sign in and onboarding, the overview with every card filled, campaigns,
keys, token pools, webhooks and the audit log, with no answer of 500 or more, no way back to the sign-in
page, the counts SIR Giving's state gives, and a recovery that never retries a delivery that had succeeded.

One live server per variant (`live_server` here is parametrized over the variants, module scope), started once
and shared by the steps, which run in order. SIR Giving's state is read from the simulator's own record: its
journal (sealed with a key this module gives the server), replayed into a simulator of the test's own.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.browser.conftest import (ACCOUNTS, CARDS_FILLED, open_page, serving, settle, sign_in,
                                    sign_in_through_the_form, urlpath, wait_until)
from tests.variants.conftest import VARIANTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def live_server(request, tmp_path_factory):
    """The portal with its embedded simulator in one variant; its journal is sealed with a key the test knows."""
    key = Fernet.generate_key().decode()
    for base_url in serving(tmp_path_factory, {"SIMULATOR_VARIANT": VARIANTS[request.param],
                                               "SIMULATOR_STATE_KEY": key}):
        base_url.state_key = key
        yield base_url


def sir_state(live_server):
    """SIR Giving's state now, as the simulator recorded it: its journal replayed (over the same seed) into a
    simulator of the test's own, from a copy, so the server's file is never touched."""
    from simulator.state import Simulator

    instance = live_server.log_path.parent
    folder = Path(tempfile.mkdtemp(prefix="journal-"))
    try:
        shutil.copy(instance / "simulator-state.jsonl", folder / "state.jsonl")
        return Simulator(seed=42, state_path=str(folder / "state.jsonl"), state_key=live_server.state_key)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def journal_records(live_server) -> list[dict]:
    """The operations the simulator has recorded so far, oldest first."""
    from simulator.persistence import Journal

    _, records = Journal(str(live_server.log_path.parent / "simulator-state.jsonl"), live_server.state_key).load()
    return records


def partner_of(state, who: str = "acme") -> str:
    return state.accounts_by_email[ACCOUNTS[who]].partner_id


@pytest.fixture
def journey(browser, live_server):
    """A fresh browser page that records every answer of 500 or more (of any page, script or htmx request) and
    every visit to the sign-in page once signed in; the test fails at teardown on either, or on a console
    error, CSP violation or uncaught exception."""
    problems: list[str] = []
    page = open_page(browser, problems)
    page.signed_in = False

    def on_response(response):
        if response.status >= 500:
            problems.append(f"HTTP {response.status} from {response.request.method} {response.url}")

    def on_navigation(frame):
        if page.signed_in and frame == page.main_frame and urlpath(frame.url) == "/login":
            problems.append(f"sent back to the sign-in page: {frame.url}")

    page.context.on("response", on_response)
    page.on("framenavigated", on_navigation)
    yield page
    settle(page)
    page.context.close()
    assert not problems, "the journey went wrong:\n" + "\n".join(problems)


def signed_in(page, live_server) -> None:
    sign_in(page, live_server, "acme")
    page.signed_in = True


def test_a_new_admin_signs_in_through_onboarding_to_a_filled_overview(journey, live_server):
    page = journey
    sign_in_through_the_form(page, live_server, "acme")
    page.signed_in = True
    wait_until(page, CARDS_FILLED, timeout=20)
    cards = page.locator("[data-card]")
    assert cards.count() >= 9
    failed = page.locator("[data-card] .error-state, [data-card] .inline-error")
    assert failed.count() == 0, failed.all_inner_texts()


def test_every_campaign_pool_and_webhook_is_listed(journey, live_server):
    page = journey
    signed_in(page, live_server)
    state = sir_state(live_server)
    partner = partner_of(state)

    page.goto(live_server + "/campaigns")
    page.wait_for_selector("main h1")
    campaigns = [c for c in state.campaigns.values() if c.partner_id == partner and c.environment == "sandbox"]
    assert page.locator("main table tbody tr a[href*='campaign=']").count() == len(campaigns)

    page.goto(live_server + "/token-pools/")
    page.wait_for_selector("#pools")
    assert page.locator(".pool-balance").count() == len(state.pools_for(partner, "sandbox"))
    assert page.locator(".pool-card .runway").count() == len(state.pools_for(partner, "sandbox"))

    page.goto(live_server + "/webhooks/")
    page.wait_for_selector("main h1")
    hooks = [h for h in state.webhooks.values() if h.partner_id == partner and h.environment == "sandbox"]
    assert page.locator(".webhooks-table tbody tr").count() == len(hooks)
