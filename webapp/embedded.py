"""The embedded default: the simulator inside the portal's process, reached through the WSGI transport.

The simulator keeps its runtime state under the instance folder, so a restarted portal finds the keys it
created. Webhooks that the simulator delivers to the portal's own receiver (a URL on one of the portal's own
hosts: loopback, TRUSTED_HOSTS, PORTAL_PUBLIC_URL's, whose path is under `/hooks/`) are handed straight to the
portal's WSGI app, so the whole loop works with no socket. Any other URL is posted for real, but only to a
public address, checked as the delivery is sent: the simulator runs inside the portal's process, and posting
to 127.0.0.1:6379 or 169.254.169.254 from here would reach what only the portal's host should.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from werkzeug.test import Client

RECEIVER_PREFIX = "/hooks/"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def own_hosts(settings) -> set[str]:
    """The host names that are this portal: a receiver URL on one of them is delivered in process."""
    hosts = set(LOOPBACK_HOSTS)
    hosts.update(h for h in settings.trusted_hosts or () if not h.startswith("."))
    if settings.public_url:
        hosts.add(urlsplit(settings.public_url).hostname)
    return {h.lower() for h in hosts}


def make_deliverer(portal_app, hosts: set[str], send):
    """DELIVER for the simulator: the portal's own receiver in process, anything else through `send` (the
    simulator's delivery policy)."""
    portal_client = Client(portal_app)

    def deliver(url: str, headers: dict[str, str], body: bytes, timeout: float) -> tuple[int, str]:
        parts = urlsplit(url)
        if (parts.hostname or "").lower() in hosts and parts.path.startswith(RECEIVER_PREFIX):
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            response = portal_client.post(path, data=body, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
            return response.status_code, response.get_data(as_text=True)[:1000]
        return send(url, headers, body, timeout)

    return deliver


def make_simulator(settings, portal_app, extra: dict | None = None):
    """The simulator's WSGI app, configured for this portal instance (`extra` overrides, for tests: `RESOLVE`
    says what names resolve to, `DELIVER_TO` the policy)."""
    import simulator
    from simulator.delivery import sender_for

    config = {
        "SEED": settings.simulator_seed,
        "STATE_PATH": str(settings.instance_path / "simulator-state.jsonl"),
        "STATE_KEY": settings.simulator_state_key,
        "LATENCY_MS": settings.simulator_latency_ms,
        "DELIVER_TO": "public",
        "RESOLVE": None,
        "VARIANT": settings.simulator_variant,
    }
    config.update(extra or {})
    if config.get("DELIVER") is None:
        send = sender_for(config["DELIVER_TO"], config["RESOLVE"])
        config["DELIVER"] = make_deliverer(portal_app, own_hosts(settings), send)
    return simulator.create_app(config)


def simulator_time(simulator_app):
    """The portal's signing clock on the embedded default: real time plus however far the simulator's clock
    was moved (by the simulator page or a test). The portal lives in the simulator's world, so after a move
    its signed calls still fall inside SIR Giving's five-minute window instead of all failing."""
    simulator = simulator_app.extensions["sir_simulator"]
    return lambda: time.time() + simulator.clock_offset
