"""Changes to one API key: rename, expiry, deactivate or reactivate, revoke. Each is one call to SIR Giving,
audited whichever way it goes, after the portal's own refusals: it never cuts off the key it signs with,
nor lets it expire (a roll replaces it on a schedule instead), and a key being rolled keeps the end its roll sets."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..actor import Actor
from ..sir import errors
from ..sir.api import AccountApi
from ..sir.models import ApiKey
from ..sir.times import DAY_FORMAT, to_wire
from ..store import rotations
from ..store.vault import Vault

CUTS_OFF = {"deactivate": "deactivated", "revoke": "revoked"}


# Said on the refusal and beside the portal's own key: an expiry is the slow way of cutting it off.
PORTAL_KEY_EXPIRY = ("once it passed, every page of the portal would fail. Schedule a roll instead: the portal "
                     "switches to the replacement first, and the old key stops when you choose.")


def refusal(actor: Actor, vault: Vault, key: ApiKey, change: str) -> str | None:
    """Why the portal will not make `change` ("deactivate", "revoke", "expiry", "no_expiry") to `key` now, or None."""
    if change in CUTS_OFF and is_portal_key(actor, vault, key):
        return (f"The portal signs its own calls with this key, so it cannot be {CUTS_OFF[change]} until another "
                "credential is in place. Roll the key instead: the portal switches to the replacement before the "
                "old key stops.")
    if change == "expiry" and is_portal_key(actor, vault, key):
        return f"The portal signs its own calls with this key, so it takes no expiry: {PORTAL_KEY_EXPIRY}"
    if change in ("expiry", "no_expiry") and rotations.in_progress_for(actor.partner_id, key.id):
        return "This key is being rolled: the roll sets when it stops. Finish or cancel the roll first."
    return None


def is_portal_key(actor: Actor, vault: Vault, key: ApiKey) -> bool:
    portal = vault.record_for(actor.partner_id, key.environment)
    return portal is not None and portal.key_id == key.id


def rename(actor: Actor, account: AccountApi, key: ApiKey, name: str) -> ApiKey:
    updated = _audited(actor, "key_renamed", key, lambda: account.update_key(key.id, name=name))
    _record(actor, "key_renamed", updated, detail=f"was “{key.name}”")
    return updated


def set_expiry(actor: Actor, account: AccountApi, key: ApiKey, expires_at: datetime | None) -> ApiKey:
    """The key stops working at `expires_at`; never, for None. SIR Giving's refusal of the date is raised
    as ValidationFailed (see `refused_because`), like a date the form itself refuses: not audited."""
    wire = to_wire(expires_at) if expires_at else None
    updated = _audited(actor, "key_expiry_set", key, lambda: account.update_key(key.id, expiresAt=wire),
                       form_refusal=True)
    _record(actor, "key_expiry_set", updated,
            detail=f"expires {expires_at.strftime(DAY_FORMAT)}" if expires_at else "never expires")
    return updated


def set_active(actor: Actor, account: AccountApi, key: ApiKey, active: bool) -> ApiKey:
    action = "key_reactivated" if active else "key_deactivated"
    updated = _audited(actor, action, key, lambda: account.update_key(key.id, isActive=active))
    _record(actor, action, updated)
    return updated


def revoke(actor: Actor, account: AccountApi, key: ApiKey) -> ApiKey:
    updated = _audited(actor, "key_revoked", key, lambda: account.revoke_key(key.id))
    _record(actor, "key_revoked", updated)
    return updated


def refused_because(error: errors.ValidationFailed) -> str:
    """SIR Giving's reasons for refusing a change, as one line beside the form's field."""
    reasons = [f"{f.get('field')} {f.get('message')}" for f in error.fields if isinstance(f, dict)]
    return "SIR Giving refused it: " + ("; ".join(reasons) or error.detail or error.message)


def _record(actor: Actor, action: str, key: ApiKey, outcome: str = "success", detail: str | None = None) -> None:
    actor.audit(action, f"{key.name} ({key.id})", outcome=outcome, detail=detail, environment=key.environment)


def _audited(actor: Actor, action: str, key: ApiKey, call: Callable[[], ApiKey], form_refusal: bool = False) -> ApiKey:
    """Make the call; a failure is audited and raised. With `form_refusal`, SIR Giving's ValidationFailed is
    the form's to show, like the form's own checks, and is not audited."""
    try:
        return call()
    except errors.SirError as error:
        if not (form_refusal and isinstance(error, errors.ValidationFailed)):
            _record(actor, action, key, "failure", error.code)
        raise
