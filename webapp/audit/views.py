from __future__ import annotations

from datetime import timedelta

from flask import g, request

from .. import clock
from ..csv_export import csv_response
from ..sir.client import ENVIRONMENTS
from ..sir.times import parse_day, to_wire
from ..store import audit
from ..web import render_htmx_template
from . import bp

OUTCOMES = ("success", "failure")


def _filters() -> tuple[dict, list[str]]:
    """The filters from the query string, and a message for each one that could not be read."""
    problems = []
    filters = {
        "action": request.args.get("action") or None,
        "outcome": request.args.get("outcome") if request.args.get("outcome") in OUTCOMES else None,
        "environment": request.args.get("environment") if request.args.get("environment") in ENVIRONMENTS else None,
        "actor": (request.args.get("actor") or "").strip().lower() or None,
    }
    for name in ("since", "until"):
        raw = request.args.get(name)
        if not raw:
            filters[name] = None
            continue
        day = parse_day(raw)
        if day is None:
            problems.append(f"“{raw}” is not a date like 2026-11-25; the {name} filter was left out.")
            filters[name] = None
            continue
        filters[name] = day + timedelta(days=1) if name == "until" else day  # "until" includes that day
    return filters, problems


@bp.get("/")
def index():
    filters, problems = _filters()
    shown = audit.entries_page(g.partner["id"], before=audit.Cursor.read(request.args.get("before")),
                               after=audit.Cursor.read(request.args.get("after")), **filters)
    # The filters as the page was asked for them; "older" and "newer" links keep them and replace the cursor.
    args = {name: value for name, value in request.args.items() if name not in ("before", "after", "page") and value}
    return render_htmx_template(
        "audit/page.html", "audit/_entries.html", shown=shown, count_up_to=audit.COUNT_UP_TO,
        actions=audit.actions_for(g.partner["id"]), problems=problems, args=args)


@bp.get("/export.csv")
def export_csv():
    filters, _ = _filters()
    stamp = clock.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(f"audit-{stamp}.csv", EXPORT_COLUMNS, _export_rows(g.partner["id"], filters))


EXPORT_COLUMNS = ["at", "actor", "environment", "action", "target", "outcome", "detail", "remote_addr"]


def _export_rows(partner_id: str, filters: dict):
    # A generator: the query runs while the CSV streams, in the database session of that moment.
    for entry in audit.entries_for_export(partner_id, 50_000, **filters):
        yield [to_wire(entry.at), entry.actor, entry.environment or "", entry.action, entry.target or "",
               entry.outcome, entry.detail or "", entry.remote_addr or ""]
