"""Benchmark: the portal's webhook receiver, in process, on the embedded default (SQLite).

    python bench/receiver.py [--deliveries 1000]

Registers a webhook delivered to the portal's own receiver, then posts N deliveries signed per section 5
of the reference (one in ten a redelivery of the previous event) through the real receiver route: verify,
store once, commit, answer. Prints the median, p95 and slowest time per delivery, and what was stored.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import AuthActions, make_app  # noqa: E402
from tests.webhooks.helpers import envelope, post_event, receiver_of, register_portal_receiver, stored_events  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    args = parser.parse_args()

    app = make_app(Path(tempfile.mkdtemp(prefix="bench-receiver-")), {"RECEIVER_RATE_LIMIT": "1000000 per minute"})
    admin = app.test_client()
    AuthActions(admin).sign_in("acme")
    register_portal_receiver(admin)
    row, secret = receiver_of(app)
    sender = app.test_client()
    times = []
    for n in range(args.deliveries):
        event = envelope(f"evt_bench_{n - 1 if n % 10 == 9 else n}", n=n)  # every tenth: a redelivery
        started = time.perf_counter()
        answer = post_event(sender, row.token, secret, event)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"delivery {n} was refused: {answer.status_code} {answer.get_data(as_text=True)}")
    times.sort()
    stored = sum(1 for e in stored_events(app) if e.event_id.startswith("evt_bench_"))
    print(f"{args.deliveries} signed deliveries, in process, SQLite, one commit per stored event")
    print(f"per delivery: median {statistics.median(times):.2f} ms, p95 {times[int(len(times) * 0.95) - 1]:.2f} ms, "
          f"slowest {times[-1]:.2f} ms")
    print(f"stored {stored} events (redeliveries acknowledged, not stored twice)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
