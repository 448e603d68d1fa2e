"""What the keys tests share: the upstream's view of the keys, the portal's credential, the audit log as shown."""

from __future__ import annotations

from tests.conftest import form_values, page, partner_api_for, session_jwt


def keys_upstream(app, client) -> list[dict]:
    """Every key as SIR Giving (the simulator) lists it, with the signed-in admin's JWT."""
    return app.extensions["sir_client"].jwt_call("GET", "/v1/partner/keys", session_jwt(app, client), params={"limit": 100})["data"]


def key_named(app, client, name) -> dict:
    return next(k for k in keys_upstream(app, client) if k["name"] == name)


def keys_named_like(app, client, prefix, status=None) -> list[dict]:
    return [k for k in keys_upstream(app, client) if k["name"].startswith(prefix) and (status is None or k["status"] == status)]


def portal_credential(app, client, environment="sandbox"):
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    with app.app_context():
        return app.extensions["vault"].credential_for(partner_id, environment)


def audit_rows(client, **filters) -> list[dict]:
    """The audit log as the admin reads it: one dict per row (who, what, target, outcome, detail)."""
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    rows = []
    for tr in page(client.get(f"/audit/?{query}")).select("#audit-entries tbody tr"):
        cells = tr.find_all("td")
        detail = cells[3].select_one("div")
        rows.append({"who": cells[1].get_text(strip=True), "what": cells[3].contents[0].strip(), "detail": detail.get_text(strip=True) if detail else "",
                     "target": cells[4].get_text(strip=True), "outcome": cells[5].get_text(strip=True)})
    return rows


def assert_the_dashboard_works(app, client):
    """The portal's stored credential is accepted by SIR Giving right now (a fresh signed call, no cached or stale
    answer), and a dashboard card renders figures, not an error."""
    reply = partner_api_for(app, client).get("/v1/partner/dashboard/summary", fresh=True)
    assert reply.status == 200 and not reply.stale and not reply.from_cache
    card = client.get("/overview/cards/summary", headers={"HX-Request": "true"})
    shown = page(card)
    assert shown.select_one(".error-state") is None, shown.get_text(" ", strip=True)
    assert shown.select_one(".tile-value") is not None


def post_page_form(client, url, form_selector, **fields):
    """Submit a form as found on the page at `url` (its CSRF token and hidden fields), with `fields` changed."""
    shown = client.get(url)
    data = form_values(shown, form_selector)
    data.update(fields)
    action = page(shown).select_one(form_selector).get("action") or url
    return client.post(action, data=data)
