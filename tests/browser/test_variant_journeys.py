"""A new admin's journey in Chromium against each simulator variant (tests/variants/conftest.py VARIANTS: a
variant added there joins here): sign in and onboarding, the overview with every card filled, campaigns,
keys, token pools, webhooks and the audit log, with no answer of 500 or more, no way back to the sign-in
page, the counts SIR Giving's state gives, and a recovery that never retries a delivery that had succeeded.

One live server per variant (`live_server` here is parametrized over the variants, module scope), started once
and shared by the steps, which run in order. SIR Giving's state is read from the simulator's own record: its
journal (sealed with a key this module gives the server), replayed into a simulator of the test's own.
A portal key that SIR Giving refuses (no sign-in loop then either) is tests/variants/test_journey.py's: the
portal lets no one revoke its own key from the browser.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.browser.conftest import (ACCOUNTS, CARDS_FILLED, open_page, poll_until, serving, settle,
                                    sign_in, sign_in_through_the_form, urlpath, wait_until)
from tests.variants.conftest import VARIANTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def live_server(request, tmp_path_factory):
    """The portal with its embedded simulator in one variant; its journal is sealed with a key the test knows."""
    key = Fernet.generate_key().decode()
    for base_url in serving(tmp_path_factory, {"SIMULATOR_VARIANT": VARIANTS[request.param],
                                               "SIMULATOR_STATE_KEY": key}):
        base_url.state_key, base_url.sir = key, None
        yield base_url


def sir_state(live_server):
    """SIR Giving's state now, as the simulator recorded it: its journal replayed over the same seed into a
    simulator of the test's own (built once per server from a copy, so the server's file is never touched,
    then brought up to date with the operations recorded since, through the simulator's own replay)."""
    from simulator.persistence import Journal
    from simulator.state import Simulator

    key = live_server.state_key
    if getattr(live_server, "sir", None) is None:
        folder = Path(tempfile.mkdtemp(prefix="journal-"))
        try:
            copy = str(shutil.copy(live_server.log_path.parent / "simulator-state.jsonl", folder / "state.jsonl"))
            header, copied = Journal(copy, key).load()
            live_server.sir = Simulator(seed=header["seed"], state_path=copy, state_key=key)
            live_server.sir.journal = None  # later operations are replayed here, not recorded again
            live_server.replayed = len(copied)
            return live_server.sir
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    records = journal_records(live_server)
    for record in records[live_server.replayed:]:
        assert live_server.sir._replay(record), record["op"]
    live_server.replayed = len(records)
    return live_server.sir


def journal_records(live_server) -> list[dict]:
    """The operations the simulator has recorded so far, oldest first."""
    from simulator.persistence import Journal

    _, records = Journal(str(live_server.log_path.parent / "simulator-state.jsonl"), live_server.state_key).load()
    return records


def partner_of(state, who: str = "acme") -> str:
    return state.accounts_by_email[ACCOUNTS[who]].partner_id


@pytest.fixture(scope="module")
def admin(live_server):
    """The signed-in admin's browser storage (cookies), kept by the first step for the later ones: each step
    opens a fresh page in the same sign-in rather than signing in and loading the overview again."""
    return {}


@pytest.fixture
def journey(browser, live_server, admin):
    """A fresh browser page that records every answer of 500 or more (of any page, script or htmx request) and
    every visit to the sign-in page once signed in; the test fails at teardown on either, or on a console
    error, CSP violation or uncaught exception."""
    problems: list[str] = []
    page = open_page(browser, problems, **({"storage_state": admin["storage"]} if admin else {}))
    page.signed_in = False
    page.admin = admin

    def on_response(response):
        if response.status >= 500:
            problems.append(f"HTTP {response.status} from {response.request.method} {response.url}")
        elif page.signed_in and urlpath(response.url) == "/login":  # an htmx request sent to sign in, too
            problems.append(f"sent to the sign-in page by {response.request.method} {response.url}")

    def on_navigation(frame):
        if page.signed_in and frame == page.main_frame and urlpath(frame.url) == "/login":
            problems.append(f"sent back to the sign-in page: {frame.url}")

    page.context.on("response", on_response)
    page.on("framenavigated", on_navigation)
    yield page
    settle(page)
    page.context.close()
    assert not problems, "the journey went wrong:\n" + "\n".join(problems)


# What a missing or null field becomes when a template prints it as it is.
PLACEHOLDERS = re.compile(r"\b(None|null|undefined|NaN)\b")
MAIN_TEXT = ("() => { const main = document.querySelector('main').cloneNode(true);"
             " main.querySelectorAll('pre, code, script, select').forEach(e => e.remove()); return main.textContent; }")


def shows(page, selector: str, **options) -> None:
    """Wait until `selector` shows, then check that the page states no missing value as None, null or NaN
    (code, raw payloads and a select's choices aside)."""
    page.wait_for_selector(selector, **options)
    found = PLACEHOLDERS.findall(page.evaluate(MAIN_TEXT))
    assert not found, f"{page.url} shows {found}"


def signed_in(page, live_server) -> None:
    """Signed in as Acme: already, in the first step's sign-in, or (a step run on its own) through the form's
    requests, without loading the overview."""
    if not page.admin:
        sign_in(page, live_server, "acme")
        page.admin["storage"] = page.context.storage_state()
    page.signed_in = True


def test_a_new_admin_signs_in_through_onboarding_to_a_filled_overview(journey, live_server):
    page = journey
    sign_in_through_the_form(page, live_server, "acme")
    page.signed_in = True
    page.admin["storage"] = page.context.storage_state()
    wait_until(page, CARDS_FILLED, timeout=20)
    shows(page, "[data-card]")
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
    shows(page, "main h1")
    campaigns = [c for c in state.campaigns.values() if c.partner_id == partner and c.environment == "sandbox"]
    assert page.locator("main table tbody tr a[href*='campaign=']").count() == len(campaigns)

    page.goto(live_server + "/token-pools/")
    shows(page, "#pools")
    assert page.locator(".pool-balance").count() == len(state.pools_for(partner, "sandbox"))
    assert page.locator(".pool-card .runway").count() == len(state.pools_for(partner, "sandbox"))

    page.goto(live_server + "/webhooks/")
    shows(page, "main h1")
    hooks = [h for h in state.webhooks.values() if h.partner_id == partner and h.environment == "sandbox"]
    assert page.locator(".webhooks-table tbody tr").count() == len(hooks)


def test_keys_are_created_renamed_revoked_and_the_portals_key_rolled(journey, live_server):
    page = journey
    signed_in(page, live_server)
    page.goto(live_server + "/keys/new")
    page.fill("input[name=name]", "Variant widget")
    page.click("button:has-text('Create key')")
    shows(page, "#secret-key")
    assert "Key “Variant widget” · sandbox · secret" in page.locator("main").inner_text()
    page.click("button:has-text('I have stored these')")
    shows(page, "table.keys-table")
    state = sir_state(live_server)
    partner = partner_of(state)
    assert page.locator("table.keys-table tbody tr").count() == len(
        [k for k in state.keys.values() if k.partner_id == partner])

    page.locator("table.keys-table tbody tr", has_text="Variant widget").locator("td a").first.click()
    shows(page, "form#rename-key")
    page.fill("form#rename-key input[name=name]", "Variant widget v2")
    page.click("form#rename-key button:has-text('Rename')")
    shows(page, "#key-actions .flash-success")
    assert "Renamed to “Variant widget v2”" in page.locator("#key-actions").inner_text()
    # Before revoking: what it would cut off, and a button that waits for the key's name.
    assert page.locator("#revoke-key").locator("xpath=..").locator(".impact-line").inner_text().startswith("Impact:")
    revoke = page.locator("form#revoke-key button:has-text('Revoke key')")
    assert revoke.is_disabled()
    page.fill("form#revoke-key input[name=confirm_name]", "Variant widget v2")
    assert revoke.is_enabled()
    revoke.click()
    wait_until(page, "document.querySelector('#key-actions').innerText.includes('revoked for good')")

    page.goto(live_server + "/keys/")
    portal_row = page.locator("table.keys-table tbody tr", has_text="portal signs with this")
    portal_row.locator("a:has-text('Roll key')").click()
    page.check("input[name=grace][value='1h']")
    page.click("button:has-text('Create the replacement')")
    shows(page, "#new-secret-key")
    assert page.locator("#new-secret-key").inner_text().startswith("sk_test_")
    page.click("button:has-text('I have stored these — continue')")
    shows(page, "table.traffic")
    assert page.locator("ol.roll-steps li.done").count() == 5
    page.goto(live_server + "/webhooks/")  # a signed call, signed with the replacement now
    shows(page, "table.webhooks-table tbody tr")


def test_a_top_up_is_requested_from_a_pools_runway(journey, live_server):
    page = journey
    signed_in(page, live_server)
    page.goto(live_server + "/token-pools/")
    card = page.locator(".pool-card", has=page.locator("a:has-text('Request a top-up')")).first
    assert card.locator(".runway").inner_text().strip()
    card.locator("a:has-text('Request a top-up')").click()
    shows(page, "form#top-up-form")
    page.fill("input[name=amount]", "31000")
    page.fill("textarea[name=reason]", "A variant journey asks for more tokens")
    page.click("button:has-text('Review request')")
    shows(page, "form#top-up-confirm")
    assert page.inner_text(".confirm-amount") == "31,000 tokens"
    page.click("button:has-text('Send request to SIR Giving')")
    page.wait_for_url("**/token-pools/requests?status=pending*")
    assert "31,000" in page.locator("tr.row-new").inner_text()

    state = sir_state(live_server)
    partner = partner_of(state)
    asked = [r for r in state.requests.values() if r.partner_id == partner and r.amount == 31000]
    assert len(asked) == 1  # sent once
    pending = [r for r in state.requests.values()
               if r.partner_id == partner and r.environment == "sandbox" and r.status == "pending"]
    shown = page.locator("td.request-status").all_inner_texts()
    assert {s.strip() for s in shown} <= {"pending"} and len(shown) == min(len(pending), 25)


def register_portal_receiver(page, live_server, description):
    page.goto(live_server + "/webhooks/new")
    page.check("input[name=use_portal_receiver]")
    page.fill("input[name=description]", description)
    page.check("input[name=event_types][value='action.completed']")
    page.click("button:has-text('Register')")
    shows(page, "#webhook-secret")
    assert page.locator("#webhook-secret").inner_text().startswith("whsec_")
    # Found by its URL (a path of its own on the portal), not its description: an upstream may not keep that.
    url = page.locator(".secret-panel code.path").inner_text()
    page.click("button:has-text('I have stored it')")
    page.locator("table.webhooks-table tr", has_text=url).get_by_role("link", name="Deliveries").click()
    shows(page, "#deliveries")


def test_a_test_event_reaches_the_portals_receiver_and_its_signature_checks(journey, live_server):
    page = journey
    page.clock.install()  # the deliveries refresh every 5 s, the events every 3 s: move time on instead
    signed_in(page, live_server)
    register_portal_receiver(page, live_server, "Variant inbox")
    page.click("button:has-text('Send a test event')")
    poll_until(page, page.locator("table.deliveries-table tbody tr", has_text="succeeded"), every_ms=5000)

    page.goto(live_server + "/webhooks/events")
    poll_until(page, page.locator("table.events-table tbody tr", has_text="webhook.test"), every_ms=3000)
    page.locator("table.events-table tbody tr", has_text="webhook.test").get_by_role(
        "link", name="Check signature").first.click()
    shows(page, ".verdict")
    assert "Signature matches" in page.locator(".verdict").inner_text()
    page.click("#debugger-form button:has-text('Check')")
    shows(page, "#debugger-result .signed-string")
    assert "Signature matches" in page.locator("#debugger-result .verdict").inner_text()


def test_recovery_retries_only_what_failed_in_the_window(journey, live_server):
    page = journey
    signed_in(page, live_server)
    state = sir_state(live_server)
    partner = partner_of(state)
    hooks = [h for h in state.webhooks.values() if h.partner_id == partner and h.environment == "sandbox"]
    page.goto(live_server + "/webhooks/")
    shows(page, "table.webhooks-table")
    assert page.locator(".webhooks-table tbody tr").count() == len(hooks)

    hook = next(h for h in hooks if "legacy.acme.example" in h.url)
    mine = {d.id: d for d in state.deliveries.values() if d.webhook_id == hook.id}
    failed = sorted((d for d in mine.values() if d.status == "failed"), key=lambda d: d.created_at)
    since = datetime.fromtimestamp(failed[-15].created_at // 60 * 60, timezone.utc)  # the field takes minutes
    in_window = {d.id for d in failed if d.created_at >= since.timestamp()}

    page.locator("table.webhooks-table tr", has_text="legacy.acme.example").get_by_role("link", name="Deliveries").click()
    shows(page, "table.deliveries-table tbody tr")
    heading = page.locator("#deliveries-title").inner_text()
    number = int(re.match(r"(?:at least )?([\d,]+) deliver", heading).group(1).replace(",", ""))
    if heading.startswith("at least"):  # an upstream that gives no total: never more than it holds
        assert number <= len(mine), heading
    else:
        assert number == len(mine), heading
    page.fill("input[name=since]", since.strftime("%Y-%m-%dT%H:%M"))
    page.click("button:has-text('Count them')")
    count = int(page.locator(".recover-count strong").inner_text().replace(",", ""))
    assert count == len(in_window)
    mark = len(journal_records(live_server))
    page.click(f"button:has-text('Retry {count} deliveries')")
    shows(page, "#recovery-progress[data-state=finished]", timeout=30000)
    assert re.search(rf"{count} of {count}\s+retried: how each one landed is below", page.locator(".recovery-status").inner_text())

    retried = [r["args"][0] for r in journal_records(live_server)[mark:] if r["op"] == "retry_delivery"]
    assert sorted(retried) == sorted(in_window)  # each once, none that had succeeded or was outside the window
    assert all(mine[i].status == "failed" for i in retried)


def test_the_audit_log_records_the_journey(journey, live_server):
    page = journey
    signed_in(page, live_server)
    page.goto(live_server + "/audit/")
    shows(page, "#audit-entries table")
    entries = page.locator("#audit-entries").inner_text()
    for done in ("credential created", "key created", "portal credential switched", "top up requested",
                 "webhook registered", "test event sent", "deliveries recovered"):
        assert done in entries, done
    assert page.locator("#audit-entries .badge-fail").count() == 0
