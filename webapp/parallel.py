"""The portal's worker pool for upstream calls made at once (the overview's cards, the pools page's balances).

Tasks of this pool wait for other tasks of the same pool: the runway card waits for the trends and the
campaign, the campaign for its prefetched analytics. With a plain bounded ThreadPoolExecutor that can
starve: when every worker holds a task that waits for a task still in the queue, nothing runs again, and
every later overview hangs. Here a result asked for before its task has started is computed by the thread
that asks (the queued task is cancelled), so a wait is only ever on a task that is already running.

Under `cached_only` (the overview's look at what the cache alone can show) a task runs at once in the asking
thread: it is a look-up, and handing it to a worker would cost more than it does.

A task carries its submitter's request id, so the calls it makes send it to SIR Giving too. (Only that:
a copy of the whole context would hand the request's Flask context, and its database session, to a thread.)
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from .sir.client import CACHED_ONLY, DEPARTING, REQUEST_ID, NotCached

WORKERS = 16


class Task:
    """A submitted call. `result()` waits for it, or runs it here if no worker has started it yet."""

    def __init__(self, future: Future, call: Callable[..., Any], args: tuple, kwargs: dict):
        self.future = future
        self._call, self._args, self._kwargs = call, args, kwargs
        self._here: Future | None = None  # where the answer goes when the asking thread runs the call
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self.future.done() or (self._here is not None and self._here.done())

    def result(self, timeout: float | None = None):
        with self._lock:
            run_here = self._here is None and self.future.cancel()  # still queued: no worker will run it now
            if run_here:
                self._here = Future()
        if run_here:
            try:
                self._here.set_result(self._call(*self._args, **self._kwargs))
            except BaseException as exc:
                self._here.set_exception(exc)
        return (self._here or self.future).result(timeout)


class WorkerPool:
    def __init__(self, workers: int = WORKERS, name: str = "upstream"):
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def start(self, on_each: Callable[[], Any] = lambda: None, timeout: float = 5.0) -> int:
        """Every worker thread started now, each running `on_each` (what a thread opens on first use: its cache
        connections), before a request needs them; how many ran it without failing. The executor starts threads
        one by one as tasks come: a fresh process's first overview started eleven, and opened their connections,
        while its calls waited to leave. Each task waits for the others, so no thread takes two and every thread
        is made. Never raises, and gives up waiting after `timeout` seconds (a readiness step must not hold up, or
        stop, a worker's start); what failed is the caller's to tell."""
        together = threading.Barrier(self.workers)

        def start_one():
            try:
                on_each()
            finally:
                try:
                    together.wait(timeout)
                except threading.BrokenBarrierError:
                    pass

        started = [self._executor.submit(start_one) for _ in range(self.workers)]
        finished, _ = wait(started, timeout)
        return sum(1 for future in finished if future.exception() is None)

    def submit(self, call: Callable[..., Any], *args, **kwargs) -> Task:
        if CACHED_ONLY.get():
            return done(call, *args, **kwargs)
        departing = DEPARTING.get()
        if departing is not None and hasattr(departing, "track"):
            call = departing.track(call)  # a counted call's own sub-calls are counted as well (dashboard.cards)
        return Task(self._executor.submit(_with_request_id, REQUEST_ID.get(), call, *args, **kwargs),
                    call, args, kwargs)


def done(call: Callable[..., Any], *args, **kwargs) -> Task:
    """`call` run here and now, as a finished task (its value, or what it raised). NotCached is raised at once
    instead: the look-up it belongs to is abandoned (and a stored exception would hold the asking frames, the
    view's response among them, in a reference cycle until the garbage collector runs)."""
    future: Future = Future()
    try:
        future.set_result(call(*args, **kwargs))
    except NotCached:
        raise
    except BaseException as exc:
        future.set_exception(exc)
    return Task(future, call, args, kwargs)


def _with_request_id(request_id, call, *args, **kwargs):
    token = REQUEST_ID.set(request_id)
    try:
        return call(*args, **kwargs)
    finally:
        REQUEST_ID.reset(token)


POOL = WorkerPool()
