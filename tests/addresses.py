"""For tests about where webhooks may go: a resolver that says what names resolve to (so no test looks a name up),
a listener on 127.0.0.1 that tells whether anything connected to it, and a plain HTTP receiver there that keeps
what it was sent."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


def resolver(names: dict[str, list[str]]):
    """A resolver that knows `names`; a literal address resolves to itself; anything else does not resolve."""

    def resolve(host: str, port: int) -> list[str]:
        if host in names:
            return names[host]
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            return [host]
        except OSError:
            raise socket.gaierror(f"unknown name {host}") from None

    return resolve


@contextmanager
def listener():
    """A TCP listener on 127.0.0.1: `accepted()` says whether anything connected (without waiting: a connection
    made is in the backlog before the sender returns)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)

    def accepted() -> bool:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return False
        connection.close()
        return True

    try:
        yield server.getsockname()[1], accepted
    finally:
        server.close()


@contextmanager
def http_receiver():
    """A plain http.server on 127.0.0.1 answering 204: yields (port, received), each POST kept as (path, headers,
    raw body)."""
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, received
    finally:
        server.shutdown()
        server.server_close()
