"""Rendered overview cards, kept per process: a warm card partial is a look-up, not a render.

A card's HTML follows from its one upstream answer and its parameters, so it is kept under (partner, environment,
the key it was read with, card, parameters, when that answer was fetched). A new answer (the HTTP cache's entry
expired, a write invalidated it, a Refresh) has a new fetch time, so a new key: nothing is ever served that the
answer behind it would not render. Not kept: a card still loading, an error, a stale answer (their text changes
with the error and the time), and cards built from more than one answer (runway, campaign), whose fetch time
names only one of them. Card markup holds partner data but never a secret, and lives only in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import current_app, g, render_template
from markupsafe import Markup

from ..upstream import current_environment, partner_credential
from .cards import Loaded

KEEP = 512  # cards per process; the least recently used goes first
ONE_ANSWER_ONLY = {"runway", "campaign"}



class _Kept:
    def __init__(self):
        self.items: OrderedDict[tuple, str] = OrderedDict()
        self.lock = threading.Lock()


def _kept() -> _Kept:
    return current_app.extensions.setdefault("rendered_cards", _Kept())


def _key(loaded: Loaded, params: dict) -> tuple | None:
    reply = loaded.reply
    if loaded.pending or loaded.error is not None or reply is None or reply.stale or loaded.card.id in ONE_ANSWER_ONLY:
        return None
    environment = current_environment()
    # Milliseconds: the fetch time is moved onto the portal's clock on every read, which jitters by microseconds.
    fetched = round(reply.fetched_at.timestamp() * 1000)
    return (g.partner["id"], environment, partner_credential(environment).key_id, loaded.card.id,
            tuple(sorted(params.items())), fetched)


def card_html(loaded: Loaded, params: dict) -> Markup:
    """The card's partial (`loaded.card.template`), rendered once per answer and kept."""
    key, kept = _key(loaded, params), _kept()
    if key is not None:
        with kept.lock:
            html = kept.items.get(key)
            if html is not None:
                kept.items.move_to_end(key)
                return Markup(html)
    html = render_template(loaded.card.template, loaded=loaded, params=params)
    if key is not None:
        with kept.lock:
            kept.items[key] = html
            while len(kept.items) > KEEP:
                kept.items.popitem(last=False)
    return Markup(html)
