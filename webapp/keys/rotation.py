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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import SQLAlchemyError

from ..actor import Actor
from ..once import Outcome, run_once
from ..sir import errors
from ..sir.api import AccountApi, PartnerApi, check_publishable_key
from ..sir.client import Credential, SirClient
from ..sir.times import parse_time, to_wire
from ..store import rotations
from ..store.db import rollback
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
# The date (and the same day's count) a roll adds to a name: " (2026-12-01)" or " (2026-12-01, 2)".
DATED = re.compile(r" \((?P<day>\d{4}-\d{2}-\d{2})(?:, (?P<count>\d+))?\)$")


def dated_name(name: str, today: str) -> str:
    """`name` with `today` in place of any date a roll left on it; the same day again counts up."""
    dated = DATED.search(name)
    base = name[:dated.start()] if dated else name
    if dated and dated["day"] == today:
        suffix = f" ({today}, {int(dated['count'] or 1) + 1})"
    else:
        suffix = f" ({today})"
    return base[:100 - len(suffix)] + suffix


def key_lifetime(key) -> timedelta | None:
    """How long a key was made to last (its expiry less its creation); None without an expiry."""
    if key.expires_at is None or key.created_at is None or key.expires_at <= key.created_at:
        return None
    return key.expires_at - key.created_at


def describe(lifetime: timedelta) -> str:
    """A lifetime as the admin reads it: "30 days", "1 day 6 h", "45 min"."""
    days, hours = lifetime.days, lifetime.seconds // 3600
    parts = ([f"{days} day{'s' if days != 1 else ''}"] if days else []) + ([f"{hours} h"] if hours else [])
    return " ".join(parts) or f"{lifetime.seconds // 60} min"


class RotationError(Exception):
    pass


def purpose(key_id: str) -> str:
    """The one-time form token's purpose: one rotation per key and form."""
    return f"roll:{key_id}"


def step_done(rotation: KeyRotation, state: str) -> bool:
    return rotation.state in ORDER and ORDER.index(rotation.state) >= ORDER.index(state)


def secrets_waiting(rotation: KeyRotation) -> bool:
    """The replacement exists and its secrets were not shown yet."""
    return rotation.state == "created" and rotation.new_key_id is not None and rotation.secrets_shown_at is None


def can_cancel(rotation: KeyRotation) -> bool:
    """Cancelling revokes the replacement: allowed until the portal signs with it or the old key's end is set."""
    return rotation.in_progress and not step_done(rotation, "grace") and not (
        rotation.was_portal_key and step_done(rotation, "switched"))


def replaced_by(rotation: KeyRotation | None, key) -> KeyRotation | None:
    """The completed roll (the key's latest) that retired `key`, while SIR Giving still refuses it, or None: such
    a key is neither rolled again, deactivated nor given an expiry (which would revive it), and its page says
    what replaced it."""
    if rotation is None or rotation.state != "completed" or key.status == "active":
        return None
    return rotation


def still_in_use(usage, rotation: KeyRotation | None) -> bool:
    """Whether something still uses the key: it served requests in the last 24 hours, not counting the portal's
    own calls from before a roll switched the portal to the replacement (only a use after the switch counts),
    and never for a key a completed roll retired (SIR Giving refuses it now)."""
    if usage is None or not usage.requests_last_24h or (rotation is not None and rotation.state == "completed"):
        return False
    since = rotations.switched_at(rotation) if rotation is not None and step_done(rotation, "switched") else None
    return since is None or (usage.last_used_at is not None and usage.last_used_at > since)


def grace_over(rotation: KeyRotation, now: datetime) -> bool:
    """The grace period's end has passed on SIR Giving's clock, and SIR Giving has not said the old key stopped."""
    return rotation.state == "grace" and rotation.old_expires_at is not None and parse_time(rotation.old_expires_at) <= now


@dataclass
class Progress:
    """What a rotation's page shows beside its steps: the old and new keys' traffic while it matters."""

    traffic: tuple | None = None  # (old, new) KeyUsage
    traffic_note: str | None = None  # why the traffic is unknown
    idle: bool = False  # the old key served no request in the last hour


class Rotator:
    """Runs the steps of one rotation with the admin's JWT (key management) and the vault."""

    def __init__(self, client: SirClient, account: AccountApi, vault: Vault, actor: Actor):
        self.client, self.account, self.vault, self.actor = client, account, vault, actor

    def now(self) -> datetime:
        """SIR Giving's idea of now, as the client signs with it (the portal's one clock, or a test's)."""
        return datetime.fromtimestamp(self.client.clock(), tz=timezone.utc)

    def _record(self, rotation, action, outcome="success", detail=None, target=None):
        self.actor.audit(action, target or f"{rotation.old_key_name} ({rotation.old_key_id})", outcome=outcome,
                         detail=detail, environment=rotation.environment, commit=False)

    # -- start ------------------------------------------------------------------------------------------

    def start(self, old_key, grace: str, token: str | None) -> Outcome:
        """Roll `old_key` once per form, however often it is sent: save the rotation, then run every step
        that can run now. `Outcome.result["rotation"]` is the rotation's id (also for a resend)."""
        outcome = run_once(token, self.actor.partner_id, purpose(old_key.id),
                           lambda _note: {"rotation": self._begin(old_key, grace).id})
        if outcome.done:
            rotation = rotations.of_partner(self.actor.partner_id, outcome.result["rotation"])
            try:
                self.advance(rotation)
            except RotationError:
                pass  # saved with its error; the rotation's page offers resume or cancel
        return outcome

    def _begin(self, old_key, grace: str) -> KeyRotation:
        existing = rotations.in_progress_for(self.actor.partner_id, old_key.id)
        if existing:
            return existing[0]  # a second tab: the same rotation, never a second one
        portal = self.vault.record_for(self.actor.partner_id, old_key.environment)
        rotation = rotations.create(partner_id=self.actor.partner_id, environment=old_key.environment,
                                    old_key_id=old_key.id, old_key_name=old_key.name, key_type=old_key.key_type,
                                    grace=grace, was_portal_key=portal is not None and portal.key_id == old_key.id,
                                    started_by=self.actor.email, commit=False)
        self._record(rotation, "key_roll_started", detail=f"old key stops: {GRACE_LABELS[grace].lower()}")
        return rotation  # committed with the form's token

    def _new_target(self, rotation) -> str:
        return f"{rotation.new_key_name} ({rotation.new_key_id})"

    def _fail(self, rotation, action, error: errors.SirError):
        rotation.error = f"{error.title}: {error.message} {error.next_step}".strip()
        if isinstance(error, errors.Unauthorized):
            rotation.error = "Your SIR Giving sign-in expired during this step. Sign in again, then resume."
        self._record(rotation, action, "failure", error.code)
        rotations.save(rotation)
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
        """The old key's name with today's date; a date left by an earlier roll is replaced, never stacked, and a
        second roll on the same day counts instead: "Backend (2026-12-01, 2)"."""
        return dated_name(rotation.old_key_name, self.now().date().isoformat())

    def replacement_expiry(self, old_key) -> datetime | None:
        """When the replacement should expire: the old key's lifetime again, from now; None when the old key had
        no expiry, or when it is the portal's own (the portal's key takes no expiry: once past, every page fails)."""
        lifetime = key_lifetime(old_key)
        if lifetime is None:
            return None
        portal = self.vault.record_for(self.actor.partner_id, old_key.environment)
        if portal is not None and portal.key_id == old_key.id:
            return None
        return self.now() + lifetime

    def _give_old_lifetime(self, rotation: KeyRotation, old_key) -> None:
        """The replacement keeps the old key's lifetime (SIR Giving sets an expiry only by PATCH). The key and its
        secrets are saved already, so a refusal here is recorded and the roll goes on: the key page can set it."""
        expires = None if rotation.was_portal_key else self.replacement_expiry(old_key)
        if expires is None:
            return
        lifetime = key_lifetime(old_key)
        detail = f"expires {expires.strftime('%Y-%m-%d %H:%M UTC')}, the old key's lifetime of {describe(lifetime)}"
        try:
            self.account.update_key(rotation.new_key_id, expiresAt=to_wire(expires))
        except errors.SirError as error:
            self._record(rotation, "key_roll_replacement_expiry_set", "failure", f"{error.code}: {detail}",
                         target=self._new_target(rotation))
        else:
            self._record(rotation, "key_roll_replacement_expiry_set", detail=detail, target=self._new_target(rotation))
        rotations.save(rotation)

    def create_replacement(self, rotation: KeyRotation) -> None:
        retrying = rotation.error is not None or rotation.state == "creating"
        name = rotation.new_key_name or self.replacement_name(rotation)
        now = self.now()
        if not rotations.claim_creation(rotation, name, now, stale_before=now - CREATING_STALE):
            return  # another request is creating it right now; the page shows that and offers a reload
        name = rotation.new_key_name
        try:
            old_key = self.account.key(rotation.old_key_id)  # its expiry and age, for the replacement's lifetime
            if retrying:
                self._revoke_orphans(rotation, name)
            created = self.account.create_key(name, rotation.environment, rotation.key_type)
        except errors.SirError as error:
            # The key may exist although the answer was lost (a timeout): the next attempt looks for it first.
            rotation.state = "started"
            self._fail(rotation, "key_roll_replacement_created", error)
        rotation.new_key_id, rotation.new_key_name = created["id"], created["name"]
        secrets = {"publicKey": created.get("publicKey"), "secretKey": created.get("secretKey"),
                   "hmacSecret": created.get("hmacSecret")}
        rotation.new_secrets_encrypted = self.vault.encrypt(json.dumps(secrets))
        rotation.secrets_shown_at = None
        rotation.state, rotation.error = "created", None
        self._record(rotation, "key_roll_replacement_created", target=self._new_target(rotation))
        rotations.save(rotation)
        self._give_old_lifetime(rotation, old_key)

    def _revoke_orphans(self, rotation, name) -> None:
        """After a lost answer, an active key with this rotation's name made since it began is one we made.
        Its secrets were in the lost answer and can never be shown, so it is revoked and a new one made."""
        began = parse_time(rotation.created_at) - timedelta(minutes=1)
        for key in self.account.keys():
            if key.name == name and key.status == "active" and key.id != rotation.old_key_id \
                    and key.created_at is not None and key.created_at >= began:
                self.account.revoke_key(key.id)
                self._record(rotation, "key_roll_orphan_revoked", detail="its secrets were lost with an unanswered call",
                             target=f"{key.name} ({key.id})")
                rotations.save(rotation)

    # -- step 2: the secrets, shown once -------------------------------------------------------------

    def secrets(self, rotation: KeyRotation) -> dict | None:
        if not rotation.new_secrets_encrypted:
            return None
        return json.loads(self.vault.decrypt(rotation.new_secrets_encrypted))

    def reveal(self, rotation: KeyRotation) -> dict | None:
        """The replacement's secrets, the first time the page asks and never again (one conditional UPDATE)."""
        if rotation.state != "created" or rotation.secrets_shown_at is not None:
            return None
        if not rotations.mark_secrets_shown(rotation, self.now()):
            return None
        return self.secrets(rotation)

    def confirm_stored(self, rotation: KeyRotation) -> bool:
        """"created" → "confirmed", once: only the request that wins goes on with the next steps."""
        won = rotations.confirm_stored(rotation, self.now(), commit=False)
        if won:
            self._record(rotation, "key_roll_secrets_stored", target=self._new_target(rotation))
        rotations.save(rotation)
        return won

    def continue_after_stored(self, rotation: KeyRotation) -> None:
        """The admin stored the secrets: run the remaining steps. A second click finds the secrets confirmed
        already and runs nothing."""
        if self.confirm_stored(rotation):
            self.advance(rotation)

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
            self._fail(rotation, "key_roll_replacement_revoked", error)
        won = rotations.forget_replacement(rotation, seen_key_id, self.now(), commit=False)
        if won:
            self._record(rotation, "key_roll_replacement_revoked", target=seen_target,
                         detail="its secrets were not stored; a new replacement follows")
        rotations.save(rotation)
        if won:
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
                                  "roll and roll the key again.")
                self._record(rotation, "key_roll_verified", "failure", "secrets missing")
                rotations.save(rotation)
                raise RotationError(rotation.error)
        except errors.SirError as error:
            self._fail(rotation, "key_roll_verified", error)
        rotation.state, rotation.error = "verified", None
        self._record(rotation, "key_roll_verified", detail=detail, target=self._new_target(rotation))
        rotations.save(rotation)

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
                                                source="rolled", stored_by=self.actor.email, commit=False)
                    detail = f"the portal now signs with the new key instead of {rotation.old_key_name}"
                self._record(rotation, "portal_credential_switched", target=self._new_target(rotation), detail=detail)
            else:
                self._record(rotation, "portal_credential_kept", target=self._new_target(rotation),
                             detail="the portal does not sign with the old key; its own credential is unchanged")
            rotation.new_secrets_encrypted = None  # no longer needed anywhere
            rotation.state, rotation.error = "switched", None
            rotations.save(rotation)
        except SQLAlchemyError:
            rollback()  # nothing of the switch was saved: the portal still signs with the old key
            rotation.error = ("The portal could not save its new credential: its database refused the change. "
                              "It still signs with the old key, which keeps working. Resume to try again.")
            self._record(rotation, "portal_credential_switched", "failure", "database error")
            rotations.save(rotation)
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
            self._fail(rotation, "key_roll_old_key_scheduled", error)
        rotation.error = None
        self._record(rotation, "key_roll_old_key_scheduled", detail=detail)
        if rotation.state == "completed":
            self._record(rotation, "key_roll_completed")
        rotations.save(rotation)

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
            raise RotationError("Only a roll in its grace period can end it.")
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
            self._fail(rotation, "key_roll_grace_ended", error)
        rotation.state, rotation.error = "completed", None
        self._record(rotation, "key_roll_grace_ended", detail="the old key was idle and was deactivated before its expiry")
        self._record(rotation, "key_roll_completed")
        rotations.save(rotation)

    def complete_if_retired(self, rotation: KeyRotation, old_key) -> bool:
        """A rotation in its grace period is complete once SIR Giving no longer accepts the old key. The portal
        notices it, not the admin: the audit entry says so."""
        if rotation.state == "grace" and old_key is not None and old_key.status in ("expired", "inactive", "revoked"):
            rotation.state = "completed"
            Actor("portal", rotation.partner_id, rotation.environment).audit(
                "key_roll_completed", f"{rotation.old_key_name} ({rotation.old_key_id})",
                detail=f"the old key is {old_key.status}", commit=False)
            rotations.save(rotation)
            return True
        return False

    def complete_finished(self, in_progress: list[KeyRotation], keys_by_id: dict) -> None:
        """Complete each rotation in its grace period whose old key (from `keys_by_id`) has stopped."""
        for rotation in in_progress:
            self.complete_if_retired(rotation, keys_by_id.get(rotation.old_key_id))

    def progress(self, rotation: KeyRotation) -> Progress:
        """The rotation as its page shows it, with the old key's end noticed first: during the grace period
        and after it, the old and new keys' traffic, fresh (or why it is unknown)."""
        if rotation.state == "grace":
            try:
                self.complete_if_retired(rotation, self.account.key(rotation.old_key_id))
            except errors.SirError:
                pass  # the old key's state is unknown just now: the rotation stays in its grace period
        if rotation.state not in ("grace", "completed"):
            return Progress()
        try:
            traffic = self.traffic(rotation)
        except RotationError as unknown:
            return Progress(traffic_note=str(unknown))
        return Progress(traffic, idle=traffic[0] is None or traffic[0].requests_last_hour == 0)

    # -- cancel ---------------------------------------------------------------------------------------

    def cancel(self, rotation: KeyRotation) -> None:
        if not rotation.in_progress:
            raise RotationError("This roll is already finished.")
        if rotation.was_portal_key and step_done(rotation, "switched"):
            raise RotationError("The portal already signs with the new key, so it cannot be revoked now. "
                                "Resume to finish the roll; the old key keeps working until its grace period ends.")
        if step_done(rotation, "grace"):
            raise RotationError("The old key's end is already scheduled; the roll finishes on its own.")
        if rotation.state == "creating" and parse_time(rotation.updated_at) > self.now() - CREATING_STALE:
            raise RotationError("The replacement is being created right now. Reload the page in a moment, then cancel.")
        try:
            if rotation.new_key_id:
                self.account.revoke_key(rotation.new_key_id)
            elif rotation.new_key_name and (rotation.error or rotation.state == "creating"):
                self._revoke_orphans(rotation, rotation.new_key_name)  # a key whose answer was lost
        except errors.NotFound:
            pass  # already gone: nothing to undo
        except errors.SirError as error:
            self._fail(rotation, "key_roll_cancelled", error)
        rotation.new_secrets_encrypted = None
        rotation.state, rotation.error = "cancelled", None
        self._record(rotation, "key_roll_cancelled",
                     detail=(f"replacement {rotation.new_key_name} ({rotation.new_key_id}) revoked; the old key is untouched"
                             if rotation.new_key_id else "no replacement had been created; the old key is untouched"))
        rotations.save(rotation)
