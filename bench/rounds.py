"""Benchmark: rounds of upstream calls per page (keys, webhooks, deliveries, campaigns, pools) at 100 ms latency.

    python bench/rounds.py [--latency-ms 100] [--runs 7] [--before /work/main]

Each page is viewed cold: the HTTP cache emptied and the key banner's remembered list dropped, so every call the
page and its banners make goes to the embedded simulator, which answers each after `--latency-ms`. Two figures
per page, medians of `--runs` views after one warm-up view (which also lets a page learn the running campaign):

- rounds by time: (the page's time - the same page's time at 0 ms latency, measured in the same process) / the
  latency: the upstream waiting the page adds, in round trips (the page's own work, rendering and database,
  is taken out: on this busy 2-core machine it is 150-300 ms by itself);
- waves: the sequential waves of calls, counted from when each call reached the simulator and left it (a wave is
  the calls that started before the earliest of them ended), so it does not depend on the machine's speed.

With `--before DIR` the same measurement runs first on the checkout in DIR (e.g. main), in a separate process,
so both are in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parents[1])
PAGES = ("keys", "webhooks", "deliveries", "campaigns", "pools")


def waves(calls: list[tuple[float, float]]) -> int:
    count, left = 0, sorted(calls)
    while left:
        first_end = min(end for start, end in left if start <= left[0][1])
        left = [(start, end) for start, end in left if start >= first_end]
        count += 1
    return count


def measure(latency_ms: int, runs: int) -> dict:
    at_latency = measure_at(latency_ms, runs)
    at_zero = measure_at(0, runs)
    for name, result in at_latency.items():
        result["own_ms"] = at_zero[name]["ms"]
        result["by_time"] = (result["ms"] - at_zero[name]["ms"]) / latency_ms
    return at_latency


def measure_at(latency_ms: int, runs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import AuthActions, make_app, partner_api_for

    app = make_app(Path(tempfile.mkdtemp()), simulator_config={"LATENCY_MS": latency_ms})
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    hook_id = partner_api_for(app, client).webhooks().value[0].id
    urls = {"keys": "/keys/", "webhooks": "/webhooks/", "deliveries": f"/webhooks/{hook_id}",
            "campaigns": "/campaigns", "pools": "/token-pools/"}

    sim_app = app.extensions["simulator_app"]
    inner, stamps, lock = sim_app.wsgi_app, [], threading.Lock()

    def stamping(environ, start_response):
        started = time.perf_counter()
        try:
            return inner(environ, start_response)
        finally:
            if environ.get("PATH_INFO", "").startswith("/v1/partner"):
                with lock:
                    stamps.append((started, time.perf_counter()))

    sim_app.wsgi_app = stamping
    cache = app.extensions["sir_client"].cached.cache
    results = {}
    for name in PAGES:
        times, counted, calls = [], [], []
        for run in range(runs + 1):
            cache.clear()
            with client.session_transaction() as session:
                session.pop("key_flags", None)
            stamps.clear()
            started = time.perf_counter()
            response = client.get(urls[name])
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (name, response.status_code)
            if run:  # the first view warms up (templates, the running campaign's id)
                times.append(elapsed)
                counted.append(waves(list(stamps)))
                calls.append(len(stamps))
        results[name] = {"ms": statistics.median(times) * 1000, "waves": statistics.median(counted),
                         "calls": statistics.median(calls)}
    return results


def run_in(checkout: Path, latency_ms: int, runs: int) -> dict:
    env = {**os.environ, "BENCH_ROOT": str(checkout), "PYTHONPATH": str(checkout)}
    output = subprocess.run([sys.executable, __file__, "--child", "--latency-ms", str(latency_ms), "--runs", str(runs)],
                            cwd=checkout, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, help="a checkout to measure first (e.g. /work/main)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.disable(logging.INFO)
        print(json.dumps(measure(args.latency_ms, args.runs)))
        return
    measured = {}
    if args.before:
        measured["before"] = run_in(args.before.resolve(), args.latency_ms, args.runs)
    measured["after"] = run_in(ROOT, args.latency_ms, args.runs)
    print(f"rounds per page at {args.latency_ms} ms upstream latency, cold (medians of {args.runs} views)")
    print("page time at the latency (at 0 ms) → rounds by time = the difference / latency; waves; calls")
    print(f"{'page':<12}" + "".join(f"{label:>52}" for label in measured))
    for name in PAGES:
        cells = [f"{r[name]['ms']:4.0f} ms ({r[name]['own_ms']:3.0f}) → {r[name]['by_time']:4.2f}, "
                 f"{r[name]['waves']:3.1f} waves, {r[name]['calls']:2.0f} calls" for r in measured.values()]
        print(f"{name:<12}" + "".join(f"{cell:>52}" for cell in cells))


if __name__ == "__main__":
    main()
