"""Batch pages: upload, preflight, confirm, progress (stepped by htmx), result file. Thin: one service call each."""

from __future__ import annotations

from flask import abort, current_app, flash, g, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from ..actor import current_actor
from ..csv_export import csv_response
from ..store import batches as store
from ..upstream import current_environment, partner_api
from ..web import get_for_partner, go, render_htmx_template
from . import bp, csvfile, preflight, sending, uploads
from .plan import CHUNK, Plan

def _settings():
    return current_app.config["SETTINGS"]


def _index_page(status=200, upload=None, file_error=None):
    return render_htmx_template("batches/page.html", "batches/_upload.html", status=status, upload=upload,
                                file_error=file_error, columns=csvfile.COLUMNS, batches=store.recent(_partner_id()),
                                max_rows=_settings().batch_max_rows, max_mb=_settings().batch_max_file_mb)


def _partner_id():
    return g.partner["id"]


@bp.get("/")
def index():
    return _index_page()


@bp.get("/template.csv")
def template():
    return csv_response("reward-batch-template.csv", csvfile.COLUMN_NAMES, csvfile.TEMPLATE_ROWS)


@bp.post("/upload")
def upload():
    """The file is checked whole before anything is kept; a bad row keeps nothing and names itself."""
    limit = _settings().batch_max_file_mb * 1024 * 1024
    request.max_content_length = limit + 64 * 1024  # the form's other fields and the multipart framing
    try:
        current_app.extensions["csrf_protect"].protect()  # exempt from the early check, which reads at 1 MiB
        file = request.files.get("file")
    except RequestEntityTooLarge:
        size = f"{request.content_length / 1024 / 1024:,.0f} MB" if request.content_length else "too large"
        return _index_page(413, file_error=f"The file is {size}; a batch file may be at most "
                                           f"{_settings().batch_max_file_mb} MB ({_settings().batch_max_rows:,} "
                                           f"rows). Split it into smaller files. Nothing was sent.")
    if file is None or not file.filename:
        return _index_page(422, file_error="Choose a CSV file to upload.")
    result = uploads.upload(current_actor(), file.stream, file.filename, _settings().batch_max_rows)
    if not result.ok:
        return _index_page(422, upload=result)
    if result.earlier is not None:
        flash(f"This file was uploaded before (batch {result.earlier.id}). Its rows have the same idempotency keys, "
              f"so rows already sent are not rewarded again.", "info")
    return go(url_for("batches.show", batch_id=result.batch.id))


# -- preflight ---------------------------------------------------------------------------------------

@bp.get("/preflight")
def preflight_page():
    """Preflight for a planned batch (from the overview: one click, nothing planned yet)."""
    actions = max(0, min(request.args.get("actions", 0, type=int) or 0, 1_000_000))
    tokens = max(0, min(request.args.get("tokens", 0, type=int) or 0, 10**12))
    plan = Plan(actions, tokens, request.args.get("pool_id") or None)
    checked = preflight.run(partner_api(), plan)
    return render_htmx_template("batches/preflight.html", "batches/_preflight.html", preflight=checked,
                                environment=current_environment())


# -- one batch -----------------------------------------------------------------------------------------

def _batch_or_404(batch_id: int) -> store.RewardBatch:
    return get_for_partner(store.find, batch_id)


def _plan(batch: store.RewardBatch) -> Plan:
    return Plan(batch.rows, batch.planned_tokens)


def _show(batch, status=200, checked=None, confirm_error=None, note=None, wait=sending.NEXT_STEP_SECONDS):
    if batch.state == "ready" and checked is None:
        checked = preflight.run(partner_api(batch.environment), _plan(batch))
    return render_htmx_template("batches/show.html", "batches/_progress.html", status=status, batch=batch,
                                counts=store.counts(batch), preflight=checked, confirm_error=confirm_error,
                                note=note, wait=wait, failed=store.failed_rows(batch), chunk=CHUNK)


@bp.get("/<int:batch_id>")
def show(batch_id):
    """The batch: before sending its preflight and confirmation; then its progress, which survives a reload."""
    return _show(_batch_or_404(batch_id))


@bp.post("/<int:batch_id>/confirm")
def confirm(batch_id):
    """Preflight again (a lot may change while the admin reads), then start sending; production is typed."""
    batch = _batch_or_404(batch_id)
    if batch.state != "ready":
        return go(url_for("batches.show", batch_id=batch.id))
    checked = preflight.run(partner_api(batch.environment), _plan(batch))
    if batch.environment == "production" and request.form.get("typed", "").strip().replace(",", "") != str(batch.rows):
        return _show(batch, 422, checked, confirm_error=f"Type {batch.rows} (the number of actions) to send them "
                                                        f"in production. Nothing was sent.")
    if not checked.go:
        return _show(batch, 422, checked, confirm_error="The preflight says Hold: fix what it names, then confirm "
                                                        "again. Nothing was sent.")
    sending.start(current_actor(), batch)
    return go(url_for("batches.show", batch_id=batch.id))


@bp.post("/<int:batch_id>/step")
def step(batch_id):
    """Send the next chunks and show the progress (htmx polls this while the batch sends)."""
    batch = _batch_or_404(batch_id)
    done = sending.step(current_actor(), partner_api(batch.environment), batch, _settings().batch_lease_seconds)
    if request.headers.get("HX-Request") == "true":
        return _show(batch, note=done.note, wait=done.wait)
    if done.note:
        flash(done.note, "warning")
    return go(url_for("batches.show", batch_id=batch.id))


@bp.post("/<int:batch_id>/resume")
def resume(batch_id):
    batch = _batch_or_404(batch_id)
    if batch.state == "paused":
        sending.resume(current_actor(), batch)
    return go(url_for("batches.show", batch_id=batch.id))


@bp.post("/<int:batch_id>/resend-failed")
def resend_failed(batch_id):
    """The failed rows alone go again (with new key suffixes: the first answer to a key is kept upstream)."""
    batch = _batch_or_404(batch_id)
    if batch.state not in ("finished", "paused"):
        abort(409)
    count = sending.resend_failed(current_actor(), batch)
    flash(f"{count:,} failed rows are sent again." if count else "No failed rows to send again.", "info")
    return go(url_for("batches.show", batch_id=batch.id))


@bp.get("/<int:batch_id>/result.csv")
def result(batch_id):
    batch = _batch_or_404(batch_id)
    return csv_response(f"batch-{batch.id}-result.csv", sending.RESULT_HEADER, sending.result_rows(batch.id))
