"""API keys: the list, create with secrets shown once, rename, expiry, deactivate, revoke and their refusals."""

import pytest

from tests.conftest import form_values, page, partner_api_for, text_of
from tests.keys.helpers import (assert_the_dashboard_works, audit_rows, key_named, keys_upstream, portal_credential,
                                post_page_form)


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def portal_files_holding(tmp_path, *secrets) -> list[str]:
    """The portal's own files (database, HTTP cache, generated keys) that hold any of `secrets` in plain text.
    The embedded simulator's journal is SIR Giving's side of the wire, which must know a key to verify it."""
    return [p.name for p in (tmp_path / "instance").rglob("*") if p.is_file() and not p.name.startswith("simulator")
            and any(s.encode() in p.read_bytes() for s in secrets)]


def create_key(client, name="Checkout backend", **extra):
    data = form_values(client.get("/keys/new"), "form#create-key")
    data.update(name=name, environment="sandbox", key_type="secret", **extra)
    return client.post("/keys/new", data=data), data


# -- the list -----------------------------------------------------------------------------------------------

def test_the_list_shows_every_key_with_each_column_and_the_portals_own_marked(app, signed_in):
    listing = page(signed_in.get("/keys/"))
    headers = [th.get_text(" ", strip=True) for th in listing.select("table.keys-table thead th")][:9]
    assert headers == ["Name", "Environment", "Type", "Key", "Status", "Created", "Expires", "Last used", "Requests, 24 h"]
    rows = listing.select("table.keys-table tbody tr")
    upstream = keys_upstream(app, signed_in)
    assert len(rows) == len(upstream)
    for key in upstream:
        row = listing.select_one(f"tr#key-{key['id']}")
        cells = [td.get_text(" ", strip=True) for td in row.find_all("td")]
        assert cells[0].startswith(key["name"]) and cells[1] == key["environment"] and cells[2] == key["keyType"]
        assert cells[3] == (key["secretKeyPrefix"] or key["publicKey"][:16] + "…")
        assert cells[4] == key["status"]
        assert "sk_" not in cells[3][12:]  # a prefix, never a whole secret
    portal_row = next(r for r in rows if "portal signs with this" in r.get_text())
    assert portal_row["id"] == f"key-{portal_credential(app, signed_in).key_id}"
    widget = next(r for r in rows if "Checkout widget" in r.get_text())
    assert widget.select_one(".last-used").get_text(strip=True) == "never"  # SIR Giving says: never used
    backend = next(r for r in rows if "Backend integration" in r.get_text())
    assert backend.select_one(".last-used time") is not None


def test_usage_is_unknown_where_the_portal_cannot_read_it(app, signed_in):
    rows = page(signed_in.get("/keys/")).select("table.keys-table tbody tr")
    live = next(r for r in rows if "Live backend" in r.get_text())  # no production key in the portal's vault
    assert live.select("td")[8].get_text(strip=True) == "unknown"
    backend = key_named(app, signed_in, "Backend integration")
    usage = partner_api_for(app, signed_in).get("/v1/partner/dashboard/api-usage", {"days": 1}, fresh=True).data["byKey"]
    served = next(u for u in usage if u["keyId"] == backend["id"])["requestsLast24h"]
    row = next(r for r in rows if "Backend integration" in r.get_text())
    assert row.select("td")[8].get_text(strip=True) == f"{served:,}"


def test_last_used_is_unknown_when_sir_giving_does_not_say(app, signed_in):
    """An older key record without `lastUsedAt` reads "unknown", not "never"."""
    from flask import render_template

    from webapp.keys.forms import ActiveForm, ConfirmNameForm, ExpiryForm, RenameForm
    from webapp.sir.models import ApiKey

    record = {"id": "key_old", "name": "Old record", "environment": "sandbox", "keyType": "secret",
              "publicKey": "pk_test_1234567890abcdef", "secretKeyPrefix": "sk_test_1234…", "status": "active",
              "isActive": True, "createdAt": "2025-01-01T00:00:00Z", "expiresAt": None}
    key = ApiKey.parse(record)
    assert key.last_used_known is False
    never = ApiKey.parse({**record, "lastUsedAt": None})
    with app.test_request_context("/keys/key_old"):
        def impact(k):
            html = render_template("keys/_actions.html", key=k, is_portal_key=False, usage=None, expiring=False,
                                   rotation=None, rename_form=RenameForm(name=k.name), expiry_form=ExpiryForm(),
                                   revoke_form=ConfirmNameForm(k.name, formdata=None), active_form=ActiveForm(),
                                   message=None, refusal=None)
            from bs4 import BeautifulSoup
            return BeautifulSoup(html, "html5lib").select(".impact .tile")[1].get_text(" ", strip=True)
        assert impact(key) == "Last used unknown"
        assert impact(never) == "Last used never"


def test_keys_expiring_within_14_days_are_flagged_at_the_top_and_on_the_overview(app, signed_in):
    listing = signed_in.get("/keys/")
    flag = page(listing).select_one(".key-flag")
    assert "“Legacy batch job” (sandbox) expires" in flag.get_text(" ", strip=True)
    legacy = key_named(app, signed_in, "Legacy batch job")
    assert flag.select_one("a")["href"] == f"/keys/{legacy['id']}/roll"
    assert "row-flag" in page(listing).select_one(f"tr#key-{legacy['id']}")["class"]
    backend = key_named(app, signed_in, "Backend integration")
    assert "row-flag" not in (page(listing).select_one(f"tr#key-{backend['id']}").get("class") or [])
    # the overview (and every other page but the keys pages, which flag it next to the key) carries it as a banner
    overview = page(signed_in.get("/"))
    banner = next(b for b in overview.select(".banner") if "Legacy batch job" in b.get_text())
    assert "API key “Legacy batch job” (sandbox) expires in 10 days" in banner.get_text(" ", strip=True)
    assert banner.select_one("a")["href"] == f"/keys/{legacy['id']}/roll"
    assert any("Legacy batch job" in b.get_text() for b in page(signed_in.get("/audit/")).select(".banner"))


def test_an_expired_key_is_flagged_as_expired(app, signed_in, simulator):
    from tests.conftest import AuthActions

    simulator.advance_clock(11 * 86400)
    AuthActions(signed_in).login("acme")
    listing = page(signed_in.get("/keys/"))
    assert "“Legacy batch job” (sandbox) has expired" in listing.select_one(".key-flag").get_text(" ", strip=True)
    legacy = key_named(app, signed_in, "Legacy batch job")
    assert listing.select_one(f"tr#key-{legacy['id']}").select("td")[4].get_text(strip=True) == "expired"


def test_a_keys_own_page_flags_its_coming_expiry(app, signed_in):
    key = key_named(app, signed_in, "Legacy batch job")
    shown = page(signed_in.get(f"/keys/{key['id']}"))
    assert "This key expires" in shown.select_one(".key-flag").get_text()


# -- create, with the secrets shown once ----------------------------------------------------------------------

def test_a_new_keys_secrets_are_shown_once_with_copy_buttons_and_never_cached(app, signed_in, tmp_path):
    created, _ = create_key(signed_in)
    assert created.status_code == 302
    shown = signed_in.get(created.headers["Location"])
    assert shown.headers["Cache-Control"].startswith("no-store")
    soup = page(shown)
    secret_key, hmac_secret = soup.select_one("#secret-key").get_text(), soup.select_one("#hmac-secret").get_text()
    public_key = soup.select_one("#publishable-key").get_text()
    assert secret_key.startswith("sk_test_") and len(hmac_secret) == 64 and public_key.startswith("pk_test_")
    assert key_named(app, signed_in, "Checkout backend")["publicKey"] == public_key
    copy_targets = {b["data-copy-target"] for b in soup.select("button[data-copy-target]")}
    assert copy_targets == {"#publishable-key", "#secret-key", "#hmac-secret"}
    guard = soup.select_one("[data-confirm-leave]")
    stored = guard.select_one("form[data-confirm-leave-release] button")
    assert stored.get_text(strip=True) == "I have stored these"
    again = signed_in.get(created.headers["Location"])
    assert again.headers["Cache-Control"].startswith("no-store")
    assert "These secrets are no longer available" in text_of(again)
    assert secret_key not in again.get_data(as_text=True) and hmac_secret not in again.get_data(as_text=True)
    assert portal_files_holding(tmp_path, secret_key, hmac_secret) == []
    with signed_in.session_transaction() as session_data:
        assert secret_key not in str(dict(session_data))
    assert "key created" in [r["what"] for r in audit_rows(signed_in)]
    assert secret_key not in signed_in.get("/audit/").get_data(as_text=True)


def test_another_partner_cannot_open_a_secrets_page(app, signed_in):
    from tests.conftest import AuthActions

    created, _ = create_key(signed_in)
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    assert other.get(created.headers["Location"]).status_code == 404
    assert page(signed_in.get(created.headers["Location"])).select_one("#secret-key") is not None  # still unseen


def test_a_double_submit_creates_one_key(app, signed_in):
    first, data = create_key(signed_in, name="Only once")
    second = signed_in.post("/keys/new", data=data)
    assert first.status_code == 302 and second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert len([k for k in keys_upstream(app, signed_in) if k["name"] == "Only once"]) == 1


def test_a_new_key_can_become_the_portals_credential(app, signed_in, tmp_path):
    created, _ = create_key(signed_in, name="New portal key", use_for_portal="y")
    shown = page(signed_in.get(created.headers["Location"]))
    assert "the portal now signs its own sandbox calls with it" in shown.get_text(" ")
    new_key = key_named(app, signed_in, "New portal key")
    credential = portal_credential(app, signed_in)
    assert credential.key_id == new_key["id"] and credential.secret_key == shown.select_one("#secret-key").get_text()
    assert_the_dashboard_works(app, signed_in)  # signed calls with it, through the portal's HTTP cache
    assert portal_files_holding(tmp_path, credential.secret_key, credential.hmac_secret) == []  # encrypted in the vault
    listing = page(signed_in.get("/keys/"))
    assert "portal signs with this" in listing.select_one(f"tr#key-{new_key['id']}").get_text()


def test_bad_input_is_refused_in_place(app, signed_in):
    before = len(keys_upstream(app, signed_in))
    data = form_values(signed_in.get("/keys/new"), "form#create-key")
    data.update(name="", key_type="publishable", use_for_portal="y")
    refused = signed_in.post("/keys/new", data=data, headers={"HX-Request": "true"})
    assert "Give the key a name" in text_of(refused) and "Only a secret key pair can sign" in text_of(refused)
    assert page(refused).select_one("header.topbar") is None and page(refused).select_one("form#create-key")
    data.update(name="x" * 101, key_type="secret", use_for_portal="")
    assert "At most 100 characters" in text_of(signed_in.post("/keys/new", data=data, headers={"HX-Request": "true"}))
    assert len(keys_upstream(app, signed_in)) == before


def test_an_upstream_failure_on_create_is_explained_in_place_and_the_form_can_be_sent_again(app, signed_in, simulator):
    simulator.add_fault(method="POST", path="/v1/partner/keys", status=503, count=1)
    data = form_values(signed_in.get("/keys/new"), "form#create-key")
    data.update(name="Retry me")
    failed = signed_in.post("/keys/new", data=data, headers={"HX-Request": "true"})
    assert "SIR Giving had an internal error" in text_of(failed) and "Traceback" not in failed.get_data(as_text=True)
    assert page(failed).select_one("form#create-key input[name=name]")["value"] == "Retry me"
    again = signed_in.post("/keys/new", data=data, headers={"HX-Request": "true"})
    assert again.headers.get("HX-Redirect", "").startswith("/keys/secrets/")
    assert len([k for k in keys_upstream(app, signed_in) if k["name"] == "Retry me"]) == 1


# -- rename, expiry, deactivate, revoke ----------------------------------------------------------------------

def test_rename_and_expiry_and_a_past_date_is_refused(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    shown = signed_in.get(f"/keys/{key['id']}")
    renamed = signed_in.post(f"/keys/{key['id']}/rename", data={**form_values(shown, "form#rename-key"), "name": "Backend v2"},
                             headers={"HX-Request": "true"})
    assert "Renamed to “Backend v2”" in text_of(renamed) and page(renamed).select_one("header.topbar") is None
    past = signed_in.post(f"/keys/{key['id']}/expiry", data={**form_values(shown, "form#key-expiry"), "expires_on": "2020-01-01"})
    assert past.status_code == 422 and "The expiry must be in the future" in text_of(past)
    assert key_named(app, signed_in, "Backend v2")["expiresAt"] is None
    garbled = signed_in.post(f"/keys/{key['id']}/expiry", data={**form_values(shown, "form#key-expiry"), "expires_on": "31/01/2030"})
    assert garbled.status_code == 422 and "Enter a date like" in text_of(garbled)
    future = signed_in.post(f"/keys/{key['id']}/expiry", data={**form_values(shown, "form#key-expiry"), "expires_on": "2030-06-30"})
    assert "expires on 2030-06-30" in text_of(future)
    assert key_named(app, signed_in, "Backend v2")["expiresAt"] == "2030-06-30T23:59:00Z"
    blank = signed_in.post(f"/keys/{key['id']}/rename", data={**form_values(shown, "form#rename-key"), "name": "  "})
    assert blank.status_code == 422 and "Enter a name" in text_of(blank)
    whats = [r["what"] for r in audit_rows(signed_in)]
    assert "key renamed" in whats and "key expiry set" in whats


def test_deactivate_reactivate_and_revoke_with_the_impact_shown_first(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    shown = signed_in.get(f"/keys/{key['id']}")
    usage = partner_api_for(app, signed_in).get("/v1/partner/dashboard/api-usage", {"days": 1}, fresh=True).data["byKey"]
    served = next(u for u in usage if u["keyId"] == key["id"])["requestsLast24h"]
    soup = page(shown)
    assert soup.select_one(".requests-24h").get_text(strip=True) == f"{served:,}"
    assert "something still uses it" in text_of(shown)
    for form in ("form#key-active", "form#revoke-key"):
        impact = soup.select_one(form).find_parent(class_="card").select_one(".impact-line").get_text(" ", strip=True)
        assert f"{served:,} requests in the last 24 hours" in impact and "last used" in impact
    off = signed_in.post(f"/keys/{key['id']}/active", data={**form_values(shown, "form#key-active")})
    assert "The key is deactivated" in text_of(off) and key_named(app, signed_in, key["name"])["status"] == "inactive"
    on = signed_in.post(f"/keys/{key['id']}/active", data={**form_values(off, "form#key-active")})
    assert key_named(app, signed_in, key["name"])["status"] == "active" and "works again" in text_of(on)
    wrong = signed_in.post(f"/keys/{key['id']}/revoke", data={**form_values(shown, "form#revoke-key"), "confirm_name": "backend"})
    assert wrong.status_code == 422 and "exactly to revoke" in text_of(wrong)
    assert key_named(app, signed_in, key["name"])["status"] == "active"
    assert page(shown).select_one("form#revoke-key button[data-confirm-match]") is not None
    revoked = signed_in.post(f"/keys/{key['id']}/revoke", data={**form_values(shown, "form#revoke-key"), "confirm_name": key["name"]})
    assert "revoked for good" in text_of(revoked) and key_named(app, signed_in, key["name"])["status"] == "revoked"
    assert page(revoked).select_one("form#revoke-key") is None and page(revoked).select_one("form#key-active") is None
    whats = [r["what"] for r in audit_rows(signed_in)]
    assert "key deactivated" in whats and "key reactivated" in whats and "key revoked" in whats


def test_the_portals_own_key_cannot_be_deactivated_or_revoked_and_rolling_is_offered(app, signed_in):
    own = portal_credential(app, signed_in).key_id
    shown = signed_in.get(f"/keys/{own}")
    assert "cannot be deactivated or revoked until another credential is in place" in text_of(shown)
    off = signed_in.post(f"/keys/{own}/active", data=form_values(shown, "form#key-active"), headers={"HX-Request": "true"})
    assert "cannot be deactivated until another credential is in place" in text_of(off)
    assert page(off).select_one(".alert-error a")["href"] == f"/keys/{own}/roll"
    gone = signed_in.post(f"/keys/{own}/revoke", data={**form_values(shown, "form#revoke-key"), "confirm_name": "x"})
    assert gone.status_code == 409 and "cannot be revoked until another credential is in place" in text_of(gone)
    assert next(k for k in keys_upstream(app, signed_in) if k["id"] == own)["status"] == "active"
    assert_the_dashboard_works(app, signed_in)


def test_the_portals_own_key_page_shows_deactivate_and_revoke_disabled_with_the_reason_before_any_click(app, signed_in):
    own = portal_credential(app, signed_in).key_id
    shown = page(signed_in.get(f"/keys/{own}"))
    for form_id in ("key-active", "revoke-key"):
        button = shown.select_one(f"form#{form_id} button[type=submit]")
        assert button.has_attr("disabled") and not button.has_attr("data-confirm-match")
        reason = shown.select_one(f"#{button['aria-describedby']}").get_text(" ", strip=True)
        assert "The portal signs its own sandbox calls with this key, so it cannot be" in reason
        assert shown.select_one(f"#{button['aria-describedby']} a")["href"] == f"/keys/{own}/roll"
    other = key_named(app, signed_in, "Backend integration")
    elsewhere = page(signed_in.get(f"/keys/{other['id']}"))
    assert not elsewhere.select_one("form#key-active button[type=submit]").has_attr("disabled")
    assert elsewhere.select_one(".portal-key-reason") is None


def test_an_upstream_failure_on_a_change_is_explained_in_place(app, signed_in, simulator):
    key = key_named(app, signed_in, "Backend integration")
    shown = signed_in.get(f"/keys/{key['id']}")
    simulator.add_fault(method="PATCH", path="/v1/partner/keys/*", status=503, count=1)
    failed = signed_in.post(f"/keys/{key['id']}/active", data=form_values(shown, "form#key-active"),
                            headers={"HX-Request": "true"})
    assert failed.status_code == 200 and page(failed).select_one("#key-actions .alert-error") is not None
    assert "Try again in a moment." in page(failed).select_one("#key-actions .alert-error").get_text(" ", strip=True)
    assert "Traceback" not in failed.get_data(as_text=True)
    assert key_named(app, signed_in, "Backend integration")["status"] == "active"
    assert any(r["what"] == "key deactivated" and r["outcome"] == "failure" for r in audit_rows(signed_in))


def test_an_unknown_key_is_not_found(signed_in):
    assert signed_in.get("/keys/key_does_not_exist").status_code == 404


def test_an_expiry_can_be_removed(app, signed_in):
    key = key_named(app, signed_in, "Legacy batch job")
    shown = signed_in.get(f"/keys/{key['id']}")
    data = {**form_values(shown, "form#key-expiry"), "clear": "1"}
    cleared = signed_in.post(f"/keys/{key['id']}/expiry", data=data, headers={"HX-Request": "true"})
    assert "The key no longer expires" in text_of(cleared)
    assert key_named(app, signed_in, "Legacy batch job")["expiresAt"] is None
    assert page(signed_in.get("/keys/")).select_one(".key-flag") is None


@pytest.mark.parametrize("left, said", [({"days": 9, "hours": 23}, "in 10 days"), ({"days": 1, "minutes": 1}, "in 2 days"),
                                        ({"hours": 5, "minutes": 10}, "in 6 hours"), ({"minutes": 59}, "within the hour")])
def test_the_banner_says_how_long_a_key_has_left_in_words(left, said):
    from datetime import timedelta

    from webapp.keys.banner import time_left

    assert time_left(timedelta(**left)) == said


def test_a_lapsed_sign_in_on_a_change_leads_back_to_the_key_after_signing_in(app, signed_in, simulator):
    from urllib.parse import parse_qs, urlsplit

    from tests.conftest import AuthActions

    key = key_named(app, signed_in, "Backend integration")
    shown = signed_in.get(f"/keys/{key['id']}")
    simulator.add_fault(method="PATCH", path="/v1/partner/keys/*", status=401, count=1)
    lapsed = signed_in.post(f"/keys/{key['id']}/rename", data={**form_values(shown, "form#rename-key"), "name": "Lapsed"},
                            headers={"HX-Request": "true"})
    where = urlsplit(lapsed.headers["HX-Redirect"])
    assert where.path == "/login" and parse_qs(where.query)["next"] == [f"/keys/{key['id']}"]
    assert AuthActions(signed_in).login("acme", next_url=f"/keys/{key['id']}").headers["Location"] == f"/keys/{key['id']}"
    assert key_named(app, signed_in, "Backend integration")["name"] == "Backend integration"


def test_a_head_request_does_not_use_up_the_one_showing(signed_in):
    created, _ = create_key(signed_in, name="Checked by a proxy")
    assert signed_in.head(created.headers["Location"]).status_code == 200
    assert page(signed_in.get(created.headers["Location"])).select_one("#secret-key") is not None


def test_a_webhooks_reveal_token_at_the_keys_url_is_not_found_and_stays_unspent(app, signed_in):
    from tests.webhooks.helpers import register

    registered = register(signed_in, url="https://hooks.acme.example/sir", event_types=["action.completed"])
    webhook_page = registered.headers["Location"]
    token = webhook_page.rsplit("/", 1)[1]
    crossed = signed_in.get(f"/keys/secrets/{token}")
    assert crossed.status_code == 404 and "Traceback" not in crossed.get_data(as_text=True)
    shown = signed_in.get(webhook_page)  # its own page still shows the secret, once
    assert shown.status_code == 200 and "whsec_" in page(shown).select_one("#webhook-secret").get_text()


def test_a_keys_reveal_token_at_the_webhooks_url_is_not_found_and_stays_unspent(app, signed_in):
    created, _ = create_key(signed_in, name="Typed token")
    token = created.headers["Location"].rsplit("/", 1)[1]
    crossed = signed_in.get(f"/webhooks/secret/{token}")
    assert crossed.status_code == 404 and "Traceback" not in crossed.get_data(as_text=True)
    assert page(signed_in.get(created.headers["Location"])).select_one("#secret-key") is not None


def test_an_expiry_on_the_portals_own_key_is_refused_in_place_and_a_roll_is_offered(app, signed_in, simulator):
    own = portal_credential(app, signed_in).key_id
    shown = signed_in.get(f"/keys/{own}")
    expiry_card = page(shown).select_one(".portal-key-expiry")
    assert "takes no expiry" in expiry_card.get_text(" ", strip=True)
    assert expiry_card.select_one("a")["href"] == f"/keys/{own}/roll"
    csrf = page(shown).find("meta", attrs={"name": "csrf-token"})["content"]  # a form left open in another tab
    refused = signed_in.post(f"/keys/{own}/expiry", data={"csrf_token": csrf, "expires_on": "2030-01-01"},
                             headers={"HX-Request": "true"})
    alert = page(refused).select_one("#key-actions .alert-error")
    assert "so it takes no expiry" in alert.get_text(" ", strip=True) and "every page of the portal would fail" in alert.get_text()
    assert alert.select_one("a")["href"] == f"/keys/{own}/roll"
    assert page(refused).select_one("header.topbar") is None  # in place
    assert simulator.keys[own].expires_at is None  # nothing changed upstream
    assert "key expiry set" not in [r["what"] for r in audit_rows(signed_in)]
    assert_the_dashboard_works(app, signed_in)


def test_the_portals_own_key_with_an_upstream_expiry_10_days_out_warns_that_every_page_would_stop(app, signed_in, simulator):
    own = portal_credential(app, signed_in).key_id
    simulator.keys[own].expires_at = simulator.now() + 10 * 86400  # set on SIR Giving's side, not by the portal
    with signed_in.session_transaction() as session_data:
        session_data.pop("key_flags", None)  # the banner's one-minute memory of the key list
    banner = next(b for b in page(signed_in.get("/")).select(".banner") if b.select_one(f"a[href='/keys/{own}/roll']"))
    said = banner.get_text(" ", strip=True)
    assert "which the portal signs with, expires in 10 days" in said and "every page of the portal stops working" in said
    assert "banner-danger" in banner["class"]
    flag = page(signed_in.get(f"/keys/{own}")).select_one(".key-flag")
    assert "every page of the portal stops working" in flag.get_text(" ", strip=True)
    assert flag.select_one("a")["href"] == f"/keys/{own}/roll"
    removed = post_page_form(signed_in, f"/keys/{own}", "form#key-expiry", clear="1")  # removing it is allowed
    assert "The key no longer expires" in text_of(removed) and simulator.keys[own].expires_at is None
