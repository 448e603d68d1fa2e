"""Benchmark: the audit log view with 200,000 entries for the signed-in partner (SQLite, the embedded default).

    python bench/audit.py [--rows 200000] [--runs 9] [--before /work/main]

Times the whole page (GET through the app, rendering included) for: the newest page of an empty log (what the
page costs whatever the log holds: session, banners, layout), the newest page, a page deep in the log
(entry 100,000: `?page=2001` on a checkout that pages by OFFSET, the `before=` cursor of that entry on one that
pages by keyset), and a view filtered by one action. Medians of `--runs` views after one warm-up view (which
reads the filter's list of actions; the first view's time is printed too). With `--before DIR` the same runs
first on the checkout in DIR (e.g. main), in a separate process, so both are in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parents[1])
ACTIONS = ["sign_in", "sign_out", "key_created", "key_renamed", "key_revoked", "webhook_registered",
           "webhook_deleted", "top_up_requested", "delivery_retried", "credential_created"]


def measure(rows: int, runs: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import insert

    from tests.conftest import AuthActions, make_app
    from webapp.store.db import db
    from webapp.store.models import AuditEntry

    app = make_app(Path(tempfile.mkdtemp()))
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    with client.session_transaction() as session:
        partner_id = session["partner"]["id"]
    results = {"newest page, empty log (the page's own cost)": timed(client, "/audit/", runs, "Nothing recorded")}
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with app.app_context():
        for first in range(0, rows, 10_000):
            db.session.execute(insert(AuditEntry), [
                {"at": start + timedelta(seconds=30 * n), "actor": f"admin{n % 7}@acme.example",
                 "partner_id": partner_id, "environment": ("sandbox", "production")[n % 2],
                 "action": ACTIONS[n % len(ACTIONS)], "target": f"key_{n}", "outcome": "success" if n % 9 else "failure"}
                for n in range(first, min(rows, first + 10_000))])
        db.session.commit()
        # The entry half-way down, newest first (ids follow time here), and its cursor if this checkout has them.
        middle = db.session.get(AuditEntry, rows - rows // 2)
        try:
            from webapp.store.audit import Cursor

            deep = f"/audit/?before={Cursor.of(middle)}"
        except ImportError:
            deep = f"/audit/?page={rows // 2 // 50 + 1}"
    urls = {"newest page": "/audit/", "page at entry 100,000": deep, "one action": "/audit/?action=key_revoked"}
    for name, url in urls.items():
        results[name] = timed(client, url, runs, "key_")
    return results


def timed(client, url: str, runs: int, expected: str) -> dict:
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and expected in response.get_data(as_text=True), url
    return {"first": times[0], "median": statistics.median(times[1:]), "max": max(times[1:])}


def run_in(checkout: Path, rows: int, runs: int) -> dict:
    env = {**os.environ, "BENCH_ROOT": str(checkout), "PYTHONPATH": str(checkout)}
    output = subprocess.run([sys.executable, __file__, "--child", "--rows", str(rows), "--runs", str(runs)],
                            cwd=checkout, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--before", type=Path, help="a checkout to measure first (e.g. /work/main)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.disable(logging.INFO)
        print(json.dumps(measure(args.rows, args.runs)))
        return
    measured = {}
    if args.before:
        measured["before"] = run_in(args.before.resolve(), args.rows, args.runs)
    measured["after"] = run_in(ROOT, args.rows, args.runs)
    print(f"audit log view, {args.rows:,} entries, SQLite: median (max) of {args.runs} views; first view")
    print(f"{'view':<48}" + "".join(f"{label:>34}" for label in measured))
    for name in measured["after"]:
        cells = [f"{r[name]['median']:6.1f} ms ({r[name]['max']:6.1f}); {r[name]['first']:6.1f} ms" for r in measured.values()]
        print(f"{name:<48}" + "".join(f"{cell:>34}" for cell in cells))


if __name__ == "__main__":
    main()
