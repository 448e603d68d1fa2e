"""Where a view gets its SIR Giving clients, bound to the signed-in admin, partner and environment."""

from __future__ import annotations

from flask import current_app, g, session

from .sir import errors
from .sir.api import AccountApi, PartnerApi
from .sir.client import Credential, SirClient
from .sir.operator import SimulatorControls


def sir_client() -> SirClient:
    return current_app.extensions["sir_client"]


def vault():
    return current_app.extensions["vault"]


def portal_key_stored(environment: str):
    """The portal's own key for `environment` (its id and prefix), or None. Every environment's is read at once,
    once per request: the banners each ask (the pools banner twice, the key banner for both environments, the
    navigation's Go live entry for production). For reading only: a view that stores or rolls a credential reads
    the vault itself."""
    if "portal_key_rows" not in g:
        g.portal_key_rows = vault().keys_stored(g.partner["id"])
    return g.portal_key_rows.get(environment)


def current_environment() -> str:
    return session.get("environment", "sandbox")


def partner_credential(environment: str | None = None) -> Credential:
    credential = vault().credential_for(g.partner["id"], environment or current_environment())
    if credential is None:
        raise errors.NoCredential()
    return credential


def partner_api(environment: str | None = None) -> PartnerApi:
    """The signed client for the current partner; raises NoCredential when the vault has none."""
    environment = environment or current_environment()
    return PartnerApi(sir_client(), partner_credential(environment), environment, record=_recorder())


def session_jwt() -> str:
    """The signed-in admin's JWT, decrypted from the session for the call at hand."""
    return vault().decrypt(session["jwt"])


def account_api() -> AccountApi:
    return AccountApi(sir_client(), session_jwt(), record=_recorder())


def simulator_controls() -> SimulatorControls:
    """The embedded simulator's operator controls (the simulator page only)."""
    return SimulatorControls(sir_client(), record=_recorder())


def _recorder():
    calls = g.get("sir_calls")
    if calls is None:
        return None
    return calls.append  # bound to this request's list, so worker threads can use it too
