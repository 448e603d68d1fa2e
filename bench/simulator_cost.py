"""Benchmark: the simulator's own cost per signed request, in process (no network, no latency injected).

    .venv/bin/python bench/simulator_cost.py [--requests 2000] [--state /tmp/sim-journal.jsonl]

With --state, every request also appends its line to the journal (what `--state PATH` costs).

Signs each request the way section 3 says and calls the simulator's WSGI app directly (Flask's test
client), so the figure is the simulator's work: routing, HMAC verification, the domain read or write, JSON.
Reads are lists and dashboards; writes are an action that completes (debits a pool, credits a user, writes
transactions, raises events and queues their webhook deliveries) and a new user.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simulator  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--state", default=None, help="journal file (removed first)")
    args = parser.parse_args()
    if args.state and Path(args.state).exists():
        Path(args.state).unlink()
    app = simulator.create_app({"DELIVERY_MODE": "manual", "STATE_PATH": args.state})
    client = app.test_client()
    token = client.post("/v1/partner/auth/login", json={"email": "admin@acme.example", "password": "sandbox-demo"}).json["token"]
    key = client.post("/v1/partner/keys", json={"name": "bench", "environment": "sandbox", "keyType": "secret"},
                      headers={"Authorization": f"Bearer {token}"}).json

    sim = app.extensions["sir_simulator"]
    for pool in sim.pools.values():  # enough tokens that every benchmarked action completes, not fails cheaply
        pool.allocated += 100_000_000
    serial = iter(range(10 ** 9))

    def signed(method: str, path: str, body=None) -> float:
        raw = b"" if body is None else json.dumps(body(next(serial))).encode()
        timestamp = str(int(time.time()))
        payload = f"{timestamp}{method}{path}{hashlib.sha256(raw).hexdigest()}"
        signature = hmac.new(key["hmacSecret"].encode(), payload.encode(), hashlib.sha256).hexdigest()
        headers = {"X-Partner-Key": key["secretKey"], "X-Timestamp": timestamp, "X-Signature": signature}
        if raw:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        response = client.open(path, method=method, data=raw, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code in (200, 201), response.json
        assert method == "GET" or response.json.get("status", "COMPLETED") == "COMPLETED", response.json
        return elapsed

    print(f"simulator cost per signed request, in process, {args.requests} requests each (ms)"
          + (" — journal on" if args.state else ""))
    everything = []
    reads = [("GET", path, None) for path in (
        "/v1/partner/users?limit=20", "/v1/partner/actions?limit=20", "/v1/partner/token-pools",
        "/v1/partner/dashboard/summary", "/v1/partner/dashboard/trends?days=30",
        "/v1/partner/dashboard/top-earners?limit=10", "/v1/partner/dashboard/recent-activity?limit=10",
        "/v1/partner/dashboard/api-usage?days=7", "/v1/partner/dashboard/webhooks/health",
        "/v1/partner/dashboard/integration-health")]
    writes = [("POST", "/v1/partner/actions/submit", lambda n: {
                  "idempotencyKey": f"bench_{n}", "actionType": "ADVOCACY",
                  "stakeholders": [{"partnerUserId": f"user_{n % 300 + 1:04d}"}]}),
              ("POST", "/v1/partner/users", lambda n: {"externalUserId": f"bench_user_{n}", "email": f"b{n}@acme.example"})]
    for method, path, body in reads + writes:
        for _ in range(50):
            signed(method, path, body)
        samples = sorted(signed(method, path, body) for _ in range(args.requests))
        everything += samples
        label = f"{method} {path}"
        print(f"  {label:53s} median {statistics.median(samples):6.3f}   p95 {samples[int(len(samples) * 0.95)]:6.3f}")
    everything.sort()
    print(f"  {'all of the above':53s} median {statistics.median(everything):6.3f}   "
          f"p95 {everything[int(len(everything) * 0.95)]:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
