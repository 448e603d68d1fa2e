"""Webhook delivery per section 5: POST the envelope with `X-SIR-Timestamp` and
`X-SIR-Signature: sha256=HMAC_SHA256_hex(secret, timestamp + "." + rawBody)`, retry with backoff.

Delivery never blocks the request that raised the event: a background worker sends what is due (or, with
DELIVERY_MODE="manual", the caller of `deliver_due()` does, for deterministic tests). How a request is sent
is pluggable (`DELIVER`), so a portal running the simulator in process can receive without a socket.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from urllib.parse import urlsplit

USER_AGENT = "SIRGiving-Webhooks/1.0"
TIMEOUT_SECONDS = 10
# RFC 2606/6761 names never resolve; the seeded demo endpoints live there, so fail them without a lookup.
RESERVED_SUFFIXES = (".example", ".invalid", ".test")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def post_with_requests(url: str, headers: dict, body: bytes, timeout: float) -> tuple[int, str]:
    import requests

    host = urlsplit(url).hostname or ""
    if host.endswith(RESERVED_SUFFIXES):
        raise ConnectionError(f"could not resolve host {host}")
    response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    return response.status_code, response.text[:1000]


class Deliverer:
    def __init__(self, sim, deliver=None, mode: str = "thread"):
        self.sim = sim
        self.deliver = deliver or post_with_requests
        self.mode = mode
        self._stop = threading.Event()
        self._thread = None
        if mode == "thread":
            self._thread = threading.Thread(target=self._run, name="sir-webhook-delivery", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sim.delivery_wakeup.wait(timeout=1.0)
            self.sim.delivery_wakeup.clear()
            try:
                self.sim.check_expiring_keys()
                self.deliver_due()
            except Exception:  # the worker must outlive any one bad delivery
                import logging

                logging.getLogger(__name__).exception("webhook delivery round failed")

    def stop(self) -> None:
        self._stop.set()
        self.sim.delivery_wakeup.set()

    def claim_due(self) -> list:
        with self.sim.lock:
            due = self.sim.due_deliveries()
            for delivery in due:
                delivery.next_retry_at = None  # claimed: nobody else sends it meanwhile
            return due

    def deliver_due(self) -> int:
        """Send every delivery that is due now; returns how many were attempted."""
        due = self.claim_due()
        for delivery in due:
            self.attempt(delivery)
        return len(due)

    def attempt(self, delivery) -> None:
        hook = self.sim.webhooks.get(delivery.webhook_id)
        if hook is None:
            return
        timestamp = str(int(self.sim.now()))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-SIR-Signature": sign(hook.secret, timestamp, delivery.payload), "X-SIR-Timestamp": timestamp}
        try:
            status, body = self.deliver(hook.url, headers, delivery.payload, TIMEOUT_SECONDS)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except Exception as exc:  # any transport failure is a failed attempt, retried later
            status, body, error = None, None, f"{type(exc).__name__}: {exc}"[:300]
        self.sim.record_attempt(delivery.id, status, body, error)
