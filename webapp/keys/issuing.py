"""Issuing a new API key: SIR Giving creates it, its secrets are kept (encrypted) for the one page that shows
them, and, if the admin asks, the portal signs its own calls with it from then on.

Once per form however often it is sent (a double click, a resend, the back button): see `webapp/once.py`."""

from __future__ import annotations

from ..actor import Actor
from ..once import Outcome, run_once
from ..sir.api import AccountApi
from ..sir.client import Credential
from ..store import reveal
from ..store.vault import Vault

PURPOSE = "create-key"  # the one-time form token's purpose
SHOWN_ONCE = ("publicKey", "secretKey", "hmacSecret", "name", "environment", "keyType", "id")


def issue_key(actor: Actor, account: AccountApi, vault: Vault, token: str | None, *, name: str, environment: str,
              key_type: str, for_portal: bool = False) -> Outcome:
    """Create the key once for this form. `Outcome.result["reveal"]` names the page that shows its secrets
    (also for a resend of the same form); a failure is audited and leaves the form usable again."""

    def create(_note) -> dict:
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

    outcome = run_once(token, actor.partner_id, PURPOSE, create)
    if outcome.state == "failed":
        actor.audit("key_created", name, outcome="failure", detail=outcome.error.code, environment=environment)
    return outcome
