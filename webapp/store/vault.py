"""The credential vault: secrets encrypted at rest with Fernet; MultiFernet so VAULT_KEY can be rotated.

`VAULT_KEY` is a comma-separated list, newest first: values are encrypted with the first key and
decrypted with any; `rewrap_all()` re-encrypts every stored value with the newest key, after which the
old key can be dropped.
"""

from __future__ import annotations

import threading
import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import event, func, inspect, select

from ..sir.client import Credential, environment_of_key
from .alerts import AlertSettings
from .db import db
from .models import KeyRotation, ReceiverEndpoint, RevealedSecret, VaultCredential, utcnow

# Every column that holds a value encrypted with VAULT_KEY (sessions hold the admin's JWT encrypted too, but a
# session that cannot be read only signs its admin out).
ENCRYPTED = ((VaultCredential, ("secret_key_encrypted", "hmac_secret_encrypted")),
             (ReceiverEndpoint, ("secret_encrypted",)),  # webhook signing secrets the portal keeps
             (RevealedSecret, ("secrets_encrypted",)),  # new secrets waiting for their once-only page
             (KeyRotation, ("new_secrets_encrypted",)),  # a replacement's secrets, until the roll needs them no more
             (AlertSettings, ("chat_url_encrypted",)))  # a chat webhook URL: whoever has it can post


# How long a process keeps a decrypted credential in memory (never on disk): a page then costs no query and no
# decryption for it. Storing a credential (a roll, a new portal key) drops it at once in this process; another
# worker may sign with the one it holds for at most this long (during a roll the old key still works).
HOLD_SECONDS = 30


class VaultError(Exception):
    pass


def encrypted_values():
    """(row, column, where) for every stored encrypted value; `where` names it without its content."""
    for model, columns in ENCRYPTED:
        for row in db.session.scalars(select(model)):
            key = inspect(row).identity[0]
            for column in columns:
                if getattr(row, column):
                    yield row, column, f"{model.__tablename__} {key} {column}"


class Vault:
    def __init__(self, keys: list[str], hold_seconds: float = HOLD_SECONDS):
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._newest = Fernet(keys[0])
        self._hold_seconds = hold_seconds
        self._held: dict[tuple[str, str], tuple[float, Credential]] = {}  # (partner, environment) → (until, it)
        self._lock = threading.Lock()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError("A stored secret cannot be decrypted with the configured VAULT_KEY.") from None

    def rewrap(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()

    # -- credentials -------------------------------------------------------------------------------

    def credential_for(self, partner_id: str, environment: str) -> Credential | None:
        """The partner's credential for `environment`, decrypted; held in this process's memory for HOLD_SECONDS."""
        key = (partner_id, environment)
        held = self._held.get(key)
        if held is not None and time.monotonic() < held[0]:
            return held[1]
        row = db.session.scalar(select(VaultCredential).filter_by(partner_id=partner_id, environment=environment))
        if row is None:
            return None
        credential = Credential(row.key_id, self.decrypt(row.secret_key_encrypted), self.decrypt(row.hmac_secret_encrypted))
        if self._hold_seconds > 0:
            with self._lock:
                self._held[key] = (time.monotonic() + self._hold_seconds, credential)
        return credential

    def forget(self, partner_id: str, environment: str) -> None:
        """Drop the held credential: the next use reads the vault again."""
        with self._lock:
            self._held.pop((partner_id, environment), None)

    def stored(self) -> list[tuple[str, str]]:
        """(partner id, environment) of every credential kept, for a command that must pick one."""
        rows = db.session.execute(select(VaultCredential.partner_id, VaultCredential.environment)
                                  .order_by(VaultCredential.partner_id, VaultCredential.environment))
        return [(partner_id, environment) for partner_id, environment in rows]

    def record_for(self, partner_id: str, environment: str) -> VaultCredential | None:
        return db.session.scalar(select(VaultCredential).filter_by(partner_id=partner_id, environment=environment))

    def keys_stored(self, partner_id: str) -> dict:
        """Which key the portal signs with in each environment, in one read: plain rows (environment, key_id,
        key_prefix), not the ORM's, so a commit later in the request cannot expire them under a reader."""
        rows = db.session.execute(select(VaultCredential.environment, VaultCredential.key_id, VaultCredential.key_prefix)
                                  .filter_by(partner_id=partner_id))
        return {row.environment: row for row in rows}

    def store_credential(self, partner_id: str, credential: Credential, *, source: str, stored_by: str,
                         commit: bool = True) -> VaultCredential:
        """Put (or replace) the partner's credential for the key's environment, in one transaction."""
        environment = environment_of_key(credential.secret_key)
        if environment is None or not credential.secret_key.startswith("sk_"):
            raise VaultError("Only a secret key (sk_test_… or sk_live_…) can sign data calls.")
        row = self.record_for(partner_id, environment) or VaultCredential(partner_id=partner_id, environment=environment)
        row.key_id = credential.key_id
        row.key_prefix = credential.secret_key[:12]
        row.secret_key_encrypted = self.encrypt(credential.secret_key)
        row.hmac_secret_encrypted = self.encrypt(credential.hmac_secret)
        row.source = source
        row.stored_by = stored_by
        row.stored_at = utcnow()
        db.session.add(row)
        # Dropped now, and again when the transaction ends: a page that read the old row meanwhile must not keep it.
        self.forget(partner_id, environment)
        for moment in ("after_commit", "after_rollback"):
            event.listen(db.session(), moment, lambda _session: self.forget(partner_id, environment), once=True)
        if commit:
            db.session.commit()
        return row

    def rewrap_all(self) -> int:
        """Re-encrypt every stored value with the newest key; returns how many credentials there were."""
        for row, column, _where in list(encrypted_values()):
            setattr(row, column, self.rewrap(getattr(row, column)))
        db.session.commit()
        return db.session.scalar(select(func.count()).select_from(VaultCredential))

    def check(self) -> tuple[int, int, list[str]]:
        """Try every stored value with the configured keys, changing nothing: (values checked, of which under
        an older key than the first, where each one that no key decrypts is). Never returns a secret."""
        checked, older, failing = 0, 0, []
        for row, column, where in encrypted_values():
            checked += 1
            token = getattr(row, column).encode()
            try:
                self._newest.decrypt(token)
                continue
            except InvalidToken:
                pass
            try:
                self._fernet.decrypt(token)
                older += 1
            except InvalidToken:
                failing.append(where)
        return checked, older, failing
