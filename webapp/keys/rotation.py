"""Zero-downtime key rotation as a saved state machine: every step is recorded before the next begins,
so a closed browser or a SIR Giving failure leaves a rotation that can be resumed or cancelled.

The order keeps the partner covered at every moment: the old key is touched only after the new one
exists, its secrets were stored by the admin, it answered a call, and (when the portal itself signed
with the old key) the vault switched to it in one transaction.

Only one request at a time may create the replacement: the step is claimed with one conditional UPDATE
("started" → "creating"), so a double click, a resend or a second tab never makes a second key.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..sir import errors
from ..sir.api import AccountApi, PartnerApi, check_publishable_key
from ..sir.client import Credential, SirClient
from ..sir.times import to_wire
from ..store import audit, db
from ..store.models import KeyRotation
from ..store.vault import Vault

GRACE = {"now": timedelta(0), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "3d": timedelta(days=3),
         "7d": timedelta(days=7)}
GRACE_LABELS = {"now": "Now", "1h": "In 1 hour", "24h": "In 24 hours", "3d": "In 3 days", "7d": "In 7 days"}
STEPS = [("created", "Create the replacement key"), ("confirmed", "Store its secrets"),
         ("verified", "Prove the new key works"), ("switched", "Switch the portal's credential"),
         ("grace", "Schedule the old key's end"), ("completed", "Old key retired")]
ORDER = ["started", "creating", "created", "confirmed", "verified", "switched", "grace", "completed"]
STATE_LABELS = {"started": "not started", "creating": "creating the key", "created": "waiting for you",
                "confirmed": "in progress", "verified": "in progress", "switched": "in progress",
                "grace": "grace period", "completed": "completed", "cancelled": "cancelled"}
# A "creating" claim older than this belongs to a request that died mid-call: another may take over.
CREATING_STALE = timedelta(seconds=90)
DATED = re.compile(r" \(\d{4}-\d{2}-\d{2}\)$")


class RotationError(Exception):
    pass


def in_progress_for(partner_id: str, key_id: str | None = None) -> list[KeyRotation]:
    query = select(KeyRotation).filter(KeyRotation.partner_id == partner_id,
                                       KeyRotation.state.notin_(("completed", "cancelled")))
    if key_id:
        query = query.filter(KeyRotation.old_key_id == key_id)
    return list(db.session.scalars(query.order_by(KeyRotation.created_at.desc())))


def by_old_key(partner_id: str) -> dict[str, KeyRotation]:
    """The latest rotation (in progress or completed, not cancelled) of each key that was rolled."""
    rows = db.session.scalars(select(KeyRotation).filter(KeyRotation.partner_id == partner_id,
                                                         KeyRotation.state != "cancelled")
                              .order_by(KeyRotation.created_at))
    return {row.old_key_id: row for row in rows}


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
    return rotation.state in ORDER and ORDER.index(rotation.state) >= ORDER.index(state)


def can_cancel(rotation: KeyRotation) -> bool:
    """Cancelling revokes the replacement: allowed until the portal signs with it or the old key's end is set."""
    return rotation.in_progress and not step_done(rotation, "grace") and not (
        rotation.was_portal_key and step_done(rotation, "switched"))


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


class Rotator:
    """Runs the steps of one rotation with the admin's JWT (key management) and the vault."""

    def __init__(self, client: SirClient, account: AccountApi, vault: Vault, actor: str):
        self.client, self.account, self.vault, self.actor = client, account, vault, actor

    def now(self) -> datetime:
        """SIR Giving's idea of now, as the client signs with it (the real clock, or a test's)."""
        return datetime.fromtimestamp(self.client.clock(), tz=timezone.utc)

    def _record(self, rotation, action, outcome="success", detail=None, target=None):
        audit.record(actor=self.actor, action=action, outcome=outcome, partner_id=rotation.partner_id,
                     environment=rotation.environment, target=target or f"{rotation.old_key_name} ({rotation.old_key_id})",
                     detail=detail, commit=False)

    def _new_target(self, rotation) -> str:
        return f"{rotation.new_key_name} ({rotation.new_key_id})"

    def _fail(self, rotation, action, error: errors.SirError):
        rotation.error = f"{error.title}: {error.message} {error.next_step}".strip()
        if isinstance(error, errors.Unauthorized):
            rotation.error = "Your SIR Giving sign-in expired during this step. Sign in again, then resume."
        self._record(rotation, action, "failure", error.code)
        db.session.commit()
        if isinstance(error, errors.Unauthorized):
            raise error  # the admin must sign in again; the step is saved and resumes afterwards
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

    # -- step 1: the replacement ---------------------------------------------------------------------

    def replacement_name(self, rotation) -> str:
        """The old key's name with today's date; a date left by an earlier rotation is replaced, not stacked."""
        today = self.now().date().isoformat()
        base = DATED.sub("", rotation.old_key_name)
        name = f"{base} ({today})"
        if name == rotation.old_key_name:  # rolled twice in one day: keep the names apart
            name = f"{rotation.old_key_name} ({today})"
        return name[:100]

    def _claim_creation(self, rotation, name) -> bool:
        """"started" → "creating" in one conditional UPDATE; a stale "creating" (its request died) may be taken over."""
        now = datetime.now(timezone.utc)
        won = db.session.execute(
            update(KeyRotation)
            .where(KeyRotation.id == rotation.id,
                   or_(KeyRotation.state == "started",
                       and_(KeyRotation.state == "creating", KeyRotation.updated_at < now - CREATING_STALE)))
            .values(state="creating", new_key_name=rotation.new_key_name or name, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        db.session.refresh(rotation)
        return won == 1

    def create_replacement(self, rotation: KeyRotation) -> None:
        retrying = rotation.error is not None or rotation.state == "creating"
        name = rotation.new_key_name or self.replacement_name(rotation)
        if not self._claim_creation(rotation, name):
            return  # another request is creating it right now; the page shows that and offers a reload
        name = rotation.new_key_name
        try:
            if retrying:
                self._revoke_orphans(rotation, name)
            created = self.account.create_key(name, rotation.environment, rotation.key_type)
        except errors.SirError as error:
            # The key may exist although the answer was lost (a timeout): the next attempt looks for it first.
            rotation.state = "started"
            self._fail(rotation, "rotation_key_created", error)
        rotation.new_key_id, rotation.new_key_name = created["id"], created["name"]
        secrets = {"publicKey": created.get("publicKey"), "secretKey": created.get("secretKey"),
                   "hmacSecret": created.get("hmacSecret")}
        rotation.new_secrets_encrypted = self.vault.encrypt(json.dumps(secrets))
        rotation.secrets_shown_at = None
        rotation.state, rotation.error = "created", None
        self._record(rotation, "rotation_key_created", target=self._new_target(rotation))
        db.session.commit()

    def _revoke_orphans(self, rotation, name) -> None:
        """After a lost answer, an active key with this rotation's name made since it began is one we made.
        Its secrets were in the lost answer and can never be shown, so it is revoked and a new one made."""
        began = _aware(rotation.created_at) - timedelta(minutes=1)
        for key in self.account.keys():
            if key.name == name and key.status == "active" and key.id != rotation.old_key_id \
                    and key.created_at is not None and key.created_at >= began:
                self.account.revoke_key(key.id)
                self._record(rotation, "rotation_orphan_revoked", detail="its secrets were lost with an unanswered call",
                             target=f"{key.name} ({key.id})")
                db.session.commit()

    # -- step 2: the secrets, shown once -------------------------------------------------------------

    def secrets(self, rotation: KeyRotation) -> dict | None:
        if not rotation.new_secrets_encrypted:
            return None
        return json.loads(self.vault.decrypt(rotation.new_secrets_encrypted))

    def reveal(self, rotation: KeyRotation) -> dict | None:
        """The replacement's secrets, the first time the page asks and never again (one conditional UPDATE)."""
        if rotation.state != "created" or rotation.secrets_shown_at is not None:
            return None
        won = db.session.execute(
            update(KeyRotation)
            .where(KeyRotation.id == rotation.id, KeyRotation.state == "created", KeyRotation.secrets_shown_at.is_(None))
            .values(secrets_shown_at=datetime.now(timezone.utc))
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        db.session.refresh(rotation)
        if won != 1:
            return None
        return self.secrets(rotation)

    def confirm_stored(self, rotation: KeyRotation) -> bool:
        """"created" → "confirmed", once: only the request that wins goes on with the next steps."""
        won = db.session.execute(
            update(KeyRotation).where(KeyRotation.id == rotation.id, KeyRotation.state == "created")
            .values(state="confirmed", updated_at=datetime.now(timezone.utc))
            .execution_options(synchronize_session=False)
        ).rowcount
        if won == 1:
            self._record(rotation, "rotation_secrets_stored", target=self._new_target(rotation))
        db.session.commit()
        db.session.refresh(rotation)
        return won == 1

    def make_new_replacement(self, rotation: KeyRotation) -> None:
        """The admin did not store the secrets: revoke that replacement and make another, shown once again.
        Only a replacement whose secrets were shown can be replaced, once: a double click makes one new key."""
        if rotation.state != "created":
            raise RotationError("The replacement's secrets were already confirmed; there is nothing to redo.")
        if rotation.secrets_shown_at is None:
            raise RotationError("A new replacement was just made: its secrets are on this page, shown once.")
        seen_key_id, seen_target = rotation.new_key_id, self._new_target(rotation)
        try:
            self.account.revoke_key(seen_key_id)
        except errors.NotFound:
            pass
        except errors.SirError as error:
            self._fail(rotation, "rotation_replacement_revoked", error)
        won = db.session.execute(
            update(KeyRotation).where(KeyRotation.id == rotation.id, KeyRotation.state == "created",
                                      KeyRotation.new_key_id == seen_key_id)
            .values(state="started", new_key_id=None, new_key_name=None, new_secrets_encrypted=None,
                    secrets_shown_at=None, error=None, updated_at=datetime.now(timezone.utc))
            .execution_options(synchronize_session=False)
        ).rowcount
        if won == 1:
            self._record(rotation, "rotation_replacement_revoked", target=seen_target,
                         detail="its secrets were not stored; a new replacement follows")
        db.session.commit()
        db.session.refresh(rotation)
        if won == 1:
            self.create_replacement(rotation)

    # -- step 3: proof --------------------------------------------------------------------------------

    def verify(self, rotation: KeyRotation) -> None:
        secrets = self.secrets(rotation) or {}
        try:
            if secrets.get("secretKey"):
                credential = Credential(rotation.new_key_id, secrets["secretKey"], secrets["hmacSecret"])
                PartnerApi(self.client, credential, rotation.environment).check_credential()
                detail = "a signed call succeeded with the new key"
            elif secrets.get("publicKey"):  # a publishable key cannot sign: one widget call proves it
                check_publishable_key(self.client, secrets["publicKey"], rotation.environment)
                detail = "a widget call succeeded with the new publishable key"
            else:
                rotation.error = ("The replacement's secrets are no longer kept, so it cannot be proven. Cancel this "
                                  "rotation and roll the key again.")
                self._record(rotation, "rotation_verified", "failure", "secrets missing")
                db.session.commit()
                raise RotationError(rotation.error)
        except errors.SirError as error:
            self._fail(rotation, "rotation_verified", error)
        rotation.state, rotation.error = "verified", None
        self._record(rotation, "rotation_verified", detail=detail, target=self._new_target(rotation))
        db.session.commit()

    # -- step 4: the portal's own credential, in one transaction ------------------------------------------

    def switch_vault(self, rotation: KeyRotation) -> None:
        try:
            if rotation.was_portal_key:
                current = self.vault.record_for(rotation.partner_id, rotation.environment)
                secrets = self.secrets(rotation)
                if current is not None and current.key_id not in (rotation.old_key_id, rotation.new_key_id):
                    detail = "the portal already signs with another key; its credential was left as it is"
                else:
                    # Vault row, rotation state and audit entry change in one transaction.
                    self.vault.store_credential(rotation.partner_id,
                                                Credential(rotation.new_key_id, secrets["secretKey"], secrets["hmacSecret"]),
                                                source="rotated", stored_by=self.actor, commit=False)
                    detail = f"the portal now signs with the new key instead of {rotation.old_key_name}"
                self._record(rotation, "credential_replaced", target=self._new_target(rotation), detail=detail)
            else:
                self._record(rotation, "rotation_credential_kept", target=self._new_target(rotation),
                             detail="the portal does not sign with the old key; its own credential is unchanged")
            rotation.new_secrets_encrypted = None  # no longer needed anywhere
            rotation.state, rotation.error = "switched", None
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()  # nothing of the switch was saved: the portal still signs with the old key
            rotation.error = ("The portal could not save its new credential: its database refused the change. "
                              "It still signs with the old key, which keeps working. Resume to try again.")
            self._record(rotation, "credential_replaced", "failure", "database error")
            db.session.commit()
            raise RotationError(rotation.error) from None

    # -- step 5: the old key's end ----------------------------------------------------------------------

    def schedule_old_key(self, rotation: KeyRotation) -> None:
        try:
            try:
                old = self.account.key(rotation.old_key_id)
            except errors.NotFound:
                old = None
            ends = self.now() + GRACE[rotation.grace]
            if old is None:
                rotation.state = "completed"
                detail = "the old key no longer exists at SIR Giving; nothing left to end"
            elif old.status != "active":
                # Never revive a key that already stopped (an expiry in the future would make it work again).
                rotation.state = "completed"
                detail = f"the old key is already {old.status}; left as it is"
            elif rotation.grace == "now":
                self.account.update_key(rotation.old_key_id, isActive=False)
                rotation.state = "completed"
                detail = "deactivated now"
            elif old.expires_at is not None and old.expires_at <= ends:
                # Its own expiry comes first: the rotation never lengthens a key's life.
                rotation.old_expires_at = old.expires_at
                rotation.state = "grace"
                detail = f"keeps its own, earlier expiry: {old.expires_at.strftime('%Y-%m-%d %H:%M UTC')}"
            else:
                self.account.update_key(rotation.old_key_id, expiresAt=to_wire(ends))
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

    # -- the grace period ---------------------------------------------------------------------------------

    def traffic(self, rotation: KeyRotation):
        """(old, new) KeyUsage from SIR Giving, fresh. Raises RotationError saying why when it cannot be read."""
        credential = self.vault.credential_for(rotation.partner_id, rotation.environment)
        if credential is None:
            raise RotationError(f"The portal has no {rotation.environment} key of its own, so it cannot read this "
                                "environment's traffic.")
        try:
            reply = PartnerApi(self.client, credential, rotation.environment).api_usage(days=1, fresh=True)
        except errors.SirError as error:
            raise RotationError(f"Traffic could not be read: {error.message} {error.next_step}") from error
        if reply.reply.stale:
            raise RotationError("Traffic could not be read just now: SIR Giving did not answer. Try again in a moment.")
        return reply.value.for_key(rotation.old_key_id), reply.value.for_key(rotation.new_key_id)

    def end_grace_now(self, rotation: KeyRotation) -> None:
        if rotation.state != "grace":
            raise RotationError("Only a rotation in its grace period can end it.")
        try:
            traffic = self.traffic(rotation)
        except RotationError as unknown:
            raise RotationError(f"{unknown} Without it the portal cannot tell whether the old key is idle; the old "
                                "key stops on its own when the grace period ends.") from None
        old = traffic[0]
        if old is not None and old.requests_last_hour:
            raise RotationError(f"The old key served {old.requests_last_hour:,} request"
                                f"{'s' if old.requests_last_hour != 1 else ''} in the last hour: something still uses "
                                "it. Move that system to the new key first; the grace period stays as it is.")
        try:
            self.account.update_key(rotation.old_key_id, isActive=False)
        except errors.SirError as error:
            self._fail(rotation, "rotation_grace_ended", error)
        rotation.state, rotation.error = "completed", None
        self._record(rotation, "rotation_grace_ended", detail="the old key was idle and was deactivated before its expiry")
        self._record(rotation, "rotation_completed")
        db.session.commit()

    def complete_if_retired(self, rotation: KeyRotation, old_key) -> bool:
        """A rotation in its grace period is complete once SIR Giving no longer accepts the old key."""
        if rotation.state == "grace" and old_key is not None and old_key.status in ("expired", "inactive", "revoked"):
            rotation.state = "completed"
            audit.record(actor="portal", action="rotation_completed", partner_id=rotation.partner_id,
                         environment=rotation.environment, target=f"{rotation.old_key_name} ({rotation.old_key_id})",
                         detail=f"the old key is {old_key.status}", commit=False)
            return True
        return False

    # -- cancel ---------------------------------------------------------------------------------------

    def cancel(self, rotation: KeyRotation) -> None:
        if not rotation.in_progress:
            raise RotationError("This rotation is already finished.")
        if rotation.was_portal_key and step_done(rotation, "switched"):
            raise RotationError("The portal already signs with the new key, so it cannot be revoked now. "
                                "Resume to finish the rotation; the old key keeps working until its grace period ends.")
        if step_done(rotation, "grace"):
            raise RotationError("The old key's end is already scheduled; the rotation finishes on its own.")
        if rotation.state == "creating" and _aware(rotation.updated_at) > datetime.now(timezone.utc) - CREATING_STALE:
            raise RotationError("The replacement is being created right now. Reload the page in a moment, then cancel.")
        try:
            if rotation.new_key_id:
                self.account.revoke_key(rotation.new_key_id)
            elif rotation.new_key_name and (rotation.error or rotation.state == "creating"):
                self._revoke_orphans(rotation, rotation.new_key_name)  # a key whose answer was lost
        except errors.NotFound:
            pass  # already gone: nothing to undo
        except errors.SirError as error:
            self._fail(rotation, "rotation_cancelled", error)
        rotation.new_secrets_encrypted = None
        rotation.state, rotation.error = "cancelled", None
        self._record(rotation, "rotation_cancelled",
                     detail=(f"replacement {rotation.new_key_name} ({rotation.new_key_id}) revoked; the old key is untouched"
                             if rotation.new_key_id else "no replacement had been created; the old key is untouched"))
        db.session.commit()
