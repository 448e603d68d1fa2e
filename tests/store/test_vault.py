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


def vault_check(app):
    return app.test_cli_runner().invoke(args=["vault", "check"])


def test_vault_check_proves_the_configured_keys_decrypt_every_stored_secret(tmp_path):
    from webapp.store import reveal

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(tmp_path, {"VAULT_KEY": old})
    with app.app_context():
        vault = app.extensions["vault"]
        vault.store_credential("p", Credential("k", SECRET, HMAC), source="pasted", stored_by="x")
        reveal.stash(vault, "p", "key_2", {"secretKey": SECRET}, "key")  # a new key's secrets, not yet shown
        db.session.commit()
    passed = vault_check(app)
    assert passed.exit_code == 0, passed.output
    assert "All 3 stored secret(s) decrypt" in passed.output and "older key" not in passed.output

    both = make_app(tmp_path, {"VAULT_KEY": f"{new},{old}"})
    before_rotate = vault_check(both)
    assert before_rotate.exit_code == 0 and "3 of them are still encrypted with an older key" in before_rotate.output
    assert both.test_cli_runner().invoke(args=["vault", "rotate"]).exit_code == 0
    only_new = make_app(tmp_path, {"VAULT_KEY": new})
    after = vault_check(only_new)
    assert after.exit_code == 0 and "All 3 stored secret(s) decrypt" in after.output  # the once-only page too


def test_vault_check_fails_naming_each_secret_the_keys_cannot_decrypt_and_never_prints_one(tmp_path):
    app = make_app(tmp_path, {"VAULT_KEY": Fernet.generate_key().decode()})
    with app.app_context():
        app.extensions["vault"].store_credential("p", Credential("k", SECRET, HMAC), source="pasted", stored_by="x")
    wrong_key = make_app(tmp_path, {"VAULT_KEY": Fernet.generate_key().decode()})
    failed = vault_check(wrong_key)
    assert failed.exit_code == 1
    assert "cannot decrypt: vault_credentials 1 secret_key_encrypted" in failed.output
    assert "cannot decrypt: vault_credentials 1 hmac_secret_encrypted" in failed.output
    assert "2 of 2 stored secret(s) cannot be decrypted" in failed.output
    assert SECRET not in failed.output and HMAC not in failed.output


OTHER = "sk_test_" + "c3" * 16


def test_a_credential_is_decrypted_once_and_held_in_memory_for_a_while(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        vault = app.extensions["vault"]
        vault.store_credential("p", Credential("k1", SECRET, HMAC), source="pasted", stored_by="x")
        assert vault.credential_for("p", "sandbox").key_id == "k1"
        # Another worker's write, which this process is not told of: the held credential serves until it lapses.
        db.session.execute(db.update(VaultCredential).values(key_id="k2"))
        db.session.commit()
        assert vault.credential_for("p", "sandbox").key_id == "k1"
        vault.forget("p", "sandbox")  # as when the hold lapses
        assert vault.credential_for("p", "sandbox").key_id == "k2"


def test_storing_a_credential_replaces_the_held_one_at_once(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        vault = app.extensions["vault"]
        vault.store_credential("p", Credential("old", SECRET, HMAC), source="created", stored_by="x")
        assert vault.credential_for("p", "sandbox").key_id == "old"
        vault.store_credential("p", Credential("new", OTHER, HMAC), source="rolled", stored_by="x", commit=False)
        assert vault.credential_for("p", "sandbox").key_id == "new"  # this transaction's own view
        db.session.commit()
        assert vault.credential_for("p", "sandbox") == Credential("new", OTHER, HMAC)


def test_a_store_that_is_rolled_back_leaves_the_vaults_credential_in_use(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        vault = app.extensions["vault"]
        vault.store_credential("p", Credential("old", SECRET, HMAC), source="created", stored_by="x")
        vault.store_credential("p", Credential("new", OTHER, HMAC), source="rolled", stored_by="x", commit=False)
        vault.credential_for("p", "sandbox")  # read inside the transaction that is about to fail
        db.session.rollback()
        assert vault.credential_for("p", "sandbox").key_id == "old"
