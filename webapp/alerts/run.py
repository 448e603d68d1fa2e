"""One scheduled run of the alert checks: `flask --app wsgi alerts run` (cron, a systemd timer) and the
in-process scheduler both call `run`.

Once per interval, whatever the number of workers or machines: the run first claims the interval's row
(`alert_runs`, keyed by the interval's number); whoever inserts it first runs, the others return at once. Each
alert is claimed the same way before it is sent (`alerts_sent`, keyed by partner, condition, subject and day),
so even two runs at the same moment never send one alert twice. A claimed alert is sent once, to each channel,
whether or not the channel works; what happened is kept on the alert, on the settings page and in the audit log.
A claim whose run died before it finished sending (`finished_at` still empty after `ABANDONED_AFTER`) is taken
over by the next run, so an alert is not lost to a crash.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field

from flask import Flask, url_for

from .. import clock
from ..sir.api import PartnerApi
from ..sir.client import ENVIRONMENTS
from ..store import audit
from ..store import alerts as store
from .channels import ChannelError, chat_sender, send_chat, send_email
from .conditions import Alert, check

ACTOR = "alerts (scheduled)"


@dataclass
class RunResult:
    ran: bool  # False: another worker had this interval
    slot: int
    sent: int = 0
    problems: list[str] = field(default_factory=list)


def runner_name() -> str:
    return f"{socket.gethostname()} pid {os.getpid()} {threading.current_thread().name}"


def slot_now(app: Flask) -> int:
    """The current interval's number on the portal's clock."""
    return int(clock.timestamp() // (app.config["SETTINGS"].alerts_interval_minutes * 60))


def run(app: Flask) -> RunResult:
    """Run the checks for this interval unless another worker has; in an app context."""
    slot = slot_now(app)
    claim = store.claim_run(slot, runner_name())
    if claim is None:
        return RunResult(False, slot)
    result = RunResult(True, slot)
    for row in store.every_settings():
        if not row.recipients and not row.chat_url_encrypted:
            continue
        try:
            result.sent += run_partner(app, row, result.problems)
        except Exception:  # one partner's surprise must not stop the others' alerts
            app.logger.exception("alert checks failed for partner %s", row.partner_id)
            store.rollback_quietly()
            result.problems.append(f"{row.partner_id}: the checks failed unexpectedly; see the portal's log.")
    store.finish_run(claim, result.sent, result.problems)
    return result


def run_partner(app: Flask, row, problems: list[str]) -> int:
    vault = app.extensions["vault"]
    client = app.extensions["sir_client"]
    sent = 0
    for environment in ENVIRONMENTS:
        credential = vault.credential_for(row.partner_id, environment)
        if credential is None:
            continue  # no credential in this environment: nothing the portal could check (or sign with)
        record = vault.record_for(row.partner_id, environment)
        found, trouble = check(PartnerApi(client, credential, environment), row, record.key_id if record else None)
        problems.extend(f"{row.partner_id} {p}" for p in trouble)
        for alert in found:
            sent += deliver(app, row, alert)
    return sent


def deliver(app: Flask, row, alert: Alert) -> int:
    """Claim the alert for today, then send it to each channel; 1 when this run sent it, 0 when it was not due."""
    if alert.once and store.sent_before(row.partner_id, alert.condition, alert.subject):
        return 0
    day = clock.now().strftime("%Y-%m-%d")
    link = absolute_link(app, row, alert.endpoint, alert.args)
    claim = store.claim_alert(row.partner_id, alert.condition, alert.subject, day, alert.environment,
                              alert.message, link)
    if claim is None:
        return 0
    email_result, chat_result = send_everywhere(app, row, alert.title, text_of(alert, link), chat_text(alert, link))
    claim.email_result, claim.chat_result = email_result, chat_result
    claim.finished_at = clock.now()
    failed = [r for r in (email_result, chat_result) if r and not r.startswith(("Sent", "Posted"))]
    audit.record(actor=ACTOR, action="alert_sent", outcome="failure" if failed else "success",
                 partner_id=row.partner_id, environment=alert.environment, target=f"{alert.condition} {alert.subject}",
                 detail=" ".join(filter(None, [alert.message, f"Link: {link}." if link else None, email_result,
                                               chat_result])), commit=False)
    store.commit()
    return 1


def send_everywhere(app: Flask, row, title: str, body: str, chat: str) -> tuple[str | None, str | None]:
    """Send to each channel the partner set up; each one's outcome (a sentence), also kept on the settings row
    for the page. None for a channel that is not set up."""
    settings = app.config["SETTINGS"]
    email_result = chat_result = None
    now = clock.now()
    if row.recipients:
        try:
            email_result = send_email(settings, row.recipients, f"[Partner Ops] {title}", body)
            row.email_ok = True
        except ChannelError as error:
            email_result, row.email_ok = str(error), False
        row.email_status, row.email_checked_at = email_result, now
    if row.chat_url_encrypted:
        try:
            url = app.extensions["vault"].decrypt(row.chat_url_encrypted)
            chat_result = send_chat(chat_send(app), url, chat)
            row.chat_ok = True
        except ChannelError as error:
            chat_result, row.chat_ok = str(error), False
        row.chat_status, row.chat_checked_at = chat_result, now
    return email_result, chat_result


def chat_send(app: Flask):
    """The chat POST under ALERT_CHAT_TO; a test may give the resolver through `app.extensions["alerts_resolve"]`."""
    return chat_sender(app.config["SETTINGS"].alert_chat_to, app.extensions.get("alerts_resolve"))


def absolute_link(app: Flask, row, endpoint: str, args: dict) -> str | None:
    """The page that fixes it, at the portal's public address (PORTAL_PUBLIC_URL), else at the trusted address
    the settings were saved from; None when neither is known."""
    base = app.config["SETTINGS"].public_url or row.portal_url
    if not base:
        return None
    with app.test_request_context("/", base_url=base):
        return url_for(endpoint, _external=True, **args)


def text_of(alert: Alert, link: str | None) -> str:
    lines = [alert.message, ""]
    if link:
        lines += [f"{alert.link_text}: {link}", ""]
    lines.append("You get this because alerts are set up for your partner in the Partner Ops Portal; at most one "
                 "alert per condition a day.")
    return "\n".join(lines)


def chat_text(alert: Alert, link: str | None) -> str:
    # Slack's link syntax (<url|text>); tools that do not read it still show the URL.
    return f"{alert.message} <{link}|{alert.link_text}>" if link else alert.message
