"""Benchmark: a reward batch file of 10,000 rows checked and stored, and 1,000 rows sent, through the portal.

    python bench/batches.py [--rows 10000] [--send 1000]

Prints the upload's time and the peak of Python memory it allocated (tracemalloc: the file is read as a stream,
so the peak stays far below the rows' size as objects), then the time to send a batch through the bulk endpoint of
the embedded simulator, chunk by chunk, as the batch page's steps do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.batches.test_batches import (advocacy_rows, batch_id_of, campaign_pool, confirm, step_until_done,  # noqa: E402
                                        top_up, upload)
from tests.conftest import AuthActions, make_app, partner_api_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--send", type=int, default=1_000)
    args = parser.parse_args()
    app = make_app(Path(tempfile.mkdtemp()))
    client = app.test_client()
    AuthActions(client).sign_in("acme")
    content = advocacy_rows(args.rows)
    started = time.perf_counter()
    batch_id_of(upload(client, content))
    elapsed = time.perf_counter() - started
    tracemalloc.start()  # measured apart: tracing slows Python down several times
    batch_id_of(upload(client, content))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"upload of {args.rows:,} rows ({len(content) / 1024:,.0f} KiB): {elapsed:.2f} s, "
          f"peak Python allocation {peak / 1024 / 1024:.1f} MiB")

    simulator = app.extensions["simulator_app"].extensions["sir_simulator"]
    api = partner_api_for(app, client)
    top_up(api, simulator, campaign_pool(api), 100_000)
    batch_id = batch_id_of(upload(client, advocacy_rows(args.send, "sent")))
    assert confirm(client, batch_id).status_code == 302
    started = time.perf_counter()
    step_until_done(client, batch_id)
    print(f"sending {args.send:,} rows in chunks of 100: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
