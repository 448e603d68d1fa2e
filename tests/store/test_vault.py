"""The vault keeps secrets only encrypted, and its key can be rotated without losing them."""

import pytest
from cryptography.fernet import Fernet

from tests.conftest import make_app
from webapp.sir.client import Credential
from webapp.store import VaultCredential, db
from webapp.store.vault import VaultError

SECRET = "sk_test_" + "a1" * 16
HMAC = "b2" * 32


def test_stored_secrets_are_encrypted_and_read_back(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        vault = app.extensions["vault"]
        vault.store_credential("partner_1", Credential("key_1", SECRET, HMAC), source="pasted", stored_by="a@b.c")
        row = db.session.scalar(db.select(VaultCredential))
        assert SECRET not in row.secret_key_encrypted and HMAC not in row.hmac_secret_encrypted
        assert row.key_prefix == SECRET[:12]
        assert vault.credential_for("partner_1", "sandbox") == Credential("key_1", SECRET, HMAC)
        assert vault.credential_for("partner_1", "production") is None
        assert vault.credential_for("partner_2", "sandbox") is None
    raw = (tmp_path / "instance" / "portal.sqlite3").read_bytes()
    assert SECRET.encode() not in raw and HMAC.encode() not in raw


def test_a_publishable_key_cannot_become_the_portals_credential(tmp_path):
    app = make_app(tmp_path)
    with app.app_context(), pytest.raises(VaultError):
        app.extensions["vault"].store_credential("p", Credential(None, "pk_test_abc", HMAC), source="pasted", stored_by="x")


def test_the_vault_key_can_be_rotated(tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(tmp_path, {"VAULT_KEY": old})
    with app.app_context():
        app.extensions["vault"].store_credential("p", Credential("k", SECRET, HMAC), source="pasted", stored_by="x")
    rotated = make_app(tmp_path, {"VAULT_KEY": f"{new},{old}"})
    runner = rotated.test_cli_runner()
    result = runner.invoke(args=["vault", "rotate"])
    assert "Re-encrypted 1 credential(s)" in result.output
    only_new = make_app(tmp_path, {"VAULT_KEY": new})
    with only_new.app_context():
        assert only_new.extensions["vault"].credential_for("p", "sandbox").secret_key == SECRET
    only_old = make_app(tmp_path, {"VAULT_KEY": old})
    with only_old.app_context(), pytest.raises(VaultError):
        only_old.extensions["vault"].credential_for("p", "sandbox")


def test_a_credential_never_shows_its_secrets_in_repr():
    text = repr(Credential("k", SECRET, HMAC))
    assert SECRET not in text and HMAC not in text
