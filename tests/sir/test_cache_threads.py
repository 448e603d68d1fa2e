"""The SQLite HTTP cache used by many threads at once, as a page's upstream calls use it (webapp/parallel.py).

requests-cache's SQLite backend shares one connection between threads. A write's `BEGIN IMMEDIATE` that meets a
read in progress on that connection while another connection holds the write lock fails at once, and may read
back the other thread's error code: `sqlite3.DatabaseError: not an error` / `no more rows available` (requests-cache
issue #820), raised through the page. These tests drive the cache as the portal configures it (`make_cached_session`
on one file, the HTTP cache of a second worker on the same file) with real SQLite, and check what a page gets."""

import io
import logging
import sqlite3
import json
import threading

from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

from webapp.sir.cache import make_cached_session

BASE = "https://sandbox.sir.invalid"
KEY = {"X-Partner-Key": "sk_test_threads"}
WAIT_SECONDS = 30  # a safety net only: with a shared connection the readers can wait on a write forever


class Upstream(HTTPAdapter):
    """SIR Giving answering at once with the URL it was asked, so each answer can be checked against its request."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def send(self, request, **kwargs):
        self.calls += 1
        raw = HTTPResponse(body=io.BytesIO(json.dumps({"url": request.url}).encode()), status=200,
                           headers={"Content-Type": "application/json"}, preload_content=False)
        return self.build_response(request, raw)


def test_pages_read_and_store_answers_from_many_threads_while_another_worker_writes(tmp_path):
    path = tmp_path / "http_cache.sqlite3"
    told = []
    session, _ = make_cached_session("sqlite", sqlite_path=path, on_error=told.append)
    upstream = Upstream()
    session.mount(BASE, upstream)
    other_worker, _ = make_cached_session("sqlite", sqlite_path=path)  # another process of the portal, same file
    cached = [f"{BASE}/v1/partner/token-pools/{n}" for n in range(50)]
    for url in cached:
        session.get(url, headers=KEY)
    fetched_before = upstream.calls
    readers, writers, reads = 4, 2, 100
    failures, readers_left, locked, done = [], [readers], threading.Event(), threading.Event()

    def finish_reader():
        readers_left[0] -= 1
        if readers_left[0] == 0:
            done.set()

    def guarded(work, on_exit=None):
        def run():
            try:
                work()
            except BaseException as error:  # noqa: BLE001 - the test reports every one
                failures.append(error)
                done.set()
            finally:
                if on_exit:
                    on_exit()
        return run

    def read_pages():  # pages whose answers are cached: each call a hit with its own answer
        for n in range(reads):
            url = cached[n % len(cached)]
            response = session.get(url, headers=KEY)
            assert response.from_cache and response.json() == {"url": url}
            assert len(list(session.cache.responses.keys())) >= len(cached)  # what housekeeping reads

    def store_answers(writer):  # a cold page: misses, each answer stored for the next view
        def run():
            for n in range(5):
                url = f"{BASE}/v1/partner/campaigns/{writer}-{n}"
                assert session.get(url, headers=KEY).json() == {"url": url}
        return run

    def other_worker_writes():  # holds the file's write lock until the readers are through
        with other_worker.cache.responses.bulk_commit():
            locked.set()
            if not done.wait(WAIT_SECONDS):
                failures.append(TimeoutError("reads waited on a write in another worker"))

    lock_taken = threading.Thread(target=guarded(other_worker_writes))
    threads = ([threading.Thread(target=guarded(read_pages, finish_reader)) for _ in range(readers)]
               + [threading.Thread(target=guarded(store_answers(w))) for w in range(writers)])
    lock_taken.start()
    assert locked.wait(WAIT_SECONDS)
    for thread in threads:
        thread.start()
    for thread in [lock_taken, *threads]:
        thread.join()

    assert [f"{type(e).__name__}: {e}" for e in failures] == [] and told == []
    assert upstream.calls == fetched_before + writers * 5  # every read a hit, every miss asked once
    for writer in range(writers):  # and every answer stored: the next view of that page is served from the cache
        for n in range(5):
            assert session.get(f"{BASE}/v1/partner/campaigns/{writer}-{n}", headers=KEY).from_cache


def test_a_cache_that_fails_costs_the_cache_not_the_answer_and_is_logged_once(tmp_path, caplog):
    path = tmp_path / "http_cache.sqlite3"
    session, _ = make_cached_session("sqlite", sqlite_path=path)  # as the portal makes it: the default on_error
    upstream = Upstream()
    session.mount(BASE, upstream)
    url = f"{BASE}/v1/partner/token-pools"
    assert not session.get(url, headers=KEY).from_cache and session.get(url, headers=KEY).from_cache
    with sqlite3.connect(path) as broken:  # the answers' table is gone from under the portal
        broken.execute("DROP TABLE responses")
    with caplog.at_level(logging.WARNING, logger="webapp.sir.cache"):
        answers = [session.get(url, headers=KEY) for _ in range(3)]
    assert [a.json() for a in answers] == [{"url": url}] * 3 and not any(a.from_cache for a in answers)
    assert upstream.calls == 4
    warnings = [r.getMessage() for r in caplog.records if r.name == "webapp.sir.cache"]
    assert len(warnings) == 1 and "no such table" in warnings[0] and "sk_test" not in warnings[0]


def test_a_write_whose_cache_cannot_be_invalidated_still_returns_its_answer_and_is_logged(app, simulator, caplog):
    from tests.sir.test_invalidate import bound_api

    acme = bound_api(app, "admin@acme.example")
    pool = acme.token_pools().value[0]
    cache_file = acme.client.cached.cache.responses.db_path
    with sqlite3.connect(cache_file) as broken:  # the generations' table is gone from under the portal
        broken.execute("DROP TABLE generations")
    with caplog.at_level(logging.WARNING, logger="webapp.sir.cache"):
        created = acme.request_top_up(pool.id, 5000, "Spring campaign")
    assert created.amount == 5000
    listed = acme.allocation_requests(status="pending", fresh=True).value.items
    assert created.id in [r.id for r in listed]  # SIR Giving has it: the write was not turned into an error
    warnings = [r.getMessage() for r in caplog.records if r.name == "webapp.sir.cache"]
    assert len(warnings) == 1 and "no such table: generations" in warnings[0]


def test_after_a_failed_invalidation_this_process_misses_the_family_until_its_answers_have_expired():
    from webapp.sir.cache import Generations

    class WritesFail(dict):  # reads work, writes do not (a SQLite file locked past the write wait)
        def __setitem__(self, key, value):
            raise sqlite3.OperationalError("database is locked")

    now, told = [0.0], []
    generations = Generations(WritesFail(), tolerated=(sqlite3.Error,), on_error=told.append, hold_seconds=60,
                              clock=lambda: now[0])
    before = generations.current("fp", "token-pools")
    generations.bump("fp", "token-pools")  # after a top-up request SIR Giving applied
    assert [str(e) for e in told] == ["database is locked"]
    during = generations.current("fp", "token-pools")
    assert during not in (before, "unknown")  # what was cached before the write is not reached
    assert generations.current("fp", "token-pools") == during  # and what is cached after it is
    assert generations.current("fp", "campaigns") == "0" and generations.current("other", "token-pools") == "0"
    now[0] = 61  # every answer cached before the write has expired by now
    assert generations.current("fp", "token-pools") == before
