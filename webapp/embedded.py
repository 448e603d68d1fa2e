"""The embedded default: the simulator inside the portal's process, reached through the WSGI transport.

The simulator keeps its runtime state under the instance folder, so a restarted portal finds the keys it
created. Webhooks that the simulator delivers to the portal's own receiver (a loopback URL whose path is
under `/hooks/`) are handed straight to the portal's WSGI app, so the whole loop works with no socket;
any other URL is posted for real.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from werkzeug.test import Client

RECEIVER_PREFIX = "/hooks/"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def make_deliverer(portal_app):
    portal_client = Client(portal_app)

    def deliver(url: str, headers: dict[str, str], body: bytes, timeout: float) -> tuple[int, str]:
        parts = urlsplit(url)
        if parts.hostname in LOOPBACK_HOSTS and parts.path.startswith(RECEIVER_PREFIX):
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = portal_client.post(path, data=body, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
            return response.status_code, response.get_data(as_text=True)[:1000]
        from simulator.delivery import post_with_requests

        return post_with_requests(url, headers, body, timeout)  # refuses .example/.invalid/.test without a lookup

    return deliver


def make_simulator(settings, portal_app, extra: dict | None = None):
    """The simulator's WSGI app, configured for this portal instance (`extra` overrides, for tests)."""
    import simulator

    config = {
        "SEED": settings.simulator_seed,
        "STATE_PATH": str(settings.instance_path / "simulator-state.jsonl"),
        "STATE_KEY": settings.simulator_state_key,
        "LATENCY_MS": settings.simulator_latency_ms,
        "DELIVER": make_deliverer(portal_app),
        "VARIANT": settings.simulator_variant,
    }
    config.update(extra or {})
    return simulator.create_app(config)


def simulator_time(simulator_app):
    """The portal's signing clock on the embedded default: real time plus however far the simulator's clock
    was moved (by the simulator page or a test). The portal lives in the simulator's world, so after a move
    its signed calls still fall inside SIR Giving's five-minute window instead of all failing."""
    simulator = simulator_app.extensions["sir_simulator"]
    return lambda: time.time() + simulator.clock_offset
