"""Housekeeping: `flask prune` (and a bounded round at start-up) deletes old form tokens, unseen new secrets,
long-expired cached answers and received events past their retention; SQLite runs in WAL mode."""

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text

from tests.conftest import make_app, text_of
from tests.keys.test_keys import create_key
from webapp import housekeeping
from webapp.store import db
from webapp.store.models import FormSubmission, ReceivedEvent, RevealedSecret

NOW = datetime.now(timezone.utc)


def prune(app) -> str:
    result = app.test_cli_runner().invoke(args=["prune"])
    assert result.exit_code == 0, result.output
    return result.output


def add_form_tokens(app, **ages: timedelta):
    with app.app_context():
        for token, age in ages.items():
            db.session.add(FormSubmission(token=token, partner_id="p_1", purpose="top-up", state="done",
                                          created_at=NOW - age, updated_at=NOW - age))
        db.session.commit()


def remaining(app, model, column):
    with app.app_context():
        return set(db.session.scalars(select(column)))


def test_prune_deletes_form_tokens_older_than_a_session_and_keeps_newer_ones(app):
    add_form_tokens(app, stale=timedelta(hours=13), fresh=timedelta(hours=1))
    assert "1 form tokens" in prune(app)
    assert remaining(app, FormSubmission, FormSubmission.token) == {"fresh"}


def test_prune_deletes_received_events_past_the_retention_setting(tmp_path):
    app = make_app(tmp_path, {"EVENT_RETENTION_DAYS": "7"})
    with app.app_context():
        for event_id, age in (("evt_old", timedelta(days=8)), ("evt_recent", timedelta(days=6))):
            db.session.add(ReceivedEvent(partner_id="p_1", environment="sandbox", receiver_id=1, event_id=event_id,
                                         event_type="key.created", received_at=NOW - age, raw_body="{}",
                                         signature_timestamp="0", signature="0"))
        db.session.commit()
    assert "1 received events" in prune(app)
    assert remaining(app, ReceivedEvent, ReceivedEvent.event_id) == {"evt_recent"}


def test_a_new_keys_secrets_never_opened_are_erased_after_the_setting(app, signed_in):
    created, _ = create_key(signed_in)  # the browser never follows the redirect to the secrets page
    with app.app_context():
        row = db.session.scalar(select(RevealedSecret))
        row.created_at = NOW - timedelta(minutes=31)
        db.session.commit()
    assert "1 unseen secrets erased" in prune(app)
    with app.app_context():
        assert db.session.scalar(select(RevealedSecret)).secrets_encrypted is None
    late = signed_in.get(created.headers["Location"])
    assert "These secrets are no longer available" in text_of(late)
    assert late.get_data(as_text=True).count("sk_test_") == 0


def test_the_secrets_page_itself_refuses_secrets_older_than_the_setting(app, signed_in):
    """Between two prunes the page does not show what the next prune would erase."""
    created, _ = create_key(signed_in)
    with app.app_context():
        row = db.session.scalar(select(RevealedSecret))
        row.created_at = NOW - timedelta(minutes=31)
        db.session.commit()
    late = signed_in.get(created.headers["Location"])
    assert "These secrets are no longer available" in text_of(late)
    with app.app_context():
        assert db.session.scalar(select(RevealedSecret)).secrets_encrypted is None


def test_prune_deletes_cached_answers_long_expired_and_keeps_those_that_can_still_serve_as_stale(app, signed_in):
    assert signed_in.get("/").status_code == 200  # fills the HTTP cache
    cache = app.extensions["sir_client"].cached.cache
    table = cache.responses.table_name
    with cache.responses.connection(commit=True) as connection:
        total = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        assert total >= 2
        # One answer expired three days ago (past the two days stale copies are kept), one an hour ago.
        keys = [row[0] for row in connection.execute(f"SELECT key FROM {table} ORDER BY key LIMIT 2")]
        connection.execute(f"UPDATE {table} SET expires = ? WHERE key = ?",
                           (int((NOW - timedelta(days=3)).timestamp()), keys[0]))
        connection.execute(f"UPDATE {table} SET expires = ? WHERE key = ?",
                           (int((NOW - timedelta(hours=1)).timestamp()), keys[1]))
    assert "1 cached answers" in prune(app)
    with cache.responses.connection() as connection:
        left = {row[0] for row in connection.execute(f"SELECT key FROM {table}")}
    assert keys[0] not in left and keys[1] in left and len(left) == total - 1


def test_start_up_prunes_a_bounded_number_of_rows(tmp_path, monkeypatch):
    first = make_app(tmp_path)
    add_form_tokens(first, a=timedelta(days=2), b=timedelta(days=3), c=timedelta(days=4))
    with first.app_context():
        db.engine.dispose()
    monkeypatch.setattr(housekeeping, "START_LIMIT", 2)
    again = make_app(tmp_path)
    with again.app_context():
        assert db.session.scalar(select(func.count()).select_from(FormSubmission)) == 1


def test_the_embedded_sqlite_database_runs_in_wal_mode_with_normal_sync(app):
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def cached_keys(app) -> set[str]:
    cache = app.extensions["sir_client"].cached.cache
    with cache.responses.connection() as connection:
        return {row[0] for row in connection.execute(f"SELECT key FROM {cache.responses.table_name}")}


def fill_cache(app, client, answers: int) -> None:
    """`answers` cached answers: one signed GET per page of the users list."""
    from tests.conftest import partner_api_for

    api = partner_api_for(app, client)
    for number in range(1, answers + 1):
        api.get("/v1/partner/users", {"limit": 1, "page": number})


def age_every_cached_answer(app, by: timedelta) -> None:
    cache = app.extensions["sir_client"].cached.cache
    with cache.responses.connection(commit=True) as connection:
        connection.execute(f"UPDATE {cache.responses.table_name} SET expires = expires - ?", (int(by.total_seconds()),))


def test_the_http_cache_is_kept_under_its_bound_the_soonest_expiring_going_first(tmp_path):
    app = make_app(tmp_path, {"CACHE_MAX_ENTRIES": "100", "CACHE_PRUNE_MINUTES": "0"})
    client = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(client).sign_in("acme")
    fill_cache(app, client, 60)
    age_every_cached_answer(app, timedelta(minutes=5))  # the first 60 now expire soonest
    older = cached_keys(app)
    fill_cache(app, client, 130)  # pages 1..60 again (new answers, same keys), and 70 more
    assert len(cached_keys(app)) == 130
    assert "30 cached answers over the bound" in prune(app)
    left = cached_keys(app)
    assert len(left) == 100 and len(older - left) == 30 and not (left - older) - cached_keys(app)
    assert "0 cached answers over the bound" in prune(app)  # under the bound: nothing more goes


def test_while_the_portal_runs_the_http_cache_is_pruned_on_a_schedule(tmp_path):
    """The schedule itself, at a fraction of a second (the setting is in minutes): started by the first request,
    it prunes long-expired answers without anyone running `flask prune`."""
    app = make_app(tmp_path, {"CACHE_PRUNE_MINUTES": "1"})
    client = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(client).sign_in("acme")
    fill_cache(app, client, 5)
    age_every_cached_answer(app, timedelta(days=3))  # past the two days expired answers are kept for
    pruner = app.extensions["cache_pruner"]
    pruner.every_seconds = 0.05
    client.get("/healthz")  # any request starts it in this process
    try:
        finished = threading.Event()
        for _ in range(400):  # waits on what the pruner did, up to ~20 s on a busy machine
            if pruner.rounds and not cached_keys(app):
                finished.set()
                break
            finished.wait(0.05)
        assert finished.is_set() and cached_keys(app) == set()
        assert [t for t in threading.enumerate() if t.name == "cache-pruner"]
    finally:
        pruner.stop()


def test_no_schedule_when_the_setting_is_zero(tmp_path):
    app = make_app(tmp_path, {"CACHE_PRUNE_MINUTES": "0"})
    assert "cache_pruner" not in app.extensions


def copies_left(app) -> int:
    store = app.extensions["sir_client"]._copies.store
    with store.connection() as connection:
        return connection.execute(f"SELECT count(*) FROM {store.table_name}").fetchone()[0]


def test_prune_deletes_copies_of_sign_in_reads_too_old_to_be_shown(app, signed_in, monkeypatch):
    from webapp.sir.cache import COPY_SECONDS

    assert signed_in.get("/keys/").status_code == 200  # the key list is a sign-in (JWT) read: a copy is kept
    kept = copies_left(app)
    assert kept >= 1
    assert "0 copies of sign-in reads" in prune(app)  # young enough to stand in for SIR Giving: kept
    copies = app.extensions["sir_client"]._copies
    later = copies.clock() + COPY_SECONDS + 1
    monkeypatch.setattr(copies, "clock", lambda: later)
    assert f"{kept} copies of sign-in reads" in prune(app)
    assert copies_left(app) == 0


def test_pruning_copies_stops_at_the_first_one_still_young(tmp_path):
    from webapp.sir.cache import ReplyCopies, ThreadLocalSQLiteDict

    now = [1000.0]
    copies = ReplyCopies(ThreadLocalSQLiteDict(str(tmp_path / "copies.sqlite3"), table_name="copies"), seconds=600,
                         clock=lambda: now[0])
    copies.put("token-a", "/v1/partner/keys", {"n": 1})
    copies.put("token-b", "/v1/partner/keys", {"n": 2})
    now[0] = 1500.0
    copies.put("token-c", "/v1/partner/keys", {"n": 3})
    now[0] = 1700.0  # a and b are 700 s old, c 200 s
    assert copies.prune(limit=10) == 2
    assert copies.get("token-c", "/v1/partner/keys")[0] == {"n": 3}
    assert copies.prune(limit=10) == 0


def test_pruning_copies_in_memory_finds_old_ones_behind_a_copy_rewritten_since():
    from webapp.sir.cache import ReplyCopies

    now = [1000.0]
    copies = ReplyCopies({}, seconds=600, clock=lambda: now[0])
    copies.put("token-a", "/v1/partner/keys", {"n": 1})
    copies.put("token-b", "/v1/partner/keys", {"n": 2})
    now[0] = 1500.0
    copies.put("token-a", "/v1/partner/keys", {"n": 3})  # read again: young, though first in the dict
    now[0] = 1700.0
    assert copies.prune(limit=10) == 1
    assert copies.get("token-a", "/v1/partner/keys")[0] == {"n": 3} and copies.get("token-b", "/v1/partner/keys") is None
