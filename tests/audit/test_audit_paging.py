"""The audit log of a long history: pages by keyset (older/newer links that keep the filters), a bounded count,
and the filter's list of actions kept instead of read from every entry on each view."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event

from tests.conftest import page, text_of
from webapp.store import audit
from webapp.store.db import db
from webapp.store.models import AuditEntry

START = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def partner_id(client) -> str:
    with client.session_transaction() as stored:
        return stored["partner"]["id"]


@pytest.fixture
def long_log(app, signed_in):
    """130 entries for Acme, a minute apart (every third a failure), and two in the same microsecond."""
    pid = partner_id(signed_in)
    with app.app_context():
        db.session.query(AuditEntry).delete()
        for n in range(130):
            db.session.add(AuditEntry(at=START + timedelta(minutes=n), actor="admin@acme.example", partner_id=pid,
                                      environment="sandbox", action="key_renamed", target=f"key_{n:03d}",
                                      outcome="failure" if n % 3 == 0 else "success"))
        db.session.commit()
        audit._ACTIONS.forget()
    return signed_in


def targets(response) -> list[str]:
    return [row.select("td")[4].get_text(strip=True) for row in page(response).select("#audit-entries tbody tr")]


def link(response, rel: str) -> str | None:
    found = page(response).select_one(f'nav[aria-label="Audit log pages"] a[rel="{rel}"]')
    return found["href"] if found else None


def test_older_links_walk_the_whole_log_once_newest_first_and_newer_links_walk_back(long_log):
    client, seen, shown = long_log, [], long_log.get("/audit/")
    pages = [shown]
    while link(shown, "next"):
        shown = client.get(link(shown, "next"))
        pages.append(shown)
    for shown in pages:
        seen += targets(shown)
    assert seen == [f"key_{n:03d}" for n in reversed(range(130))]  # every entry, once, in order
    assert [len(targets(p)) for p in pages] == [50, 50, 30]
    assert link(pages[0], "prev") is None and link(pages[-1], "next") is None
    back = client.get(link(pages[-1], "prev"))
    assert targets(back) == targets(pages[1])
    assert targets(client.get(link(back, "prev"))) == targets(pages[0])


def test_entries_in_the_same_moment_are_neither_skipped_nor_repeated_across_pages(app, long_log):
    pid = partner_id(long_log)
    with app.app_context():
        moment = START + timedelta(minutes=80, seconds=30)
        for n in range(3):
            db.session.add(AuditEntry(at=moment, actor="admin@acme.example", partner_id=pid, environment="sandbox",
                                      action="key_renamed", target=f"same_{n}", outcome="success"))
        db.session.commit()
    first = long_log.get("/audit/")
    second = long_log.get(link(first, "next"))
    both = targets(first) + targets(second)
    assert sorted(t for t in both if t.startswith("same_")) == ["same_0", "same_1", "same_2"]
    assert len(both) == len(set(both)) == 100


def test_older_and_newer_links_keep_the_filters(long_log):
    successes = long_log.get("/audit/?outcome=success&environment=sandbox&action=key_renamed")
    older = link(successes, "next")
    query = parse_qs(urlsplit(older).query)
    assert query["outcome"] == ["success"] and query["environment"] == ["sandbox"]
    assert query["action"] == ["key_renamed"] and "before" in query and "page" not in query
    rest = long_log.get(older)
    assert targets(successes) + targets(rest) == [f"key_{n:03d}" for n in reversed(range(130)) if n % 3]
    assert link(rest, "next") is None
    assert parse_qs(urlsplit(link(rest, "prev")).query)["outcome"] == ["success"]


def test_the_count_stops_at_a_thousand(app, long_log, monkeypatch):
    assert "130 entries" in text_of(long_log.get("/audit/"))
    monkeypatch.setattr(audit, "COUNT_UP_TO", 100)
    assert "100 or more entries" in text_of(long_log.get("/audit/"))


def test_a_cursor_that_is_not_one_shows_the_newest_page(long_log):
    assert targets(long_log.get("/audit/?before=yesterday"))[0] == "key_129"
    assert targets(long_log.get("/audit/?after=1_x"))[0] == "key_129"


def test_the_filters_actions_are_read_once_and_a_new_action_joins_them_at_once(app, long_log):
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
    try:
        long_log.get("/audit/")
        long_log.get("/audit/")
        assert len([s for s in statements if "WITH RECURSIVE" in s and "audit_entries" in s]) == 1
        with app.app_context():
            audit.record(actor="admin@acme.example", action="webhook_deleted", partner_id=partner_id(long_log))
        choices = [o["value"] for o in page(long_log.get("/audit/")).select('select[name="action"] option')]
        assert choices == ["", "key_renamed", "webhook_deleted"]
        assert len([s for s in statements if "WITH RECURSIVE" in s and "audit_entries" in s]) == 1
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", seen)


def test_a_page_deep_in_the_log_starts_at_its_cursor_instead_of_skipping_rows(app, long_log):
    """Keyset, not OFFSET: the query for an older page skips nothing (OFFSET read and threw away every row before)."""
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    deep = link(long_log.get(link(long_log.get("/audit/"), "next")), "next")
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert targets(long_log.get(deep))[0] == "key_029"
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", seen)
    read = [(s, p) for s, p in statements if "audit_entries.actor" in s]  # the entries themselves, not their count
    assert len(read) == 1
    statement, parameters = read[0]
    assert "audit_entries.at <= ?" in statement  # starts at the cursor (a range the index seeks to)
    assert "OFFSET" not in statement.upper() or parameters[-1] == 0  # SQLite writes OFFSET 0 with any LIMIT
