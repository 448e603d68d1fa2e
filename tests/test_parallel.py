"""The worker pool's tasks may wait for each other without starving the pool (webapp/parallel.py)."""

import threading

import pytest

from webapp.parallel import WorkerPool


def test_a_task_that_waits_for_another_still_finishes_when_every_worker_is_busy():
    pool = WorkerPool(workers=1, name="test-pool")

    def outer():
        inner = pool.submit(lambda: "inner answer")  # queued behind the only worker, which is running outer
        return "outer got " + inner.result()

    # A plain one-worker ThreadPoolExecutor never finishes this; the timeout turns a hang into a failure.
    assert pool.submit(outer).future.result(timeout=10) == "outer got inner answer"


def test_a_call_run_by_the_asking_thread_raises_its_error_there():
    pool = WorkerPool(workers=1, name="test-pool")
    release = threading.Event()
    blocker = pool.submit(release.wait, 10)  # holds the only worker

    def fail():
        raise ValueError("no answer")

    queued = pool.submit(fail)
    with pytest.raises(ValueError, match="no answer"):
        queued.result()
    assert queued.done()
    release.set()
    assert blocker.result(timeout=10) is True


def test_a_task_asked_twice_runs_once():
    pool = WorkerPool(workers=1, name="test-pool")
    release = threading.Event()
    pool.submit(release.wait, 10)
    calls = []
    queued = pool.submit(lambda: calls.append("ran") or len(calls))
    assert queued.result() == 1
    release.set()
    assert queued.result() == 1 and calls == ["ran"]


def test_starting_a_pool_makes_every_worker_thread_and_readies_each_once():
    pool = WorkerPool(workers=4, name="test-start")
    readied = []
    assert pool.start(lambda: readied.append(threading.current_thread().name)) == 4
    assert len(set(readied)) == 4 and all(name.startswith("test-start") for name in readied)
    ran = set()
    gate = threading.Barrier(4)

    def task():
        ran.add(threading.current_thread().name)
        gate.wait(10)

    for task_run in [pool.submit(task) for _ in range(4)]:
        task_run.future.result(timeout=10)
    assert ran == set(readied)  # the tasks ran on the threads made ahead; none was made for them


def test_starting_a_pool_never_raises_and_gives_up_waiting_for_a_thread_that_hangs():
    import time

    pool = WorkerPool(workers=2, name="test-hang")
    release = threading.Event()
    try:
        began = time.monotonic()
        assert pool.start(lambda: release.wait(10), timeout=0.2) == 0  # both hang: neither counted, no error
        assert time.monotonic() - began < 5
    finally:
        release.set()
    assert WorkerPool(workers=2, name="test-fail").start(lambda: 1 / 0) == 0  # what fails is counted out, not raised
