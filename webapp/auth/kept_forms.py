"""What an admin typed into a form when their sign-in lapsed, kept until they are signed in again.

A POST that arrives after the sign-in ended cannot be carried out, but what it carries need not be lost: the
non-secret fields of the forms listed here are stashed encrypted in the portal's database (the same one-time,
partner-bound store as secrets shown once), and the sign-in page's `next` leads back to the form with a token
that fills it in again, once. Nothing else is kept: no CSRF or one-time form token, no secret."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import flash, request
from werkzeug.datastructures import MultiDict

from ..store import reveal
from ..store.db import db
from ..upstream import vault

KIND = "form"
PARAM = "kept"  # the query parameter that carries the token back to the form
MAX_AGE = timedelta(hours=12)  # as long as a session may live; older ones are not offered back

# The endpoint a form posts to → (the endpoint that shows the form again, the fields worth keeping).
KEPT = {
    "keys.new": ("keys.new", ("name", "environment", "key_type", "use_for_portal")),
    "pools.request_top_up": ("pools.request_top_up", ("pool_id", "amount", "reason")),
    "pools.confirm_top_up": ("pools.request_top_up", ("pool_id", "amount", "reason")),  # step 2 goes back to 1
    "webhooks.new": ("webhooks.new", ("use_portal_receiver", "url", "description", "event_types", "all_events",
                                      "keep_secret")),
}


def _without_credentials(url: str) -> str:
    """A URL typed with a user name and password is not kept at all: the password would be stored."""
    try:
        parts = urlsplit(url)
        return "" if parts.username is not None or parts.password is not None else url
    except ValueError:
        return ""


def keep_lapsed_form(partner_id: str | None, back_to: str | None) -> str | None:
    """Stash this POST's form, when it is one worth keeping, and return `back_to` with the token that restores
    it; `back_to` as it is otherwise."""
    kept = KEPT.get(request.endpoint or "")
    if request.method != "POST" or kept is None or not partner_id or not back_to:
        return back_to
    restoring, fields = kept
    values = {name: request.form.getlist(name) for name in fields if request.form.getlist(name)}
    if "url" in values:
        values["url"] = [_without_credentials(u) for u in values["url"]]
    if not any(v for vs in values.values() for v in vs):
        return back_to
    db.session.rollback()  # whatever the lapsed request left half-done is not committed along with the stash
    token = reveal.stash(vault(), partner_id, restoring, values, KIND)
    db.session.commit()
    return f"{back_to}{'&' if '?' in back_to else '?'}{PARAM}={token}"


def restored_form(endpoint: str, partner_id: str) -> MultiDict | None:
    """The fields kept for this form by `keep_lapsed_form`, once, for the partner who typed them; else None."""
    token = request.args.get(PARAM)
    if not token:
        return None
    row, values = reveal.take(vault(), token, partner_id, KIND, max_age=MAX_AGE)
    if row is None or values is None or row.key_id != endpoint:
        return None
    flash("Here is what you had typed before your sign-in ended. Check it, then submit again.", "info")
    return MultiDict([(name, value) for name, items in values.items() for value in items])
