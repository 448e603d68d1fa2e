"""The portal's one clock: SIR Giving's idea of now, as the SIR client signs with it.

On the embedded default that is the simulator's clock (real time plus however far it was moved); against a
real upstream, real time. Either way corrected by the offset the client measured from SIR Giving's `Date`
header, when it is more than a couple of seconds (webapp/sir/client.py). Everything the portal states or compares ("expires in 3 days", a banner, a grace
period's end, a webhook's timestamp window, the sign-in's end) reads it here, so no page disagrees with
another or with SIR Giving. Durations (how long a call took) and wall-clock facts (a file's name) keep
`time.monotonic()` / `time.time()` with a comment saying so.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import current_app, has_app_context


def timestamp() -> float:
    """Seconds since the epoch on SIR Giving's clock; real time outside an app (a script, a migration)."""
    if has_app_context():
        client = current_app.extensions.get("sir_client")
        if client is not None:
            return client.sir_time()
    return time.time()


def now() -> datetime:
    """The same moment as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp(), tz=timezone.utc)
