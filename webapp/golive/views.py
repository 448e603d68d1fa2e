from __future__ import annotations

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from sqlalchemy.exc import SQLAlchemyError

from ..actor import current_actor
from ..limits import limiter
from ..outages import note
from ..sir import errors
from ..store import audit, receivers
from ..upstream import account_api, partner_api, portal_key_stored, vault
from ..web import go, is_htmx_partial_request, render_htmx_template
from . import bp
from .checklist import PASSED, ROWS, SIGNATURE_CHECK, Inputs, Row, all_passed, compute, compute_all
from .probe import check_production_endpoint, classify_address, sender


def _api(environment: str):
    try:
        return partner_api(environment)
    except errors.NoCredential:
        return None


# What the rows read: an explicit refresh makes every cached answer of these a miss (some reads take no `fresh`).
FAMILIES = ("dashboard", "webhooks", "token-pools", "actions", "users")


def _inputs(fresh: bool = False) -> Inputs:
    settings = current_app.config["SETTINGS"]
    production, sandbox = _api("production"), _api("sandbox")
    if fresh:
        for api in filter(None, (production, sandbox)):
            api.client.invalidate(api.credential, *FAMILIES)
    resolve = current_app.extensions.get("golive_resolve")  # tests say what names resolve to
    return Inputs(account=account_api(), production=production, sandbox=sandbox,
                  address_of=lambda url: classify_address(url, resolve, settings.embedded_simulator),
                  last_check=audit.latest(g.partner["id"], SIGNATURE_CHECK, "production"), fresh=fresh)


def _remember(rows: list[Row]) -> None:
    """Each row's state, for the navigation's entry (shown until every row passed)."""
    kept = session.get("golive") or {}
    states = dict(kept.get("states") or {}) if kept.get("partner") == g.partner["id"] else {}
    states.update({row.id: row.state for row in rows})
    session["golive"] = {"partner": g.partner["id"], "states": states}


@bp.get("/")
def page():
    """Every row, from one round of calls; signed reads come from the short-lived HTTP cache unless `refresh`."""
    rows = compute_all(_inputs(fresh=request.args.get("refresh") == "1"))
    _remember(rows)
    return render_template("golive/page.html", rows=rows, all_passed=all_passed(rows))


def _row_again(row_id: str):
    row = compute(row_id, _inputs(fresh=True))
    _remember([row])
    response = render_htmx_template("golive/page.html", "golive/_row.html", row=row)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/rows/<row_id>")
def row(row_id):
    if row_id not in ROWS:
        abort(404)
    if not is_htmx_partial_request():
        return redirect(url_for("golive.page", refresh=1))
    return _row_again(row_id)


@bp.post("/signature-check")
@limiter.limit("10 per minute")
def signature_check():
    """Send the production endpoint's own URL two forged deliveries (see probe.py) and show the row again."""
    if check_production_endpoint(current_actor(), _api("production"), _kept_secret, _sender()) is None:
        abort(404)  # nothing registered to check: the row says so and links to registering one
    if not is_htmx_partial_request():
        return go(url_for("golive.page", refresh=1))
    return _row_again("signature_check")


def _kept_secret(webhook_id: str) -> str | None:
    """The endpoint's signing secret, when the portal keeps it (registered with "keep the secret")."""
    kept = receivers.of_partner(g.partner["id"], "production").get(webhook_id)
    return vault().decrypt(kept.secret_encrypted) if kept is not None and kept.secret_encrypted else None


def _sender():
    from ..embedded import make_deliverer, own_hosts

    app = current_app._get_current_object()
    settings = app.config["SETTINGS"]
    simulator_app = app.extensions.get("simulator_app")

    def in_process(send):
        if simulator_app is not None:
            from simulator.endpoints import in_process as to_simulator

            send = to_simulator(simulator_app, send)
        return make_deliverer(app, own_hosts(settings), send)

    return sender(settings.signature_check_to, app.extensions.get("golive_resolve"), in_process)


@bp.app_context_processor
def go_live_entry():
    """`show_go_live()` for the navigation: while the partner has not gone live. Gone live: the last checklist
    this admin saw passed every row; before they have seen one, that the portal holds a production key."""
    def show() -> bool:
        partner = g.get("partner")
        if not partner:
            return False
        kept = session.get("golive")
        if kept and kept.get("partner") == partner["id"] and kept.get("states"):
            return any(state != PASSED for state in kept["states"].values())
        try:
            return portal_key_stored("production") is None
        except SQLAlchemyError as error:
            note(error)
            return False  # the database is away (the page may be the outage page itself): no entry, no error

    return {"show_go_live": show}
