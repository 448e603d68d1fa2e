"""The audit log: record every state-changing thing the portal does, and read it back with filters."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, func, or_, select, text

from .db import db
from .models import AuditEntry

PAGE_SIZE = 50
COUNT_UP_TO = 1000  # a page says how many entries match up to this many ("1,000 or more" past it)
ACTIONS_SECONDS = 60  # how long a partner's list of actions (the filter's choices) is kept in this process


def record(*, actor: str, action: str, outcome: str = "success", partner_id: str | None = None,
           environment: str | None = None, target: str | None = None, detail: str | None = None,
           remote_addr: str | None = None, commit: bool = True) -> AuditEntry:
    entry = AuditEntry(actor=actor, action=action, outcome=outcome, partner_id=partner_id,
                       environment=environment, target=target, detail=detail, remote_addr=remote_addr)
    db.session.add(entry)
    if commit:
        db.session.commit()
    _ACTIONS.saw(partner_id, action)
    return entry


def entries_query(partner_id: str, *, action: str | None = None, outcome: str | None = None,
                  environment: str | None = None, actor: str | None = None,
                  since: datetime | None = None, until: datetime | None = None):
    query = select(AuditEntry).filter(AuditEntry.partner_id == partner_id)
    if action:
        query = query.filter(AuditEntry.action == action)
    if outcome:
        query = query.filter(AuditEntry.outcome == outcome)
    if environment:
        query = query.filter(AuditEntry.environment == environment)
    if actor:
        query = query.filter(AuditEntry.actor == actor)
    if since:
        query = query.filter(AuditEntry.at >= since)
    if until:
        query = query.filter(AuditEntry.at < until)
    return query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


@dataclass(frozen=True)
class Cursor:
    """Where a page of the log starts or ends: an entry's time and id (entries are ordered by both, newest
    first). Written in links as `<microseconds since 1970>_<id>`."""

    at: datetime
    id: int

    @classmethod
    def of(cls, entry: AuditEntry) -> "Cursor":
        return cls(_aware(entry.at), entry.id)

    @classmethod
    def read(cls, text: str | None) -> "Cursor | None":
        """The cursor a link carries; None for anything else (the newest page is shown instead)."""
        try:
            micros, entry_id = (int(part) for part in (text or "").split("_"))
            return cls(datetime.fromtimestamp(micros / 1_000_000, timezone.utc), entry_id)
        except (ValueError, OverflowError, OSError):
            return None

    def __str__(self) -> str:
        return f"{round(self.at.timestamp() * 1_000_000)}_{self.id}"


@dataclass(frozen=True)
class LogPage:
    entries: list[AuditEntry]
    older: Cursor | None  # where the next older page starts (None: this is the oldest)
    newer: Cursor | None  # where the next newer page ends (None: this is the newest)
    matching: int  # how many entries match the filters, counted up to COUNT_UP_TO


def entries_page(partner_id: str, *, before: Cursor | None = None, after: Cursor | None = None,
                 **filters) -> LogPage:
    """PAGE_SIZE entries (newest first) of the partner's entries matching `filters`: the newest, those just
    older than `before`, or those just newer than `after`. Keyset paging on the (partner, time, id) index: a
    page deep in a long log costs what the first one does (OFFSET read and threw away every row before it),
    and how many match is counted only up to COUNT_UP_TO (a full count read every matching row per view)."""
    query = entries_query(partner_id, **filters)
    if after is not None:  # newer entries: read upwards from the cursor, shown newest first
        # `at >= …` first: a range the index seeks to (an OR alone made SQLite walk the index from its end).
        upwards = query.filter(AuditEntry.at >= after.at,
                               or_(AuditEntry.at > after.at, and_(AuditEntry.at == after.at, AuditEntry.id > after.id)))
        rows = db.session.scalars(upwards.order_by(None).order_by(AuditEntry.at, AuditEntry.id)
                                  .limit(PAGE_SIZE + 1)).all()
        more_newer = len(rows) > PAGE_SIZE
        entries = list(reversed(rows[:PAGE_SIZE]))
        more_older = bool(entries)
    else:
        if before is not None:
            query = query.filter(AuditEntry.at <= before.at,
                                 or_(AuditEntry.at < before.at, and_(AuditEntry.at == before.at, AuditEntry.id < before.id)))
        rows = db.session.scalars(query.limit(PAGE_SIZE + 1)).all()
        more_older = len(rows) > PAGE_SIZE
        entries = rows[:PAGE_SIZE]
        more_newer = before is not None and bool(entries)
    matching = db.session.scalar(select(func.count()).select_from(
        entries_query(partner_id, **filters).with_only_columns(AuditEntry.id).limit(COUNT_UP_TO).subquery()))
    return LogPage(entries, Cursor.of(entries[-1]) if entries and more_older else None,
                   Cursor.of(entries[0]) if entries and more_newer else None, matching)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back the UTC time it stored without its zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def entries_for_export(partner_id: str, limit: int, **filters):
    """The partner's entries matching `filters`, newest first, at most `limit`, read as they are written out."""
    return db.session.scalars(entries_query(partner_id, **filters).limit(limit).execution_options(yield_per=500))


class _ActionLists:
    """Each partner's distinct actions (the filter's choices), kept ACTIONS_SECONDS in this process: a
    DISTINCT over a long log on every view was most of the page's time. An action this process records is
    added at once; one recorded by another worker shows within ACTIONS_SECONDS."""

    def __init__(self):
        self._lists: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(partner_id: str | None) -> tuple[str, str | None]:
        return str(db.engine.url), partner_id  # a process may serve more than one database (the tests do)

    def get(self, partner_id: str, read) -> list[str]:
        partner_id = self._key(partner_id)
        with self._lock:
            kept = self._lists.get(partner_id)
        if kept is not None and kept[0] > time.monotonic():  # monotonic: a duration, not a stated time
            return kept[1]
        actions = read()
        with self._lock:
            self._lists[partner_id] = (time.monotonic() + ACTIONS_SECONDS, actions)
        return actions

    def saw(self, partner_id: str | None, action: str) -> None:
        partner_id = self._key(partner_id)
        with self._lock:
            kept = self._lists.get(partner_id)
            if kept is not None and action not in kept[1]:
                self._lists[partner_id] = (kept[0], sorted([*kept[1], action]))

    def forget(self) -> None:
        with self._lock:
            self._lists.clear()


_ACTIONS = _ActionLists()


# The partner's distinct actions by skipping through the (partner, action, time) index: one index seek per
# action instead of reading every entry (a DISTINCT over 200,000 entries took ~140 ms). Same SQL on SQLite
# and PostgreSQL.
_DISTINCT_ACTIONS = text("""
    WITH RECURSIVE found(action) AS (
        SELECT MIN(action) FROM audit_entries WHERE partner_id = :partner_id
        UNION ALL
        SELECT (SELECT MIN(action) FROM audit_entries WHERE partner_id = :partner_id AND action > found.action)
        FROM found WHERE found.action IS NOT NULL
    )
    SELECT action FROM found WHERE action IS NOT NULL ORDER BY action
""")


def actions_for(partner_id: str) -> list[str]:
    """The actions the partner's log holds, sorted (kept a minute: see `_ActionLists`)."""
    return _ACTIONS.get(partner_id, lambda: list(db.session.scalars(_DISTINCT_ACTIONS, {"partner_id": partner_id})))


def signed_in_since(since: datetime) -> int:
    """How many admins, of any partner, signed in since `since` and did not sign out after: who is probably
    signed in now. Only a count leaves here; nothing of another partner's log is shown."""
    rows = db.session.execute(
        select(AuditEntry.actor, AuditEntry.action)
        .filter(AuditEntry.action.in_(("sign_in", "sign_out")), AuditEntry.outcome == "success", AuditEntry.at >= since)
        .order_by(AuditEntry.at, AuditEntry.id))
    latest = {actor: action for actor, action in rows}
    return sum(1 for action in latest.values() if action == "sign_in")


def latest(partner_id: str, action: str, environment: str | None = None) -> AuditEntry | None:
    """The partner's newest entry of `action` (in `environment`), or None."""
    return db.session.scalars(entries_query(partner_id, action=action, environment=environment).limit(1)).first()
