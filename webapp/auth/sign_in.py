"""Signing in with a SIR Giving portal account: the login call, who the admin is, and the audit entry
either way. The session itself is the view's: this runs, and is tested, without a request."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..actor import Actor
from ..parallel import POOL
from ..sir import errors
from ..sir.api import AccountApi
from ..sir.client import SirClient

log = logging.getLogger(__name__)

FIRST_ENVIRONMENT = "sandbox"  # a new session starts here; production is one deliberate switch away
# How much longer than /auth/me the sign-in waits for the key list asked alongside it: a slow list is the first
# page's to ask (as it did before), never a slower sign-in.
KEYS_GRACE_SECONDS = 0.2


@dataclass(frozen=True)
class SignedIn:
    token: str  # the admin's JWT
    me: dict  # SIR Giving's /auth/me: user, partner, publishable key
    # The admin's keys, asked alongside /auth/me (no round of its own) for the first page's key banner, which would
    # otherwise ask them itself; None when that call failed or was late (the page then asks, as it does every minute).
    keys: list | None = None


def sign_in(client: SirClient, email: str, password: str, remote_addr: str | None = None) -> SignedIn:
    """Sign `email` in. A wrong email or password raises InvalidCredentials (audited, with no partner: none
    is known); SIR Giving being unavailable raises its SirError."""
    try:
        account = client.login(email, password)
        token = account.get("token") or account.get("accessToken")
        keys = POOL.submit(AccountApi(client, token).keys)
        me = client.me(token)
    except errors.InvalidCredentials:
        Actor(email, None, None, remote_addr).audit("sign_in", outcome="failure", detail="wrong email or password")
        raise
    user = me.get("user") if isinstance(me.get("user"), dict) else {}
    if not user.get("email"):  # not in the reference's /auth/me: the admin is who signed in
        me = {**me, "user": {**user, "email": email}}
    Actor(email, (me.get("partner") or {}).get("id"), FIRST_ENVIRONMENT, remote_addr).audit("sign_in")
    return SignedIn(token, me, _answer(keys))


def _answer(task):
    try:
        return task.result(timeout=KEYS_GRACE_SECONDS)
    except (errors.SirError, TimeoutError):
        return None
    except Exception:  # the list is a head start for a banner: never a reason to refuse a sign-in
        log.warning("the key list asked at sign-in failed", exc_info=True)
        return None
