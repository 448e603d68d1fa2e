"""Rolling a key (the rotation state machine behind it): every step, its audit trail, failures at each step with
resume and with cancel, double submits, and the grace period with its traffic view."""

import re
import time

import pytest

from tests.conftest import AuthActions, form_values, page, read_timeout, text_of
from tests.keys.helpers import (assert_the_dashboard_works, audit_rows, key_named, keys_named_like, keys_upstream,
                                portal_credential, post_page_form)
from webapp.sir import errors
from webapp.sir.api import PartnerApi

PORTAL_KEY_PREFIX = "Partner Ops Portal (sandbox"


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def start_roll(client, key_id, grace="24h"):
    data = form_values(client.get(f"/keys/{key_id}/roll"), "form#roll-key")
    data["grace"] = grace
    started = client.post(f"/keys/{key_id}/roll", data=data)
    assert started.status_code == 302, text_of(started)
    return roll_page_of(started.headers["Location"]), data


def roll_page_of(location: str) -> str:
    """The roll's own page, from where a roll's form led: the page itself, or the one link showing its secrets."""
    return location.split("/secrets/", 1)[0]


def show_secrets(client, roll_url):
    """What the admin does on a roll's page while the replacement's secrets wait: "Show the new secrets once"."""
    shown = post_page_form(client, roll_url, "form[action$='/show']")
    assert shown.status_code == 302 and "/secrets/" in shown.headers["Location"], text_of(shown)
    return client.get(shown.headers["Location"])


def confirm_stored(client, roll_url):
    return post_page_form(client, roll_url, "form[action$='/stored']")


def resume(client, roll_url):
    return post_page_form(client, roll_url, "form[action$='/resume']")


def cancel(client, roll_url):
    return post_page_form(client, roll_url, "form[action$='/cancel']")


def steps_done(response) -> int:
    return len(page(response).select("ol.roll-steps li.done"))


def test_the_roll_form_offers_every_grace_period_and_the_old_keys_traffic(app, signed_in, simulator):
    key = key_named(app, signed_in, "Backend integration")
    def served() -> int:
        return len([t for t in simulator.usage.recent.get(key["id"], ()) if t > simulator.now() - 86400])

    # The 24-hour window slides while the page is built: the figure lies between the counts before and after.
    before = served()
    shown = page(signed_in.get(f"/keys/{key['id']}/roll"))
    after = served()
    offered = {i["value"]: i.parent.get_text(strip=True) for i in shown.select("form#roll-key input[name=grace]")}
    assert offered == {"now": "Now", "1h": "In 1 hour", "24h": "In 24 hours", "3d": "In 3 days", "7d": "In 7 days"}
    said = re.search(r"The old key served ([\d,]+) requests in the last 24 hours", shown.get_text(" ", strip=True))
    assert said and after <= int(said.group(1).replace(",", "")) <= before and before > 0


def test_a_whole_roll_of_the_portals_own_key_never_stops_the_dashboard(app, signed_in, simulator, tmp_path):
    sir = app.extensions["sir_client"]
    sir.clock = simulator.now  # the portal's clock and SIR Giving's move together when the test moves time
    old = portal_credential(app, signed_in)
    old_record = key_named(app, signed_in, next(k["name"] for k in keys_upstream(app, signed_in) if k["id"] == old.key_id))
    assert_the_dashboard_works(app, signed_in)

    roll_url, data = start_roll(signed_in, old.key_id, grace="24h")
    assert roll_page_of(signed_in.post(f"/keys/{old.key_id}/roll", data=data).headers["Location"]) == roll_url
    assert_the_dashboard_works(app, signed_in)  # the replacement exists; the portal still signs with the old key

    shown = show_secrets(signed_in, roll_url)
    assert shown.headers["Cache-Control"].startswith("no-store")
    new_secret = page(shown).select_one("#new-secret-key").get_text()
    new_hmac = page(shown).select_one("#new-hmac-secret").get_text()
    assert new_secret.startswith("sk_test_") and len(new_hmac) == 64
    replacement = keys_named_like(app, signed_in, f"{old_record['name']} (")[0]
    assert replacement["status"] == "active" and replacement["environment"] == "sandbox"
    assert replacement["name"] == f"{old_record['name']} ({simulator_today(simulator)})"

    assert confirm_stored(signed_in, roll_url).status_code == 302
    after = signed_in.get(roll_url)
    assert steps_done(after) == 5 and "stops working" in text_of(after)
    assert new_secret not in after.get_data(as_text=True) and new_hmac not in after.get_data(as_text=True)
    assert portal_credential(app, signed_in).key_id == replacement["id"]
    assert portal_credential(app, signed_in).secret_key == new_secret
    assert_the_dashboard_works(app, signed_in)

    old_api = PartnerApi(sir, old, "sandbox")
    old_api.get("/v1/partner/campaigns", fresh=True)  # the old key still works during its grace period
    assert key_named(app, signed_in, old_record["name"])["expiresAt"] is not None

    simulator.advance_clock(24 * 3600 + 60)
    with pytest.raises(errors.InvalidApiKey):
        old_api.get("/v1/partner/campaigns", fresh=True)
    AuthActions(signed_in).login("acme")  # the admin's sign-in (JWT) lapsed with the day that passed
    assert_the_dashboard_works(app, signed_in)
    assert "Done: the old key is retired" in text_of(signed_in.get(roll_url))
    assert key_named(app, signed_in, old_record["name"])["status"] == "expired"

    trail = [row["what"] for row in reversed(audit_rows(signed_in))]
    expected = ["key roll started", "key roll replacement created", "key roll secrets stored", "key roll verified",
                "portal credential switched", "key roll old key scheduled", "key roll completed"]
    positions = [trail.index(step) for step in expected]
    assert positions == sorted(positions), trail
    assert all(row["outcome"] == "success" for row in audit_rows(signed_in) if row["what"].startswith(("key roll", "portal credential")))
    portal_files = [p for p in (tmp_path / "instance").rglob("*") if p.is_file() and not p.name.startswith("simulator")]
    assert not [p.name for p in portal_files if new_secret.encode() in p.read_bytes() or new_hmac.encode() in p.read_bytes()]


def simulator_today(simulator):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(simulator.now(), tz=timezone.utc).date().isoformat()


# -- a failure at each step, then resume, or cancel -----------------------------------------------------

FAILING_STEPS = {
    # step: (method, path) of the SIR Giving call that fails, or None for the portal's own database
    "create": ("POST", "/v1/partner/keys"),
    "verify": ("GET", "/v1/partner/users"),
    "switch": None,
    "schedule": ("PATCH", "/v1/partner/keys/*"),
}


def break_the_vault_once(app, monkeypatch):
    """The portal's database refuses the credential switch once (a lost connection, a full disk)."""
    from sqlalchemy.exc import OperationalError

    vault = app.extensions["vault"]
    real = vault.store_credential
    calls = {"n": 0}

    def store_credential(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("UPDATE vault_credentials", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(vault, "store_credential", store_credential)


def fail_step(app, simulator, monkeypatch, step):
    if FAILING_STEPS[step] is None:
        break_the_vault_once(app, monkeypatch)
    else:
        method, path = FAILING_STEPS[step]
        simulator.add_fault(method=method, path=path, status=503, count=1)


def run_until_failure(app, client, simulator, monkeypatch, step, key_id):
    """Start rolling the portal's own key and make `step` fail; return the roll's URL."""
    if step == "create":
        fail_step(app, simulator, monkeypatch, step)
    roll_url, _ = start_roll(client, key_id)
    if step != "create":
        assert page(show_secrets(client, roll_url)).select_one("#new-secret-key") is not None
        fail_step(app, simulator, monkeypatch, step)
        confirm_stored(client, roll_url)
    return roll_url


@pytest.mark.parametrize("step", list(FAILING_STEPS))
def test_a_failure_at_each_step_stops_in_place_and_resume_finishes_the_roll(app, signed_in, simulator, monkeypatch, step):
    old = portal_credential(app, signed_in)
    roll_url = run_until_failure(app, signed_in, simulator, monkeypatch, step, old.key_id)
    stopped = signed_in.get(roll_url)
    assert page(stopped).select_one(".roll-error") is not None, text_of(stopped)
    assert "The roll stopped" in text_of(stopped) and "Traceback" not in stopped.get_data(as_text=True)
    assert page(stopped).select_one("ol.roll-steps li.failed") is not None
    if step in ("create", "verify", "switch"):
        assert portal_credential(app, signed_in).key_id == old.key_id  # nothing switched yet
    assert_the_dashboard_works(app, signed_in)  # the partner is never without a working key
    listing = text_of(signed_in.get("/keys/"))
    assert "in progress" in listing and "it stopped" in listing
    assert any(r["outcome"] == "failure" for r in audit_rows(signed_in, outcome="failure"))

    resumed = resume(signed_in, roll_url)
    assert resumed.status_code == 302
    if step == "create":
        assert page(show_secrets(signed_in, roll_url)).select_one("#new-secret-key") is not None
        confirm_stored(signed_in, roll_url)
    done = signed_in.get(roll_url)
    assert steps_done(done) == 5 and page(done).select_one(".roll-error") is None, text_of(done)
    assert portal_credential(app, signed_in).key_id != old.key_id
    assert len(keys_named_like(app, signed_in, PORTAL_KEY_PREFIX, status="active")) == 2  # old (in grace) and new
    assert_the_dashboard_works(app, signed_in)


@pytest.mark.parametrize("step", ["create", "verify", "switch"])
def test_a_failure_at_a_step_then_cancel_revokes_the_replacement_and_keeps_the_old_key(app, signed_in, simulator, monkeypatch, step):
    old = portal_credential(app, signed_in)
    roll_url = run_until_failure(app, signed_in, simulator, monkeypatch, step, old.key_id)
    assert cancel(signed_in, roll_url).status_code == 302
    assert "Cancelled" in text_of(signed_in.get(roll_url))
    assert portal_credential(app, signed_in).key_id == old.key_id
    portal_keys = keys_named_like(app, signed_in, PORTAL_KEY_PREFIX)
    assert [k["id"] for k in portal_keys if k["status"] == "active"] == [old.key_id]
    assert all(k["status"] == "revoked" for k in portal_keys if k["id"] != old.key_id)
    assert_the_dashboard_works(app, signed_in)
    assert "key roll cancelled" in [r["what"] for r in audit_rows(signed_in)]
    assert "in progress" not in text_of(signed_in.get("/keys/"))


def test_once_the_portal_signs_with_the_new_key_cancel_is_refused_and_resume_finishes(app, signed_in, simulator):
    old = portal_credential(app, signed_in)
    roll_url = run_until_failure(app, signed_in, simulator, None, "schedule", old.key_id)
    stopped = page(signed_in.get(roll_url))
    assert stopped.select_one("form[action$='/cancel']") is None
    assert "can no longer be cancelled" in stopped.get_text(" ")
    refused = signed_in.post(f"{roll_url}/cancel", data={"csrf_token": form_values(signed_in.get(roll_url), "form[action$='/resume']")["csrf_token"]})
    assert refused.status_code == 302
    assert "already signs with the new key" in text_of(signed_in.get(roll_url))
    assert portal_credential(app, signed_in).key_id != old.key_id
    resume(signed_in, roll_url)
    assert steps_done(signed_in.get(roll_url)) == 5


def test_cancelling_before_the_secrets_are_stored_revokes_the_replacement(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"], grace="now")
    cancelled = cancel(signed_in, roll_url)
    assert cancelled.status_code == 302
    assert "Cancelled" in text_of(signed_in.get(roll_url))
    replacement = keys_named_like(app, signed_in, "Backend integration (")[0]
    assert replacement["status"] == "revoked" and key_named(app, signed_in, "Backend integration")["status"] == "active"
    assert "key roll cancelled" in [r["what"] for r in audit_rows(signed_in)]


@pytest.mark.slow
def test_a_lost_answer_when_creating_leaves_no_second_key(app, signed_in, simulator):
    client = signed_in
    old = portal_credential(app, client)
    simulator.add_fault(method="POST", path="/v1/partner/keys", delay_ms=2000, count=1)  # made, but answered too late
    with read_timeout(app, 1.0):
        roll_url, _ = start_roll(client, old.key_id)
    assert "SIR Giving did not answer in time" in text_of(client.get(roll_url))
    deadline = time.monotonic() + 10
    while not keys_named_like(app, client, f"{PORTAL_KEY_PREFIX}, ", status="active")[1:] and time.monotonic() < deadline:
        time.sleep(0.1)  # the simulator finishes making the key whose answer was lost
    resume(client, roll_url)
    actives = keys_named_like(app, client, PORTAL_KEY_PREFIX, status="active")
    assert len(actives) == 2  # the old key and exactly one replacement, whose secrets are shown once
    assert page(show_secrets(client, roll_url)).select_one("#new-secret-key") is not None
    assert "key roll orphan revoked" in [r["what"] for r in audit_rows(client)]


# -- double submits ----------------------------------------------------------------------------------------

def test_a_double_click_on_start_makes_one_replacement(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    data = form_values(signed_in.get(f"/keys/{key['id']}/roll"), "form#roll-key")
    first = signed_in.post(f"/keys/{key['id']}/roll", data=data)
    second = signed_in.post(f"/keys/{key['id']}/roll", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(keys_named_like(app, signed_in, "Backend integration (")) == 1


def test_resuming_twice_after_a_failed_create_makes_one_replacement(app, signed_in, simulator):
    key = key_named(app, signed_in, "Backend integration")
    simulator.add_fault(method="POST", path="/v1/partner/keys", status=503, count=1)
    roll_url, _ = start_roll(signed_in, key["id"])
    data = form_values(signed_in.get(roll_url), "form[action$='/resume']")
    signed_in.post(f"{roll_url}/resume", data=data)
    signed_in.post(f"{roll_url}/resume", data=data)  # the same form sent again
    assert len(keys_named_like(app, signed_in, "Backend integration (")) == 1


def test_a_double_click_on_stored_runs_each_step_once(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"])
    data = form_values(show_secrets(signed_in, roll_url), "form[action$='/stored']")
    signed_in.post(f"{roll_url}/stored", data=data)
    signed_in.post(f"{roll_url}/stored", data=data)
    whats = [r["what"] for r in audit_rows(signed_in)]
    assert whats.count("key roll secrets stored") == 1 and whats.count("key roll verified") == 1
    assert whats.count("key roll old key scheduled") == 1
    assert len(keys_named_like(app, signed_in, "Backend integration (")) == 1


# -- secrets once, the grace period, and the old key's end ------------------------------------------------

def test_the_replacements_secrets_are_shown_once_then_a_new_replacement_can_be_made(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"])
    first = show_secrets(signed_in, roll_url)
    secret = page(first).select_one("#new-secret-key").get_text()
    assert first.headers["Cache-Control"].startswith("no-store")
    again = signed_in.get(roll_url)  # a reload, or the browser coming back later
    assert secret not in again.get_data(as_text=True) and page(again).select_one("#new-secret-key") is None
    assert "are not shown again" in text_of(again)
    first_replacement = keys_named_like(app, signed_in, "Backend integration (")[0]
    data = form_values(again, "form[action$='/new-replacement']")
    signed_in.post(f"{roll_url}/new-replacement", data=data)
    signed_in.post(f"{roll_url}/new-replacement", data=data)  # a double click makes one new key, not two
    assert len(keys_named_like(app, signed_in, "Backend integration (")) == 2
    replacements = keys_named_like(app, signed_in, "Backend integration (")
    assert {k["id"]: k["status"] for k in replacements}[first_replacement["id"]] == "revoked"
    assert len([k for k in replacements if k["status"] == "active"]) == 1
    shown = show_secrets(signed_in, roll_url)
    assert page(shown).select_one("#new-secret-key").get_text() not in ("", secret)
    assert "key roll replacement revoked" in [r["what"] for r in audit_rows(signed_in)]


def test_grace_now_deactivates_the_old_key_at_once(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"], grace="now")
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    assert key_named(app, signed_in, "Backend integration")["status"] == "inactive"
    done = signed_in.get(roll_url)
    assert "Done: the old key is retired" in text_of(done) and steps_done(done) == 6


@pytest.mark.parametrize("grace, hours", [("1h", 1), ("3d", 72), ("7d", 168)])
def test_each_grace_period_sets_the_old_keys_expiry(app, signed_in, grace, hours):
    from datetime import datetime, timezone

    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"], grace=grace)
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    expires = datetime.fromisoformat(key_named(app, signed_in, "Backend integration")["expiresAt"].replace("Z", "+00:00"))
    assert abs((expires - datetime.now(timezone.utc)).total_seconds() - hours * 3600) < 120


def test_a_roll_never_lengthens_a_keys_life(app, signed_in):
    from datetime import date, timedelta

    key = key_named(app, signed_in, "Backend integration")
    in_two_days = (date.today() + timedelta(days=2)).isoformat()
    post_page_form(signed_in, f"/keys/{key['id']}", "form#key-expiry", expires_on=in_two_days)
    expires = key_named(app, signed_in, "Backend integration")["expiresAt"]
    assert expires == f"{in_two_days}T23:59:00Z"
    roll_url, _ = start_roll(signed_in, key["id"], grace="7d")
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    assert key_named(app, signed_in, "Backend integration")["expiresAt"] == expires
    assert "keeps its own, earlier expiry" in " ".join(r["detail"] for r in audit_rows(signed_in))


def test_the_grace_period_shows_old_against_new_traffic_and_ends_early_once_idle(app, signed_in, simulator):
    app.extensions["sir_client"].clock = simulator.now
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"], grace="7d")
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    simulator_key = simulator.keys[key["id"]]
    PartnerApi(app.extensions["sir_client"], credential_of(simulator_key), "sandbox").get("/v1/partner/campaigns", fresh=True)

    shown = page(signed_in.get(roll_url))
    old_row, new_row = shown.select_one("tr.old-key"), shown.select_one("tr.new-key")
    assert int(old_row.select_one(".requests-last-hour").get_text(strip=True)) >= 1
    assert new_row.select_one(".requests-last-hour").get_text(strip=True) == "1"  # the proving call
    assert new_row.select_one(".last-used time") is not None
    assert shown.select_one("#roll-body")["hx-get"].endswith("/traffic")
    assert shown.select_one("form[action$='/end-grace'] button").has_attr("disabled")
    polled = signed_in.get(f"{roll_url}/traffic", headers={"HX-Request": "true"})
    assert page(polled).select_one("#roll-traffic tr.old-key") is not None and page(polled).select_one("header.topbar") is None

    refused = post_page_form(signed_in, roll_url, "form[action$='/end-grace']")
    assert refused.status_code == 302
    assert "something still uses it" in text_of(signed_in.get(roll_url))
    assert key_named(app, signed_in, "Backend integration")["status"] == "active"

    simulator.advance_clock(3700)  # an hour with no request on the old key
    AuthActions(signed_in).login("acme")
    idle = page(signed_in.get(roll_url))
    assert idle.select_one("tr.old-key .requests-last-hour").get_text(strip=True) == "0"
    assert not idle.select_one("form[action$='/end-grace'] button").has_attr("disabled")
    post_page_form(signed_in, roll_url, "form[action$='/end-grace']")
    assert key_named(app, signed_in, "Backend integration")["status"] == "inactive"
    assert "Done: the old key is retired" in text_of(signed_in.get(roll_url))
    assert "key roll grace ended" in [r["what"] for r in audit_rows(signed_in)]


def credential_of(simulator_key):
    from webapp.sir.client import Credential

    return Credential(simulator_key.id, simulator_key.secret_key, simulator_key.hmac_secret)


def test_rolling_a_publishable_key_proves_it_with_a_widget_call(app, signed_in):
    key = key_named(app, signed_in, "Checkout widget")
    roll_url, _ = start_roll(signed_in, key["id"], grace="1h")
    shown = page(show_secrets(signed_in, roll_url))
    assert shown.select_one("#new-public-key").get_text().startswith("pk_test_") and shown.select_one("#new-secret-key") is None
    confirm_stored(signed_in, roll_url)
    assert steps_done(signed_in.get(roll_url)) == 5
    assert any("widget call" in r["detail"] for r in audit_rows(signed_in) if r["what"] == "key roll verified")
    trail = [r["what"] for r in reversed(audit_rows(signed_in)) if r["what"].startswith(("key roll", "portal credential"))]
    assert trail == ["key roll started", "key roll replacement created", "key roll secrets stored", "key roll verified",
                     "portal credential kept", "key roll old key scheduled"]


def test_an_expired_key_is_rolled_without_being_revived(app, signed_in, simulator):
    key = key_named(app, signed_in, "Legacy batch job")
    simulator.advance_clock(11 * 86400)
    AuthActions(signed_in).login("acme")
    app.extensions["sir_client"].clock = simulator.now
    assert key_named(app, signed_in, "Legacy batch job")["status"] == "expired"
    roll_url, _ = start_roll(signed_in, key["id"], grace="24h")
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    assert key_named(app, signed_in, "Legacy batch job")["status"] == "expired"
    assert "Done: the old key is retired" in text_of(signed_in.get(roll_url))


def test_the_keys_page_offers_resume_and_cancel_for_a_stopped_roll(app, signed_in, simulator):
    key = key_named(app, signed_in, "Backend integration")
    simulator.add_fault(method="POST", path="/v1/partner/keys", status=503, count=1)
    roll_url, _ = start_roll(signed_in, key["id"])
    listing = page(signed_in.get("/keys/"))
    banner = listing.select_one(".roll-in-progress")
    assert "Rolling “Backend integration”: in progress" in banner.get_text(" ", strip=True)
    assert banner.select_one("form[action$='/resume'] button") and banner.select_one("form[action$='/cancel'] button")
    overview_banner = text_of(signed_in.get("/audit/"))
    assert "Rolling “Backend integration” is in progress and waiting for you." in overview_banner
    resumed = post_page_form(signed_in, "/keys/", ".roll-in-progress form[action$='/resume']")
    assert roll_page_of(resumed.headers["Location"]) == roll_url
    assert page(show_secrets(signed_in, roll_url)).select_one("#new-secret-key") is not None


def test_another_partners_roll_is_not_found(app, signed_in):
    roll_url, _ = start_roll(signed_in, key_named(app, signed_in, "Backend integration")["id"])
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    assert other.get(roll_url).status_code == 404
    csrf = page(other.get("/keys/")).find("meta", attrs={"name": "csrf-token"})["content"]
    assert other.post(f"{roll_url}/cancel", data={"csrf_token": csrf}).status_code == 404
    assert keys_named_like(app, signed_in, "Backend integration (", status="active")


def test_a_grace_period_that_is_not_offered_is_refused_in_place(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    data = form_values(signed_in.get(f"/keys/{key['id']}/roll"), "form#roll-key")
    for grace in ("2w", ""):
        refused = signed_in.post(f"/keys/{key['id']}/roll", data={**data, "grace": grace}, headers={"HX-Request": "true"})
        assert page(refused).select_one("form#roll-key .field-errors") is not None, text_of(refused)
        assert page(refused).select_one("header.topbar") is None
    assert keys_named_like(app, signed_in, "Backend integration (") == []
    assert "key roll started" not in [r["what"] for r in audit_rows(signed_in)]


def test_a_key_being_rolled_keeps_the_end_the_roll_set(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"], grace="1h")
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    expires = key_named(app, signed_in, "Backend integration")["expiresAt"]
    shown = signed_in.get(f"/keys/{key['id']}")
    assert page(shown).select_one("form#key-expiry") is None and "the roll sets when it stops" in text_of(shown)
    csrf = page(shown).find("meta", attrs={"name": "csrf-token"})["content"]  # a form left open in another tab
    refused = signed_in.post(f"/keys/{key['id']}/expiry", data={"csrf_token": csrf, "expires_on": "2030-01-01"})
    assert refused.status_code == 409 and "the roll sets when it stops" in text_of(refused)
    assert key_named(app, signed_in, "Backend integration")["expiresAt"] == expires


def test_a_key_being_replaced_or_replaced_is_not_flagged_again(app, signed_in, simulator):
    legacy = key_named(app, signed_in, "Legacy batch job")  # expires within 14 days: flagged
    roll_url, _ = start_roll(signed_in, legacy["id"], grace="now")
    listing = page(signed_in.get("/keys/"))
    assert listing.select_one(".key-flag") is None
    assert "being replaced by “Legacy batch job (" in listing.select_one(f"tr#key-{legacy['id']} .key-rolled").get_text(" ", strip=True)
    show_secrets(signed_in, roll_url)
    confirm_stored(signed_in, roll_url)
    listing = page(signed_in.get("/keys/"))
    row = listing.select_one(f"tr#key-{legacy['id']}")
    assert "replaced by" in row.select_one(".key-rolled").get_text(" ", strip=True) and listing.select_one(".key-flag") is None
    assert not any("Legacy batch job" in b.get_text() for b in page(signed_in.get("/audit/")).select(".banner"))


def test_while_another_request_creates_the_replacement_a_resume_waits_instead_of_making_a_second(app, signed_in, simulator):
    from datetime import datetime, timedelta, timezone

    from webapp.store import db
    from webapp.store.models import KeyRotation

    key = key_named(app, signed_in, "Backend integration")
    simulator.add_fault(method="POST", path="/v1/partner/keys", status=503, count=1)
    roll_url, _ = start_roll(signed_in, key["id"])
    roll_id = int(roll_url.rsplit("/", 1)[1])

    def claimed_by_another_request(seconds_ago):
        with app.app_context():
            row = db.session.get(KeyRotation, roll_id)
            row.state, row.updated_at = "creating", datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
            db.session.commit()

    claimed_by_another_request(1)
    resume(signed_in, roll_url)
    waiting = signed_in.get(roll_url)
    assert "The replacement key is being created" in text_of(waiting)
    assert keys_named_like(app, signed_in, "Backend integration (") == []
    assert page(waiting).select_one("form[action$='/cancel']") is not None
    claimed_by_another_request(300)  # that request died long ago: this one takes over
    resume(signed_in, roll_url)
    assert len(keys_named_like(app, signed_in, "Backend integration (")) == 1
    assert page(show_secrets(signed_in, roll_url)).select_one("#new-secret-key") is not None


def test_a_failed_step_is_explained_once_next_to_the_steps(app, signed_in, simulator):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"])
    show_secrets(signed_in, roll_url)
    simulator.add_fault(method="GET", path="/v1/partner/users", status=503, count=1)
    confirm_stored(signed_in, roll_url)
    stopped = page(signed_in.get(roll_url))
    error = stopped.select_one(".roll-error").get_text(" ", strip=True)
    assert "SIR Giving" in error and "resume to try the step again" in error
    assert stopped.select(".flash") == []  # not repeated as a flash above the page
    failed_step = stopped.select_one("ol.roll-steps li.failed").get_text(" ", strip=True)
    assert failed_step.startswith("Prove the new key works")


def test_a_sign_in_that_ends_mid_roll_leads_back_to_it_and_runs_nothing_until_signed_in_again(app, signed_in, simulator):
    old = portal_credential(app, signed_in)
    roll_url, _ = start_roll(signed_in, old.key_id)
    data = form_values(show_secrets(signed_in, roll_url), "form[action$='/stored']")
    simulator.advance_clock(3700)  # the admin's JWT (one hour) lapses while the secrets are being stored
    # The portal reads SIR Giving's clock, so it knows the sign-in ended before asking SIR Giving anything.
    sent_away = signed_in.post(f"{roll_url}/stored", data=data, headers={"Referer": f"http://localhost{roll_url}"})
    from urllib.parse import parse_qs, urlsplit

    where = urlsplit(sent_away.headers["Location"])
    assert sent_away.status_code == 302 and where.path == "/login" and parse_qs(where.query)["next"] == [roll_url]
    back = AuthActions(signed_in).login("acme", next_url=roll_url)
    assert back.headers["Location"] == roll_url
    assert portal_credential(app, signed_in).key_id == old.key_id  # nothing ran while signed out
    confirm_stored(signed_in, roll_url)
    assert steps_done(signed_in.get(roll_url)) == 5
    assert portal_credential(app, signed_in).key_id != old.key_id
    assert_the_dashboard_works(app, signed_in)


def test_rolling_a_production_key_says_why_its_traffic_is_unknown_and_keeps_the_grace(app, signed_in):
    key = key_named(app, signed_in, "Live backend")  # the portal holds no production key of its own
    roll_url, _ = start_roll(signed_in, key["id"], grace="3d")
    shown = page(show_secrets(signed_in, roll_url))
    assert shown.select_one("#new-secret-key").get_text().startswith("sk_live_")
    confirm_stored(signed_in, roll_url)
    grace = page(signed_in.get(roll_url))
    assert "The portal has no production key of its own" in grace.select_one(".traffic-unknown").get_text()
    assert grace.select_one("form[action$='/end-grace'] button").has_attr("disabled")
    post_page_form(signed_in, roll_url, "form[action$='/end-grace']")
    assert "cannot tell whether the old key is idle" in text_of(signed_in.get(roll_url))
    assert key_named(app, signed_in, "Live backend")["status"] == "active"
    assert portal_credential(app, signed_in, "production") is None  # the portal's credentials are untouched


@pytest.mark.parametrize("old_name, expected", [
    ("Checkout backend", "Checkout backend (2026-03-01)"),
    ("Checkout backend (2026-01-15)", "Checkout backend (2026-03-01)"),  # an earlier roll's date is replaced
    ("Checkout backend (2026-03-01)", "Checkout backend (2026-03-01, 2)"),  # rolled twice in a day: counted
    ("Checkout backend (2026-03-01, 2)", "Checkout backend (2026-03-01, 3)"),
    ("Checkout backend (2026-02-28, 4)", "Checkout backend (2026-03-01)"),
    ("x" * 100, "x" * 87 + " (2026-03-01)"),  # still within SIR Giving's 100 characters
])
def test_the_replacement_is_named_after_the_old_key_with_the_date_never_stacked(old_name, expected):
    from datetime import datetime, timezone

    from webapp.keys.rotation import Rotator
    from webapp.store.models import KeyRotation

    class FixedClock:
        clock = staticmethod(lambda: datetime(2026, 3, 1, 12, tzinfo=timezone.utc).timestamp())

    rotator = Rotator(FixedClock(), None, None, "admin@acme.example")
    assert rotator.replacement_name(KeyRotation(old_key_name=old_name)) == expected


def test_a_failure_when_ending_a_key_the_portal_does_not_sign_with_can_still_be_cancelled(app, signed_in, simulator, monkeypatch):
    key = key_named(app, signed_in, "Backend integration")
    roll_url = run_until_failure(app, signed_in, simulator, monkeypatch, "schedule", key["id"])
    assert "The roll stopped" in text_of(signed_in.get(roll_url))
    assert cancel(signed_in, roll_url).status_code == 302
    assert "Cancelled" in text_of(signed_in.get(roll_url))
    assert keys_named_like(app, signed_in, "Backend integration (")[0]["status"] == "revoked"
    old = key_named(app, signed_in, "Backend integration")
    assert old["status"] == "active" and old["expiresAt"] is None


def test_a_head_request_does_not_use_up_the_replacements_one_showing(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    data = form_values(signed_in.get(f"/keys/{key['id']}/roll"), "form#roll-key")
    secrets_link = signed_in.post(f"/keys/{key['id']}/roll", data=data).headers["Location"]
    assert signed_in.head(secrets_link).status_code == 200
    assert page(signed_in.get(secrets_link)).select_one("#new-secret-key") is not None


def test_starting_a_roll_leads_to_its_secrets_once_at_a_link_only_that_answer_carries(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    data = form_values(signed_in.get(f"/keys/{key['id']}/roll"), "form#roll-key")
    secrets_link = signed_in.post(f"/keys/{key['id']}/roll", data=data).headers["Location"]
    roll_url = roll_page_of(secrets_link)
    assert secrets_link.startswith(f"{roll_url}/secrets/") and len(secrets_link) - len(roll_url) > 30
    shown = signed_in.get(secrets_link)
    assert shown.headers["Cache-Control"].startswith("no-store")
    secret = page(shown).select_one("#new-secret-key").get_text()
    again = signed_in.get(secrets_link)  # a reload
    assert secret not in again.get_data(as_text=True) and page(again).select_one("#new-secret-key") is None
    assert "are not shown again" in text_of(again)


def test_a_cross_site_link_to_a_roll_does_not_use_up_the_replacements_secrets(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    roll_url, _ = start_roll(signed_in, key["id"])  # the admin has not opened the page the start led to yet
    from_elsewhere = {"Referer": "https://evil.example/", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    for url in (roll_url, f"{roll_url}/secrets/guessed", f"{roll_url}/secrets/"):
        followed = signed_in.get(url, headers=from_elsewhere)
        assert followed.status_code in (200, 404) and page(followed).select_one("#new-secret-key") is None
    waiting = page(signed_in.get(roll_url))
    assert waiting.select_one(".secrets-waiting form[action$='/show'] button").get_text(strip=True) == "Show the new secrets once"
    assert waiting.select_one("form[action$='/stored']") is None  # nothing to confirm before they are seen
    shown = show_secrets(signed_in, roll_url)  # the intended path still shows them, once
    assert page(shown).select_one("#new-secret-key").get_text().startswith("sk_test_")
    assert page(signed_in.get(roll_url)).select_one("#new-secret-key") is None
    assert post_page_form(signed_in, roll_url, "form[action$='/stored']").status_code == 302


def test_two_rolls_on_one_day_give_names_without_stacked_dates(app, signed_in, simulator):
    from datetime import datetime, timezone

    today = datetime.fromtimestamp(simulator.now(), tz=timezone.utc).date().isoformat()
    start_roll(signed_in, key_named(app, signed_in, "Backend integration")["id"], grace="now")
    once = key_named(app, signed_in, f"Backend integration ({today})")
    start_roll(signed_in, once["id"], grace="now")  # the replacement rolled again the same day
    assert key_named(app, signed_in, f"Backend integration ({today}, 2)")["status"] == "active"
    assert not [k["name"] for k in keys_upstream(app, signed_in) if k["name"].count(today) > 1]


def with_expiry_in_30_days(simulator, key_id):
    """An expiry 30 days after the key was made, set on SIR Giving's side."""
    old = simulator.keys[key_id]
    old.expires_at = old.created_at + 30 * 86400


def test_a_replacement_for_a_key_with_an_expiry_gets_the_same_lifetime_upstream_shown_before_and_audited(
        app, signed_in, simulator):
    from datetime import datetime, timedelta

    key = key_named(app, signed_in, "Backend integration")
    with_expiry_in_30_days(simulator, key["id"])
    said = page(signed_in.get(f"/keys/{key['id']}/roll")).select_one("form#roll-key .replacement-expiry")
    assert "The replacement will expire on" in said.get_text(" ", strip=True) and "(30 days)" in said.get_text()
    promised = datetime.fromisoformat(said.select_one("time")["datetime"].replace("Z", "+00:00"))
    start_roll(signed_in, key["id"])
    new = next(k for k in keys_named_like(app, signed_in, "Backend integration (") if k["id"] != key["id"])
    created = datetime.fromisoformat(new["createdAt"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(new["expiresAt"].replace("Z", "+00:00"))
    assert abs((expires - created) - timedelta(days=30)) <= timedelta(seconds=5)
    assert abs(expires - promised) <= timedelta(seconds=5)
    row = next(r for r in audit_rows(signed_in) if "expiry" in r["what"] and new["id"] in r["target"])
    assert row["outcome"] == "success" and "30 days" in row["detail"]


def test_the_portals_own_key_with_an_expiry_is_rolled_into_a_replacement_without_one(app, signed_in, simulator):
    own = portal_credential(app, signed_in).key_id
    with_expiry_in_30_days(simulator, own)
    said = page(signed_in.get(f"/keys/{own}/roll")).select_one("form#roll-key .replacement-expiry")
    assert "The replacement gets no expiry" in said.get_text(" ", strip=True)
    roll_url, _ = start_roll(signed_in, own)
    new = next(k for k in keys_named_like(app, signed_in, PORTAL_KEY_PREFIX) if k["id"] != own)
    assert new["expiresAt"] is None
