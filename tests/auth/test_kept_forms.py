"""A sign-in that lapses mid-form: what was typed (never a secret) comes back once the admin signs in again."""

import json
import time
from urllib.parse import parse_qs, quote, urlsplit

from tests.conftest import form_values, page, text_of
from tests.pools.test_pools import pending_requests


def lapse(client):
    with client.session_transaction() as stored:
        stored["jwt_expires_at"] = time.time() - 1


def sign_in_again(client, auth, location):
    """The admin signs in on the page the lapsed POST led to; returns where sign-in leads."""
    assert urlsplit(location).path == "/login"
    back_to = parse_qs(urlsplit(location).query)["next"][0]
    signed_in = auth.login("acme", next_url=quote(back_to, safe="/"))
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == back_to
    return back_to


def kept_payload(app, location):
    from webapp.store.db import db
    from webapp.store.models import RevealedSecret

    token = parse_qs(urlsplit(parse_qs(urlsplit(location).query)["next"][0]).query)["kept"][0]
    with app.app_context():
        row = db.session.get(RevealedSecret, token)
        return json.loads(app.extensions["vault"].decrypt(row.secrets_encrypted))


def test_a_lapsed_sign_in_mid_top_up_comes_back_to_the_form_with_the_typed_amount_and_reason(app, client, auth, simulator):
    auth.sign_in("acme")
    form_url = page(client.get("/token-pools/")).select_one("a[href$='/top-up']")["href"]
    data = form_values(client.get(form_url), "form#top-up-form")
    data.update(amount="12,345", reason="The spring campaign doubles the rewards")
    pool_id = form_url.split("/")[2]
    requests_before = len(pending_requests(app, client, pool_id))
    lapse(client)
    lapsed = client.post(form_url, data=data, headers={"Referer": f"http://localhost{form_url}"})
    assert lapsed.status_code == 302
    kept = kept_payload(app, lapsed.headers["Location"])
    assert set(kept) == {"pool_id", "amount", "reason"}  # no CSRF or one-time token, nothing else
    back_to = sign_in_again(client, auth, lapsed.headers["Location"])
    shown = client.get(back_to)
    form = page(shown).select_one("form#top-up-form")
    assert form.select_one("[name=amount]")["value"] == "12,345"
    assert form.select_one("[name=reason]").get_text().strip() == "The spring campaign doubles the rewards"
    assert "Here is what you had typed before your sign-in ended" in text_of(shown)
    again = page(client.get(back_to)).select_one("form#top-up-form")  # once: the token is spent
    assert again.select_one("[name=reason]").get_text().strip() == ""
    assert len(pending_requests(app, client, pool_id)) == requests_before  # nothing was sent on the lapsed POST


def test_a_lapsed_htmx_webhook_registration_keeps_every_field_but_a_url_with_a_password(app, client, auth, simulator):
    auth.sign_in("acme")
    data = form_values(client.get("/webhooks/new"), "form#register-webhook")
    data.update(url="https://hooks.acme.example/crm", description="CRM sync", event_types=["action.failed", "action.completed"])
    lapse(client)
    lapsed = client.post("/webhooks/new", data=data,
                         headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/webhooks/new"})
    back_to = sign_in_again(client, auth, lapsed.headers["HX-Redirect"])
    form = page(client.get(back_to)).select_one("form#register-webhook")
    assert form.select_one("[name=url]")["value"] == "https://hooks.acme.example/crm"
    assert form.select_one("[name=description]")["value"] == "CRM sync"
    assert sorted(i["value"] for i in form.select("[name=event_types][checked]")) == ["action.completed", "action.failed"]
    assert not [h for h in simulator.webhooks.values() if h.url == "https://hooks.acme.example/crm"]


def test_a_kept_form_is_never_shown_to_another_partner(app, client, auth):
    auth.sign_in("acme")
    data = form_values(client.get("/keys/new"), "form#create-key")
    data.update(name="Checkout backend")
    lapse(client)
    lapsed = client.post("/keys/new", data=data, headers={"Referer": "http://localhost/keys/new"})
    back_to = parse_qs(urlsplit(lapsed.headers["Location"]).query)["next"][0]
    auth.sign_in("globex")
    shown = page(client.get(back_to)).select_one("form#create-key")
    assert shown.select_one("[name=name]").get("value", "") == ""


def test_the_page_warns_a_few_minutes_before_the_sign_in_ends(client, auth):
    auth.sign_in("acme")
    notice = page(client.get("/audit/")).select_one("#session-ends")
    assert notice is not None and notice.has_attr("hidden")  # an hour left: present for app.js, not shown
    with client.session_transaction() as stored:
        ends = stored["jwt_expires_at"]
        stored["jwt_expires_at"] = time.time() + 4 * 60
    near = page(client.get("/audit/")).select_one("#session-ends")
    assert not near.has_attr("hidden") and near["role"] == "status"
    assert "Your sign-in ends at" in near.get_text(" ", strip=True)
    assert near.select_one("time")["datetime"] == near["data-ends-at"] and ends != near["data-ends-at"]
    assert near.select_one("a")["href"].startswith("/login?next=/audit/")


def test_the_sign_in_ends_when_sir_givings_token_does(client, auth, app):
    from webapp.auth.session import jwt_expiry

    auth.login("acme")
    with client.session_transaction() as stored:
        token = app.extensions["vault"].decrypt(stored["jwt"])
        assert stored["jwt_expires_at"] == jwt_expiry(token)
