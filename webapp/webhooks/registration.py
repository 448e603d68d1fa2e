"""Registering a webhook endpoint with SIR Giving, and deleting one.

SIR Giving returns a new endpoint's signing secret once, in the reply to the registration. The portal keeps it
encrypted only for the one page that shows it (and, when the admin asks, for its own receiver or the signature
debugger); a double submit registers one endpoint and shows that one's secret."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

from ..actor import Actor
from ..once import Outcome, run_once
from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.models import Webhook
from ..store import receivers, reveal
from ..store.models import ReceiverEndpoint
from ..store.vault import Vault

PURPOSE = "register-webhook"  # the one-time form token's purpose


@dataclass(frozen=True)
class NewEndpoint:
    """What the admin asked for: their own URL, or the portal's receiver (`url` None)."""

    url: str | None
    description: str | None
    event_types: list[str]
    all_events: bool
    keep_secret: bool = False

    @property
    def to_portal(self) -> bool:
        return self.url is None


def delivers_to_portal(receiver: ReceiverEndpoint | None, hook: Webhook | None = None) -> bool:
    """The portal receives this webhook's deliveries itself (rather than only keeping its secret): the
    endpoint's URL (as SIR Giving has it, when `hook` is given) is the receiver's own `/hooks/<token>`."""
    if receiver is None:
        return False
    url = hook.url if hook is not None else receiver.url
    return url == receiver.url and url.rstrip("/").endswith(f"/hooks/{receiver.token}")


def register_endpoint(actor: Actor, api: PartnerApi, vault: Vault, submission: str | None, wanted: NewEndpoint,
                      address_of: Callable[[str], str]) -> Outcome:
    """Register the endpoint once per form, however often it is submitted. `address_of(token)` is the public
    address of the portal's receiver at `/hooks/<token>`. On success, `Outcome.result["reveal"]` is the token
    of the page that shows the secret (also for a repeated submit, once the first one is done)."""
    receiver_token = secrets.token_urlsafe(32)
    url = address_of(receiver_token) if wanted.to_portal else wanted.url

    def register(_note) -> dict:
        created = api.register_webhook(url, wanted.description, [] if wanted.all_events else wanted.event_types,
                                       wanted.all_events)
        if wanted.to_portal or wanted.keep_secret:
            receivers.add(actor.partner_id, actor.environment, created["id"], url, receiver_token,
                          vault.encrypt(created["secret"]), commit=False)
        reveal_token = reveal.stash(vault, actor.partner_id, created["id"], {"url": url, "secret": created["secret"]},
                                    "webhook")
        actor.audit("webhook_registered", f"{url} ({created['id']})", commit=False,
                    detail="delivered to the portal's receiver" if wanted.to_portal else None)
        return {"reveal": reveal_token}

    outcome = run_once(submission, actor.partner_id, PURPOSE, register)
    if outcome.state == "failed":
        actor.audit("webhook_registered", url, outcome="failure", detail=outcome.error.code)
    return outcome


def delete_endpoint(actor: Actor, api: PartnerApi, hook: Webhook) -> None:
    """Delete the endpoint with SIR Giving, and the portal's receiver of it (its path answers 404 from then on).
    Raises the SirError that says why SIR Giving refused; one that is gone already counts as deleted."""
    try:
        api.delete_webhook(hook.id)
    except errors.NotFound:
        pass  # deleted meanwhile (another admin, another tab): the outcome the admin asked for
    except errors.SirError as error:
        actor.audit("webhook_deleted", hook.url, outcome="failure", detail=error.code)
        raise
    receiver = receivers.of_partner(actor.partner_id, actor.environment).get(hook.id)
    if receiver is not None:
        receivers.remove(receiver, commit=False)
    actor.audit("webhook_deleted", f"{hook.url} ({hook.id})")
