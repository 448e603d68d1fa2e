"""The batch's lease: one step at a time, and a lease left by a worker that died runs out by itself."""

from datetime import timedelta

from webapp.store import batches as store
from webapp.store.db import db
from webapp.store.models import utcnow


def test_a_held_lease_keeps_a_second_step_out_until_it_runs_out(app):
    with app.app_context():
        batch = store.create("ptn_1", "sandbox", "winners.csv", "0" * 64, "admin@acme.example")
        store.start(batch, "admin@acme.example")
        db.session.commit()
        assert store.lease(batch, 60) is True
        assert store.lease(batch, 60) is False  # another tab, another worker: not while it is held

        batch.leased_until = utcnow() - timedelta(seconds=1)  # the worker that held it died a minute ago
        db.session.commit()
        assert store.lease(batch, 60) is True

        store.release(batch)
        assert store.lease(batch, 60) is True  # given back: the next step takes it at once


def test_a_batch_that_is_not_sending_is_never_leased(app):
    with app.app_context():
        batch = store.create("ptn_1", "sandbox", "winners.csv", "0" * 64, "admin@acme.example")
        db.session.commit()
        assert store.lease(batch, 60) is False
