"""Housekeeping: `flask --app wsgi prune`, and a bounded round of the same as the portal starts.

What goes: one-time form tokens older than a session lives (their forms can no longer be sent); new secrets
whose once-only page was never opened, after SECRET_REVEAL_MINUTES; the once-only pages' rows with them;
cached SIR Giving answers long expired (webapp/sir/cache.py keeps expired ones a while to serve as stale);
received webhook events older than EVENT_RETENTION_DAYS.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from . import clock

# At start-up, each kind is pruned by at most this many rows: a portal that was off for months starts at
# once and leaves the rest to the next start or to `flask prune`.
START_LIMIT = 1000
BATCH = 5000


def prune_round(app: Flask, limit: int) -> dict[str, int]:
    """One round, at most `limit` rows of each kind; how many of each went. In an app context."""
    from .sir.cache import prune_expired
    from .store import housekeeping

    settings = app.config["SETTINGS"]
    now = clock.now()
    forms_before = now - app.permanent_session_lifetime
    return {
        "form tokens": housekeeping.prune_form_tokens(forms_before, limit),
        "unseen secrets erased": housekeeping.expire_revealed_secrets(
            now - timedelta(minutes=settings.reveal_expiry_minutes), limit),
        "once-only pages": housekeeping.prune_revealed(forms_before, limit),
        "received events": housekeeping.prune_events(now - timedelta(days=settings.event_retention_days), limit),
        "cached answers": prune_expired(app.extensions["sir_client"].cached, limit),
    }


def prune_all(app: Flask) -> dict[str, int]:
    """Rounds until nothing is left to prune (`flask prune`)."""
    totals: dict[str, int] = {}
    while True:
        counts = prune_round(app, BATCH)
        for kind, count in counts.items():
            totals[kind] = totals.get(kind, 0) + count
        if all(count < BATCH for count in counts.values()):
            return totals


def init_app(app: Flask) -> None:
    """One bounded round as the portal starts (one worker at a time, like the schema)."""
    from .store.db import schema_lock

    with schema_lock(app), app.app_context():
        counts = prune_round(app, START_LIMIT)
    if any(counts.values()):
        app.logger.info("housekeeping at start-up: %s",
                        ", ".join(f"{count} {kind}" for kind, count in counts.items() if count))
