"""The signature debugger: given a delivery's headers, raw body and a secret, show the exact signed string,
the expected and received signatures, and which part does not match (secret, timestamp window, body bytes).
`diagnose` is a pure function; `check_received` and `check_pasted` add the secrets the portal keeps (from the
vault). A report never carries a secret, only signatures computed with it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field

from ..sir import webhooks as verification
from ..sir.times import parse_time
from ..store.models import ReceivedEvent, ReceiverEndpoint
from ..store.vault import Vault
from .registration import delivers_to_portal


@dataclass
class Report:
    timestamp: str | None
    received: str | None
    signed_string: str
    expected: str | None
    secret_label: str | None
    body_bytes: int = 0
    checked_at: str | None = None  # "when it arrived" for a received event; None means now
    verdicts: list[tuple[str, str, str]] = field(default_factory=list)  # (part, ok|bad|unknown, explanation)

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and all(v[1] == "ok" for v in self.verdicts)

    @property
    def mismatch(self) -> list[str]:
        """The parts that do not match, in the partner's words."""
        return [part for part, verdict, _ in self.verdicts if verdict == "bad"]


def parse_headers(text: str) -> dict[str, str]:
    """Headers as pasted from a log, a request inspector or curl -v: `Name: value` per line (any case;
    a leading `> ` or `< ` is ignored)."""
    headers = {}
    for line in text.splitlines():
        line = line.strip().lstrip("<>").strip()
        name, _, value = line.partition(":")
        if value.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def diagnose(header_text: str, body: bytes, secret: str | None, secret_label: str | None,
             other_secrets: dict[str, str], now: float | None = None, pasted: bool = False,
             checked_at: str | None = None) -> Report:
    """`other_secrets` maps a label (an endpoint, never the secret) to a secret the portal keeps, to tell
    "signed with another endpoint's secret" apart from "the body changed". `pasted`: the body came through a
    browser form, which turns every line break into CRLF."""
    now = time.time() if now is None else now
    headers = parse_headers(header_text)
    timestamp, received = headers.get("x-sir-timestamp"), headers.get("x-sir-signature")
    report = Report(timestamp, received, "", None, secret_label, len(body), checked_at)
    report.signed_string = (timestamp or "<missing X-SIR-Timestamp>") + "." + body.decode("utf-8", "replace")
    missing = [name for name, value in (("X-SIR-Timestamp", timestamp), ("X-SIR-Signature", received)) if not value]
    if missing:
        report.verdicts.append(("headers", "bad", f"Missing {' and '.join(missing)}: paste both delivery headers, "
                                                  "one per line, as `Name: value`."))
        return report
    _check_window(report, timestamp, now)
    if secret is None:
        report.verdicts.append(("secret", "unknown", "Choose an endpoint whose secret the portal keeps, or paste "
                                                     "the secret, to compare signatures."))
        return report
    report.expected = verification.expected_signature(secret, timestamp, body)
    if hmac.compare_digest(report.expected, received):
        report.verdicts.append(("signature", "ok", "The signature matches these body bytes, this timestamp and "
                                                   "this secret."))
        return report
    if pasted and b"\r\n" in body:
        unix = body.replace(b"\r\n", b"\n")
        if hmac.compare_digest(verification.expected_signature(secret, timestamp, unix), received):
            report.expected = verification.expected_signature(secret, timestamp, unix)
            report.signed_string = timestamp + "." + unix.decode("utf-8", "replace")
            report.verdicts.append(("signature", "ok", "The signature matches once the line breaks are \\n: your "
                                                       "browser sent the pasted body with \\r\\n line breaks, the "
                                                       "delivery itself had \\n."))
            return report
    report.verdicts.append(_which_part(secret, timestamp, body, received, other_secrets, pasted))
    return report


def secret_label(receiver: ReceiverEndpoint) -> str:
    """How the page names a kept secret: by its endpoint, never by the secret."""
    return f"the portal's receiver ({receiver.webhook_id})" if delivers_to_portal(receiver) else receiver.url


def received_headers(event: ReceivedEvent) -> str:
    """The signature headers a received event arrived with, as the form shows them."""
    return f"X-SIR-Timestamp: {event.signature_timestamp}\nX-SIR-Signature: {event.signature}"


def check_received(event: ReceivedEvent, receiver: ReceiverEndpoint | None, vault: Vault) -> Report:
    """A received event checked on the exact bytes the receiver kept, with its receiver's secret, at the
    moment it arrived."""
    return diagnose(received_headers(event), event.raw_body.encode(),
                    vault.decrypt(receiver.secret_encrypted) if receiver else None,
                    f"secret of {secret_label(receiver)}" if receiver else None,
                    {}, now=parse_time(event.received_at).timestamp(), checked_at="when it arrived")


def check_pasted(header_text: str, body: str, pasted_secret: str, chosen: ReceiverEndpoint | None,
                 kept: dict[str, ReceiverEndpoint], vault: Vault) -> Report:
    """A pasted delivery checked with the pasted secret, or else the chosen endpoint's kept one; the other
    kept secrets tell "signed with another endpoint's secret" apart from "the body changed"."""
    secret = pasted_secret or (vault.decrypt(chosen.secret_encrypted) if chosen else None)
    label = "pasted secret" if pasted_secret else (f"secret of {secret_label(chosen)}" if chosen else None)
    others = {secret_label(r): vault.decrypt(r.secret_encrypted) for r in kept.values()
              if pasted_secret or r is not chosen}
    return diagnose(header_text, body.encode(), secret, label, others, pasted=True)


def _check_window(report: Report, timestamp: str, now: float) -> None:
    try:
        sent_at = int(timestamp)
    except ValueError:
        report.verdicts.append(("timestamp window", "bad", "X-SIR-Timestamp is not a whole number of seconds."))
        return
    if len(timestamp.lstrip("-")) >= 13:
        report.verdicts.append(("timestamp window", "bad", "X-SIR-Timestamp looks like milliseconds; SIR Giving "
                                                           "sends Unix seconds."))
        return
    age = now - sent_at
    when = report.checked_at or "now"
    tense = "ago" if age >= 0 else "in the future"
    within = abs(age) <= verification.TOLERANCE_SECONDS
    report.verdicts.append(("timestamp window", "ok" if within else "bad",
                            f"Signed {int(abs(age)):,} s {tense}, measured {when}; a receiver accepts at most "
                            f"{verification.TOLERANCE_SECONDS} s either way."
                            + ("" if within else " Check the receiving server's clock, or whether the delivery "
                                                 "was replayed.")))


def _which_part(secret: str, timestamp: str, body: bytes, received: str, others: dict[str, str], pasted: bool):
    """The signature differs: find the most likely reason, in order of how often each happens."""
    expected_hex = _hex_hmac(secret, verification.signed_payload(timestamp, body))
    bare = received.strip()
    if bare.lower() == expected_hex or bare.lower() == "sha256=" + expected_hex:
        if not bare.startswith("sha256="):
            return ("signature format", "bad", "The hex digest is right but the `sha256=` prefix is missing.")
        return ("signature format", "bad", "The digest is right but in capitals; SIR Giving sends lowercase hex.")
    for label, variant in _body_variants(body, pasted):
        if hmac.compare_digest(verification.expected_signature(secret, timestamp, variant), received):
            return ("body bytes", "bad", f"The signature matches once the body is {label}: the bytes checked are "
                                         "not the bytes that were signed. Verify the raw body, before any parsing.")
    if hmac.compare_digest("sha256=" + _hex_hmac(secret, body), received):
        return ("signed string", "bad", "The signature covers the body alone; SIR Giving signs "
                                        "X-SIR-Timestamp + \".\" + body.")
    if hmac.compare_digest("sha256=" + _hex_hmac(secret, timestamp.encode() + body), received):
        return ("signed string", "bad", "The signature covers timestamp + body without the \".\" between them.")
    for label, other in others.items():
        if other != secret and hmac.compare_digest(verification.expected_signature(other, timestamp, body), received):
            return ("secret", "bad", f"This delivery was signed with the secret of {label}, not the one chosen.")
    return ("secret or body bytes", "bad", "No match. Either the secret is not the one this endpoint was registered "
                                           "with, or the body differs from what was sent (even one byte, or JSON "
                                           "re-serialised). The timestamp is part of the signed string too.")


def _body_variants(body: bytes, pasted: bool):
    yield "without its trailing newline", body.rstrip(b"\r\n")
    yield "with a trailing newline", body + b"\n"
    if not pasted:
        yield "with \\n line breaks instead of \\r\\n", body.replace(b"\r\n", b"\n")
    yield "without surrounding whitespace", body.strip()
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    yield "re-serialised as compact JSON", json.dumps(parsed, separators=(",", ":")).encode()
    yield "re-serialised as compact JSON with non-ASCII kept", json.dumps(parsed, separators=(",", ":"),
                                                                           ensure_ascii=False).encode()
    yield "re-serialised as JSON with spaces after separators", json.dumps(parsed).encode()
