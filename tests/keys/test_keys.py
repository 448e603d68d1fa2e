"""API keys: secrets shown once, changes and their refusals, and the guided zero-downtime rotation."""

import pytest

from tests.conftest import form_values, page, partner_api_for, session_jwt, text_of
from webapp.sir import errors
from webapp.sir.api import PartnerApi


@pytest.fixture
def signed_in(client, auth):
    auth.sign_in("acme")
    return client


def keys_upstream(app, client):
    return app.extensions["sir_client"].jwt_call("GET", "/v1/partner/keys", session_jwt(app, client), params={"limit": 100})["data"]


def key_named(app, client, name):
    return next(k for k in keys_upstream(app, client) if k["name"] == name)


def portal_credential(app, client, environment="sandbox"):
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    with app.app_context():
        return app.extensions["vault"].credential_for(partner_id, environment)


def create_key(client, name="Checkout backend", **extra):
    data = form_values(client.get("/keys/new"), "form#create-key")
    data.update(name=name, environment="sandbox", key_type="secret", **extra)
    return client.post("/keys/new", data=data), data


def test_the_list_shows_every_key_with_status_usage_and_the_portals_own_marked(app, signed_in):
    rows = page(signed_in.get("/keys/")).select("table.keys-table tbody tr")
    upstream = keys_upstream(app, signed_in)
    assert len(rows) == len(upstream)
    portal_row = next(r for r in rows if "portal signs with this" in r.get_text())
    assert portal_credential(app, signed_in).key_id in portal_row["id"]
    legacy = next(r for r in rows if "Legacy batch job" in r.get_text())
    assert "row-flag" in legacy["class"]
    assert "“Legacy batch job” (sandbox) expires" in text_of(signed_in.get("/keys/"))
    widget = next(r for r in rows if "Checkout widget" in r.get_text())
    assert widget.select_one(".last-used").get_text(strip=True) == "never"


def test_a_new_keys_secrets_are_shown_once_and_never_cached(app, signed_in, tmp_path):
    created, _ = create_key(signed_in)
    assert created.status_code == 302
    shown = signed_in.get(created.headers["Location"])
    assert shown.headers["Cache-Control"].startswith("no-store")
    secret_key = page(shown).select_one("#secret-key").get_text()
    hmac_secret = page(shown).select_one("#hmac-secret").get_text()
    assert secret_key.startswith("sk_test_") and len(hmac_secret) == 64
    assert page(shown).select_one("[data-confirm-leave]") is not None
    again = signed_in.get(created.headers["Location"])
    assert "These secrets are no longer available" in text_of(again) and secret_key not in again.get_data(as_text=True)
    stored = b"".join(p.read_bytes() for p in (tmp_path / "instance").glob("*.sqlite3*"))
    assert secret_key.encode() not in stored and hmac_secret.encode() not in stored
    with signed_in.session_transaction() as session_data:
        assert secret_key not in str(dict(session_data))


def test_a_double_submit_creates_one_key(app, signed_in):
    first, data = create_key(signed_in, name="Only once")
    second = signed_in.post("/keys/new", data=data)
    assert first.status_code == 302 and second.status_code == 302
    assert len([k for k in keys_upstream(app, signed_in) if k["name"] == "Only once"]) == 1


def test_a_new_key_can_become_the_portals_credential(app, signed_in):
    created, _ = create_key(signed_in, name="New portal key", use_for_portal="y")
    signed_in.get(created.headers["Location"])
    assert portal_credential(app, signed_in).key_id == key_named(app, signed_in, "New portal key")["id"]
    assert signed_in.get("/").status_code == 200


def test_bad_input_is_refused_in_place(signed_in):
    data = form_values(signed_in.get("/keys/new"), "form#create-key")
    data.update(name="", key_type="publishable", use_for_portal="y")
    refused = signed_in.post("/keys/new", data=data, headers={"HX-Request": "true"})
    assert "Give the key a name" in text_of(refused) and "Only a secret key pair can sign" in text_of(refused)
    assert page(refused).select_one("header.topbar") is None


def test_rename_and_expiry_and_a_past_date_is_refused(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    shown = signed_in.get(f"/keys/{key['id']}")
    renamed = signed_in.post(f"/keys/{key['id']}/rename", data={**form_values(shown, "form#rename-key"), "name": "Backend v2"})
    assert "Renamed to “Backend v2”" in text_of(renamed)
    past = signed_in.post(f"/keys/{key['id']}/expiry", data={**form_values(shown, "form#key-expiry"), "expires_on": "2020-01-01"})
    assert past.status_code == 422 and "The expiry must be in the future" in text_of(past)
    assert key_named(app, signed_in, "Backend v2")["expiresAt"] is None
    future = signed_in.post(f"/keys/{key['id']}/expiry", data={**form_values(shown, "form#key-expiry"), "expires_on": "2030-06-30"})
    assert "expires on 2030-06-30" in text_of(future)
    assert key_named(app, signed_in, "Backend v2")["expiresAt"] == "2030-06-30T23:59:00Z"


def test_deactivate_reactivate_and_revoke_with_the_impact_shown_first(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    shown = signed_in.get(f"/keys/{key['id']}")
    usage = partner_api_for(app, signed_in).get("/v1/partner/dashboard/api-usage", {"days": 1}).data["byKey"]
    served = next(u for u in usage if u["keyId"] == key["id"])["requestsLast24h"]
    assert page(shown).select_one(".requests-24h").get_text(strip=True) == f"{served:,}"
    assert "something still uses it" in text_of(shown)
    off = signed_in.post(f"/keys/{key['id']}/active", data={**form_values(shown, "form#key-active")})
    assert "The key is deactivated" in text_of(off) and key_named(app, signed_in, key["name"])["status"] == "inactive"
    on = signed_in.post(f"/keys/{key['id']}/active", data={**form_values(off, "form#key-active")})
    assert key_named(app, signed_in, key["name"])["status"] == "active" and "works again" in text_of(on)
    wrong = signed_in.post(f"/keys/{key['id']}/revoke", data={**form_values(shown, "form#revoke-key"), "confirm_name": "backend"})
    assert wrong.status_code == 422 and "exactly to revoke" in text_of(wrong)
    assert key_named(app, signed_in, key["name"])["status"] == "active"
    revoked = signed_in.post(f"/keys/{key['id']}/revoke", data={**form_values(shown, "form#revoke-key"), "confirm_name": key["name"]})
    assert "revoked for good" in text_of(revoked) and key_named(app, signed_in, key["name"])["status"] == "revoked"
    audit = text_of(signed_in.get("/audit/"))
    assert "key deactivated" in audit and "key reactivated" in audit and "key revoked" in audit


def test_the_portals_own_key_cannot_be_deactivated_or_revoked(app, signed_in):
    own = portal_credential(app, signed_in).key_id
    shown = signed_in.get(f"/keys/{own}")
    off = signed_in.post(f"/keys/{own}/active", data=form_values(shown, "form#key-active"))
    assert off.status_code == 409 and "cannot be deactivated until another credential is in place" in text_of(off)
    assert page(off).select_one(".alert-error a")["href"] == f"/keys/{own}/rotate"
    gone = signed_in.post(f"/keys/{own}/revoke", data={**form_values(shown, "form#revoke-key")})
    assert gone.status_code == 409 and key_named(app, signed_in, "Partner Ops Portal (sandbox, " + __import__("datetime").date.today().isoformat() + ")")["status"] == "active"


def start_rotation(client, key_id, grace="24h"):
    data = form_values(client.get(f"/keys/{key_id}/rotate"), "form#rotate-key")
    data["grace"] = grace
    return client.post(f"/keys/{key_id}/rotate", data=data), data


def test_a_whole_rotation_of_the_portals_own_key_keeps_the_dashboard_working(app, signed_in, simulator):
    old = portal_credential(app, signed_in)
    started, data = start_rotation(signed_in, old.key_id)
    assert signed_in.post(f"/keys/{old.key_id}/rotate", data=data).headers["Location"] == started.headers["Location"]
    rotation_url = started.headers["Location"]
    shown = signed_in.get(rotation_url)
    assert shown.headers["Cache-Control"].startswith("no-store")
    new_secret = page(shown).select_one("#new-secret-key").get_text()
    assert signed_in.get("/").status_code == 200  # the portal still signs with the old key
    assert len([k for k in keys_upstream(app, signed_in) if k["name"].startswith("Partner Ops Portal (sandbox") and k["status"] == "active"]) == 2
    done = signed_in.post(f"{rotation_url}/stored", data=form_values(shown, "form[action$='/stored']"))
    assert done.status_code == 302
    after = signed_in.get(rotation_url)
    assert "stops working" in text_of(after) and new_secret not in after.get_data(as_text=True)
    assert portal_credential(app, signed_in).secret_key == new_secret
    assert signed_in.get("/").status_code == 200
    old_api = PartnerApi(app.extensions["sir_client"], old, "sandbox")
    old_api.get("/v1/partner/campaigns", fresh=True)  # still works during the grace period
    simulator.advance_clock(25 * 3600)
    with pytest.raises(errors.InvalidApiKey):
        old_api.get("/v1/partner/campaigns", fresh=True)
    assert signed_in.get("/?usage_days=1").status_code == 200
    audit = text_of(signed_in.get("/audit/"))
    for step in ("rotation started", "rotation key created", "rotation secrets stored", "rotation verified",
                 "credential replaced", "rotation old key scheduled"):
        assert step in audit, step


@pytest.mark.parametrize("method, path, step", [
    ("POST", "/v1/partner/keys", "create"),
    ("GET", "/v1/partner/token-pools", "verify"),
    ("PATCH", "/v1/partner/keys/*", "schedule"),
])
def test_a_failure_at_a_step_can_be_resumed(app, signed_in, simulator, method, path, step):
    old = portal_credential(app, signed_in)
    if step == "create":
        simulator.add_fault(method=method, path=path, status=500, count=1)
    started, _ = start_rotation(signed_in, old.key_id)
    rotation_url = started.headers["Location"]
    shown = signed_in.get(rotation_url)
    if step == "create":
        assert "The rotation stopped" in text_of(shown)
        signed_in.post(f"{rotation_url}/resume", data={"csrf_token": form_values(shown, "form[action$='/resume']")["csrf_token"]})
        shown = signed_in.get(rotation_url)
    if step != "create":
        simulator.add_fault(method=method, path=path, status=500, count=1)
    signed_in.post(f"{rotation_url}/stored", data=form_values(shown, "form[action$='/stored']"))
    page_now = signed_in.get(rotation_url)
    if step != "create":
        assert "The rotation stopped" in text_of(page_now)
        assert signed_in.get("/").status_code == 200
        signed_in.post(f"{rotation_url}/resume", data=form_values(page_now, "form[action$='/resume']"))
        page_now = signed_in.get(rotation_url)
    assert "stops working" in text_of(page_now)
    assert portal_credential(app, signed_in).key_id != old.key_id
    assert len([k for k in keys_upstream(app, signed_in) if k["status"] == "active" and k["name"].startswith("Partner Ops Portal")]) == 2
    assert "failure" in text_of(signed_in.get("/audit/?outcome=failure"))


def test_cancelling_revokes_the_replacement_and_leaves_the_old_key(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    started, _ = start_rotation(signed_in, key["id"], grace="now")
    shown = signed_in.get(started.headers["Location"])
    cancelled = signed_in.post(f"{started.headers['Location']}/cancel", data=form_values(shown, "form[action$='/cancel']"))
    assert cancelled.status_code == 302
    assert "Cancelled" in text_of(signed_in.get(started.headers["Location"]))
    replacement = next(k for k in keys_upstream(app, signed_in) if k["name"].startswith("Backend integration ("))
    assert replacement["status"] == "revoked" and key_named(app, signed_in, "Backend integration")["status"] == "active"
    assert "rotation cancelled" in text_of(signed_in.get("/audit/"))


def test_grace_now_deactivates_the_old_key_at_once(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    started, _ = start_rotation(signed_in, key["id"], grace="now")
    shown = signed_in.get(started.headers["Location"])
    signed_in.post(f"{started.headers['Location']}/stored", data=form_values(shown, "form[action$='/stored']"))
    assert key_named(app, signed_in, "Backend integration")["status"] == "inactive"
    assert "Done: the old key is retired" in text_of(signed_in.get(started.headers["Location"]))


def test_another_partners_rotation_is_not_found(app, signed_in):
    from tests.conftest import AuthActions

    started, _ = start_rotation(signed_in, key_named(app, signed_in, "Backend integration")["id"])
    other = app.test_client()
    AuthActions(other).sign_in("globex")
    assert other.get(started.headers["Location"]).status_code == 404


def test_a_keys_own_page_flags_its_coming_expiry(app, signed_in):
    key = key_named(app, signed_in, "Legacy batch job")
    shown = page(signed_in.get(f"/keys/{key['id']}"))
    assert "This key expires" in shown.select_one(".key-flag").get_text()


def test_the_rotation_page_shows_the_new_keys_traffic_once_it_signs(app, signed_in):
    key = key_named(app, signed_in, "Backend integration")
    started, _ = start_rotation(signed_in, key["id"])
    shown = signed_in.get(started.headers["Location"])
    signed_in.post(f"{started.headers['Location']}/stored", data=form_values(shown, "form[action$='/stored']"))
    traffic = page(signed_in.get(started.headers["Location"])).select_one("table.traffic tr.new-key")
    assert "unknown" not in traffic.get_text() and "never" not in traffic.get_text()  # the proving call used it
