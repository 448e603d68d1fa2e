"""The tests' cheap sign-in (`AuthActions.sign_in`) leaves the portal as signing in through the forms does:
the same session, the same kind of portal key upstream and in the vault, the same pages."""

from tests.conftest import AuthActions, make_app, page, text_of

WRITTEN_AT_SIGN_IN = ("admin", "partner", "publishable_key", "environment")


def signed_in_both_ways(tmp_path, who):
    forms_app, shortcut_app = make_app(tmp_path / "forms"), make_app(tmp_path / "shortcut")
    forms, shortcut = forms_app.test_client(), shortcut_app.test_client()
    AuthActions(forms).sign_in_through_the_forms(who)
    AuthActions(shortcut).sign_in(who)
    return (forms_app, forms), (shortcut_app, shortcut)


def stored_session(client) -> dict:
    with client.session_transaction() as stored:
        return dict(stored)


def test_the_shortcut_writes_the_session_the_login_form_writes(tmp_path):
    (forms_app, forms), (shortcut_app, shortcut) = signed_in_both_ways(tmp_path, "globex")
    by_forms, by_shortcut = stored_session(forms), stored_session(shortcut)
    assert {k: by_shortcut[k] for k in WRITTEN_AT_SIGN_IN} == {k: by_forms[k] for k in WRITTEN_AT_SIGN_IN}
    assert by_shortcut["partner"]["name"] == "Globex Giving"
    for app, stored in ((forms_app, by_forms), (shortcut_app, by_shortcut)):
        token = app.extensions["vault"].decrypt(stored["jwt"])
        assert token.count(".") == 2 and stored["jwt_expires_at"] > 0
        assert app.extensions["sir_client"].me(token)["user"]["email"] == "admin@globex.example"


def test_the_shortcut_stores_a_portal_key_as_onboarding_does(tmp_path):
    (forms_app, forms), (shortcut_app, shortcut) = signed_in_both_ways(tmp_path, "acme")
    records = []
    for app, client in ((forms_app, forms), (shortcut_app, shortcut)):
        partner_id = stored_session(client)["partner"]["id"]
        with app.app_context():
            record = app.extensions["vault"].record_for(partner_id, "sandbox")
            records.append((record.source, record.stored_by, record.key_prefix[:8]))
    assert records[0] == records[1] == ("created", "admin@acme.example", "sk_test_")

    def portal_key_row(client):
        row = page(client.get("/keys/")).select_one("table.keys-table tbody tr:-soup-contains('portal signs with this')")
        return row.select("td")[0].get_text(" ", strip=True)

    assert portal_key_row(shortcut) == portal_key_row(forms)
    assert portal_key_row(shortcut).startswith("Partner Ops Portal (sandbox, ")


def test_after_the_shortcut_the_overview_is_the_signed_in_admins(client, auth):
    auth.sign_in("acme")
    overview = client.get("/")
    assert overview.status_code == 200
    shown = text_of(overview)
    assert "Acme Rewards" in shown and "admin@acme.example" in shown
