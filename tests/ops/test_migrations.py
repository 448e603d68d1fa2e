"""The schema is versioned with Alembic: running the migrations on an empty database gives exactly the
models' schema (what `alembic check` checks), on SQLite and on the CI's PostgreSQL; start-up applies them."""

import os
import sqlite3
import uuid

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import create_engine, inspect, text

from tests.conftest import make_app
from webapp.store import db, schema

DATABASE_URL = os.environ.get("DATABASE_URL")


def migrated(url: str) -> Flask:
    """An app on `url` that has run every migration, as `flask --app wsgi db upgrade` does."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    schema.init_app(app)
    with app.app_context():
        flask_migrate.upgrade(directory=str(schema.MIGRATIONS))
    return app


def differences(app: Flask) -> list:
    """What autogenerate would write into a new migration: nothing when the database matches the models."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def revision_of(app: Flask) -> str | None:
    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(str(schema.MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"the migrations have branched: {heads}"
    return heads[0]


def test_migrating_an_empty_sqlite_database_gives_the_models_schema(tmp_path):
    app = migrated(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert differences(app) == []
    assert revision_of(app) == head()
    with app.app_context():
        assert "portal_sessions" in inspect(db.engine).get_table_names()  # Flask-Session's table is migrated too


@pytest.mark.skipif(not DATABASE_URL, reason="DATABASE_URL is not set")
def test_migrating_an_empty_postgresql_database_gives_the_models_schema():
    url = DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"t_migrate_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        separator = "&" if "?" in url else "?"
        app = migrated(f"{url}{separator}options=-csearch_path%3D{name}")
        assert differences(app) == []
        assert revision_of(app) == head()
        with app.app_context():
            db.engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def test_a_new_portal_starts_on_the_newest_revision(tmp_path):
    app = make_app(tmp_path)
    assert revision_of(app) == head()
    assert differences(app) == []


def test_a_database_from_before_migrations_is_stamped_and_keeps_its_rows(tmp_path):
    """A portal installed before migrations created its tables with create_all and has no alembic_version:
    start-up records it at the first revision (its schema) instead of creating tables that exist."""
    instance = tmp_path / "instance"
    first = make_app(tmp_path)
    path = instance / "portal.sqlite3"
    with first.app_context():
        db.engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE alembic_version")
        connection.execute("INSERT INTO audit_entries (at, actor, action, outcome) "
                           "VALUES ('2026-01-01 00:00:00', 'admin@acme.example', 'key_created', 'success')")
    again = make_app(tmp_path)
    assert revision_of(again) == head()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT actor FROM audit_entries").fetchall() == [("admin@acme.example",)]
