"""store/rotations.py: the rotation's queries, and its claims, each won by one request only."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import make_app
from webapp.store import db, rotations
from webapp.store.db import rollback

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        yield


def a_rotation(partner_id="partner_acme", old_key_id="key_old", **changes):
    rotation = rotations.create(partner_id=partner_id, environment="sandbox", old_key_id=old_key_id,
                                old_key_name="Backend integration", key_type="secret", grace="24h",
                                was_portal_key=False, started_by="admin@acme.example")
    for name, value in changes.items():
        setattr(rotation, name, value)
    rotations.save(rotation)
    return rotation


def from_the_database(rotation):
    """The row as another request would read it: nothing of this session's memory."""
    db.session.expire_all()
    return db.session.get(type(rotation), rotation.id)


def test_one_request_claims_the_replacements_creation(store):
    rotation = a_rotation()
    assert rotations.claim_creation(rotation, "Backend integration (2026-03-01)", NOW, stale_before=NOW - timedelta(seconds=90))
    assert not rotations.claim_creation(rotation, "another name", NOW, stale_before=NOW - timedelta(seconds=90))
    row = from_the_database(rotation)
    assert row.state == "creating" and row.new_key_name == "Backend integration (2026-03-01)"


def test_a_claim_left_by_a_request_that_died_is_taken_over_keeping_its_name(store):
    rotation = a_rotation()
    rotations.claim_creation(rotation, "Backend integration (2026-03-01)", NOW, stale_before=NOW - timedelta(seconds=90))
    later = NOW + timedelta(seconds=30)
    assert not rotations.claim_creation(rotation, "x", later, stale_before=later - timedelta(seconds=90))
    much_later = NOW + timedelta(minutes=5)
    assert rotations.claim_creation(rotation, "x", much_later, stale_before=much_later - timedelta(seconds=90))
    assert from_the_database(rotation).new_key_name == "Backend integration (2026-03-01)"


def test_a_replacements_secrets_are_shown_to_one_request(store):
    rotation = a_rotation()
    assert not rotations.mark_secrets_shown(rotation, NOW)  # no replacement yet
    rotation = a_rotation(old_key_id="key_other", state="created", new_key_id="key_new")
    assert rotations.mark_secrets_shown(rotation, NOW)
    assert not rotations.mark_secrets_shown(rotation, NOW + timedelta(seconds=1))
    assert from_the_database(rotation).secrets_shown_at is not None


def test_stored_secrets_are_confirmed_once(store):
    rotation = a_rotation(state="created", new_key_id="key_new")
    assert rotations.confirm_stored(rotation, NOW)
    assert not rotations.confirm_stored(rotation, NOW)
    assert from_the_database(rotation).state == "confirmed"


def test_an_uncommitted_claim_is_undone_by_a_rollback(store):
    rotation = a_rotation(state="created", new_key_id="key_new")
    assert rotations.confirm_stored(rotation, NOW, commit=False)
    assert rotation.state == "confirmed"  # this request sees its own change…
    rollback()
    assert from_the_database(rotation).state == "created"  # …which is gone with the transaction


def test_only_the_replacement_that_was_seen_is_forgotten(store):
    rotation = a_rotation(state="created", new_key_id="key_new", new_key_name="Backend integration (2026-03-01)",
                          new_secrets_encrypted="sealed", secrets_shown_at=NOW)
    assert not rotations.forget_replacement(rotation, "key_made_since", NOW)
    assert from_the_database(rotation).new_key_id == "key_new"
    assert rotations.forget_replacement(rotation, "key_new", NOW)
    row = from_the_database(rotation)
    assert (row.state, row.new_key_id, row.new_key_name, row.new_secrets_encrypted, row.secrets_shown_at) == \
        ("started", None, None, None, None)


def test_the_queries_see_only_the_partners_own_rotations(store):
    running = a_rotation(old_key_id="key_a")
    done = a_rotation(old_key_id="key_b", state="completed")
    a_rotation(old_key_id="key_c", state="cancelled")
    theirs = a_rotation(partner_id="partner_globex", old_key_id="key_g")
    assert rotations.in_progress_for("partner_acme") == [running]
    assert rotations.in_progress_for("partner_acme", "key_a") == [running]
    assert rotations.in_progress_for("partner_acme", "key_b") == []
    assert rotations.latest_by_old_key("partner_acme") == {"key_a": running, "key_b": done}
    assert rotations.of_partner("partner_acme", running.id) is running
    assert rotations.of_partner("partner_acme", theirs.id) is None
    assert rotations.in_progress_for("partner_globex") == [theirs]
