"""Where alerts go: e-mail through the SMTP server of the settings, and a Slack-compatible chat webhook.

E-mail uses the standard library (`smtplib` and `email.message`): no mail library is a dependency of the portal
already, and these two cover what alerts need (STARTTLS or implicit TLS with certificate checks, login, a
plain-text message with proper headers) without adding one. A chat message is `POST {"text": ...}` through the
same address policy the portal applies to every URL it posts to from its own process (`simulator.delivery`:
every address the host resolves to must be public, and the connection goes to the checked address), unless
ALERT_CHAT_TO=anywhere allows a relay on this machine or network.

Each send returns a plain-language sentence of what happened, or raises ChannelError whose message says
what went wrong and what to do; nothing here raises anything else, so a broken channel never breaks a page or
a run.
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

import requests

SMTP_TIMEOUT = 10  # seconds for the mail server to answer each step
CHAT_TIMEOUT = (3.05, 10)


class ChannelError(Exception):
    """A send that did not go; the message is for the settings page."""


def smtp_where(settings) -> str:
    return f"{settings.smtp_host}:{settings.smtp_port}"


def send_email(settings, recipients: list[str], subject: str, body: str) -> str:
    if not settings.smtp_host:
        raise ChannelError("E-mail is not set up on this portal: the operator sets SMTP_HOST and SMTP_FROM.")
    if not recipients:
        raise ChannelError("No recipients: add at least one address.")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to an alert
    message.set_content(body)
    where = smtp_where(settings)
    try:
        if settings.smtp_tls == "tls":
            server = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
        with server:
            if settings.smtp_tls == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password)
            refused = server.send_message(message)
    except smtplib.SMTPNotSupportedError:
        raise ChannelError(f"The mail server at {where} does not offer STARTTLS: the operator sets SMTP_TLS=tls for "
                           "a server that speaks TLS from the start (port 465), or none for a local relay.") from None
    except smtplib.SMTPAuthenticationError:
        raise ChannelError(f"The mail server at {where} refused the user name and password: the operator checks "
                           "SMTP_USER and SMTP_PASSWORD.") from None
    except smtplib.SMTPRecipientsRefused as error:
        raise ChannelError(f"The mail server at {where} refused every recipient "
                           f"({', '.join(error.recipients)}): check the addresses.") from None
    except smtplib.SMTPSenderRefused:
        raise ChannelError(f"The mail server at {where} refused the sender {settings.smtp_from}: the operator "
                           "checks SMTP_FROM (the server may only send from its own domain).") from None
    except smtplib.SMTPResponseException as error:
        said = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        raise ChannelError(f"The mail server at {where} refused the message ({error.smtp_code} {said[:200]}). "
                           "Try again later; if it keeps happening, the operator checks the server.") from None
    except (smtplib.SMTPServerDisconnected, ConnectionResetError):
        raise ChannelError(f"The mail server at {where} closed the connection before the message went: check "
                           "SMTP_PORT and SMTP_TLS match the server.") from None
    except ssl.SSLError as error:
        raise ChannelError(f"The secure connection to the mail server at {where} failed ({error.reason or error}): "
                           "check SMTP_TLS and the server's certificate.") from None
    except socket.gaierror:
        raise ChannelError(f"The mail server's name {settings.smtp_host} could not be found: the operator checks "
                           "SMTP_HOST.") from None
    except ConnectionRefusedError:
        raise ChannelError(f"The mail server at {where} refused the connection: check that it is running and that "
                           "SMTP_HOST and SMTP_PORT are right.") from None
    except TimeoutError:
        raise ChannelError(f"The mail server at {where} did not answer within {SMTP_TIMEOUT} seconds: check that "
                           "it is running and reachable from the portal.") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ChannelError(f"The e-mail could not be sent through {where}: {error.__class__.__name__}. Check the "
                           "SMTP settings and that the server is reachable.") from None
    if refused:
        return (f"Sent through {where} to {len(recipients) - len(refused)} of {len(recipients)} recipients; "
                f"refused: {', '.join(refused)}.")
    return f"Sent through {where} to {', '.join(recipients)}."


def url_hint(url: str) -> str:
    """What the page may show of a chat webhook URL: its scheme and host (the path is the secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"


def chat_sender(deliver_to: str, resolve=None):
    """The POST a chat message goes through: the portal's address policy (see the module)."""
    from simulator.delivery import sender_for

    return sender_for(deliver_to, resolve)


def send_chat(send, url: str, text: str) -> str:
    from simulator.delivery import DeliveryRefused

    where = url_hint(url)
    body = json.dumps({"text": text}).encode()
    try:
        status, reply = send(url, {"Content-Type": "application/json"}, body, CHAT_TIMEOUT)
    except DeliveryRefused as refused:
        raise ChannelError(f"The chat webhook at {where} was not called: {str(refused).removeprefix('refused: ')}. "
                           "Alerts post only to public addresses.") from None
    except requests.Timeout:
        raise ChannelError(f"The chat webhook at {where} did not answer within {CHAT_TIMEOUT[1]:g} seconds.") from None
    except (requests.ConnectionError, ConnectionError, OSError):
        raise ChannelError(f"The chat webhook at {where} could not be reached (the connection was refused, or the "
                           "host does not resolve): check the URL your chat tool gave you.") from None
    except requests.RequestException as error:
        raise ChannelError(f"The chat webhook at {where} could not be called: {error.__class__.__name__}.") from None
    if not 200 <= status < 300:
        excerpt = " ".join((reply or "").split())[:120]
        hint = (" The webhook may have been removed or its URL mistyped: create a new one in your chat tool."
                if status in (403, 404, 410) else " Check the URL your chat tool gave you.")
        raise ChannelError(f"The chat webhook at {where} answered {status}{f' ({excerpt})' if excerpt else ''}, not "
                           f"a 2xx.{hint}")
    return f"Posted to the chat webhook at {where} (answered {status})."
