"""webapp/dashboard/campaigns.py and cards.load_overview called directly, against the in-process simulator."""

import threading

import pytest

from tests.conftest import ACCOUNTS, PASSWORD
from webapp.dashboard.campaigns import campaign_report
from webapp.dashboard.cards import CARDS, in_order_of_arrival, load_overview, read_params
from webapp.sir.api import AccountApi, PartnerApi
from webapp.parallel import POOL
from webapp.sir.client import Credential


@pytest.fixture
def acme(app):
    """A signed client and the JWT client of Acme's admin."""
    client = app.extensions["sir_client"]
    login = client.login(ACCOUNTS["acme"][0], PASSWORD)
    account = AccountApi(client, login.get("token") or login.get("accessToken"))
    created = account.create_key("dashboard tests", "sandbox", "secret")
    return PartnerApi(client, Credential(created["id"], created["secretKey"], created["hmacSecret"]), "sandbox"), account


def test_the_report_shows_the_active_campaign_unless_another_is_asked_for(acme):
    api, _ = acme
    report = campaign_report(api)
    active = [c for c in report.listing.value if c.status == "active"]
    assert report.chosen == active[0] and report.analytics.value.campaign_id == active[0].id
    other = next(c for c in report.listing.value if c.name == "Back to school")
    asked = campaign_report(api, other.id)
    assert asked.chosen == other and asked.analytics.value.campaign_id == other.id
    assert campaign_report(api, "cmp_not_acmes") is None


def test_the_overview_brings_the_banners_pools_and_keys_in_the_cards_round(acme):
    api, account = acme
    hints = {"campaign_id": None}
    shown = load_overview(api, read_params({}), hints, account.keys)
    assert [loaded.card.id for loaded in shown.cards] == list(CARDS)
    assert {p.id for p in shown.pools.value} == {p.id for p in api.token_pools().value}
    assert "dashboard tests" in [k.name for k in shown.keys]
    assert load_overview(api, read_params({}), {}).keys is None  # the banner remembered them: not asked


def test_a_card_that_finished_while_the_page_was_busy_is_not_sent_as_a_skeleton():
    release = threading.Event()
    tasks = {"quick": POOL.submit(lambda: "quick"), "slow": POOL.submit(release.wait)}
    tasks["quick"].future.result()  # finished by its worker (result() could run it here instead)
    arriving = in_order_of_arrival(tasks, budget=0)
    assert next(arriving)[0] == "quick"
    release.set()  # the slow one finishes while the caller renders the quick one, past the budget
    tasks["slow"].future.result()
    key, task = next(arriving)
    assert key == "slow" and task is not None and task.result() is True


def test_a_card_still_waiting_when_the_budget_has_passed_comes_last_without_its_task():
    release = threading.Event()
    tasks = {"waiting": POOL.submit(release.wait), "quick": POOL.submit(lambda: "quick")}
    tasks["quick"].future.result()  # finished by its worker (result() could run it here instead)
    try:
        assert list(in_order_of_arrival(tasks, budget=0)) == [("quick", tasks["quick"]), ("waiting", None)]
    finally:
        release.set()
