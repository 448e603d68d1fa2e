"""A `requests` transport adapter that serves requests from a WSGI app in the same process.

The embedded default mounts the simulator this way: every request is still prepared, signed, sent as
bytes, verified by the simulator and parsed from bytes, but no socket is opened. It behaves like a
network on the points the portal depends on: a read timeout raises `requests.ReadTimeout`, and an app
that drops the connection (raises before answering) gives `requests.ConnectionError`.
"""

from __future__ import annotations

import io
import threading
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse
from urllib3._collections import HTTPHeaderDict
from werkzeug.test import EnvironBuilder, run_wsgi_app


class WSGITransport(HTTPAdapter):
    """Mount on a base URL: `session.mount("https://sandbox.simulator.invalid", WSGITransport(app))`."""

    def __init__(self, app, remote_addr: str = "127.0.0.1"):
        super().__init__()
        self.app = app
        self.remote_addr = remote_addr

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
        outcome: dict = {}

        def call_app():
            try:
                outcome["reply"] = self._call(request)
            except BaseException as exc:  # the app "dropped the connection"
                outcome["error"] = exc

        worker = threading.Thread(target=call_app, name="wsgi-transport", daemon=True)
        worker.start()
        worker.join(read_timeout)
        if worker.is_alive():
            raise requests.ReadTimeout(f"Read timed out (in-process, {read_timeout} s)", request=request)
        if "error" in outcome:
            raise requests.ConnectionError(f"Connection aborted: {outcome['error']!r}", request=request)
        status, reason, headers, body = outcome["reply"]
        raw = HTTPResponse(
            body=io.BytesIO(body), headers=HTTPHeaderDict(headers), status=status, reason=reason,
            preload_content=False, decode_content=False, request_url=request.url,
        )
        return self.build_response(request, raw)

    def _call(self, request):
        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        builder = EnvironBuilder(
            path=unquote(url.path) or "/", query_string=url.query, method=request.method,
            base_url=f"{url.scheme}://{url.netloc}", headers=dict(request.headers), data=body,
            environ_base={"REMOTE_ADDR": self.remote_addr},
        )
        environ = builder.get_environ()
        # Servers (werkzeug, gunicorn) pass the path exactly as it was sent; a verifier needs it.
        raw_path = url.path + (f"?{url.query}" if url.query else "")
        environ["REQUEST_URI"] = environ["RAW_URI"] = raw_path
        app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            payload = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        code, _, reason = status.partition(" ")
        return int(code), reason, list(headers.items()), payload
