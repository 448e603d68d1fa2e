"""A tiny same-origin site served by Playwright's router, for checks of static/app.js, the vendored htmx and
plotly.js under the portal's real Content-Security-Policy without starting the portal.

`serve(page, pages, handlers)` answers `ORIGIN/<path>` with the given HTML (wrapped in a head like base.html's)
and `ORIGIN/static/...` from the repo's static folder; `handlers` maps a path to a function
`(route, request) -> None` for htmx endpoints. The origin is loopback, so it is a secure context (clipboard).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from webapp.security import content_security_policy

ORIGIN = "http://127.0.0.1:9"  # never contacted: every request is answered by the router
STATIC = Path(__file__).resolve().parents[2] / "static"
NONCE = "test-nonce-4f1c9a"
HTMX = "vendor/htmx-4.0.1.min.js"
PLOTLY = "vendor/plotly-basic-4.1.1.min.js"


def head(title: str = "check", nonce_style: bool = True) -> str:
    style = f'<style id="plotly.js-style-global" nonce="{NONCE}"></style>' if nonce_style else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="csrf-token" content="csrf-123">
<meta name="htmx-config" content='{{"includeIndicatorCSS": false, "defaultTimeout": 20000}}'>
<link rel="stylesheet" href="/static/app.css">{style}
<script src="/static/{HTMX}" defer></script><script src="/static/app.js" defer></script>
<meta name="plotly-src" content="/static/{PLOTLY}"></head>"""


def html_response(route, body: str, status: int = 200, csp: bool = True) -> None:
    headers = {"Content-Security-Policy": content_security_policy(NONCE)} if csp else {}
    route.fulfill(status=status, body=body, content_type="text/html; charset=utf-8", headers=headers)


def serve(page, pages: dict[str, str], handlers: dict | None = None, nonce_style: bool = True) -> str:
    """Route ORIGIN: `pages` are full-page bodies (the <body>…</body> part), `handlers` answer other paths."""
    handlers = handlers or {}

    def answer(route, request):
        path = urlsplit(request.url).path
        if path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            if not file.is_file():
                route.fulfill(status=404, body="not found")
                return
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
        elif path in handlers:
            handlers[path](route, request)
        elif path in pages:
            html_response(route, head(path, nonce_style) + pages[path] + "</html>")
        else:
            route.fulfill(status=404, body="not found")

    page.route(ORIGIN + "/**", answer)
    return ORIGIN
