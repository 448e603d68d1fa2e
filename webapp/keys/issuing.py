"""Issuing a new API key: SIR Giving creates it, its secrets are kept (encrypted) for the one page that shows
them, and, if the admin asks, the portal signs its own calls with it from then on.

Once per form however often it is sent (a double click, a resend, the back button): see `webapp/once.py`.
A try whose answer was lost (a timeout) or that never finished (the portal stopped mid-call) may have made a
key whose secrets nobody will ever see: the next try revokes it before making another, as rolling does."""

from __future__ import annotations

from ..actor import Actor
from ..once import Outcome, form_issued_since, look_first, may_have_acted, run_once
from ..sir.api import AccountApi
from ..sir.client import Credential
from ..store import reveal
from ..store.vault import Vault

PURPOSE = "create-key"  # the one-time form token's purpose
SHOWN_ONCE = ("publicKey", "secretKey", "hmacSecret", "name", "environment", "keyType", "id")


def revoke_orphans(actor: Actor, account: AccountApi, token: str, name: str, environment: str, key_type: str) -> None:
    """Revoke the active keys an earlier try of this form made without its answer arriving: same name,
    environment and type, made since the form was issued. Their secrets were only in the lost answer."""
    since = form_issued_since(token)
    for key in account.keys():
        if (key.name == name and key.environment == environment and key.key_type == key_type
                and key.status == "active" and key.created_at is not None and key.created_at >= since):
            account.revoke_key(key.id)
            actor.audit("key_orphan_revoked", f"{key.name} ({key.id})", environment=environment,
                        detail="its secrets were lost with an unanswered call", commit=False)


def issue_key(actor: Actor, account: AccountApi, vault: Vault, token: str | None, *, name: str, environment: str,
              key_type: str, for_portal: bool = False) -> Outcome:
    """Create the key once for this form. `Outcome.result["reveal"]` names the page that shows its secrets
    (also for a resend of the same form); a failure is audited and leaves the form usable again."""

    def create(note) -> dict:
        if may_have_acted(note):
            revoke_orphans(actor, account, token, name, environment, key_type)
        created = account.create_key(name, environment, key_type)
        page = reveal.stash(vault, actor.partner_id, created["id"], {k: created.get(k) for k in SHOWN_ONCE},
                            "key")
        target = f"{created['name']} ({created['id']})"
        actor.audit("key_created", target, environment=created["environment"], commit=False)
        if for_portal and created.get("secretKey"):
            # The vault row commits with the key's audit entry and the form's token: all of it, or none.
            vault.store_credential(actor.partner_id, Credential(created["id"], created["secretKey"], created["hmacSecret"]),
                                   source="created", stored_by=actor.email, commit=False)
            actor.audit("portal_credential_switched", target, environment=created["environment"],
                        detail="the new key became the portal's own credential", commit=False)
        return {"reveal": page}

    outcome = run_once(token, actor.partner_id, PURPOSE, create, note_for=look_first)
    if outcome.state == "failed":
        actor.audit("key_created", name, outcome="failure", detail=outcome.error.code, environment=environment)
    return outcome
