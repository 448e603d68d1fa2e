"""Housekeeping: `flask --app wsgi prune`, a bounded round of the same as the portal starts, and the HTTP cache
pruned every CACHE_PRUNE_MINUTES while the portal runs (a cache that grew with every page between restarts).

What goes: one-time form tokens older than a session lives (their forms can no longer be sent); new secrets
whose once-only page was never opened, after SECRET_REVEAL_MINUTES; the once-only pages' rows with them;
cached SIR Giving answers long expired (webapp/sir/cache.py keeps expired ones a while to serve as stale);
received webhook events older than EVENT_RETENTION_DAYS.
"""

from __future__ import annotations

import os
import threading
import weakref
from datetime import timedelta

from flask import Flask

from . import clock

# At start-up, each kind is pruned by at most this many rows: a portal that was off for months starts at
# once and leaves the rest to the next start or to `flask prune`.
START_LIMIT = 1000
BATCH = 5000


def prune_round(app: Flask, limit: int) -> dict[str, int]:
    """One round, at most `limit` rows of each kind; how many of each went. In an app context."""
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
        **prune_cache(app, limit),
    }


def prune_cache(app: Flask, limit: int) -> dict[str, int]:
    """The HTTP cache's share of a round: answers expired long ago, then the soonest-expiring past
    CACHE_MAX_ENTRIES, then the copies of JWT reads too old to be shown (each at most `limit`)."""
    from .sir.cache import bound_entries, prune_expired

    client = app.extensions["sir_client"]
    cached = client.cached
    return {"cached answers": prune_expired(cached, limit),
            "cached answers over the bound": bound_entries(cached, app.config["SETTINGS"].cache_max_entries, limit),
            "copies of sign-in reads": client.prune_copies(limit)}


class CachePruner:
    """Prunes the HTTP cache every CACHE_PRUNE_MINUTES, on a daemon thread of each portal process.

    Started by the process's first request, not by create_app: a server that forks workers after building
    the app (gunicorn's preload) would leave a thread started earlier behind in the parent. Each worker
    prunes on its own; a round is bounded (BATCH rows of each kind) and a second worker's finds less to do."""

    def __init__(self, app: Flask, every_seconds: float):
        self.app, self.every_seconds = app, every_seconds
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.rounds = 0  # rounds run, for tests and logs

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop.clear()
            # The thread holds the pruner weakly: an app that is dropped (the tests build hundreds) takes its
            # pruner with it, and the thread ends at its next wake-up.
            threading.Thread(target=_prune_every, args=(weakref.ref(self), self._stop, self.every_seconds),
                             name="cache-pruner", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> dict[str, int]:
        with self.app.app_context():
            counts = prune_cache(self.app, BATCH)
        self.rounds += 1
        if any(counts.values()):
            self.app.logger.info("cache pruned: %s", ", ".join(f"{n} {kind}" for kind, n in counts.items() if n))
        return counts



def _prune_every(pruner_ref, stop: threading.Event, seconds: float) -> None:
    while not stop.wait(seconds):  # a duration: the machine's clock, not the portal's
        pruner = pruner_ref()
        if pruner is None:
            return
        try:
            pruner.run_once()
        except Exception:  # the next round tries again; a page never hears of it
            pruner.app.logger.warning("pruning the HTTP cache failed", exc_info=True)
        del pruner


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
    minutes = app.config["SETTINGS"].cache_prune_minutes
    if minutes:
        pruner = app.extensions["cache_pruner"] = CachePruner(app, minutes * 60)
        app.before_request(pruner.ensure_running)
