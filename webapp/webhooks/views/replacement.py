"""Replacing an endpoint (new URL, new event types, or a new signing secret): the form, the replacement's page
with its steps, the test event's answer polled live, and each step's action. The steps are in replacement.py."""

from __future__ import annotations

from dataclasses import replace as replace_field

from flask import abort, flash, g, request, url_for

from ...actor import current_actor
from ...errors import in_place
from ...sir import errors
from ...store import replacements, submissions
from ...upstream import current_environment, partner_api, sir_client, vault
from ...web import get_for_partner, go, render_htmx_template
from .. import bp
from ..forms import ReplaceWebhookForm
from ..registration import delivers_to_portal
from ..replacement import STATE_LABELS, STEPS, Replacer, ReplacementError, Wanted, purpose, step_done
from .common import kept_receivers
from .endpoints import _receiver_address, _receiver_base


def _replacer(environment: str | None = None) -> Replacer:
    """The steps, run in the replacement's own environment (the admin may have switched since it began)."""
    actor = current_actor()
    if environment and environment != actor.environment:
        actor = replace_field(actor, environment=environment)
    return Replacer(partner_api(actor.environment), vault(), actor, sir_client().clock)


def _row_or_404(replacement_id):
    return get_for_partner(replacements.of_partner, replacement_id)


def _form_page(form, old, kept, status=200):
    return render_htmx_template("webhooks/replace.html", "webhooks/_replace_form.html", form=form, hook=old,
                                portal_receiver=delivers_to_portal(kept, old), receiver_base=_receiver_base(),
                                status=status)


@bp.route("/<webhook_id>/replace", methods=["GET", "POST"])
def replace(webhook_id):
    hooks = partner_api().webhooks(fresh=request.method == "POST").value
    old = next((h for h in hooks if h.id == webhook_id), None)
    if old is None:
        abort(404)
    existing = replacements.in_progress_for(g.partner["id"], old.id)
    if existing is not None:  # a second tab, a double click, or the replacement itself: the one in progress
        return go(url_for("webhooks.replacement", replacement_id=existing.id))
    kept = kept_receivers().get(old.id)
    portal = delivers_to_portal(kept, old)
    form = ReplaceWebhookForm(current_environment(), _receiver_base(), old, hooks)
    if request.method == "GET":
        form.use_portal_receiver.data = portal
        form.url.data = "" if portal else old.url
        form.description.data = old.description
        form.event_types.data = list(old.event_types)
        form.all_events.data = old.receive_all
        form.keep_secret.data = kept is not None
        form.submission.data = submissions.issue(g.partner["id"], purpose(old.id))
        return _form_page(form, old, kept)
    if not form.validate_on_submit():
        return _form_page(form, old, kept, 422)
    wanted = Wanted(url=None if form.use_portal_receiver.data else form.url.data.strip(),
                    description=form.description.data or None, event_types=form.event_types.data,
                    all_events=form.all_events.data, keep_secret=form.keep_secret.data,
                    new_address=form.new_address.data)
    outcome = _replacer().start(old, wanted, form.submission.data, _receiver_address, kept, {h.id for h in hooks})
    if outcome.state == "expired":
        flash("That form was already used; here is a fresh one.", "warning")
        return go(url_for("webhooks.replace", webhook_id=old.id))
    replacement_id = (outcome.result or {}).get("replacement")
    if not replacement_id:  # a resend while the first is still starting
        return go(url_for("webhooks.index"))
    row = _row_or_404(replacement_id)
    if row.state == "registered" and not replacements.secret_shown(row):
        return go(url_for("webhooks.secret", token=row.reveal_token))  # the new secret, shown once
    return go(url_for("webhooks.replacement", replacement_id=row.id))


def _context(row, delivery=None, delivery_error=None):
    return dict(replacement=row, steps=STEPS, step_done=step_done, state_labels=STATE_LABELS,
                secret_shown=replacements.secret_shown(row), delivery=delivery, delivery_error=delivery_error)


def _proof(row):
    """The test delivery as SIR Giving has it now, or why it cannot be read: (delivery, error sentence)."""
    try:
        return _replacer(row.environment).test_delivery(row), None
    except errors.SirError as error:
        return None, in_place(error).sentence


@bp.get("/replacements/<int:replacement_id>")
def replacement(replacement_id):
    row = _row_or_404(replacement_id)
    delivery, error = _proof(row)
    return render_htmx_template("webhooks/replacement.html", "webhooks/_replacement_body.html",
                                **_context(row, delivery, error))


@bp.get("/replacements/<int:replacement_id>/proof")
def replacement_proof(replacement_id):
    """The replacement's steps and its test event's answer, polled by the page while the answer is awaited."""
    row = _row_or_404(replacement_id)
    delivery, error = _proof(row)
    return render_htmx_template("webhooks/replacement.html", "webhooks/_replacement_body.html",
                                **_context(row, delivery, error))


def _action(replacement_id, action):
    """Run one of the replacement's actions and go back to its page, which shows the outcome."""
    row = _row_or_404(replacement_id)
    try:
        action(_replacer(row.environment), row)
    except ReplacementError as error:
        if str(error) != row.error:  # a failed step is shown by the page itself, next to its step
            flash(str(error), "error")
    return go(url_for("webhooks.replacement", replacement_id=row.id))


@bp.post("/replacements/<int:replacement_id>/deployed")
def replacement_deployed(replacement_id):
    return _action(replacement_id, Replacer.deploy)


@bp.post("/replacements/<int:replacement_id>/test")
def replacement_test(replacement_id):
    return _action(replacement_id, Replacer.send_test)


@bp.post("/replacements/<int:replacement_id>/finish")
def replacement_finish(replacement_id):
    return _action(replacement_id, Replacer.finish)


@bp.post("/replacements/<int:replacement_id>/resume")
def replacement_resume(replacement_id):
    return _action(replacement_id, Replacer.advance)


@bp.post("/replacements/<int:replacement_id>/cancel")
def replacement_cancel(replacement_id):
    return _action(replacement_id, Replacer.cancel)

