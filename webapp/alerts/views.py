from __future__ import annotations

from flask import current_app, g, request, url_for
from werkzeug.wsgi import host_is_trusted

from .. import clock
from ..actor import current_actor
from ..store import alerts as store
from ..upstream import vault
from ..web import go, render_htmx_template
from . import bp
from .channels import ChannelError, send_chat, send_email, smtp_where, url_hint
from .conditions import CONDITIONS
from .forms import AlertSettingsForm, split_addresses
from .run import chat_send


def _portal_url() -> str | None:
    """The address links in alerts point to: PORTAL_PUBLIC_URL, or this request's when its host is trusted."""
    settings = current_app.config["SETTINGS"]
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if not host_is_trusted(request.host, settings.trusted_hosts):
        return None
    return request.host_url.rstrip("/")


def _page(form: AlertSettingsForm, row, status: int = 200):
    settings = current_app.config["SETTINGS"]
    last_run = store.last_run()
    return render_htmx_template(
        "alerts/page.html", "alerts/_settings_form.html", status=status, form=form, row=row,
        smtp=smtp_where(settings) if settings.smtp_host else None, smtp_from=settings.smtp_from,
        conditions=CONDITIONS, sent=store.sent_for(g.partner["id"]) if row else [], last_run=last_run,
        not_checked=_not_checked(last_run), interval=settings.alerts_interval_minutes)


def _not_checked(last_run) -> list[str]:
    """What the last run could not check for this partner (its lines only: a run covers every partner)."""
    prefix = f"{g.partner['id']} "
    return [line.removeprefix(prefix) for line in (last_run.problems or "").splitlines()
            if line.startswith(prefix)] if last_run else []


@bp.get("/")
def settings():
    row = store.settings_for(g.partner["id"])
    form = AlertSettingsForm(current_app.config["SETTINGS"].alert_chat_to)
    form.recipients.data = ", ".join(row.recipients) if row else ""
    form.failing_after.data = row.failing_after if row else 3
    return _page(form, row)


@bp.post("/")
def save():
    row = store.settings_for(g.partner["id"])
    form = AlertSettingsForm(current_app.config["SETTINGS"].alert_chat_to)
    if not form.validate_on_submit():
        return _page(form, row, 422)
    row = store.settings_or_new(g.partner["id"], g.partner.get("name") or g.partner["id"])
    row.email_recipients = ", ".join(split_addresses(form.recipients.data))
    changes = [f"recipients: {row.email_recipients or 'none'}", f"webhook failures in a row: {form.failing_after.data}"]
    url = (form.chat_url.data or "").strip()
    if form.remove_chat.data:
        row.chat_url_encrypted = row.chat_url_hint = row.chat_status = row.chat_ok = None
        changes.append("chat webhook removed")
    elif url:
        row.chat_url_encrypted = vault().encrypt(url)
        row.chat_url_hint = url_hint(url)
        row.chat_status = row.chat_ok = None  # a new URL has not been tried yet
        changes.append(f"chat webhook set to {row.chat_url_hint}")
    row.failing_after = form.failing_after.data
    row.portal_url = _portal_url() or row.portal_url
    row.updated_by = g.admin["email"]
    current_actor().audit("alert_settings_saved", "alerts", detail="; ".join(changes), commit=False)
    store.commit()
    return go(url_for("alerts.settings"))


@bp.post("/test-email")
def test_email():
    row = store.settings_for(g.partner["id"])
    if row is None or not row.recipients:
        return go(url_for("alerts.settings"))
    try:
        row.email_status = send_email(current_app.config["SETTINGS"], row.recipients, "[Partner Ops] Test alert",
                                      _test_text())
        row.email_ok = True
    except ChannelError as error:
        row.email_status, row.email_ok = str(error), False
    row.email_checked_at = clock.now()
    current_actor().audit("alert_test_sent", "e-mail", outcome="success" if row.email_ok else "failure",
                          detail=row.email_status, commit=False)
    store.commit()
    return go(url_for("alerts.settings") + "#email")


@bp.post("/test-chat")
def test_chat():
    row = store.settings_for(g.partner["id"])
    if row is None or not row.chat_url_encrypted:
        return go(url_for("alerts.settings"))
    try:
        row.chat_status = send_chat(chat_send(current_app), vault().decrypt(row.chat_url_encrypted), _test_text())
        row.chat_ok = True
    except ChannelError as error:
        row.chat_status, row.chat_ok = str(error), False
    row.chat_checked_at = clock.now()
    current_actor().audit("alert_test_sent", "chat", outcome="success" if row.chat_ok else "failure",
                          detail=row.chat_status, commit=False)
    store.commit()
    return go(url_for("alerts.settings") + "#chat")


def _test_text() -> str:
    return (f"A test alert from the Partner Ops Portal for {g.partner.get('name') or g.partner['id']}, sent by "
            f"{g.admin['email']}. Alerts arrive like this one: what is wrong, and a link to the page that fixes it.")
