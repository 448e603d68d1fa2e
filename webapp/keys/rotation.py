"""Zero-downtime key rotation as a saved state machine: every step is recorded before the next begins,
so a closed browser or a SIR Giving failure leaves a rotation that can be resumed or cancelled.

The order keeps the partner covered at every moment: the old key is touched only after the new one
exists, its secrets were stored by the admin, it answered a signed call, and (when the portal itself
signed with the old key) the vault switched to it in one transaction.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from ..sir import errors
from ..sir.api import AccountApi, PartnerApi
from ..sir.client import Credential, SirClient
from ..store import audit, db
from ..store.models import KeyRotation
from ..store.vault import Vault

GRACE = {"now": timedelta(0), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "3d": timedelta(days=3),
         "7d": timedelta(days=7)}
GRACE_LABELS = {"now": "Now", "1h": "In 1 hour", "24h": "In 24 hours", "3d": "In 3 days", "7d": "In 7 days"}
STEPS = [("created", "Create the replacement key"), ("confirmed", "Store its secrets"),
         ("verified", "Prove the new key works"), ("switched", "Switch the portal's credential"),
         ("grace", "Schedule the old key's end"), ("completed", "Old key retired")]
ORDER = ["started", "created", "confirmed", "verified", "switched", "grace", "completed"]


class RotationError(Exception):
    pass


def in_progress_for(partner_id: str, key_id: str | None = None) -> list[KeyRotation]:
    query = select(KeyRotation).filter(KeyRotation.partner_id == partner_id,
                                       KeyRotation.state.notin_(("completed", "cancelled")))
    if key_id:
        query = query.filter(KeyRotation.old_key_id == key_id)
    return list(db.session.scalars(query.order_by(KeyRotation.created_at.desc())))


def start(partner_id: str, old_key, grace: str, was_portal_key: bool, actor: str) -> KeyRotation:
    existing = in_progress_for(partner_id, old_key.id)
    if existing:
        return existing[0]  # a second click, a resend: the same rotation, never a second one
    rotation = KeyRotation(partner_id=partner_id, environment=old_key.environment, old_key_id=old_key.id,
                           old_key_name=old_key.name, key_type=old_key.key_type, grace=grace,
                           was_portal_key=was_portal_key, started_by=actor)
    db.session.add(rotation)
    audit.record(actor=actor, action="rotation_started", partner_id=partner_id, environment=old_key.environment,
                 target=f"{old_key.name} ({old_key.id})", detail=f"old key stops: {GRACE_LABELS[grace].lower()}",
                 commit=False)
    db.session.commit()
    return rotation


def step_done(rotation: KeyRotation, state: str) -> bool:
    return ORDER.index(rotation.state) >= ORDER.index(state)


class Rotator:
    """Runs the steps of one rotation with the admin's JWT (key management) and the vault."""

    def __init__(self, client: SirClient, account: AccountApi, vault: Vault, actor: str):
        self.client, self.account, self.vault, self.actor = client, account, vault, actor

    def _record(self, rotation, action, outcome="success", detail=None, target=None):
        audit.record(actor=self.actor, action=action, outcome=outcome, partner_id=rotation.partner_id,
                     environment=rotation.environment, target=target or f"{rotation.old_key_name} ({rotation.old_key_id})",
                     detail=detail, commit=False)

    def _fail(self, rotation, action, error: errors.SirError):
        rotation.error = f"{error.title}: {error.message}"
        self._record(rotation, action, "failure", error.code)
        db.session.commit()
        raise RotationError(rotation.error) from error

    def advance(self, rotation: KeyRotation) -> KeyRotation:
        """Run every step that can run now; stops before "confirmed" (the admin must store the secrets)."""
        if not step_done(rotation, "created"):
            self.create_replacement(rotation)
        if not step_done(rotation, "confirmed"):
            return rotation
        if not step_done(rotation, "verified"):
            self.verify(rotation)
        if not step_done(rotation, "switched"):
            self.switch_vault(rotation)
        if not step_done(rotation, "grace"):
            self.schedule_old_key(rotation)
        return rotation

    def create_replacement(self, rotation: KeyRotation) -> None:
        name = f"{rotation.old_key_name} ({date.today().isoformat()})"
        try:
            created = self._find_created(rotation, name) or self.account.create_key(name, rotation.environment,
                                                                                     rotation.key_type)
        except (errors.UpstreamTimeout, errors.Unreachable) as error:
            # The key may exist although the answer was lost; the next attempt looks for it first.
            rotation.new_key_name = name
            self._fail(rotation, "rotation_key_created", error)
        except errors.SirError as error:
            self._fail(rotation, "rotation_key_created", error)
        rotation.new_key_id, rotation.new_key_name = created["id"], created["name"]
        secrets = {"publicKey": created.get("publicKey"), "secretKey": created.get("secretKey"),
                   "hmacSecret": created.get("hmacSecret")}
        rotation.new_secrets_encrypted = self.vault.encrypt(json.dumps(secrets)) if created.get("publicKey") else None
        rotation.state, rotation.error = "created", None
        self._record(rotation, "rotation_key_created", target=f"{created['name']} ({created['id']})")
        db.session.commit()

    def _find_created(self, rotation, name):
        """After a lost answer, a key with this rotation's name created since it began is the one we made.
        Its secrets were in the lost answer, so they cannot be shown: that key is revoked and a new one made."""
        if not rotation.new_key_name:
            return None
        for key in self.account.keys():
            if key.name == name and key.created_at and key.created_at >= rotation.created_at.replace(
                    tzinfo=rotation.created_at.tzinfo or timezone.utc) - timedelta(minutes=1) and key.status == "active":
                self.account.revoke_key(key.id)
                self._record(rotation, "rotation_orphan_revoked", detail="its secrets were lost with a timed-out answer",
                             target=f"{key.name} ({key.id})")
        return None

    def secrets(self, rotation: KeyRotation) -> dict | None:
        if not rotation.new_secrets_encrypted:
            return None
        return json.loads(self.vault.decrypt(rotation.new_secrets_encrypted))

    def confirm_stored(self, rotation: KeyRotation) -> None:
        if rotation.state != "created":
            return
        rotation.state = "confirmed"
        rotation.secrets_shown_at = datetime.now(timezone.utc)
        if not rotation.was_portal_key and rotation.key_type == "secret":
            pass  # the secrets are still needed once, to prove the key works; dropped right after
        self._record(rotation, "rotation_secrets_stored", target=f"{rotation.new_key_name} ({rotation.new_key_id})")
        db.session.commit()

    def verify(self, rotation: KeyRotation) -> None:
        secrets = self.secrets(rotation)
        try:
            if rotation.key_type == "secret" and secrets and secrets.get("secretKey"):
                credential = Credential(rotation.new_key_id, secrets["secretKey"], secrets["hmacSecret"])
                PartnerApi(self.client, credential, rotation.environment).get("/v1/partner/token-pools", fresh=True)
            else:  # a publishable key cannot sign; its record must at least be active
                if self.account.key(rotation.new_key_id).status != "active":
                    raise errors.InvalidApiKey("the new publishable key is not active")
        except errors.SirError as error:
            self._fail(rotation, "rotation_verified", error)
        rotation.state, rotation.error = "verified", None
        self._record(rotation, "rotation_verified", detail="one signed call succeeded with the new key",
                     target=f"{rotation.new_key_name} ({rotation.new_key_id})")
        db.session.commit()

    def switch_vault(self, rotation: KeyRotation) -> None:
        if rotation.was_portal_key:
            secrets = self.secrets(rotation)
            credential = Credential(rotation.new_key_id, secrets["secretKey"], secrets["hmacSecret"])
            # Vault row, rotation state and audit entry change in one transaction.
            self.vault.store_credential(rotation.partner_id, credential, source="rotated", stored_by=self.actor,
                                        commit=False)
            self._record(rotation, "credential_replaced", target=f"{rotation.new_key_name} ({rotation.new_key_id})",
                         detail=f"the portal now signs with the new key instead of {rotation.old_key_name}")
        rotation.new_secrets_encrypted = None  # no longer needed anywhere
        rotation.state, rotation.error = "switched", None
        db.session.commit()

    def schedule_old_key(self, rotation: KeyRotation) -> None:
        try:
            if rotation.grace == "now":
                self.account.update_key(rotation.old_key_id, isActive=False)
                rotation.state = "completed"
                detail = "deactivated now"
            else:
                ends = datetime.now(timezone.utc) + GRACE[rotation.grace]
                self.account.update_key(rotation.old_key_id, expiresAt=ends.strftime("%Y-%m-%dT%H:%M:%SZ"))
                rotation.old_expires_at = ends
                rotation.state = "grace"
                detail = f"expires {ends.strftime('%Y-%m-%d %H:%M UTC')}"
        except errors.SirError as error:
            self._fail(rotation, "rotation_old_key_scheduled", error)
        rotation.error = None
        self._record(rotation, "rotation_old_key_scheduled", detail=detail)
        if rotation.state == "completed":
            self._record(rotation, "rotation_completed")
        db.session.commit()

    def end_grace_now(self, rotation: KeyRotation) -> None:
        if rotation.state != "grace":
            raise RotationError("Only a rotation in its grace period can end it.")
        try:
            self.account.update_key(rotation.old_key_id, isActive=False)
        except errors.SirError as error:
            self._fail(rotation, "rotation_grace_ended", error)
        rotation.state, rotation.error = "completed", None
        self._record(rotation, "rotation_grace_ended", detail="the old key was deactivated before its expiry")
        self._record(rotation, "rotation_completed")
        db.session.commit()

    def cancel(self, rotation: KeyRotation) -> None:
        if step_done(rotation, "switched") and rotation.was_portal_key:
            raise RotationError("The portal already signs with the new key, so it cannot be revoked now. "
                                "The old key keeps working until its grace period ends.")
        if step_done(rotation, "grace"):
            raise RotationError("The old key's end is already scheduled; finish the rotation instead.")
        if rotation.new_key_id:
            try:
                self.account.revoke_key(rotation.new_key_id)
            except errors.NotFound:
                pass  # already gone: nothing to undo
            except errors.SirError as error:
                self._fail(rotation, "rotation_cancelled", error)
        rotation.new_secrets_encrypted = None
        rotation.state, rotation.error = "cancelled", None
        self._record(rotation, "rotation_cancelled",
                     detail=f"replacement {rotation.new_key_id} revoked" if rotation.new_key_id else "no key had been created")
        db.session.commit()
