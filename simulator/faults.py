"""Fault injection and traffic shaping, in front of the SIR routes: latency and jitter, a random error
rate, a per-key rate limit, and faults targeted by method and path glob (a status, a delay, a reply that
is not JSON, or a dropped connection), each optionally limited to `count` requests.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from fnmatch import fnmatch

from .state import new_id


@dataclass
class Fault:
    method: str = "*"
    path: str = "*"
    status: int | None = None
    delay_ms: int = 0
    malformed: bool = False
    drop: bool = False
    count: int | None = None  # None: until cleared
    id: str = field(default_factory=lambda: new_id("flt"))

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch(path, self.path)

    def to_wire(self) -> dict:
        return {"id": self.id, "method": self.method, "path": self.path, "status": self.status,
                "delayMs": self.delay_ms, "malformed": self.malformed, "drop": self.drop, "count": self.count}


class Traffic:
    def __init__(self, latency_ms=0, jitter_ms=0, error_rate=0.0, rate_limit=None):
        self.latency_ms, self.jitter_ms, self.error_rate, self.rate_limit = latency_ms, jitter_ms, error_rate, rate_limit
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.random = random.Random()
        self.windows: dict = defaultdict(deque)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.count is not None:
                        fault.count -= 1
                        if fault.count <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def rate_limited(self, key: str, now: float) -> float | None:
        """Seconds to wait when `key` has used its requests for this minute, else None."""
        if not self.rate_limit:
            return None
        with self.lock:
            window = self.windows[key]
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.rate_limit:
                return max(1.0, 60 - (now - window[0]))
            window.append(now)
        return None


def _json(start_response, status: int, code: str, message: str, extra_headers=(), opaque: bool = False):
    reason = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
    if opaque:  # the variant whose errors carry no code (simulator/variant.py)
        body, kind = f"{status} {reason}".encode(), "text/plain"
    else:
        body, kind = json.dumps({"statusCode": status, "code": code, "message": message}).encode(), "application/json"
    start_response(f"{status} {reason}", [("Content-Type", kind), ("Content-Length", str(len(body))), *extra_headers])
    return [body]


class TrafficMiddleware:
    def __init__(self, wsgi_app, sim, traffic: Traffic):
        self.wsgi_app, self.sim, self.traffic = wsgi_app, sim, traffic

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_REQUEST_ID"):
            self.sim.request_ids.append(environ["HTTP_X_REQUEST_ID"][:200])
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/v1/partner"):
            return self.wsgi_app(environ, start_response)
        traffic, method = self.traffic, environ.get("REQUEST_METHOD", "GET")
        variant = getattr(self.sim, "variant", None)
        opaque = variant is not None and variant.errors == "opaque"
        started = time.perf_counter()
        delay = traffic.latency_ms + (traffic.random.uniform(0, traffic.jitter_ms) if traffic.jitter_ms else 0)
        if delay:
            time.sleep(delay / 1000)
        key = self.sim.keys_by_token.get(environ.get("HTTP_X_PARTNER_KEY", ""))
        fault = traffic.take_fault(method, path)
        if fault is not None:
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000)
            if fault.drop:
                sock = environ.get("werkzeug.socket")
                if sock is not None:
                    try:
                        sock.shutdown(2)
                    except OSError:
                        pass
                raise ConnectionAbortedError("simulator fault: connection dropped")
            if fault.malformed:
                self._record(key, method, path, 200, started)
                body = b"<html><body>502 Bad Gateway (upstream proxy)</body></html>"
                start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
                return [body]
            if fault.status:
                self._record(key, method, path, fault.status, started)
                headers = [("Retry-After", "1")] if fault.status == 429 else []
                code = {429: "RATE_LIMITED"}.get(fault.status, "INTERNAL_ERROR" if fault.status >= 500 else "FAULT")
                return _json(start_response, fault.status, code, f"Injected fault: HTTP {fault.status}.", headers,
                             opaque)
        if traffic.error_rate and traffic.random.random() < traffic.error_rate:
            self._record(key, method, path, 500, started)
            return _json(start_response, 500, "INTERNAL_ERROR", "The simulator failed this request at random (--error-rate).",
                         opaque=opaque)
        limit_key = environ.get("HTTP_X_PARTNER_KEY") or environ.get("HTTP_AUTHORIZATION") or environ.get("REMOTE_ADDR", "")
        wait = traffic.rate_limited(limit_key, self.sim.now())
        if wait is not None:
            self._record(key, method, path, 429, started)
            return _json(start_response, 429, "RATE_LIMITED", "Too many requests for this key; slow down.",
                         [("Retry-After", str(int(wait + 0.999)))], opaque)
        return self.wsgi_app(environ, start_response)

    def _record(self, key, method, path, status, started):
        self.sim.record_request(key.partner_id if key else None, key.environment if key else None,
                                key.id if key else None, method, path, status, (time.perf_counter() - started) * 1000)
