"""For tests about where webhooks may go: a resolver that says what names resolve to (so no test looks a name up),
and a listener on 127.0.0.1 that tells whether anything connected to it."""

from __future__ import annotations

import socket
from contextlib import contextmanager


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
