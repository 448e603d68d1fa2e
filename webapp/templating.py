"""What every template can use: the signed-in context, banners, and number/date filters."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask import Flask, current_app, g
from jinja2 import MemcachedBytecodeCache
from markupsafe import Markup, escape

from . import clock
from .security import csp_nonce
from .sir import times
from .upstream import current_environment

BANNER_PROVIDERS_KEY = "portal_banner_providers"
BANNER_READS_KEY = "portal_banner_reads"


class Banner:
    """dismiss_url: where a POST dismisses it (an alert from an event); None for a banner that states what is
    true now (a low pool, an expiring key) and goes when that changes."""

    def __init__(self, level: str, message: str, link_url: str | None = None, link_text: str | None = None,
                 dismiss_url: str | None = None):
        self.level, self.message, self.link_url, self.link_text = level, message, link_url, link_text
        self.dismiss_url = dismiss_url


def register_banner_provider(app: Flask, provider: Callable[[], list[Banner]],
                             reads: Callable[[], object] | None = None) -> None:
    """An area adds banners shown on every signed-in page (a low pool, an expiring key). `reads`: the provider's
    database reads alone, kept on `g` for the provider to find (see `read_banner_inputs`)."""
    app.extensions.setdefault(BANNER_PROVIDERS_KEY, []).append(provider)
    if reads is not None:
        app.extensions.setdefault(BANNER_READS_KEY, []).append(reads)


def _each_provider(step: Callable[[Callable], object], providers: list[Callable], report: bool = True) -> bool:
    """`step(provider)` for each; a failure never breaks the page. False once a dependency is found down.
    `report`: log a failure that is not an outage (an outage is noted either way)."""
    from .outages import current_outage, note

    if g.get("partner") is None or current_outage() is not None:
        return False  # the page says what is down; a banner would only ask the same service again
    for provider in providers:
        try:
            step(provider)
        except Exception as error:  # a banner must never break the page it sits on
            if note(error) is not None:  # rolled back and logged once per outage
                return False
            if report:
                current_app.logger.warning("banner provider %s failed", getattr(provider, "__name__", provider),
                                           exc_info=True)
    return True


def read_banner_inputs() -> None:
    """The banners' database reads, done ahead: a streamed page does them while its upstream calls are in flight,
    so the banners that follow those calls cost only the work that needs their answers. A read that fails is not
    reported here: its provider, finding nothing kept, reads again and reports what fails then, once."""
    _each_provider(lambda reads: reads(), current_app.extensions.get(BANNER_READS_KEY, []), report=False)


def portal_banners() -> list[Banner]:
    banners: list[Banner] = []
    if not _each_provider(lambda provider: banners.extend(provider() or []),
                          current_app.extensions.get(BANNER_PROVIDERS_KEY, [])):
        return []
    return banners


class LazyBanners:
    """`portal_banners` in a template: computed the first time a template shows them (base.html, a full page),
    once per request. A card partial or an error fragment never shows them, so never asks for them."""

    def _banners(self) -> list[Banner]:
        if "portal_banners" not in g:
            g.portal_banners = portal_banners()
        return g.portal_banners

    def __iter__(self):
        return iter(self._banners())

    def __len__(self) -> int:
        return len(self._banners())

    def __bool__(self) -> bool:
        return bool(self._banners())


# Pages that ask for their banners' data in their own round (the overview's cards fetch the pools and keys).
OWN_BANNER_CALLS = {"dashboard.overview"}
NO_PAGES = {"health", "receiver"}  # blueprints that answer machines: no banner is ever shown


def compile_templates(app: Flask) -> int:
    """Every page template compiled ahead, as a worker starts (gunicorn.conf.py's post_worker_init): Jinja
    compiles a template on first use, which put ~0.1 s of compiling on the first visitor of each page of a
    fresh process. Kept in Jinja's own cache (400 templates; the portal has under 100)."""
    names = app.jinja_env.list_templates(extensions=["html"])
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)


def starts_banner_calls() -> bool:
    """Whether the banners' upstream calls should start as this request begins, so they run alongside the view's
    own calls instead of after them (one round per page): a GET for a full page of a signed-in partner.
    For an area's `before_app_request` (after the sign-in is loaded)."""
    from flask import request

    from .outages import current_outage
    from .web import is_htmx_partial_request

    endpoint = request.endpoint or "static"
    # Pages live in the areas' blueprints; the app's own routes (static files, /healthz, /metrics) show none.
    return (request.method == "GET" and g.get("partner") is not None and request.blueprint not in (None, *NO_PAGES)
            and endpoint not in OWN_BANNER_CALLS and not endpoint.endswith("csv")
            and not is_htmx_partial_request() and current_outage() is None)


class Admin:
    def __init__(self, data: dict):
        self.id, self.email, self.name = data.get("id"), data.get("email"), data.get("name") or data.get("email")


class Partner:
    def __init__(self, data: dict):
        self.id, self.name, self.slug, self.status = data.get("id"), data.get("name"), data.get("slug"), data.get("status")


def number(value, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def percent(value, digits: int = 1) -> str:
    """A ratio (0.97) as a percentage ("97.0 %"); ratios above 1 stay honest ("359.5 %")."""
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f} %"


def path_breaks(value) -> Markup:
    """A URL that may wrap after each slash (<wbr>) on a narrow screen, instead of anywhere or not at all."""
    return Markup("/<wbr>").join(escape(part) for part in str(value or "").split("/"))


def parse_time(value) -> datetime | None:
    return times.parse_time(value, lenient=True)


def iso(value) -> str:
    moment = parse_time(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def short_time(value) -> str:
    moment = parse_time(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def time_left(left: timedelta) -> str:
    """"in 10 days" for 9 days 23 hours; "in 5 hours", "within the hour" closer to the end."""
    seconds = max(0.0, left.total_seconds())
    if seconds >= 86400:
        days = math.ceil(seconds / 86400)
        return f"in {days} day{'s' if days != 1 else ''}"
    if seconds >= 3600:
        hours = math.ceil(seconds / 3600)
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return "within the hour"


def until(value) -> str:
    """How long until a moment, in words ("in 8 days"), from the portal's one clock: what a page says moves
    with SIR Giving's clock, as its banners do."""
    moment = parse_time(value)
    return time_left(moment - clock.now()) if moment else ""


def asset_fingerprints(static_folder: str) -> dict[str, str]:
    """A short content hash per static file, computed once, so asset URLs change when the file does."""
    import hashlib
    from pathlib import Path

    root = Path(static_folder)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for p in root.rglob("*") if p.is_file()}


class _ProcessMemory:
    """The client Jinja's MemcachedBytecodeCache talks to: a dict shared by every app this process builds."""

    def __init__(self):
        self._items: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self._items.get(key)

    def set(self, key: str, value: bytes, timeout: int | None = None) -> None:
        self._items[key] = value


# Flask gives each app its own Jinja environment, which compiles every template again; a process that builds
# many apps (the test suite builds one per test) would spend much of a page's time compiling. Jinja checks
# each entry against its template's source checksum, so an edited template is compiled again.
BYTECODE_CACHE = MemcachedBytecodeCache(_ProcessMemory(), prefix="portal-templates/")


def init_app(app: Flask) -> None:
    from flask import url_for

    from . import charts

    fingerprints = asset_fingerprints(app.static_folder)

    def asset_url(filename: str) -> str:
        """A static URL with its content hash: safe to cache for a year, new when the file changes."""
        return url_for("static", filename=filename, v=fingerprints.get(filename))

    app.jinja_env.globals["asset_url"] = asset_url

    original_max_age = app.get_send_file_max_age

    def send_file_max_age(filename):
        from flask import request

        return 31_536_000 if request.args.get("v") else original_max_age(filename)

    app.get_send_file_max_age = send_file_max_age

    app.jinja_env.filters.update(number=number, percent=percent, iso=iso, short_time=short_time, until=until,
                                 path_breaks=path_breaks)
    app.jinja_env.globals["charts"] = charts  # chart builders are pure: a card partial builds its own figure
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.bytecode_cache = BYTECODE_CACHE

    from .auth.session import session_end

    @app.context_processor
    def signed_in_context():
        admin = g.get("admin")
        partner = g.get("partner")
        return {
            "current_admin": Admin(admin) if admin else None,
            "current_partner": Partner(partner) if partner else None,
            "current_environment": current_environment(),
            "csp_nonce": csp_nonce(),
            "demo_mode": app.config["SETTINGS"].embedded_simulator,
            # A streamed page sends its banners when their calls answer (dashboard.views.overview), not first;
            # otherwise they are computed only if a template shows them (a full page, never a card partial).
            "portal_banners": [] if g.get("banners_streamed") else LazyBanners(),
            "session_ends": session_end(),
        }
