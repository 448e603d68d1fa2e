"""A roll's states move on their own: once the grace period ends on SIR Giving's clock, the roll's page (and the
fragment it polls) says the roll is complete without the admin opening another page; the retired key's page
says the roll replaced it and offers only what makes sense; and "something still uses it" never counts the
portal's own calls from before it switched to the replacement."""

import pytest

from tests.conftest import AuthActions, page
from tests.keys.helpers import portal_credential
from tests.keys.test_rotation import confirm_stored, credential_of, show_secrets, start_roll
from webapp.sir.api import PartnerApi


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def roll_in_grace(app, client, grace="1h"):
    """The portal's own key rolled up to its grace period; returns (roll URL, the old key's id)."""
    old = portal_credential(app, client)
    roll_url, _ = start_roll(client, old.key_id, grace=grace)
    show_secrets(client, roll_url)
    confirm_stored(client, roll_url)
    return roll_url, old.key_id


def state_of(shown) -> str:
    return shown.select_one(".roll-state").get_text(strip=True)


@pytest.mark.parametrize("how", ["the page", "its poll"])
def test_a_roll_says_it_is_complete_by_itself_once_its_grace_period_ends(app, signed_in, simulator, how):
    roll_url, _ = roll_in_grace(app, signed_in)
    waiting = page(signed_in.get(roll_url))
    assert state_of(waiting) == "grace period" and waiting.select_one(".grace-ends") is not None
    assert waiting.select_one("#roll-body")["hx-get"] == f"{roll_url}/traffic"  # it polls while it waits

    simulator.advance_clock(61 * 60)  # the grace period ("1h") is over on SIR Giving's clock
    AuthActions(signed_in).sign_in("acme")  # the move ended the one-hour sign-in; no page is opened
    if how == "its poll":
        shown = page(signed_in.get(f"{roll_url}/traffic", headers={"HX-Request": "true"}))
        assert shown.select_one("header.topbar") is None
    else:
        shown = page(signed_in.get(roll_url))
    assert state_of(shown) == "completed" and steps_done_in(shown) == 6
    assert "Done: the old key is retired" in shown.select_one(".roll-done").get_text()
    assert not shown.select_one("#roll-body").has_attr("hx-get")  # nothing left to wait for: no more polling


def steps_done_in(shown) -> int:
    return len(shown.select("ol.roll-steps li.done"))


def test_a_roll_past_its_end_that_sir_giving_has_not_confirmed_says_what_it_waits_for(app, signed_in, simulator, monkeypatch):
    from webapp.keys.rotation import Rotator

    roll_url, _ = roll_in_grace(app, signed_in)
    simulator.advance_clock(61 * 60)
    AuthActions(signed_in).sign_in("acme")
    monkeypatch.setattr(Rotator, "complete_if_retired", lambda self, rotation, old_key: False)  # SIR Giving lags
    shown = page(signed_in.get(f"{roll_url}/traffic", headers={"HX-Request": "true"}))
    assert state_of(shown) == "grace period"
    said = shown.select_one(".grace-waiting").get_text(" ", strip=True)
    assert "The grace period ended" in said and "Waiting for SIR Giving to confirm that the old key stopped" in said
    assert shown.select_one("#roll-body").has_attr("hx-get")


def test_a_key_a_completed_roll_retired_says_what_replaced_it_and_offers_neither_roll_nor_deactivate(app, signed_in, simulator):
    roll_url, old_id = roll_in_grace(app, signed_in)
    simulator.advance_clock(61 * 60)
    AuthActions(signed_in).sign_in("acme")
    assert state_of(page(signed_in.get(roll_url))) == "completed"
    new_key = portal_credential(app, signed_in)

    shown = page(signed_in.get(f"/keys/{old_id}"))
    replaced = shown.select_one(".key-replaced")
    said = replaced.get_text(" ", strip=True)
    assert "This key was replaced by a roll" in said and "the portal switched to it" in said
    assert replaced.select_one(f"a[href='/keys/{new_key.key_id}']") is not None
    assert replaced.select_one(f"a[href='{roll_url}']") is not None
    text = shown.get_text(" ", strip=True)
    assert "This key has expired" not in text and "something still uses it" not in text
    assert shown.select_one(f"a[href='/keys/{old_id}/roll']") is None
    assert shown.select_one("form#key-active") is None and shown.select_one("form#key-expiry") is None
    assert shown.select_one("form#revoke-key") is not None  # revoking it for good still makes sense
    listed = page(signed_in.get("/keys/")).select_one(f"tr#key-{old_id}")
    assert listed.find("a", string="Roll key") is None and "replaced" in listed.select_one(".key-rolled").get_text()


def test_during_the_grace_period_only_a_call_after_the_switch_counts_as_something_still_using_the_old_key(app, signed_in, simulator):
    roll_url, old_id = roll_in_grace(app, signed_in, grace="24h")
    # The old key served the portal's own calls until the switch: that is not "something still uses it".
    shown = page(signed_in.get(f"/keys/{old_id}"))
    assert int(shown.select_one(".requests-24h").get_text(strip=True).replace(",", "")) >= 1
    assert shown.select_one(".still-used") is None

    simulator.advance_clock(5)  # a moment after the switch, another system calls with the old key
    PartnerApi(app.extensions["sir_client"], credential_of(simulator.keys[old_id]), "sandbox").get(
        "/v1/partner/campaigns", fresh=True)
    still = page(signed_in.get(f"/keys/{old_id}")).select_one(".still-used")
    assert still is not None and "something still uses it" in still.get_text()
