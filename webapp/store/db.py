"""The one SQLAlchemy handle (Flask-SQLAlchemy, which Flask-Session's SQL backend needs too)."""

from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


@contextmanager
def schema_lock(app):
    """Several workers start at once and each creates the tables it needs; on PostgreSQL two CREATE TABLEs
    of the same table collide. A session advisory lock lets one worker at a time create them (the others
    then find them there). SQLite (one process) needs none."""
    from sqlalchemy import text

    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            yield
            return
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(728431)"))
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(728431)"))
                connection.commit()


def write_ahead_log(dbapi_connection, _record) -> None:
    """SQLite (the embedded default) in WAL mode: readers (a page, the receiver, the simulator's threads)
    no longer wait for a writer. synchronous=NORMAL syncs the log at checkpoints rather than at every commit:
    a power cut may lose the last commits, never corrupt the file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ping() -> None:
    """One round trip to the database (readiness): raises what the driver raises when it cannot."""
    from sqlalchemy import text

    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def commit():
    db.session.commit()


def rollback():
    db.session.rollback()
