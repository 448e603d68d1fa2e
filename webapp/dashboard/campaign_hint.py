"""The running campaign's id seen last: with it, a page asks that campaign's analytics in its one round instead
of after asking which campaign runs (cards._campaign). Kept in the session, and past it for the partner
(store/hints.py), so the first overview after signing in is one round too. Shared by the overview, the campaign
report and the pools page."""

from __future__ import annotations

from flask import g, session

from ..store import hints
from ..upstream import current_environment

NAME = "active_campaign"


def _session_key() -> str:
    return f"overview_campaign:{current_environment()}"


def campaign_hint() -> str | None:
    """The hint, from the session, else from the partner's. Not copied into the session here: that would save the
    session before a page's head leaves, while its calls are leaving; `remember_campaign` copies what the page saw."""
    known = session.get(_session_key())
    if known is None:
        known = g.partner_campaign_hint = hints.read(g.partner["id"], current_environment(), NAME)
    return known


def carry_campaign_hint() -> None:
    """At sign-in (which saves the session anyway): the partner's hint, so the first page neither reads nor saves it."""
    known = hints.read(g.partner["id"], current_environment(), NAME)
    if known is not None:
        session[_session_key()] = known


def remember_campaign(seen: str | None) -> None:
    """After a page saw which campaign runs: kept when it is news (to the partner's hints only when it is news to
    them too)."""
    if seen and session.get(_session_key()) != seen:
        session[_session_key()] = seen
        if g.get("partner_campaign_hint") != seen:
            hints.keep(g.partner["id"], current_environment(), NAME, seen)
