"""Real local servers for the alert tests: an SMTP server (aiosmtpd) that keeps each message it accepts, and an
HTTP listener standing in for a chat tool's incoming webhook. Nothing of the sending code is replaced."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """What the SMTP server accepted: (envelope sender, recipients, parsed message) each."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"

    @property
    def subjects(self) -> list[str]:
        return [m["Subject"] for _, _, m in self.messages]


@contextmanager
def smtp_server():
    """An SMTP server on 127.0.0.1 (no TLS, no login): yields (port, mailbox)."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


class ChatListener:
    def __init__(self, status: int):
        self.status = status
        self.posts: list[dict] = []
        self._lock = threading.Lock()

    @property
    def texts(self) -> list[str]:
        return [p["body"]["text"] for p in self.posts]


@contextmanager
def chat_listener(status: int = 200):
    """A chat tool's incoming webhook on 127.0.0.1, answering `status` (Slack answers 200 "ok"): yields (url,
    listener); each POST is kept with its path, headers and JSON body."""
    listener = ChatListener(status)

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with listener._lock:
                listener.posts.append({"path": self.path, "headers": dict(self.headers.items()),
                                       "body": json.loads(raw)})
            answer = b"ok" if 200 <= listener.status < 300 else b"no_service"
            self.send_response(listener.status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secretpath", listener
    finally:
        server.shutdown()
        server.server_close()
