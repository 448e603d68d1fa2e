"""Webhook delivery per section 5: POST the envelope with `X-SIR-Timestamp` and
`X-SIR-Signature: sha256=HMAC_SHA256_hex(secret, timestamp + "." + rawBody)`, retry with backoff.

Delivery never blocks the request that raised the event: a background worker sends what is due (or, with
DELIVERY_MODE="manual", the caller of `deliver_due()` does, for deterministic tests). How a request is sent
is pluggable (`DELIVER`), so a portal running the simulator in process can receive without a socket.

Where a delivery may go is a policy (`DELIVER_TO`). "public": the host is resolved at delivery time (not only
when the endpoint was registered: a name may later resolve elsewhere), every address it has must be a public
one, and the request connects to the very address that was checked, so a second lookup cannot swap in another.
A refused delivery sends nothing and is recorded as failed with the reason. "anywhere": post wherever the URL
points, for a developer's simulator whose whole point is delivering to localhost.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

USER_AGENT = "SIRGiving-Webhooks/1.0"
TIMEOUT_SECONDS = 10
# RFC 2606/6761 names never resolve; the seeded demo endpoints live there, so fail them without a lookup.
RESERVED_SUFFIXES = (".example", ".invalid", ".test")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


DELIVER_TO = ("public", "anywhere")


class DeliveryRefused(Exception):
    """The delivery policy refused the address: nothing was sent. The message is the recorded reason."""


def _unresolvable(host: str) -> None:
    if host.endswith(RESERVED_SUFFIXES):
        raise ConnectionError(f"could not resolve host {host}")


def post_with_requests(url: str, headers: dict, body: bytes, timeout: float) -> tuple[int, str]:
    _unresolvable(urlsplit(url).hostname or "")
    response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    return response.status_code, response.text[:1000]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` has, as the system resolver gives them (a literal address is its own)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scoped IPv6 address (fe80::1%eth0) is link-local
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its spelling
    return ip.is_global and not ip.is_multicast


class PublicAddressesOnly:
    """Deliver only to public addresses. `resolve(host, port) -> [address, ...]` and `post(url, address, headers,
    body, timeout)` are injectable, so a test can say what a name resolves to and see where a delivery would
    connect without any lookup or request."""

    def __init__(self, resolve: Callable[[str, int], list[str]] | None = None, post: Callable | None = None):
        self.resolve = resolve or resolve_host
        self.post = post or post_pinned

    def address_for(self, url: str) -> str:
        """The address to connect to for `url`, once every address of its host is checked; raises
        DeliveryRefused for a host with a non-public one (ConnectionError when it does not resolve)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        _unresolvable(host)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self.resolve(host, port)
        except OSError as exc:
            raise ConnectionError(f"could not resolve host {host}") from exc
        if not addresses:
            raise ConnectionError(f"could not resolve host {host}")
        for address in addresses:
            if not is_public(address):
                said = address if address == host else f"{address} ({host})"
                raise DeliveryRefused(f"refused: {said} is not a public address")
        return addresses[0]

    def __call__(self, url: str, headers: dict, body: bytes, timeout: float) -> tuple[int, str]:
        return self.post(url, self.address_for(url), headers, body, timeout)


class _PinnedAdapter(HTTPAdapter):
    """Connects to one given address whatever the URL's host resolves to now (through requests' hook for a
    connection pool's key); TLS still sends and verifies the URL's host name."""

    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["assert_hostname"] = host_params["host"]
            pool_kwargs["server_hostname"] = host_params["host"]
        host_params["host"] = f"[{self.address}]" if ":" in self.address else self.address
        return host_params, pool_kwargs


def post_pinned(url: str, address: str, headers: dict, body: bytes, timeout: float) -> tuple[int, str]:
    """POST `url` over a connection to `address` (checked already), with the URL's host in the Host header, the
    TLS server name and the certificate check, as if the name had resolved to it."""
    parts = urlsplit(url)
    with requests.Session() as session:
        session.trust_env = False  # an environment proxy would connect by name again, past the check
        adapter = _PinnedAdapter(address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        host = parts.netloc.rpartition("@")[2]  # the name (and port) as the URL has them, not the address
        response = session.post(url, data=body, headers={**headers, "Host": host}, timeout=timeout,
                                allow_redirects=False)
        return response.status_code, response.text[:1000]


def sender_for(deliver_to: str, resolve: Callable[[str, int], list[str]] | None = None):
    """The DELIVER function of a delivery policy: "public" (public addresses only) or "anywhere"."""
    if deliver_to == "public":
        return PublicAddressesOnly(resolve)
    if deliver_to == "anywhere":
        return post_with_requests
    raise ValueError(f"DELIVER_TO: expected one of {', '.join(DELIVER_TO)}, got {deliver_to!r}")


class Deliverer:
    def __init__(self, sim, deliver=None, mode: str = "thread"):
        self.sim = sim
        self.deliver = deliver or PublicAddressesOnly()
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
        started = time.monotonic()
        try:
            status, body = self.deliver(hook.url, headers, delivery.payload, TIMEOUT_SECONDS)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except DeliveryRefused as refused:  # nothing was sent: the policy's reason is the whole story
            status, body, error = None, None, str(refused)[:300]
        except Exception as exc:  # any transport failure is a failed attempt, retried later
            status, body, error = None, None, f"{type(exc).__name__}: {exc}"[:300]
        self.sim.record_attempt(delivery.id, status, body, error,
                                duration_ms=(time.monotonic() - started) * 1000, headers=headers)
