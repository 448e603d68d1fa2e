"""Secrets shown once: a new key's or webhook's secrets, kept encrypted between the request that created
them and the one page that shows them, and emptied as that page is rendered.

Tokens are typed: a key's start with "key." and a webhook's with "webhook." (a dot is not in the url-safe
alphabet, so no random tail can fake it). Each page takes only its own kind, so a token pasted at the other
kind's URL is not found there and its secrets stay unspent for their own page."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from ..sir.times import parse_time  # as UTC: SQLite keeps no zone
from .db import db
from .models import RevealedSecret, utcnow


KINDS = ("key", "webhook", "form")  # "form": what was typed when a sign-in lapsed (auth/kept_forms.py)


def stash(vault, partner_id: str, subject_id: str, payload: dict, kind: str) -> str:
    """Keep `payload` encrypted until it is shown; returns the token of the page that shows it. Not committed:
    it commits with the caller's other changes."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of secret: {kind!r}")
    token = f"{kind}.{secrets.token_urlsafe(24)}"
    db.session.add(RevealedSecret(token=token, partner_id=partner_id, key_id=subject_id,
                                  secrets_encrypted=vault.encrypt(json.dumps(payload))))
    return token


def take(vault, token: str, partner_id: str, kind: str,
         max_age: timedelta | None = None) -> tuple[RevealedSecret | None, dict | None]:
    """The stashed secrets, once: (row, payload) the first time, (row, None) after, (None, None) for a token
    that is not this partner's or not of this `kind` (then nothing is spent). Secrets stashed longer than
    `max_age` ago are erased unseen (as `flask prune` erases them): (row, None)."""
    if kind not in KINDS or not token.startswith(f"{kind}."):
        return None, None
    row = db.session.get(RevealedSecret, token)
    if row is None or row.partner_id != partner_id:
        return None, None
    if not row.secrets_encrypted:
        return row, None
    if max_age is not None and parse_time(row.created_at) < utcnow() - max_age:
        row.secrets_encrypted = None
        db.session.commit()
        return row, None
    payload = json.loads(vault.decrypt(row.secrets_encrypted))
    row.secrets_encrypted, row.shown_at = None, utcnow()  # gone before the page leaves
    db.session.commit()
    return row, payload
