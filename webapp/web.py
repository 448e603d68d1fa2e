"""Helpers every view uses: the htmx render helper, once-only secret pages, the partner-scoped 404, local redirects."""

from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import urlsplit

from flask import abort, current_app, g, make_response, redirect, render_template, request, session


def is_htmx_partial_request() -> bool:
    """An htmx request that wants a fragment: not a boosted navigation, not a history restore."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def render_htmx_template(page_template: str, partial_template: str, status: int = 200, **context):
    """Same URL, same view: the partial for htmx, the full page otherwise; `Vary: HX-Request`.

    A fragment that carries an error (a form with its messages, an upstream error) is sent to htmx with
    status 200: the fragment says what went wrong, and the browser does not log a failed request. A full
    page keeps its real status (422, 502…)."""
    partial = is_htmx_partial_request()
    template = partial_template if partial else page_template
    if partial and status >= 400:
        status = 200
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def no_store(response):
    """For a page that shows a secret: never cached anywhere, not even in the back/forward cache."""
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


def shown_once(view):
    """For a page that shows a secret once: never cached, never compressed (BREACH: webapp/compression.py), and a
    HEAD (a link checker, a proxy) gets an empty no-store answer without running the view, so it cannot use up the
    one showing."""
    from .compression import never_compress

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.method == "HEAD":
            return no_store(make_response("", 200))
        return never_compress(no_store(make_response(view(*args, **kwargs))))

    return wrapped


def safe_next(target: str | None, default: str) -> str:
    """Only a local path is accepted as a redirect target (`/keys`, not `//evil.example` or `https://…`), and
    never one with a control character: a CR or LF cannot go into the Location header (and browsers drop a tab)."""
    if not target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def return_path() -> str | None:
    """Where to come back to after signing in again. A GET comes back to itself; a POST cannot be replayed
    (and its URL may answer POST only), so it comes back to the page its form was on, when that page is ours."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    came_from = request.headers.get("HX-Current-URL") or request.referrer
    if not came_from:
        return None
    parts = urlsplit(came_from)
    if parts.netloc and parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), None)


def take_revealed(token: str, kind: str):
    """The secrets kept for the once-only page `token` names: (row, payload) the first time, (row, None)
    after it was shown; 404 for a token that is not this partner's, or of another `kind` ("key", "webhook"):
    a webhook's token at the keys' URL is not found there and stays unspent. Use it in a `@shown_once` view."""
    from datetime import timedelta

    from .store import reveal
    from .upstream import vault

    max_age = timedelta(minutes=current_app.config["SETTINGS"].reveal_expiry_minutes)
    revealed, shown = reveal.take(vault(), token, g.partner["id"], kind, max_age)
    if revealed is None:
        abort(404)
    return revealed, shown


def once_link(name: str) -> str:
    """The random, unguessable path segment of the one page that may show the secret `name` names, kept in the
    admin's own session. Only a view answering a POST (CSRF-checked, so from the portal's own page) hands it out,
    in the redirect it answers with; a cross-site link cannot know it, so it cannot use the one showing up. The
    same link until it is used: a double click leads both answers to one page."""
    links = dict(session.get("once_links") or {})
    link = links.setdefault(name, secrets.token_urlsafe(24))
    session["once_links"] = links
    return link


def use_once_link(name: str, link: str) -> bool:
    """True once, for the link `once_link(name)` handed out in this session; a wrong or used one changes nothing."""
    links = dict(session.get("once_links") or {})
    expected = links.get(name)
    if expected is None or not hmac.compare_digest(expected.encode(), link.encode()):
        return False
    del links[name]
    session["once_links"] = links
    return True


def get_for_partner(find, item_id):
    """The signed-in partner's item, found by a store look-up `find(partner_id, item_id)`, or 404 (never
    another partner's): the one way a view reaches a stored row by an id from the URL."""
    found = find(g.partner["id"], item_id)
    if found is None:
        abort(404)
    return found


def go(location: str):
    """Redirect; for htmx, `HX-Redirect` makes the browser itself go there instead of swapping the page in."""
    if request.headers.get("HX-Request") == "true":
        response = redirect(location)
        response.status_code = 200
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location)
