"""auth/sign_in.py called directly: a sign-in gives the admin's JWT and is audited, and so is a wrong password."""

import pytest

from tests.conftest import PASSWORD
from webapp.auth.sign_in import sign_in
from webapp.sir import errors
from webapp.sir.api import AccountApi
from webapp.store import AuditEntry, db


def audit_of(email):
    return [(e.action, e.outcome, e.partner_id, e.environment, e.remote_addr, e.detail)
            for e in db.session.scalars(db.select(AuditEntry).filter_by(actor=email).order_by(AuditEntry.id))]


def test_signing_in_gives_a_working_jwt_and_is_audited(app):
    client = app.extensions["sir_client"]
    with app.app_context():
        signed = sign_in(client, "admin@acme.example", PASSWORD, "203.0.113.9")
        assert signed.me["partner"]["name"] == "Acme Rewards" and signed.me["user"]["email"] == "admin@acme.example"
        assert AccountApi(client, signed.token).me()["partner"]["id"] == signed.me["partner"]["id"]
        assert audit_of("admin@acme.example") == [
            ("sign_in", "success", signed.me["partner"]["id"], "sandbox", "203.0.113.9", None)]


def test_a_wrong_password_is_refused_and_audited_without_a_partner(app):
    with app.app_context():
        with pytest.raises(errors.InvalidCredentials):
            sign_in(app.extensions["sir_client"], "admin@acme.example", "not-the-password", "203.0.113.9")
        assert audit_of("admin@acme.example") == [
            ("sign_in", "failure", None, None, "203.0.113.9", "wrong email or password")]
