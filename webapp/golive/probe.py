"""The go-live signature check: does the partner's production webhook handler refuse forged deliveries?

On the admin's click the portal sends the production endpoint's registered URL (and only that URL) two
deliveries of a harmless test event in the documented envelope (section 5): one signed with a wrong secret, one
with a timestamp 10 minutes old (signed with the endpoint's real secret when the portal keeps it, so only the
timestamp is wrong). The handler passes when both get a non-2xx answer. Where a delivery may go is the
simulator's public-address policy (`simulator/delivery.py`: every address the host resolves to must be public,
and the request connects to the address checked), unless `SIGNATURE_CHECK_TO=anywhere` (never in production);
the portal's own receiver and the embedded simulator's sample handler are reached in process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from simulator.delivery import DeliveryRefused, PublicAddressesOnly, sender_for

from .. import clock
from ..actor import Actor
from ..sir.webhooks import expected_signature
from .checklist import SIGNATURE_CHECK, choose_endpoint, is_embedded_host

TIMEOUT_SECONDS = 5.0
STALE_SECONDS = 600
USER_AGENT = "SIRGiving-Webhooks/1.0 (Partner Ops Portal go-live check)"

Send = Callable[[str, dict, bytes, float], tuple[int, str]]


def classify_address(url: str, resolve, embedded: bool) -> tuple[bool, str]:
    """(acceptable, what was found) for an endpoint URL: https, and a host whose every address is public —
    resolved, never requested. On the embedded default the simulator's own hosts are in process."""
    if not url.lower().startswith("https://"):
        return False, "Not https: SIR Giving production delivers only to https endpoints"
    if embedded and is_embedded_host(url):
        return True, "https, on the embedded simulator (reached in process, nothing to resolve)"
    try:
        address = PublicAddressesOnly(resolve).address_for(url)
    except DeliveryRefused as refused:
        return False, f"Not a public address: {str(refused).removeprefix('refused: ')}"
    except ConnectionError:
        return False, "Its host name does not resolve"
    return True, f"https, and its host resolves to {address}, a public address"


@dataclass(frozen=True)
class Answer:
    label: str
    status: int | None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        said = f"HTTP {self.status}" if self.status is not None else f"no answer ({self.error})"
        return f"{self.label} → {said}"


def envelope(now: datetime) -> bytes:
    """A harmless test event, as SIR Giving's envelope has it; it says what it is, in case a handler logs it."""
    return json.dumps({"id": f"evt_golive_{secrets.token_hex(8)}", "type": "webhook.test",
                       "createdAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "data": {"test": True, "note": "Go-live signature check by the Partner Ops Portal: forged on "
                                                     "purpose; a correct handler refuses it. Do not process."}},
                      separators=(",", ":")).encode()


def forged_deliveries(now: datetime, secret: str | None) -> list[tuple[str, dict, bytes]]:
    body = envelope(now)
    fresh, stale = str(int(now.timestamp())), str(int(now.timestamp()) - STALE_SECONDS)
    wrong = "sha256=" + hmac.new(secrets.token_bytes(32), f"{fresh}.".encode() + body, hashlib.sha256).hexdigest()
    old = expected_signature(secret, stale, body) if secret else expected_signature(secrets.token_hex(24), stale, body)
    base = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    return [("Wrong signature", {**base, "X-SIR-Timestamp": fresh, "X-SIR-Signature": wrong}, body),
            ("Timestamp 10 minutes old" + ("" if secret else " (the portal does not keep this endpoint's secret, so "
                                                             "its signature is wrong too)"),
             {**base, "X-SIR-Timestamp": stale, "X-SIR-Signature": old}, body)]


def check_handler(actor: Actor, hook, send: Send, secret: str | None, now: datetime | None = None) -> list[Answer]:
    """Send the two forged deliveries to `hook.url`, record the outcome in the audit log, return the answers."""
    now = now or clock.now()  # SIR Giving's now, as its deliveries would carry it
    answers = []
    for label, headers, body in forged_deliveries(now, secret):
        try:
            status, _ = send(hook.url, headers, body, TIMEOUT_SECONDS)
            answers.append(Answer(label, status))
        except DeliveryRefused as refused:
            answers.append(Answer(label, None, str(refused)))
        except Exception as failure:  # any transport failure: the handler was not reached
            answers.append(Answer(label, None, type(failure).__name__))
    said = "; ".join(a.describe() for a in answers)
    if any(a.accepted for a in answers):
        outcome, detail = "failure", f"accepted a forged delivery; {said}"
    elif all(a.status is not None for a in answers):
        outcome, detail = "success", f"refused both forged deliveries; {said}"
    else:
        outcome, detail = "failure", f"not answered; {said}"
    actor.audit(SIGNATURE_CHECK, f"{hook.url} ({hook.id})", outcome=outcome, detail=detail, environment="production")
    return answers


def sender(deliver_to: str, resolve, in_process: Callable[[Send], Send]) -> Send:
    """Where the forged deliveries may go: `in_process` wraps the policy's sender with the hosts the portal
    reaches without a socket (its own receiver, the embedded simulator)."""
    return in_process(sender_for(deliver_to, resolve))


def check_production_endpoint(actor: Actor, api, secret_of: Callable[[str], str | None], send: Send) -> list[Answer] | None:
    """Check the endpoint the checklist judges (None when there is none): only ever its own registered URL."""
    hook = choose_endpoint(api.webhooks().value) if api is not None else None
    if hook is None:
        return None
    return check_handler(actor, hook, send, secret_of(hook.id))
