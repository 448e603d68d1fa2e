"""Giving the portal a key of its own: create one with SIR Giving, or check and keep one the admin pastes.

Either way the secret key and HMAC secret go straight into the vault, encrypted, and are shown nowhere."""

from __future__ import annotations

from datetime import date

from ..actor import Actor
from ..keys.issuing import revoke_orphans
from ..once import Outcome, look_first, may_have_acted, run_once
from ..sir import errors
from ..sir.api import AccountApi, PartnerApi
from ..sir.client import Credential, SirClient
from ..store.vault import Vault


def purpose(environment: str) -> str:
    """The one-time form token's purpose: one portal key per environment and form."""
    return f"portal-key:{environment}"


def portal_key_name(environment: str, today: date) -> str:
    return f"Partner Ops Portal ({environment}, {today.isoformat()})"


def create_portal_key(actor: Actor, account: AccountApi, vault: Vault, token: str | None, today: date) -> Outcome:
    """Create a secret key for the portal in the actor's environment and keep it in the vault, once per
    form however often it is submitted; the key's name is in `Outcome.result["name"]`."""
    environment = actor.environment
    name = portal_key_name(environment, today)

    def create(note) -> dict:
        if may_have_acted(note):  # a key an earlier try made, unanswered: the vault never got its secrets
            revoke_orphans(actor, account, token, name, environment, "secret")
        created = account.create_key(name, environment, "secret")
        credential = Credential(created["id"], created["secretKey"], created["hmacSecret"])
        vault.store_credential(actor.partner_id, credential, source="created", stored_by=actor.email, commit=False)
        actor.audit("credential_created", f"{created['id']} ({credential.secret_key[:12]}…)", commit=False)
        return {"keyId": created["id"], "name": name}

    outcome = run_once(token, actor.partner_id, purpose(environment), create, note_for=look_first)
    if outcome.state == "failed":
        actor.audit("credential_created", outcome="failure", detail=outcome.error.code)
    return outcome


def keep_pasted_credential(actor: Actor, client: SirClient, account: AccountApi, vault: Vault,
                           secret_key: str, hmac_secret: str) -> Credential:
    """Prove a pasted key and HMAC secret with one signed read, then keep them; raises the SirError that
    says why they do not work, and keeps nothing then."""
    credential = Credential(None, secret_key, hmac_secret)
    try:
        PartnerApi(client, credential, actor.environment).check_credential()
    except errors.SirError as error:
        actor.audit("credential_pasted", outcome="failure", detail=error.code)
        raise
    credential = Credential(key_id_for(account, secret_key), secret_key, hmac_secret)
    vault.store_credential(actor.partner_id, credential, source="pasted", stored_by=actor.email, commit=False)
    actor.audit("credential_pasted", f"{credential.key_id or 'unknown key'} ({secret_key[:12]}…)")
    return credential


def masked(secret_key: str) -> str:
    """A pasted key as the admin can recognise it without the page showing the secret: its kind and last four."""
    kind = secret_key[:8] if secret_key.startswith(("sk_test_", "sk_live_")) else ""
    return f"{kind}…{secret_key[-4:]}"


def pasted_refusal(secret_key: str, error: errors.SirError) -> str:
    """Why a pasted key did not work, naming the pasted key rather than the portal's own (which is not
    involved yet): the generic titles speak of "the key the portal signs with"."""
    if isinstance(error, errors.InvalidApiKey):
        why = "it does not exist, or it is inactive, expired or revoked."
    elif isinstance(error, errors.InvalidSignature):
        why = "the signature did not match: the HMAC secret does not belong to this key."
    else:
        why = f"{error.title.rstrip('.')}. {error.message}"
    return f"The pasted key {masked(secret_key)} was refused by SIR Giving: {why}"


def key_id_for(account: AccountApi, secret_key: str) -> str | None:
    """The key record that a pasted secret belongs to, found by its masked prefix in the admin's key list."""
    try:
        keys = account.keys()
    except errors.SirError:
        return None
    for key in keys:
        prefix = (key.secret_prefix or "").rstrip("…").rstrip(".")
        if prefix and secret_key.startswith(prefix):
            return key.id
    return None
