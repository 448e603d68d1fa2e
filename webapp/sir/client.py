"""The SIR Giving client: JWT calls for the admin's account, HMAC-signed calls for partner data.

A plain library (no Flask): a script or a worker can use it too.

- The host is chosen by the key: `sk_test_`/`pk_test_` → sandbox URL, `sk_live_`/`pk_live_` → production
  URL. A call for one environment with the other's key is refused before anything is sent.
- What is signed is what is sent: the request is prepared first, then `path_url` and the body bytes of
  the prepared request are signed.
- A GET is retried once on a dropped connection or a 429 (honouring Retry-After up to a cap); a write never,
  since SIR Giving may have applied it.
- Signed GETs go through the HTTP cache (`cache.py`); when SIR Giving fails in a way that may pass (timeout,
  unreachable, 5xx, 429, unreadable reply) and an older answer is cached, that answer is returned marked
  stale, with the error it stands in for.
- Every call is described once, as a `CallRecord`: to the request's own recorder (Server-Timing) and to the
  client's `observe` hook (the portal's metrics). Every request carries the current request id (`REQUEST_ID`)
  as `X-Request-ID`; SIR Giving's signature covers timestamp, method, path and body, not other headers.
- JWT calls are never cached (the answer is one admin's). A page's JWT read (`jwt_read`: the key list, a key) is
  retried once when SIR Giving fails in a way that may pass, and each answer is kept briefly (`copies`, keyed by
  a hash of the token and URL) so that, when both tries fail, the page shows that copy marked stale instead of
  an error page.
- SIR Giving's clock is measured from the `Date` header of every reply that came over the wire (not a cached
  copy), per host. When it differs from this machine's by more than `SKEW_TOLERANCE_SECONDS`, signed calls carry
  the corrected time, as mature API SDKs do after a clock-skew error, and `sir_time()` (the portal's one clock)
  states SIR Giving's time. A signed call refused for its timestamp (`TIMESTAMP_EXPIRED`, or a 401 with no code
  whose `Date` is more than the 300 s window away) is signed again with the corrected time and sent once more.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

import requests

from . import errors
from .cache import FreshAnswers, Generations, family_of, kept_answer, key_fingerprint, open_thread_connections
from .signing import signature_headers

log = logging.getLogger(__name__)

RETRY_AFTER_CAP_SECONDS = 2.0
# `Date` states whole seconds and a reply takes a moment to come back: a smaller difference is noise, not skew.
SKEW_TOLERANCE_SECONDS = 2.0
TIMESTAMP_WINDOW_SECONDS = 300  # the reference: "within 5 minutes of server time"
USER_AGENT = "PartnerOpsPortal/1.0"
# The id of the portal request a call is made for, sent as X-Request-ID so both sides' logs can be joined.
REQUEST_ID: ContextVar[str | None] = ContextVar("sir_request_id", default=None)
KEPT_CONNECTIONS = 32  # per host: parallel.WORKERS (16) and a gunicorn worker's request threads, with room
# Set while a view looks for what it can show from the cache alone (`cached_only`): a GET then answers from a
# fresh cached answer or raises NotCached, and never goes to SIR Giving.
CACHED_ONLY: ContextVar[bool] = ContextVar("sir_cached_only", default=False)


# Called in the calling thread as a call is about to leave (each of its tries): a page that waits for its round's
# calls to have left before it does anything else (dashboard.cards.Departures) hears of it here.
DEPARTING: ContextVar[Callable[[], None] | None] = ContextVar("sir_departing", default=None)


class NotCached(Exception):
    """Under `cached_only`: this call has no fresh cached answer, so it must go to SIR Giving. Not a SirError:
    nothing went wrong, and no card shows it."""


@contextmanager
def cached_only():
    token = CACHED_ONLY.set(True)
    try:
        yield
    finally:
        CACHED_ONLY.reset(token)

ENVIRONMENTS = ("sandbox", "production")
# Where JWT key management for production (`*_live_`) keys goes: the production host (the reference's host table
# covers every path, and a live secret is minted where live keys are used), or the host the admin signed in at.
LIVE_KEY_HOSTS = ("production", "sign-in")


def environment_of_key(key: str) -> str | None:
    if key.startswith(("sk_test_", "pk_test_")):
        return "sandbox"
    if key.startswith(("sk_live_", "pk_live_")):
        return "production"
    return None


@dataclass(frozen=True)
class Credential:
    """What the portal signs with: one key of the partner's, with its HMAC secret."""

    key_id: str | None
    secret_key: str
    hmac_secret: str

    @property
    def environment(self) -> str | None:
        return environment_of_key(self.secret_key)

    def __repr__(self) -> str:  # never let a secret reach a log line through repr()
        prefix = self.secret_key[:12] + "…" if self.secret_key else ""
        return f"Credential(key_id={self.key_id!r}, secret_key={prefix!r}, hmac_secret='***')"


@dataclass
class CallRecord:
    """One call to SIR Giving, for the Server-Timing header and the benchmarks."""

    method: str
    path: str
    elapsed_ms: float
    from_cache: bool
    stale: bool
    status: int | None
    cacheable: bool = False  # went through the HTTP cache (signed GETs)
    failure: str | None = None  # "timeout" or "unreachable" when no status came back
    started: float = 0.0  # time.perf_counter() as it was sent: which calls of a page overlapped (tests, bench/)

    @property
    def ended(self) -> float:
        return self.started + self.elapsed_ms / 1000

    @property
    def family(self) -> str:
        return family_of(self.path)

    @property
    def cache_result(self) -> str:
        """hit, miss or stale for a cacheable call; none for JWT calls and writes."""
        if self.stale:
            return "stale"
        if self.from_cache:
            return "hit"
        return "miss" if self.cacheable else "none"


@dataclass
class Reply:
    data: Any
    status: int
    from_cache: bool = False
    stale: bool = False
    fetched_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))  # the client passes its own now
    elapsed_ms: float = 0.0
    error: errors.SirError | None = None  # set when a stale answer stands in for a failure


class SirClient:
    def __init__(self, *, sandbox_url: str, production_url: str, auth_url: str | None = None,
                 cached_session: requests.Session | None = None, generations: Generations | None = None,
                 transport: requests.adapters.BaseAdapter | None = None, connect_timeout: float = 3.05,
                 read_timeout: float = 10.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, observe: Callable[[CallRecord], None] | None = None,
                 copies=None, live_keys_host: str = "production"):
        self.base_urls = {"sandbox": sandbox_url.rstrip("/"), "production": production_url.rstrip("/")}
        self.auth_url = (auth_url or sandbox_url).rstrip("/")
        if live_keys_host not in LIVE_KEY_HOSTS:
            raise ValueError(f"unknown live_keys_host {live_keys_host!r}")
        self.live_keys_host = live_keys_host
        # Which environment each key id belongs to, as key lists and creations said: a PATCH or DELETE of a live
        # key goes to the host that holds it (`key_host`).
        self.key_environments: dict[str, str] = {}
        self.timeout = (connect_timeout, read_timeout)
        self.clock = clock  # this machine's clock (the embedded simulator's, moved or not): see sir_time()
        # How far ahead of `clock` SIR Giving's clock runs, per host (scheme://host:port), as measured from the
        # `Date` of its replies; `_latest_offset` is the last host's, for the times the portal states.
        self._offsets: dict[str, float] = {}
        self._latest_offset: float | None = None
        self.sleep = sleep
        self._proxies: dict[tuple, dict] = {}  # see _proxies_for
        self.observe = observe  # sees every call (metrics), whoever made it
        self._generations = generations  # the cache's per-key, per-family counters: see invalidate()
        self._copies = copies  # recent JWT reads, for jwt_read's stale fallback (cache.ReplyCopies)
        self._fresh_answers = FreshAnswers()  # what `cached_only` may find in the cache (_cached_answer)
        self.plain = requests.Session()  # JWT calls and writes: never cached
        self.cached = cached_session or self.plain
        for session in {id(self.plain): self.plain, id(self.cached): self.cached}.values():
            session.headers["User-Agent"] = USER_AGENT
            if transport is not None:
                for url in {*self.base_urls.values(), self.auth_url}:
                    session.mount(url, transport)
            else:
                # Kept connections for as many calls as can be in flight at once (the worker pool's and the
                # request threads'): requests keeps 10 per host and discards the rest after use, so an overview's
                # round of 11–13 calls made new connections (a TLS handshake each, against SIR Giving) every time.
                for scheme in ("https://", "http://"):
                    session.mount(scheme, requests.adapters.HTTPAdapter(pool_maxsize=KEPT_CONNECTIONS))

    # -- sending ---------------------------------------------------------------------------------

    def _send(self, session: requests.Session, prepared: requests.PreparedRequest, *, retry: bool,
              record: Callable[[CallRecord], None] | None, path: str, fresh: bool = False) -> requests.Response:
        attempts = 2 if retry else 1
        cacheable = session is not self.plain
        request_id = REQUEST_ID.get()
        if request_id:
            prepared.headers["X-Request-ID"] = request_id
        departing = DEPARTING.get()
        for attempt in range(attempts):
            if departing is not None:
                departing()
            started, sent_at = time.perf_counter(), self.clock()
            try:
                extra = {"force_refresh": True} if fresh and cacheable else {}
                response = session.send(prepared, timeout=self.timeout, allow_redirects=False,
                                        proxies=self._proxies_for(session, prepared), **extra)
            except requests.Timeout:
                self._record(record, prepared, path, started, None, False, cacheable, "timeout")
                raise errors.UpstreamTimeout(status=None, path=path) from None
            except requests.ConnectionError:
                self._record(record, prepared, path, started, None, False, cacheable, "unreachable")
                if attempt + 1 < attempts:
                    continue
                raise errors.Unreachable(status=None, path=path) from None
            from_cache = bool(getattr(response, "from_cache", False))
            if not from_cache:  # a cached copy's Date is the time it was first fetched
                response.sir_clock_offset = self._measure(prepared.url, response, sent_at)
            self._record(record, prepared, path, started, response.status_code, from_cache, cacheable)
            if response.status_code == 429 and attempt + 1 < attempts:
                wait = _retry_after(response)
                if wait is not None and wait <= RETRY_AFTER_CAP_SECONDS:
                    self.sleep(wait)
                    continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def _proxies_for(self, session: requests.Session, prepared: requests.PreparedRequest) -> dict:
        """The proxies for this request's host (HTTPS_PROXY, NO_PROXY...), read from the environment once per
        host and session: requests reads them again for every call (~0.4 ms of CPU, ten times per overview,
        while its other calls wait for the interpreter)."""
        origin = urlsplit(prepared.url)[:2]
        key = (id(session), origin)
        proxies = self._proxies.get(key)
        if proxies is None:
            proxies = self._proxies[key] = requests.utils.resolve_proxies(prepared, session.proxies,
                                                                          session.trust_env)
        return proxies

    # -- SIR Giving's clock ------------------------------------------------------------------------

    def _measure(self, url: str, response: requests.Response, sent_at: float) -> float | None:
        """The offset this reply's `Date` shows (seconds SIR Giving is ahead of `clock`), kept for its host when
        it differs from the kept one by more than the tolerance (so it is logged once per change)."""
        try:
            stated = parsedate_to_datetime(response.headers["Date"]).timestamp()
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        received_at = self.clock()
        if abs(received_at - sent_at - response.elapsed.total_seconds()) > SKEW_TOLERANCE_SECONDS:
            return None  # this machine's clock jumped during the call (the demo clock moved): no fair reading
        # Date is truncated to the second (+0.5 on average); compare it with the middle of the round trip.
        measured = stated + 0.5 - (sent_at + received_at) / 2
        origin = _origin(url)
        kept = self._offsets.get(origin)
        if kept is None or abs(measured - kept) > SKEW_TOLERANCE_SECONDS:
            self._offsets[origin] = kept = measured
            if abs(measured) > SKEW_TOLERANCE_SECONDS:
                log.warning("SIR Giving at %s: its clock is %+.0f s from this machine's; signing with the "
                            "corrected time", origin, measured)
            else:
                log.info("SIR Giving at %s: its clock agrees with this machine's (%+.1f s)", origin, measured)
        self._latest_offset = kept
        return measured

    def clock_offset(self, base_url: str) -> float | None:
        """Seconds SIR Giving's clock at `base_url` runs ahead of this machine's, as last measured (None before
        any reply from it)."""
        return self._offsets.get(_origin(base_url))

    def sir_time(self, base_url: str | None = None) -> float:
        """SIR Giving's now: this machine's clock, corrected by the offset measured at `base_url` (by default the
        host that answered last) when it is more than the tolerance."""
        offset = self._offsets.get(_origin(base_url)) if base_url else self._latest_offset
        return self.clock() + _correction(offset)

    def _sign(self, prepared: requests.PreparedRequest, credential: Credential, base_url: str) -> float:
        """Sign `prepared` as it will be sent, on SIR Giving's time; the correction used."""
        correction = _correction(self._offsets.get(_origin(base_url)))
        prepared.headers.update(signature_headers(
            credential.secret_key, credential.hmac_secret, str(int(self.clock() + correction)), prepared.method,
            prepared.path_url, _encode_prepared(prepared.body)))
        return correction

    def _refused_for_clock(self, response: requests.Response, base_url: str, used: float) -> bool:
        """A 401 that a corrected clock may cure, now that the reply's `Date` gave a correction not yet used."""
        if response.status_code != 401 or _correction(self._offsets.get(_origin(base_url))) == used:
            return False
        code = _error_code(response)
        if code == errors.TimestampExpired.code:
            return True
        measured = getattr(response, "sir_clock_offset", None)  # no code (opaque errors): the Date tells
        return code is None and measured is not None and abs(measured) > TIMESTAMP_WINDOW_SECONDS - SKEW_TOLERANCE_SECONDS

    def _record(self, record, prepared, path, started, status, from_cache, cacheable, failure=None):
        self._emit(record, CallRecord(prepared.method, path, (time.perf_counter() - started) * 1000, from_cache,
                                      False, status, cacheable, failure, started))

    def _emit(self, record, call: CallRecord) -> None:
        if record is not None:
            record(call)
        if self.observe is not None:
            self.observe(call)

    @staticmethod
    def _parse(response: requests.Response, path: str, kind: str = errors.SIGNED) -> Any:
        """The reply's JSON, or the SirError it stands for. An error without a JSON body is mapped by its
        status and the kind of call (`errors.error_for_response`), not read as an unreadable answer."""
        if response.status_code >= 400:
            try:
                payload = response.json() if response.content else None
            except ValueError:
                payload = None
            raise errors.error_for_response(response.status_code, payload, path, _retry_after(response), kind)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise errors.MalformedReply(status=response.status_code, path=path) from None

    # -- JWT calls: the admin's own account --------------------------------------------------------

    def key_host(self, environment: str | None) -> str:
        """The base URL of JWT key management for a key of `environment` (None: not known, the sign-in host)."""
        if environment == "production" and self.live_keys_host == "production":
            return self.base_urls["production"]
        return self.auth_url

    def key_hosts(self) -> list[str]:
        """Every host that holds some of the admin's keys: the sign-in host, and the production host when live
        keys are managed there (once, when they are the same host)."""
        return list(dict.fromkeys([self.auth_url, self.key_host("production")]))

    def jwt_call(self, method: str, path: str, token: str | None = None, json_body: Any = None,
                 params: dict | None = None, record=None, base_url: str | None = None) -> Any:
        if CACHED_ONLY.get():
            raise NotCached(path)  # a sign-in call is never cached
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = _encode(json_body)
        if body:
            headers["Content-Type"] = "application/json"
        url = (base_url or self.auth_url) + path + (f"?{urlencode(params)}" if params else "")
        prepared = self.plain.prepare_request(requests.Request(method, url, headers=headers, data=body))
        response = self._send(self.plain, prepared, retry=method == "GET", record=record, path=path)
        return self._parse(response, path, errors.JWT if token else errors.LOGIN)

    def jwt_read(self, path: str, token: str, params: dict | None = None, record=None,
                 base_url: str | None = None) -> Reply:
        """A JWT GET that a page shows: tried twice when SIR Giving fails in a way that may pass (5xx, timeout,
        429, dropped, unreadable); then the copy of the last answer to this token, if it is young enough, marked
        stale with the error it stands in for; else that error."""
        url = (base_url or self.auth_url) + path + (f"?{urlencode(params)}" if params else "")
        error: errors.SirError | None = None
        for _ in range(2):
            started = time.perf_counter()
            try:
                data = self.jwt_call("GET", path, token, params=params, record=record, base_url=base_url)
            except errors.SirError as failure:
                if not failure.retryable:
                    raise
                error = failure
                continue
            if self._copies is not None:
                self._copies.put(token, url, data)
            return Reply(data=data, status=200, fetched_at=self.now(), elapsed_ms=(time.perf_counter() - started) * 1000)
        kept = self._copies.get(token, url) if self._copies is not None else None
        if kept is None:
            raise error
        data, fetched_at = kept
        if record is not None:
            record(CallRecord("GET", path, 0.0, True, True, 200))
        return Reply(data=data, status=200, from_cache=True, stale=True, fetched_at=self.on_clock(fetched_at),
                     error=error)

    def login(self, email: str, password: str) -> dict:
        return self.jwt_call("POST", "/v1/partner/auth/login", json_body={"email": email, "password": password})

    def me(self, token: str) -> dict:
        return self.jwt_call("GET", "/v1/partner/auth/me", token)

    def partner_info(self, token: str) -> dict:
        return self.jwt_call("GET", "/v1/partner/keys/partner-info", token)

    # -- widget calls: a publishable key alone, as a browser sends it ------------------------------

    def widget_call(self, public_key: str, environment: str, method: str, path: str, record=None) -> Any:
        """One widget call (`X-Partner-Key: pk_…`, no signature), never cached: e.g. proving a new
        publishable key works with `GET /v1/partner/config`."""
        if CACHED_ONLY.get():
            raise NotCached(path)
        if environment_of_key(public_key) != environment:
            raise errors.EnvironmentMismatch(path=path)
        prepared = self.plain.prepare_request(requests.Request(method.upper(), self.base_urls[environment] + path,
                                                               headers={"X-Partner-Key": public_key}))
        response = self._send(self.plain, prepared, retry=method.upper() == "GET", record=record, path=path)
        return self._parse(response, path, errors.WIDGET)

    # -- signed calls: partner data ----------------------------------------------------------------

    def signed_call(self, credential: Credential, environment: str, method: str, path: str,
                    params: dict | None = None, json_body: Any = None, record=None, fresh: bool = False) -> Reply:
        """One signed call. `fresh` skips the cache for a GET (an admin's explicit refresh), and stores the answer."""
        if environment not in ENVIRONMENTS:
            raise ValueError(f"unknown environment {environment!r}")
        if credential.environment != environment:
            raise errors.EnvironmentMismatch(path=path)
        method = method.upper()
        body = _encode(json_body)
        headers = {"Content-Type": "application/json"} if body else {}
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        session = self.cached if method == "GET" else self.plain
        prepared = session.prepare_request(
            requests.Request(method, self.base_urls[environment] + path + query, headers=headers, data=body))
        if method == "GET" and not fresh and session is not self.plain:
            kept = self._cached_answer(prepared, credential, record, path)
            if kept is not None:
                return kept
        if CACHED_ONLY.get():
            raise NotCached(path)
        # Sign the exact path and bytes that will go over the wire, after requests has normalised them.
        base_url = self.base_urls[environment]
        used = self._sign(prepared, credential, base_url)
        started = time.perf_counter()
        try:
            # Not force_refresh after a miss: requests-cache would send SIR Giving `Cache-Control: no-cache` with
            # every read (an admin's Refresh says so; a read that missed the cache has nothing to say).
            response = self._send(session, prepared, retry=method == "GET", record=record, path=path, fresh=fresh)
            if self._refused_for_clock(response, base_url, used):
                # Refused at the door for its timestamp, so nothing was applied: a write may go again too.
                self._sign(prepared, credential, base_url)
                response = self._send(session, prepared, retry=method == "GET", record=record, path=path,
                                      fresh=fresh)
            if method == "GET" and not getattr(response, "from_cache", False) and kept_answer(response):
                # Stored (an answer, or a kept absence): this process may look for it while it is fresh.
                self._fresh_answers.note(credential, prepared.url, getattr(response, "expires", None))
            data = self._parse(response, path)
        except errors.SirError as error:
            if method == "GET" and error.retryable:
                stale = self._stale_answer(prepared, path)
                if stale is not None:
                    stale.error = error
                    self._emit(record, CallRecord(method, path, 0.0, True, True, stale.status, True))
                    return stale
            raise
        if method != "GET":
            self.invalidate(credential, family_of(path))
        from_cache = bool(getattr(response, "from_cache", False))
        # A fresh answer is named by the moment its stored copy states (cache.StampsStoredAt), as its hits will be.
        fetched_at = getattr(response, "created_at" if from_cache else "stored_at", None)
        return Reply(data=data, status=response.status_code, from_cache=from_cache,
                     fetched_at=self.on_clock(fetched_at) if fetched_at else self.now(),
                     elapsed_ms=(time.perf_counter() - started) * 1000)

    def _cached_answer(self, prepared: requests.PreparedRequest, credential: Credential, record,
                       path: str) -> Reply | None:
        """A fresh cached answer to this GET, looked up before anything is signed: a hit costs no HMAC and no
        clock read. The cache key needs only the key (`X-Partner-Key`), never the signature. None on a miss.

        Read from the cache's store directly (its key, its stored answer, its expiry: what `only_if_cached`
        decides with this cache's settings, without the session's per-send machinery). Under `cached_only`, an
        answer this process has not seen stored fresh is not looked for (`FreshAnswers`)."""
        if CACHED_ONLY.get() and not self._fresh_answers.may_hold(credential, prepared.url):
            return None
        cache = self.cached.cache
        probe = prepared.copy()  # the key reads X-Partner-Key; the request sent on a miss stays without it
        probe.headers["X-Partner-Key"] = credential.secret_key
        started = time.perf_counter()
        stored = cache.get_response(cache.create_key(probe))
        if stored is None or stored.is_expired or not kept_answer(stored):
            return None
        try:
            data = self._parse(stored, path)
        except errors.NotFound:  # kept_answer let it through: a kept absence (cache.KEPT_ABSENCES)
            self._fresh_answers.note(credential, prepared.url, stored.expires)
            self._record(record, probe, path, started, 404, True, True)
            raise  # what SIR Giving said, as it said it
        except errors.SirError:
            return None  # an unreadable cached answer: ask SIR Giving again
        self._fresh_answers.note(credential, prepared.url, stored.expires)
        self._record(record, probe, path, started, stored.status_code, True, True)
        return Reply(data=data, status=stored.status_code, from_cache=True,
                     fetched_at=self.on_clock(stored.created_at), elapsed_ms=(time.perf_counter() - started) * 1000)

    def open_thread_connections(self) -> None:
        """This thread's own connections to the caches opened ahead (a worker thread's, as the process starts):
        with SQLite each thread has its own, and opening them (WAL, busy timeout) is a cost the first page paid.
        Nothing is read, and a shared store (Redis, whose pool is the process's) is left alone: no network at start."""
        open_thread_connections(getattr(self.cached, "cache", None), self._generations, self._copies)

    @property
    def caches_answers(self) -> bool:
        """Whether GETs are answered from the HTTP cache at all (SIR_CACHE_TTL > 0)."""
        return self.cached is not self.plain

    def now(self) -> datetime:
        """SIR Giving's now, as this client signs with it (the portal's one clock: webapp/clock.py)."""
        return datetime.fromtimestamp(self.sir_time(), timezone.utc)

    def on_clock(self, moment: datetime) -> datetime:
        """A moment the caches stamped with real time, moved onto this client's clock (the embedded simulator's
        may have been moved ahead), so "Updated"/"Stale since" agree with every other time on the page."""
        # To the millisecond: the two clocks are read microseconds apart, and that jitter must not move a stamp
        # (the kept card HTML is keyed on it, dashboard/rendered.py).
        return _aware(moment) + timedelta(seconds=round(self.sir_time() - time.time(), 3))

    def prune_copies(self, limit: int) -> int:
        """Housekeeping: at most `limit` copies of JWT reads too old to be shown deleted; how many went."""
        return self._copies.prune(limit) if self._copies is not None else 0

    def invalidate(self, credential: Credential | str, *families: str) -> None:
        """Make every cached answer of `families` (`"token-pools"`, `"webhooks"`…) a miss from now on, for this
        key only and whatever its query string: what a write does to its own family, and what the portal does
        when SIR Giving reports a change by webhook. `credential` is a Credential or its secret key."""
        if self._generations is None:  # no cache, nothing to make stale
            return
        fingerprint = key_fingerprint(credential.secret_key if isinstance(credential, Credential) else credential)
        for family in families:
            self._generations.bump(fingerprint, family)

    def _stale_answer(self, prepared: requests.PreparedRequest, path: str) -> Reply | None:
        cache = getattr(self.cached, "cache", None)
        if cache is None:
            return None
        cached = cache.get_response(cache.create_key(prepared))
        if cached is None or cached.status_code != 200:
            return None
        try:
            data = json.loads(cached.content)
        except ValueError:
            return None
        return Reply(data=data, status=200, from_cache=True, stale=True, fetched_at=self.on_clock(cached.created_at))


def _encode(json_body: Any) -> bytes:
    if json_body is None:
        return b""
    return json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()


def _encode_prepared(body) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else body


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _correction(offset: float | None) -> float:
    return offset if offset is not None and abs(offset) > SKEW_TOLERANCE_SECONDS else 0.0


def _error_code(response: requests.Response) -> str | None:
    try:
        payload = response.json() if response.content else None
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
