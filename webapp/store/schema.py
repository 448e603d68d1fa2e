"""The database schema, versioned with Alembic through Flask-Migrate (`migrations/` at the repository root).

`flask --app wsgi db upgrade` applies the migrations; the portal also applies them as it starts (under the
schema lock, so one worker at a time). Three cases:

- a database with the portal's tables and an `alembic_version`: upgraded to the newest revision;
- a database with the portal's tables but no `alembic_version` (installed before migrations existed): it holds
  the first revision's schema, so it is stamped with it, then upgraded;
- an empty database: created from the models and stamped with the newest revision, the route Alembic's
  cookbook gives for new databases. On SQLite that costs ~2 ms over `create_all` where running the
  migrations costs ~12 ms more (bench: median of 13 builds each), which the test suite would pay for every
  app it builds; tests/ops/test_migrations.py proves that running the migrations gives exactly the models'
  schema, on SQLite and PostgreSQL, so both routes end at the same schema.

Flask-Session's table (`portal_sessions`) is part of the schema: it lives in the portal's database, and
Flask-Session only ever creates it (a missing table), never alters it, the trap `create_all` was. With Redis
holding sessions the table stays empty.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flask import Flask
from sqlalchemy import inspect

from .db import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
BASELINE = "0001"  # the first revision: the schema as it was before migrations


def declare_session_table() -> None:
    """Flask-Session's model on the shared metadata, whether or not sessions are kept in Redis, so the
    migrations and the models' comparison always see it."""
    import flask_session.sqlalchemy.sqlalchemy as flask_session_sql

    from ..sessions import SESSION_TABLE, define_session_model_once

    define_session_model_once()
    flask_session_sql.create_session_model(db, SESSION_TABLE, None, None, None)


def init_app(app: Flask) -> None:
    from flask_migrate import Migrate

    declare_session_table()
    # Batch mode: SQLite cannot ALTER most things, so its migrations copy the table (a no-op elsewhere).
    Migrate(app, db, directory=str(MIGRATIONS), render_as_batch=True, compare_type=True)


def upgrade() -> None:
    """Bring the database to the newest revision (see the module's docstring). In an app context."""
    import flask_migrate
    from alembic.runtime.migration import MigrationContext

    tables = set(inspect(db.engine).get_table_names())
    if "alembic_version" in tables:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current != _scripts().get_current_head():  # a restart at the newest revision costs one SELECT
            flask_migrate.upgrade(directory=str(MIGRATIONS))
    elif tables & set(db.metadata.tables):
        db.create_all()  # what start-up did before migrations: any table that release lacked
        flask_migrate.stamp(directory=str(MIGRATIONS), revision=BASELINE)
        flask_migrate.upgrade(directory=str(MIGRATIONS))
    else:
        with db.engine.begin() as connection:
            db.metadata.create_all(connection)
            MigrationContext.configure(connection).stamp(_scripts(), "head")


@functools.cache
def _scripts():
    """The migration scripts, read once per process (a new database needs only the newest one's name)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))
