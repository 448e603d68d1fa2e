"""Registered endpoints: the list with their health, register one (its secret shown once), delete one."""

from __future__ import annotations

from flask import current_app, flash, g, render_template, request, url_for
from werkzeug.wsgi import host_is_trusted

from ...actor import current_actor
from ...auth.kept_forms import restored_form
from ...errors import in_place
from ...parallel import POOL
from ...sir import errors
from ...store import receivers, replacements, submissions
from ...upstream import current_environment, partner_api, vault
from ...web import go, render_htmx_template, shown_once, take_revealed
from .. import bp
from ..forms import DeleteWebhookForm, RegisterWebhookForm
from ..registration import PURPOSE, NewEndpoint, delete_endpoint, delivers_to_portal, register_endpoint
from .common import kept_receivers, webhook_or_404


@bp.get("/")
def index():
    api = partner_api()
    health_call = POOL.submit(api.webhook_health)  # alongside the list: one round for the page
    hooks = api.webhooks()
    try:
        health = {h.webhook_id: h for h in health_call.result().value}
    except errors.SirError:
        health = None  # the endpoints are what this page is for; it says health is not available
    kept = kept_receivers()
    portal = {h.id for h in hooks.value if delivers_to_portal(kept.get(h.id), h)}
    failing = [h for h in hooks.value if health and health.get(h.id) and health[h.id].is_failing]
    return render_template("webhooks/page.html", hooks=hooks.value, reply=hooks.reply, health=health,
                           receivers=kept, portal=portal, failing=failing,
                           replacing=replacements.in_progress(g.partner["id"], current_environment()))


def _receiver_base() -> str | None:
    """The portal's address as SIR Giving reaches it: PORTAL_PUBLIC_URL, or the address the admin uses when its
    host is one of TRUSTED_HOSTS (Flask refuses other hosts already; this keeps a receiver URL from ever
    carrying one); None when there is no such address."""
    settings = current_app.config["SETTINGS"]
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if not host_is_trusted(request.host, settings.trusted_hosts):
        return None
    return request.host_url.rstrip("/")


def _receiver_address(token: str) -> str:
    return _receiver_base() + url_for("receiver.receive", token=token)


def _new_page(form: RegisterWebhookForm, status: int = 200):
    return render_htmx_template("webhooks/new.html", "webhooks/_new_form.html", form=form, status=status,
                                receiver_base=_receiver_base())


def _asked_for(form: RegisterWebhookForm) -> NewEndpoint:
    return NewEndpoint(url=None if form.use_portal_receiver.data else form.url.data.strip(),
                       description=form.description.data or None, event_types=form.event_types.data,
                       all_events=form.all_events.data, keep_secret=form.keep_secret.data)


def _show_refusal(form: RegisterWebhookForm, error: errors.SirError) -> None:
    """SIR Giving's reasons beside the fields they are about (the address, or the event types)."""
    address = form.use_portal_receiver if form.use_portal_receiver.data else form.url
    if isinstance(error, errors.ValidationFailed) and error.fields:
        for problem in error.fields:
            field = address if problem.get("field") == "url" else form.event_types
            field.errors.append(problem.get("message", error.message))
    else:
        address.errors.append(error.sentence)


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = RegisterWebhookForm(current_environment(), _receiver_base())
    if request.method == "GET":
        kept = restored_form("webhooks.new", g.partner["id"])
        if kept:
            form = RegisterWebhookForm(current_environment(), _receiver_base(), formdata=kept)
        else:
            form.keep_secret.data = True
        form.submission.data = submissions.issue(g.partner["id"], PURPOSE)
        return _new_page(form)
    if not form.validate_on_submit():
        return _new_page(form, 422)
    outcome = register_endpoint(current_actor(), partner_api(), vault(), form.submission.data, _asked_for(form),
                                _receiver_address)
    if outcome.state == "expired":
        return go(url_for("webhooks.new"))
    if outcome.state == "failed":
        _show_refusal(form, in_place(outcome.error))
        return _new_page(form, 502)
    reveal = (outcome.result or {}).get("reveal")  # None while a first submit is still registering
    return go(url_for("webhooks.secret", token=reveal) if reveal else url_for("webhooks.index"))


@bp.get("/secret/<token>")
@shown_once
def secret(token):
    """The one page that shows a new endpoint's signing secret: never cached, and gone once rendered."""
    revealed, shown = take_revealed(token, "webhook")
    receiver = receivers.for_webhook(g.partner["id"], revealed.key_id)
    replacing = replacements.in_progress_for(g.partner["id"], revealed.key_id)  # a replacement's new secret
    return render_template("webhooks/secret.html", shown=shown, revealed=revealed, receiver=receiver,
                           portal_receiver=delivers_to_portal(receiver) or bool(replacing and replacing.to_portal),
                           replacement=replacing)


@bp.route("/<webhook_id>/delete", methods=["GET", "POST"])
def delete(webhook_id):
    hook = webhook_or_404(webhook_id)
    replacing = replacements.in_progress_for(g.partner["id"], hook.id)
    if replacing is not None:  # deleting either side by hand could leave a receiver without its secret
        flash("This endpoint is part of a replacement in progress: finish it (the old endpoint is deleted last) "
              "or cancel it (the replacement is deleted).", "warning")
        return go(url_for("webhooks.replacement", replacement_id=replacing.id))
    form = DeleteWebhookForm(hook.url)
    if request.method == "GET" or not form.validate_on_submit():
        return render_htmx_template("webhooks/delete.html", "webhooks/_delete_form.html", hook=hook, form=form,
                                    status=200 if request.method == "GET" else 422)
    try:
        delete_endpoint(current_actor(), partner_api(), hook)
    except errors.SirError as error:
        form.confirm_url.errors.append(in_place(error).sentence)
        return render_htmx_template("webhooks/delete.html", "webhooks/_delete_form.html", hook=hook, form=form,
                                    status=502)
    flash(f"Deleted the endpoint {hook.url}. SIR Giving sends nothing more to it.", "success")
    return go(url_for("webhooks.index"))
