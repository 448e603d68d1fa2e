"""The HTTP cache for signed GETs: requests-cache, keyed per partner key, with per-family invalidation.

- Only GET responses of signed calls are cached (JWT calls use a session without a cache).
- The cache key is method + URL + a fingerprint of `X-Partner-Key` + the family's generation.
  `X-Timestamp` and `X-Signature` change on every call and are left out. All three headers are in
  `ignored_parameters`, so requests-cache redacts them from what it stores: the cache never holds a key.
  (Its default ignored list names `Authorization` and `X-API-KEY`, not `X-Partner-Key`: a cache keyed
  with the defaults would let two partners share an entry, which tests prove does not happen here.)
- A write bumps its family's generation for that key, so every cached variant (any query string) of that
  family is missed from then on, for that key only. Generations live in the same backend as the cache,
  so all workers see them. `SirClient.invalidate` is the one way in: nothing outside `webapp/sir` knows
  about fingerprints or generations.
- With Redis as the backend, a Redis error is a miss (reads) or a skipped write: while Redis is away every call
  goes to SIR Giving, and `on_error` (the portal logs the outage once per interval) is told.
- With SQLite as the backend, each thread has its own connection (`ThreadLocalSQLiteDict`): the page's upstream
  calls run on a thread pool (webapp/parallel.py), and one `sqlite3` connection used by several threads at once
  fails at random (`DatabaseError: not an error`, requests-cache issue #820). A SQLite error that still happens is,
  as with Redis, a miss or a skipped write, logged once: the answer from SIR Giving is served all the same.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import requests_cache
from requests_cache.backends.base import BaseCache
from requests_cache.backends.sqlite import SQLiteDict
from requests_cache.models.response import CachedResponse

log = logging.getLogger(__name__)

REDACTED_HEADERS = ["X-Partner-Key", "X-Timestamp", "X-Signature"]

# Short TTLs per endpoint family, in seconds; the longest-lived data is the least volatile.
FAMILY_TTLS = {
    "dashboard": 30,
    "token-pools": 30,
    "webhooks": 15,
    "actions": 30,
    "transactions": 30,
    "users": 60,
    "campaigns": 60,
}
DEFAULT_TTL = 30
KEEP_FOR_STALE = timedelta(days=2)  # expired entries stay this long so stale-if-error has something
# GETs whose 404 is an answer, kept for the family's TTL like one: "no campaign is running" (the overview and the
# pools page ask it on every view; a partner between campaigns would otherwise ask it every time). A write of the
# family, or SIR Giving's webhook about it, invalidates it as it does any answer.
KEPT_ABSENCES = ("/v1/partner/campaigns/active",)


def kept_answer(response) -> bool:
    """Whether a cached response stands for an answer: a 200, or a 404 of `KEPT_ABSENCES`."""
    return response.status_code == 200 or _kept_absence(response)


def _kept_absence(response) -> bool:
    return response.status_code == 404 and urlsplit(response.url).path in KEPT_ABSENCES


def _not_another_404(response) -> bool:
    """requests-cache's `filter_fn`: what `allowable_codes` lets through (200, 404) but a 404 outside
    `KEPT_ABSENCES`. Nothing else may be filtered: the library also deletes the entry of a filtered response's
    URL, and a 500's would be the earlier answer that stands in for it, marked stale."""
    return response.status_code != 404 or _kept_absence(response)


def family_of(path: str) -> str:
    """`/v1/partner/dashboard/trends` → `dashboard`; the first segment after `/v1/partner/`."""
    rest = path.split("?", 1)[0].removeprefix("/v1/partner/")
    return rest.split("/", 1)[0] or "root"


def key_fingerprint(partner_key: str) -> str:
    """A stable, non-reversible stand-in for a key in cache keys."""
    return hashlib.sha256(b"sir-cache:" + partner_key.encode()).hexdigest()[:32]


UNKNOWN_GENERATION = "unknown"  # its store is unreachable: a key that matches no cached entry, so a miss


class Generations:
    """Per (key fingerprint, family) counters; a bump makes that family's cached entries unreachable."""

    def __init__(self, store, tolerated: tuple[type[BaseException], ...] = (), on_error=None,
                 hold_seconds: float = max(DEFAULT_TTL, *FAMILY_TTLS.values()), clock=time.monotonic):
        # hold_seconds: as long as any cached answer lives (make_cached_session passes the configured TTLs).
        self.store = store
        self.tolerated, self.on_error = tolerated, on_error
        self.hold_seconds, self.clock = hold_seconds, clock
        self._unsettled: dict[str, tuple[float, int]] = {}  # failed bumps: name -> (until, which failure)
        self._failures = itertools.count(1)
        self._lock = threading.Lock()

    def current(self, fingerprint: str, family: str) -> str:
        name = f"{fingerprint}:{family}"
        if self._unsettled:
            with self._lock:
                held = self._unsettled.get(name)
                if held is not None and self.clock() >= held[0]:
                    del self._unsettled[name]
                    held = None
            if held is not None:
                return f"unsettled-{held[1]}"
        try:
            return str(self.store[name])
        except KeyError:
            return "0"
        except self.tolerated as error:
            _tell(self.on_error, error)
            return UNKNOWN_GENERATION

    def bump(self, fingerprint: str, family: str) -> None:
        """Called after a write SIR Giving has applied: a store that fails must not turn that write into an
        error page (the admin would send it again). The failure is told, and this process misses the family's
        answers for as long as any of them lives (`hold_seconds`), under a generation of its own, so the page
        after the write does not show what was cached before it. Other processes may, for that long."""
        name = f"{fingerprint}:{family}"
        try:
            try:
                self.store[name] = int(self.store[name]) + 1
            except KeyError:
                self.store[name] = 1
        except self.tolerated as error:
            _tell(self.on_error, error)
            with self._lock:
                self._unsettled[name] = (self.clock() + self.hold_seconds, next(self._failures))


def _tell(on_error, error: BaseException) -> None:
    if on_error is not None:
        on_error(error)


class FreshAnswers:
    """Which answers this process has seen stored fresh in the HTTP cache (per key and URL) and until when. A
    view that first looks for what the cache alone can show (`client.cached_only`) skips the look-ups that
    could only miss: on a cold overview those were ten store reads on the request thread, ~0.5 ms each, before
    the calls could leave. Only ever a reason not to look there: an answer another process stored is still
    found, by the worker that looks again before asking SIR Giving."""

    LIMIT = 4096  # entries kept before the expired ones are dropped (a partner's URLs are a few dozen)

    def __init__(self, clock=time.time):
        self.clock = clock  # real time: requests-cache stamps `expires` in real time
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def note(self, credential, url: str, expires) -> None:
        """`expires` (a datetime, or None when the answer was not stored) of the answer just stored or found."""
        if expires is None:
            return
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=timezone.utc)
        self._until[(key_fingerprint(credential.secret_key), url)] = expires.timestamp()
        if len(self._until) > self.LIMIT:
            with self._lock:
                now = self.clock()
                for name, until in list(self._until.items()):
                    if until <= now:
                        self._until.pop(name, None)
                if len(self._until) > self.LIMIT:
                    self._until.clear()

    def may_hold(self, credential, url: str) -> bool:
        until = self._until.get((key_fingerprint(credential.secret_key), url))
        return until is not None and until > self.clock()


class ThreadLocalSQLiteDict(SQLiteDict):
    """requests-cache's SQLiteDict with one connection per thread instead of one for all.

    The library shares one connection between threads and reads on it without a lock. A write's
    `BEGIN IMMEDIATE` that meets a read in progress on that connection and a write lock held by another
    connection (the copies or generations table, another worker process) fails at once, and the error code
    it reads back may be the other thread's: `DatabaseError: not an error` / `no more rows available`
    escapes the library's retry loop. Own connections make each statement's error its own, and let reads
    run beside a write (WAL). Everything else is the library's: the same PRAGMAs (WAL, synchronous,
    busy_timeout), and the same lock (`_lock`, shared by responses and redirects) around every write, so
    writes in this process still go one at a time.

    The base class reads and writes `self._connection` and `self._active_transaction`; here they are
    properties that resolve to the calling thread's, so its code runs unchanged on that thread's connection.
    A thread's connection is closed when the thread ends (its `threading.local` slot is released)."""

    WRITE_WAIT_SECONDS = 10.0  # how long a write retries a busy database before it gives up (a skipped write)

    def __init__(self, *args, **kwargs):
        self._local = threading.local()
        self._generation = 0  # close() moves it on: other threads' connections are dropped on their next use
        super().__init__(*args, **kwargs)

    @property
    def _connection(self) -> sqlite3.Connection | None:
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            stale = getattr(local, "connection", None)
            local.connection, local.generation = None, self._generation
            if stale is not None:
                stale.close()
        return local.connection

    @_connection.setter
    def _connection(self, connection: sqlite3.Connection | None) -> None:
        self._local.connection, self._local.generation = connection, self._generation

    @property
    def _active_transaction(self) -> bool:
        return getattr(self._local, "active_transaction", False)

    @_active_transaction.setter
    def _active_transaction(self, active: bool) -> None:
        self._local.active_transaction = active

    @contextmanager
    def connection(self, commit=False):
        """This thread's connection, opened on first use. Opening takes no lock (the library's does, so a
        thread's first read waited for any write in progress); a write holds `_lock` as in the library."""
        if self._connection is None:
            self._connection = self._connect()
        if commit and not self._active_transaction:
            with self._acquire_sqlite_lock():
                yield self._connection
        else:
            yield self._connection

    def _connect(self) -> sqlite3.Connection:
        # The library's PRAGMAs, in its order.
        connection = sqlite3.connect(self.db_path, isolation_level=None, **self.connection_kwargs)
        if self.busy_timeout is not None:
            connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout)}")
        if self.fast_save:
            connection.execute("PRAGMA synchronous=OFF")
        if self.wal:
            connection.execute("PRAGMA journal_mode=WAL")
        if self.wal and not self.fast_save:
            connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def close(self):
        """Close this thread's connection; every other thread opens a new one on its next use."""
        if getattr(self, "_local", None) is None:  # __del__ of an instance whose __init__ failed
            return
        with self._lock:
            connection = self._connection
            self._generation += 1
            self._connection = None
            if connection is not None:
                connection.close()

    @contextmanager
    def _acquire_sqlite_lock(self):
        """The library's write transaction, with two differences: any error rolls back and is raised (the
        library swallows OperationalError and leaves the transaction open on any other, so every later write
        spins on "cannot start a transaction within a transaction"), and a busy database is retried for a
        bounded time, not forever (a write that cannot be made is skipped, never a page that hangs)."""
        with self._lock:
            if self._connection is None:  # bulk_commit() on a thread that has not used this table yet
                self._connection = self._connect()
            connection = self._connection
            deadline = time.monotonic() + self.WRITE_WAIT_SECONDS
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")  # the busy timeout waits for other connections first
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or time.monotonic() > deadline:  # only "database is locked" passes
                        raise
                    time.sleep(1e-3)
            self._active_transaction = True
            try:
                yield
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                self._active_transaction = False

    def __getitem__(self, key):
        # A placeholder, not the key spliced into the SQL as the library does (its workaround for the shared
        # connection): a generation's key holds a path segment.
        with self.connection() as connection:
            row = connection.execute(f"SELECT value FROM {self.table_name} WHERE key=?", (key,)).fetchone()
        if not row:
            raise KeyError(key)
        return self.deserialize(key, row[0])


def open_thread_connections(cache, generations, copies) -> None:
    """The calling thread's SQLite connections to the cache's tables, opened now (see ThreadLocalSQLiteDict)."""
    stores = [getattr(cache, "responses", None), getattr(cache, "redirects", None),
              getattr(generations, "store", None), getattr(copies, "store", None)]
    for store in stores:
        if isinstance(store, ThreadLocalSQLiteDict):
            with store.connection():
                pass


class StampsStoredAt:
    """A backend that marks the response it saves with the moment its stored copy states (`stored_at`), so the
    client names a fresh answer by the time every later hit reports, without reading it back."""

    def save_response(self, response, cache_key=None, expires=None):
        stored = CachedResponse.from_response(response, expires=expires)
        response.stored_at = stored.created_at
        super().save_response(stored, cache_key, expires)  # a CachedResponse is saved as it is (attr.evolve)


class PortalMemoryCache(StampsStoredAt, BaseCache):
    """requests-cache's memory backend (tests, scripts)."""


class PortalSQLiteCache(StampsStoredAt, requests_cache.SQLiteCache):
    """requests-cache's SQLiteCache on `ThreadLocalSQLiteDict`s. A SQLite error reading is a miss, writing a
    skipped write, told to `on_error`: the answer from SIR Giving is still served."""

    def __init__(self, db_path, *, on_error=None, **kwargs):
        # The library's __init__ names SQLiteDict itself; this is that __init__ with the thread-safe class.
        BaseCache.__init__(self, cache_name=str(db_path), **kwargs)
        self.responses = ThreadLocalSQLiteDict(db_path, table_name="responses", **kwargs)
        self.redirects = ThreadLocalSQLiteDict(db_path, table_name="redirects", lock=self.responses._lock,
                                               serializer=None, **kwargs)
        self.on_error = on_error

    def get_response(self, key, default=None):
        try:
            return super().get_response(key, default)
        except sqlite3.Error as error:
            _tell(self.on_error, error)
            return default

    def save_response(self, response, cache_key=None, expires=None):
        try:
            super().save_response(response, cache_key, expires)
        except sqlite3.Error as error:
            _tell(self.on_error, error)


class WarnOnce:
    """An `on_error` for the SQLite cache: one warning per process (the error's class and message, which name
    no key: cache keys are hashes), then quiet; the cache goes on trying on every call."""

    def __init__(self, what: str):
        self.what, self._warned, self._lock = what, False, threading.Lock()

    def __call__(self, error: BaseException) -> None:
        with self._lock:
            first, self._warned = not self._warned, True
        if first:
            log.warning("%s failed (%s: %s); the answer from SIR Giving is served without it. Further "
                        "failures are not logged.", self.what, type(error).__name__, error)


def _tolerant_redis_cache():
    from redis.exceptions import RedisError
    from requests_cache.backends.redis import RedisCache

    class TolerantRedisCache(StampsStoredAt, RedisCache):
        """A Redis error reading is a miss, writing a skipped write: the answer from SIR Giving is still served."""

        def __init__(self, *args, on_error=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.on_error = on_error

        def get_response(self, key, default=None):
            try:
                return super().get_response(key, default)
            except RedisError as error:
                _tell(self.on_error, error)
                return default

        def save_response(self, response, cache_key=None, expires=None):
            try:
                super().save_response(response, cache_key, expires)
            except RedisError as error:
                _tell(self.on_error, error)

    return TolerantRedisCache


def make_cached_session(backend: str, *, sqlite_path: Path | None = None, redis_url: str | None = None,
                        default_ttl: int = DEFAULT_TTL, redis_timeout: float = 2.0,
                        on_error=None) -> tuple[requests_cache.CachedSession, Generations]:
    """`on_error(error)` hears of each Redis error the cache turned into a miss."""
    longest_ttl = max(default_ttl, *FAMILY_TTLS.values())  # how long a failed invalidation is held (Generations.bump)
    if backend == "redis":
        from redis import Redis
        from redis.exceptions import RedisError
        from requests_cache.backends.redis import RedisDict

        connection = Redis.from_url(redis_url, socket_connect_timeout=redis_timeout, socket_timeout=redis_timeout)
        cache_backend = _tolerant_redis_cache()(namespace="portal-http", connection=connection, on_error=on_error,
                                                ttl_offset=int(KEEP_FOR_STALE.total_seconds()))
        generations = Generations(RedisDict(namespace="portal-http", collection_name="generations", connection=connection),
                                  tolerated=(RedisError,), on_error=on_error, hold_seconds=longest_ttl)
    elif backend == "memory":
        cache_backend = PortalMemoryCache()
        generations = Generations({})
    else:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        on_error = on_error or WarnOnce("The HTTP cache (SQLite)")
        # fast_save: no fsync per write. Losing the last second of an HTTP cache in a crash costs a refetch;
        # an fsync per cached answer would cost every cold page view its time.
        cache_backend = PortalSQLiteCache(str(sqlite_path), wal=True, fast_save=True, on_error=on_error)
        generations = Generations(ThreadLocalSQLiteDict(str(sqlite_path), table_name="generations", wal=True),
                                  tolerated=(sqlite3.Error,), on_error=on_error, hold_seconds=longest_ttl)

    def create_key(request, **_):
        partner_key = request.headers.get("X-Partner-Key", "")
        fingerprint = key_fingerprint(partner_key)
        path = request.path_url
        generation = generations.current(fingerprint, family_of(path))
        material = "\n".join((request.method, request.url, fingerprint, generation))
        return hashlib.sha256(material.encode()).hexdigest()[:40]

    ttl = 0 if default_ttl == 0 else None
    session = requests_cache.CachedSession(
        backend=cache_backend,
        expire_after=default_ttl,
        urls_expire_after={f"*/v1/partner/{family}*": (ttl if ttl is not None else seconds)
                           for family, seconds in FAMILY_TTLS.items()},
        allowable_methods=("GET",),
        allowable_codes=(200, 404),
        filter_fn=_not_another_404,
        ignored_parameters=REDACTED_HEADERS,
        key_fn=create_key,
        stale_if_error=False,  # the client serves stale itself, so it can say which error it hid
        cache_control=False,
    )
    return session, generations


COPY_SECONDS = 600  # how long a JWT read's copy may stand in for SIR Giving (client.jwt_read)


class ReplyCopies:
    """The last answer to a JWT read, per token and URL, for `COPY_SECONDS`: what a page shows, marked stale,
    when SIR Giving fails twice. Named by a hash of the token (a bearer credential is never stored), so a copy
    is only ever shown to the sign-in it was fetched for. The key list and key records carry no secret values.

    `store` is a Redis client (entries expire on their own), or a dict-like (entries are checked for age on
    reading and overwritten on the next read). A store error is a miss, told to `on_error`."""

    def __init__(self, store, tolerated: tuple[type[BaseException], ...] = (), on_error=None,
                 seconds: int = COPY_SECONDS, clock=None):
        import time

        self.store, self.tolerated, self.on_error, self.seconds = store, tolerated, on_error, seconds
        self.clock = clock or time.time
        self._redis = hasattr(store, "set") and hasattr(store, "expire")

    @staticmethod
    def _name(token: str, url: str) -> str:
        return "portal-copy:" + hashlib.sha256(f"jwt-copy:{token}\n{url}".encode()).hexdigest()

    def put(self, token: str, url: str, data) -> None:
        import json

        entry = json.dumps({"at": self.clock(), "data": data})
        try:
            if self._redis:
                self.store.set(self._name(token, url), entry, ex=self.seconds)
            else:
                self.store[self._name(token, url)] = entry
        except self.tolerated as error:
            _tell(self.on_error, error)

    def get(self, token: str, url: str):
        """(data, fetched_at) of the copy, or None when there is none young enough."""
        import json
        from datetime import datetime, timezone

        try:
            entry = self.store.get(self._name(token, url))
        except self.tolerated as error:
            _tell(self.on_error, error)
            return None
        if entry is None:
            return None
        entry = json.loads(entry)
        if self.clock() - entry["at"] > self.seconds:
            return None
        return entry["data"], datetime.fromtimestamp(entry["at"], timezone.utc)


    def prune(self, limit: int) -> int:
        """Delete at most `limit` copies too old to be shown; how many went. Redis expires its own. In SQLite a
        copy rewritten on a later read gets a new rowid, so the oldest-written come first and the scan stops at
        the first one still young; a dict (the memory backend) is scanned whole."""
        import json

        if self._redis:
            return 0
        cutoff = self.clock() - self.seconds

        def old(entry) -> bool:
            return entry is None or json.loads(entry)["at"] <= cutoff

        if not isinstance(self.store, SQLiteDict):
            gone = [key for key, entry in list(self.store.items()) if old(entry)][:limit]
            for key in gone:
                del self.store[key]
            return len(gone)
        with self.store.connection() as connection:
            rows = connection.execute(f"SELECT key, value FROM {self.store.table_name} ORDER BY rowid LIMIT ?",
                                      (limit,)).fetchall()
        gone = []
        for key, value in rows:
            if not old(self.store.deserialize(key, value)):
                break
            gone.append(key)
        self.store.bulk_delete(gone)
        return len(gone)


def make_copies(backend: str, *, sqlite_path: Path | None = None, redis_url: str | None = None,
                redis_timeout: float = 2.0, on_error=None) -> ReplyCopies:
    """The copies for `SirClient(copies=...)`, in the same backend as the HTTP cache."""
    if backend == "redis":
        from redis import Redis
        from redis.exceptions import RedisError

        connection = Redis.from_url(redis_url, socket_connect_timeout=redis_timeout, socket_timeout=redis_timeout)
        return ReplyCopies(connection, tolerated=(RedisError,), on_error=on_error)
    if backend == "memory":
        return ReplyCopies({})
    return ReplyCopies(ThreadLocalSQLiteDict(str(sqlite_path), table_name="copies", wal=True),
                       tolerated=(sqlite3.Error,), on_error=on_error or WarnOnce("The copies of JWT reads (SQLite)"))


def prune_expired(session: requests_cache.CachedSession, limit: int) -> int:
    """Delete at most `limit` cached answers that expired more than KEEP_FOR_STALE ago; how many went.

    Not requests-cache's `delete(expired=True)`: that drops every expired answer, and an expired answer is
    what the client serves, marked stale, while SIR Giving fails. This keeps them as long as Redis does
    (`ttl_offset`), with the same indexed DELETE on `expires` the library runs. Redis expires its keys itself
    and a memory cache ends with the process: nothing to do there."""
    cache = session.cache
    if not isinstance(cache, requests_cache.SQLiteCache):
        return 0
    cutoff = round(time.time() - KEEP_FOR_STALE.total_seconds())  # requests-cache stamps `expires` in real time
    table = cache.responses.table_name
    with cache.responses.connection(commit=True) as connection:
        return connection.execute(
            f"DELETE FROM {table} WHERE key IN (SELECT key FROM {table} WHERE expires <= ? LIMIT ?)",
            (cutoff, limit)).rowcount


def bound_entries(session: requests_cache.CachedSession, max_entries: int, limit: int) -> int:
    """Delete the soonest-expiring cached answers past `max_entries` (at most `limit` of them); how many went.
    The expired-long-ago ones go first, then those that expired most recently, then live ones: a cache that
    fills faster than answers expire stays bounded. Redis is bounded by its own `maxmemory` policy."""
    cache = session.cache
    if not isinstance(cache, requests_cache.SQLiteCache):
        return 0
    table = cache.responses.table_name
    with cache.responses.connection(commit=True) as connection:
        over = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] - max_entries
        if over <= 0:
            return 0
        return connection.execute(
            f"DELETE FROM {table} WHERE key IN (SELECT key FROM {table} ORDER BY expires LIMIT ?)",
            (min(over, limit),)).rowcount
