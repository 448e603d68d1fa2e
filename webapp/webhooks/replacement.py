"""Replacing a webhook endpoint (a new URL, new event types, or only a new signing secret) as a saved state
machine, like the key roll (`keys/rotation.py`): SIR Giving has no update call, so the portal registers the
replacement, shows its secret once, lets both endpoints receive while the admin deploys the new secret, proves
the replacement answers a test event with a 2xx, and only then deletes the old endpoint.

The order keeps the partner covered at every moment: the old endpoint is touched last, only once the
replacement exists, was proven, still exists, and every event type the old one had reaches some endpoint; and
never while the old endpoint still has deliveries SIR Giving is retrying that the replacement did not get
(deleting it would drop them). During the overlap an event reaches both endpoints with the same event id, so a
receiver must de-duplicate by it; the portal's own receiver does (received_events is unique per event id).

When the endpoint is the portal's own receiver, the portal takes the new secret itself: a replacement at the
same address shares the receiver, which verifies with either secret until the old endpoint is gone (then the
receiver keeps only the new one); one at a new address gets a receiver of its own.

Every step is saved before the next begins and audited; registration is claimed with one conditional UPDATE
("started" → "registering"), so a double click, a resend or a second tab never makes a second endpoint, and a
registration whose answer was lost finds the endpoint it made (by its URL, among those that did not exist
before) and deletes it: its secret was in the lost answer."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from ..actor import Actor
from ..once import Outcome, run_once
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.models import EVENT_TYPES, Delivery, Webhook
from ..sir.times import parse_time, to_wire
from ..store import receivers, replacements, reveal
from ..store.models import ReceiverEndpoint
from ..store.replacements import WebhookReplacement
from ..store.vault import Vault
from .registration import delivers_to_portal

STEPS = [("registered", "Register the replacement"), ("deployed", "Deploy its signing secret"),
         ("proven", "Prove the replacement receives"), ("completed", "Delete the old endpoint")]
ORDER = ["started", "registering", "registered", "deployed", "proven", "completed"]
STATE_LABELS = {"started": "not started", "registering": "registering", "registered": "waiting for you",
                "deployed": "both receive", "proven": "both receive", "completed": "completed",
                "cancelled": "cancelled"}
# A "registering" claim older than this belongs to a request that died mid-call: another may take over.
REGISTERING_STALE = timedelta(seconds=90)


class ReplacementError(Exception):
    pass


def purpose(webhook_id: str) -> str:
    """The one-time form token's purpose: one replacement per endpoint and form."""
    return f"replace-webhook:{webhook_id}"


def step_done(row: WebhookReplacement, state: str) -> bool:
    return row.state in ORDER and ORDER.index(row.state) >= ORDER.index(state)


def types_of(hook: Webhook) -> set[str]:
    return set(EVENT_TYPES) if hook.receive_all else set(hook.event_types)


def uncovered(old: Webhook, event_types: list[str], all_events: bool, others: list[Webhook]) -> list[str]:
    """The old endpoint's event types that neither the replacement (`event_types`, `all_events`) nor another of
    the partner's active endpoints receives: dropping the old one would leave them without an endpoint."""
    covered = set(EVENT_TYPES) if all_events else set(event_types)
    for hook in others:
        if hook.id != old.id and hook.is_active:
            covered |= types_of(hook)
    return sorted(types_of(old) - covered)


@dataclass(frozen=True)
class Wanted:
    """What the replacement should be: the admin's URL, or the portal's receiver (`url` None), at a new receiver
    address (`new_address`) or at the old endpoint's, when the old one is the portal's receiver."""

    url: str | None
    description: str | None
    event_types: list[str]
    all_events: bool
    keep_secret: bool = False
    new_address: bool = False

    @property
    def to_portal(self) -> bool:
        return self.url is None


def describe_change(old: Webhook, row: WebhookReplacement) -> str:
    """What changes, in the admin's words, for the audit log and the page."""
    changes = []
    if row.new_url != old.url:
        changes.append(f"URL to {row.new_url}")
    if row.new_receive_all != old.receive_all or (not row.new_receive_all and set(row.new_types) != set(old.event_types)):
        changes.append("event types to " + ("all events" if row.new_receive_all else ", ".join(row.new_types)))
    return "new signing secret" + ("; " + "; ".join(changes) if changes else " only")


class Replacer:
    """Runs the steps of one replacement with the partner's signed client and the vault, as `actor`."""

    def __init__(self, api: PartnerApi, vault: Vault, actor: Actor, clock: Callable[[], float]):
        self.api, self.vault, self.actor, self.clock = api, vault, actor, clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    def _record(self, row, action, outcome="success", detail=None, target=None):
        self.actor.audit(action, target or f"{row.old_url} ({row.old_webhook_id})", outcome=outcome, detail=detail,
                         environment=row.environment, commit=False)

    def _new_target(self, row) -> str:
        return f"{row.new_url} ({row.new_webhook_id})"

    def _fail(self, row, action, error: errors.SirError):
        row.error = error.sentence
        if isinstance(error, errors.Unauthorized):
            row.error = "Your SIR Giving sign-in expired during this step. Sign in again, then resume."
        self._record(row, action, "failure", error.code)
        replacements.save(row)
        if isinstance(error, errors.Unauthorized):
            raise error
        raise ReplacementError(row.error) from error

    def _refuse(self, row, action, message: str):
        """A step that must not run now: said on the page, audited, nothing changed."""
        row.error = message
        self._record(row, action, "failure", message)
        replacements.save(row)
        raise ReplacementError(message)

    # -- start ------------------------------------------------------------------------------------------

    def start(self, old: Webhook, wanted: Wanted, token: str | None, address_of: Callable[[str], str],
              kept: ReceiverEndpoint | None, known_ids: set[str]) -> Outcome:
        """Replace `old` once per form, however often it is sent: save the replacement, then run every step that
        can run now. `Outcome.result["replacement"]` is its id (also for a resend)."""
        outcome = run_once(token, self.actor.partner_id, purpose(old.id),
                           lambda _note: {"replacement": self._begin(old, wanted, address_of, kept, known_ids).id})
        if outcome.done:
            row = replacements.of_partner(self.actor.partner_id, outcome.result["replacement"])
            try:
                self.advance(row)
            except ReplacementError:
                pass  # saved with its error; the page offers resume or cancel
        return outcome

    def _begin(self, old, wanted: Wanted, address_of, kept, known_ids) -> WebhookReplacement:
        existing = replacements.in_progress_for(self.actor.partner_id, old.id)
        if existing is not None:
            return existing  # a second tab: the same replacement, never a second one
        shares, token = False, None
        if wanted.to_portal:
            if delivers_to_portal(kept, old) and not wanted.new_address:
                shares, url = True, old.url  # the same receiver: it takes the new secret beside the old
            else:
                token = secrets.token_urlsafe(32)
                url = address_of(token)
        else:
            url = wanted.url
            token = secrets.token_urlsafe(32) if wanted.keep_secret else None  # a kept secret's row
        row = replacements.create(
            partner_id=self.actor.partner_id, environment=self.actor.environment, old_webhook_id=old.id,
            old_url=old.url, old_event_types=old.event_types, old_receive_all=old.receive_all, new_url=url,
            new_description=wanted.description, new_event_types=[] if wanted.all_events else wanted.event_types,
            new_receive_all=wanted.all_events, to_portal=wanted.to_portal, shares_receiver=shares,
            keep_secret=wanted.keep_secret or wanted.to_portal, receiver_token=token, known_webhook_ids=known_ids,
            started_by=self.actor.email, commit=False)
        self._record(row, "webhook_replacement_started", detail=describe_change(old, row))
        return row  # committed with the form's token

    def advance(self, row: WebhookReplacement) -> WebhookReplacement:
        """Run every step that can run without the admin: the registration, and (for the portal's own receiver)
        the new secret's deployment. A failed deletion of the old endpoint is tried again too."""
        if not step_done(row, "registered"):
            self.register(row)
        if row.state == "registered" and row.to_portal:
            self.deploy(row)
        if row.state == "proven" and row.error:
            self.finish(row)
        return row

    # -- step 1: the replacement ----------------------------------------------------------------------

    def register(self, row: WebhookReplacement) -> None:
        retrying = row.error is not None or row.state == "registering"
        now = self.now()
        if not replacements.claim_registration(row, now, stale_before=now - REGISTERING_STALE):
            return  # another request is registering it right now; the page says so
        try:
            if retrying:
                self._delete_orphans(row)
            created = self.api.register_webhook(row.new_url, row.new_description, row.new_types, row.new_receive_all)
        except errors.SirError as error:
            row.state = "started"  # the endpoint may exist although the answer was lost: the next try looks first
            self._fail(row, "webhook_replacement_registered", error)
        row.new_webhook_id = created["id"]
        secret = created["secret"]
        if row.shares_receiver:
            row.new_secret_encrypted = self.vault.encrypt(secret)
        elif row.receiver_token:
            receivers.add(row.partner_id, row.environment, created["id"], row.new_url, row.receiver_token,
                          self.vault.encrypt(secret), commit=False)
        row.reveal_token = reveal.stash(self.vault, row.partner_id, created["id"],
                                        {"url": row.new_url, "secret": secret}, "webhook")
        row.state, row.error = "registered", None
        self._record(row, "webhook_replacement_registered", target=self._new_target(row),
                     detail="both endpoints receive events from now on")
        replacements.save(row)

    def _delete_orphans(self, row) -> None:
        """After a lost answer, an endpoint at the replacement's URL that did not exist when the replacement began
        is one this replacement made. Its secret was in the lost answer, so it is deleted and another made."""
        for hook in self.api.webhooks(fresh=True).value:
            if hook.url == row.new_url and hook.id not in row.known_ids and hook.id != row.old_webhook_id:
                self.api.delete_webhook(hook.id)
                self._record(row, "webhook_replacement_orphan_deleted", target=f"{hook.url} ({hook.id})",
                             detail="its signing secret was lost with an unanswered call")
                replacements.save(row)

    # -- step 2: the new secret, deployed ----------------------------------------------------------------

    def deploy(self, row: WebhookReplacement) -> bool:
        """"registered" → "deployed", once. The admin says their receiver has the new secret; for the portal's own
        receiver the portal did it at registration."""
        if row.state != "registered":
            return False
        if not row.to_portal and not replacements.secret_shown(row):
            raise ReplacementError("Show the new signing secret first (it is shown once), deploy it to your "
                                   "receiver, then confirm.")
        won = replacements.advance(row, "registered", "deployed", self.now())
        if won:
            self._record(row, "webhook_replacement_secret_deployed", target=self._new_target(row),
                         detail="the portal's receiver took the new secret itself" if row.to_portal else
                         "the admin deployed the new secret to their receiver")
        replacements.save(row)
        return won

    # -- step 3: proof ------------------------------------------------------------------------------------

    def send_test(self, row: WebhookReplacement) -> None:
        if row.state != "deployed":
            raise ReplacementError("A test event proves the replacement once its secret is deployed." if
                                   not step_done(row, "deployed") else "The replacement already answered a test event.")
        try:
            sent = self.api.send_test_event(row.new_webhook_id)
        except errors.SirError as error:
            self._fail(row, "webhook_replacement_test_sent", error)
        row.test_delivery_id, row.test_sent_at, row.error = sent.get("deliveryId"), self.now(), None
        self._record(row, "webhook_replacement_test_sent", target=self._new_target(row),
                     detail=f"test event {sent.get('eventId')}")
        replacements.save(row)

    def test_delivery(self, row: WebhookReplacement) -> Delivery | None:
        """The test delivery as SIR Giving has it now (fresh); a 2xx answer proves the replacement, once."""
        if row.test_delivery_id is None or row.state not in ("deployed", "proven"):
            return None
        since = to_wire(parse_time(row.test_sent_at) - timedelta(minutes=1))
        listing = self.api.every_delivery(row.new_webhook_id, since=since, fresh=True).value
        delivery = next((d for d in listing if d.id == row.test_delivery_id), None)
        if delivery is not None and delivery.status == "succeeded" and row.state == "deployed":
            if replacements.advance(row, "deployed", "proven", self.now()):
                self._record(row, "webhook_replacement_proven", target=self._new_target(row),
                             detail=f"the test event was answered HTTP {delivery.response_status}")
            replacements.save(row)
        return delivery

    # -- step 4: the old endpoint's end ------------------------------------------------------------------

    def _still_retrying(self, row) -> list[Delivery]:
        """The old endpoint's deliveries SIR Giving will still send, for events the replacement did not get:
        deleting the old endpoint now would drop them."""
        try:
            pending = [d for d in self.api.every_delivery(row.old_webhook_id, fresh=True).value
                       if d.status == "pending" or (d.status == "failed" and d.next_retry_at is not None)]
        except errors.NotFound:
            return []  # the old endpoint is gone already
        if not pending:
            return []
        got = {d.event_id for d in self.api.every_delivery(row.new_webhook_id, fresh=True).value}
        return [d for d in pending if d.event_id not in got]

    def finish(self, row: WebhookReplacement) -> None:
        """Delete the old endpoint, once the replacement is proven and covers what the old one received."""
        if row.state != "proven":
            raise ReplacementError("The old endpoint is deleted only after the replacement answered a test event."
                                   if row.in_progress else "This replacement is already finished.")
        try:
            hooks = self.api.webhooks(fresh=True).value
            replacement = next((h for h in hooks if h.id == row.new_webhook_id), None)
            old = next((h for h in hooks if h.id == row.old_webhook_id), None)
            if replacement is None or not replacement.is_active:
                self._refuse(row, "webhook_replacement_completed",
                             "The replacement endpoint no longer exists (or is inactive) at SIR Giving, so the old "
                             "endpoint was kept. Cancel this replacement and start another.")
            if old is not None:
                missing = uncovered(old, replacement.event_types, replacement.receive_all, hooks)
                if missing:
                    self._refuse(row, "webhook_replacement_completed",
                                 f"No other endpoint receives {', '.join(missing)}, so the old endpoint was kept.")
                retrying = self._still_retrying(row)
                if retrying:
                    self._refuse(row, "webhook_replacement_completed",
                                 f"SIR Giving is still retrying {len(retrying)} deliver{'y' if len(retrying) == 1 else 'ies'}"
                                 " to the old endpoint of events the replacement did not get; deleting it now would "
                                 "drop them. Wait until they land (or recover them from its deliveries page), then "
                                 "delete it.")
                try:
                    self.api.delete_webhook(row.old_webhook_id)
                except errors.NotFound:
                    pass  # deleted meanwhile: the outcome wanted
        except errors.SirError as error:
            self._fail(row, "webhook_deleted", error)
        old_receiver = receivers.for_webhook(row.partner_id, row.old_webhook_id)
        if row.shares_receiver and old_receiver is not None:
            # The receiver keeps its address and takes the new secret only, in the step's one transaction.
            old_receiver.webhook_id, old_receiver.secret_encrypted = row.new_webhook_id, row.new_secret_encrypted
        elif old_receiver is not None:
            receivers.remove(old_receiver, commit=False)
        row.new_secret_encrypted = None
        row.state, row.error = "completed", None
        self._record(row, "webhook_deleted", detail="replaced by " + self._new_target(row))
        self._record(row, "webhook_replacement_completed", target=self._new_target(row))
        replacements.save(row)

    # -- cancel ---------------------------------------------------------------------------------------

    def cancel(self, row: WebhookReplacement) -> None:
        """Delete the replacement; the old endpoint is untouched."""
        if not row.in_progress:
            raise ReplacementError("This replacement is already finished.")
        if row.state == "registering" and parse_time(row.updated_at) > self.now() - REGISTERING_STALE:
            raise ReplacementError("The replacement is being registered right now. Reload the page in a moment, "
                                   "then cancel.")
        try:
            if row.new_webhook_id:
                self.api.delete_webhook(row.new_webhook_id)
            elif row.error or row.state == "registering":
                self._delete_orphans(row)  # one whose answer was lost
        except errors.NotFound:
            pass
        except errors.SirError as error:
            self._fail(row, "webhook_replacement_cancelled", error)
        if row.new_webhook_id and not row.shares_receiver:
            made = receivers.for_webhook(row.partner_id, row.new_webhook_id)
            if made is not None:
                receivers.remove(made, commit=False)
        row.new_secret_encrypted = None
        row.state, row.error = "cancelled", None
        self._record(row, "webhook_replacement_cancelled",
                     detail=(f"replacement {self._new_target(row)} deleted; the old endpoint is untouched"
                             if row.new_webhook_id else "no replacement had been registered; the old endpoint is untouched"))
        replacements.save(row)
