"""Server-side sessions (Flask-Session: SQL, or Redis with REDIS_URL), with two changes the portal needs.

- The store keys a session by a SHA-256 of its id, never the id itself: the cookie is a bearer credential, and
  a copy of the session table or of Redis (a backup, a leaked dump) must not be a way to act as the admin.
- A visitor who is not signed in gets no row: what an anonymous session holds (the login form's CSRF token, a
  "you are signed out" message) travels in the session cookie itself, signed with SECRET_KEY as Flask's own
  cookie sessions are. Anonymous GETs of /login (a crawler, a flood) store nothing; the row is created at
  sign-in, under a fresh id, and removed when the session ends.

While the store (Redis, or the database) is unreachable, a session that could not be opened is an empty one that
writes nothing, not even a cookie: the browser keeps its cookie, and the admin is still signed in once the store is
back (if it kept its data). `outages.refuse_without_session` answers such a request 503, naming the store.

A stored session is written only when it changed, or when its expiry was last pushed back more than
`refresh_after` seconds ago (so an admin at work is not signed out 12 hours after signing in): a page view, a
card partial or a poll writes nothing and sends no cookie. A static file opens no session at all.
"""

from __future__ import annotations

import hashlib
import time

from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from flask_session.redis import RedisSessionInterface
from flask_session.sqlalchemy import SqlAlchemySessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

# A stored session's cookie is a bare id (url-safe base64, no dot); an anonymous one starts with this.
ANONYMOUS = "anon."
# The SQL backend's table (part of the migrated schema: webapp/store/schema.py).
SESSION_TABLE = "portal_sessions"
# When a stored session last had its expiry pushed back (seconds since the epoch), kept in the session itself.
REFRESHED_AT = "_refreshed_at"
REFRESH_AFTER_SECONDS = 300


def is_signed_in(session) -> bool:
    return "jwt" in session


class _PortalSessions:
    """Mixed into a Flask-Session interface: hashed ids in the store, anonymous sessions in a signed cookie."""

    def _get_store_id(self, sid: str) -> str:
        return self.key_prefix + hashlib.sha256(sid.encode()).hexdigest()

    def _anonymous_cookie(self, app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(app.secret_key, salt="portal-anonymous-session",
                                      serializer=TaggedJSONSerializer(),
                                      signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})

    dependency = "redis"
    refresh_after = REFRESH_AFTER_SECONDS

    def should_set_storage(self, app, session) -> bool:
        """Only a changed session, or one whose expiry is due to be pushed back, is written (with its cookie)."""
        now = time.time()
        if session.modified or now - float(session.get(REFRESHED_AT) or 0) >= self.refresh_after:
            session[REFRESHED_AT] = int(now)  # marks it modified: the cookie's expiry moves with the row's
            return True
        return False

    def _unavailable(self, error):
        from . import outages

        outages.note(error)
        session = self.session_class(sid=self._generate_sid(self.sid_length), permanent=self.permanent)
        session.stored, session.unavailable = False, True
        return session

    def open_session(self, app, request):
        try:
            return self._open_session(app, request)
        except Exception as error:
            from .outages import dependency_of

            if dependency_of(error) is None:
                raise
            return self._unavailable(error)

    def save_session(self, app, session, response):
        if getattr(session, "unavailable", False):
            return None  # nothing to write to, and the browser's cookie stays as it is
        try:
            return self._save_session(app, session, response)
        except Exception as error:
            from . import outages

            if outages.dependency_of(error) is None:
                raise
            outages.note(error)
            session.unavailable = True  # the error page's own save writes nothing either
            raise outages.DependencyDown(outages.dependency_of(error)) from error

    def _open_session(self, app, request):
        if app.static_url_path and request.path.startswith(app.static_url_path + "/"):
            # A stylesheet or script needs no session: nothing is read for it, and nothing written.
            session = self.session_class(sid=self._generate_sid(self.sid_length), permanent=self.permanent)
            session.stored = False
            return session
        value = request.cookies.get(self.get_cookie_name(app)) or ""
        if value.startswith(ANONYMOUS):
            try:
                data = self._anonymous_cookie(app).loads(
                    value[len(ANONYMOUS):], max_age=int(app.permanent_session_lifetime.total_seconds()))
            except BadSignature:  # forged, or older than a session may live
                data = {}
            session = self.session_class(data, sid=self._generate_sid(self.sid_length), permanent=self.permanent)
            session.stored = False
            return session
        session = super().open_session(app, request)
        session.stored = bool(value) and session.sid == value  # the cookie named a session the store has
        return session

    def _save_session(self, app, session, response):
        if is_signed_in(session):
            return super().save_session(app, session, response)
        if session.accessed:
            response.vary.add("Cookie")
        if session.stored:  # signed out, or the sign-in expired, during this request: its row goes
            self._delete_session(self._get_store_id(session.sid))
        if not (session.modified or session.stored):
            return None
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        response.vary.add("Cookie")
        if not session:  # nothing but `_permanent`
            response.delete_cookie(name, domain=domain, path=path)
            return None
        response.set_cookie(name, ANONYMOUS + self._anonymous_cookie(app).dumps(dict(session)),
                            expires=self.get_expiration_time(app, session), httponly=self.get_cookie_httponly(app),
                            domain=domain, path=path, secure=self.get_cookie_secure(app),
                            samesite=self.get_cookie_samesite(app))
        return None


class SqlSessions(_PortalSessions, SqlAlchemySessionInterface):
    dependency = "database"
    # Flask-Session tries each query three times, sleeping and logging a traceback between tries: during a
    # database outage, a second and two tracebacks per request. One try; outages.py says what is down.
    _retrieve_session_data = SqlAlchemySessionInterface._retrieve_session_data.__wrapped__
    _upsert_session = SqlAlchemySessionInterface._upsert_session.__wrapped__
    _delete_session = SqlAlchemySessionInterface._delete_session.__wrapped__


class RedisSessions(_PortalSessions, RedisSessionInterface):
    pass


def define_session_model_once() -> None:
    """Flask-Session declares its session model on the shared `db` each time an app is built; a second app
    in the same process (tests, two workers in one interpreter) would redeclare the table. Keep the first."""
    import flask_session.sqlalchemy.sqlalchemy as flask_session_sql

    original = flask_session_sql.create_session_model
    if getattr(original, "once", False):
        return
    models = {}

    def create_session_model_once(db, table_name, schema=None, bind_key=None, sequence=None):
        key = (id(db), table_name, schema, bind_key, sequence)
        if key not in models:
            models[key] = original(db, table_name, schema, bind_key, sequence)
        return models[key]

    create_session_model_once.once = True
    flask_session_sql.create_session_model = create_session_model_once


REDIS_TIMEOUT_SECONDS = 2.0


def redis_client(redis_url: str):
    """A Redis client that gives up within seconds: a Redis host that stopped answering must cost a request a
    short wait and a 503, not the operating system's connect timeout (minutes)."""
    from redis import Redis

    return Redis.from_url(redis_url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)


def session_interface(app: Flask, db, redis_url: str | None):
    """The portal's sessions: in Redis when REDIS_URL is set, else in the database (table `portal_sessions`)."""
    if redis_url:
        return RedisSessions(app, client=redis_client(redis_url), key_prefix="portal-session:", permanent=True,
                             serialization_format="json")
    define_session_model_once()
    return SqlSessions(app, client=db, table=SESSION_TABLE, cleanup_n_requests=500, permanent=True,
                       serialization_format="json")
