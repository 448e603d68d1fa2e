"""The signature debugger: given a delivery's headers, raw body and a secret, show the exact signed string,
whether the received signature matches, and which part does not (timestamp window, format, body bytes, secret).
`diagnose` is a pure function; `check_received` and `check_pasted` add the secrets the portal keeps (from the
vault). A report never carries a secret. It carries the expected signature only for a secret the user pasted:
one computed from a kept secret would make the page a signing oracle (any admin could mint deliveries the
partner's own receivers accept), so with a kept secret the page only answers yes or no about a signature the
user already has."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field

from .. import clock
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
    secret_kept: bool = False  # checked with a secret the portal keeps: the expected signature is withheld
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


def _same(expected: str, received: str) -> bool:
    """Constant time, and as bytes: a pasted header may hold any character (a str must be ASCII here)."""
    return hmac.compare_digest(expected.encode(), received.encode())


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def diagnose(header_text: str, body: bytes, secret: str | None, secret_label: str | None,
             other_secrets: dict[str, str], now: float | None = None, pasted: bool = False,
             checked_at: str | None = None, show_expected: bool = False) -> Report:
    """`other_secrets` maps a label (an endpoint, never the secret) to a secret the portal keeps, to tell
    "signed with another endpoint's secret" apart from "the body changed". `pasted`: the body came through a
    browser form, which turns every line break into CRLF. `show_expected`: the secret is one the user pasted,
    so the report may carry the signature computed from it; never for a kept secret."""
    now = clock.timestamp() if now is None else now
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
    report.secret_kept = not show_expected
    expected = verification.expected_signature(secret, timestamp, body)
    if show_expected:
        report.expected = expected
    if _same(expected, received):
        report.verdicts.append(("signature", "ok", "The signature matches these body bytes, this timestamp and "
                                                   "this secret."))
        return report
    if pasted and b"\r\n" in body:
        unix = body.replace(b"\r\n", b"\n")
        expected_unix = verification.expected_signature(secret, timestamp, unix)
        if _same(expected_unix, received):
            if show_expected:
                report.expected = expected_unix
            report.signed_string = timestamp + "." + unix.decode("utf-8", "replace")
            report.verdicts.append(("signature", "ok", "The signature matches once the line breaks are \\n: your "
                                                       "browser sent the pasted body with \\r\\n line breaks, the "
                                                       "delivery itself had \\n."))
            return report
    report.verdicts.extend(_which_part(secret, timestamp, body, received, other_secrets, pasted))
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


def check_delivery(header_text: str, body: bytes, receiver: ReceiverEndpoint | None, vault: Vault,
                   sent_at: float) -> Report:
    """A delivery SIR Giving reports (its last attempt's headers, its envelope) checked with the endpoint's kept
    secret, at the moment it was sent. Like a received event: a yes or no, never the expected signature."""
    return diagnose(header_text, body, vault.decrypt(receiver.secret_encrypted) if receiver else None,
                    f"secret of {secret_label(receiver)}" if receiver else None, {}, now=sent_at,
                    checked_at="when it was sent")


def check_pasted(header_text: str, body: str, pasted_secret: str, chosen: ReceiverEndpoint | None,
                 kept: dict[str, ReceiverEndpoint], vault: Vault) -> Report:
    """A pasted delivery checked with the pasted secret, or else the chosen endpoint's kept one; the other
    kept secrets tell "signed with another endpoint's secret" apart from "the body changed"."""
    secret = pasted_secret or (vault.decrypt(chosen.secret_encrypted) if chosen else None)
    label = "pasted secret" if pasted_secret else (f"secret of {secret_label(chosen)}" if chosen else None)
    others = {secret_label(r): vault.decrypt(r.secret_encrypted) for r in kept.values()
              if pasted_secret or r is not chosen}
    return diagnose(header_text, body.encode(), secret, label, others, now=clock.timestamp(), pasted=True, show_expected=bool(pasted_secret))


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


# `name=digest`: the name of a prefix (a base64 digest has `=` only at its end, so it never reads as one).
_PREFIXED = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,15})=(.+)", re.S)
_HEX = re.compile(r"[0-9a-fA-F]+")
_HASH_BY_HEX_LENGTH = {32: "MD5", 40: "SHA-1", 56: "SHA-224", 96: "SHA-384", 128: "SHA-512"}


def _read_signature(received: str) -> tuple[bytes | None, list[str]]:
    """The digest X-SIR-Signature carries, decoded whatever its encoding (None when it cannot be), and what is
    wrong with its format: nothing when it is `sha256=` and 64 lowercase hex characters. Needs no secret."""
    problems = []
    prefixed = _PREFIXED.fullmatch(received)
    if prefixed is None:
        problems.append("the `sha256=` prefix is missing")
        digest = received
    else:
        name, digest = prefixed.groups()
        if name == "SHA256" or (name.lower() == "sha256" and name != "sha256"):
            problems.append(f"the prefix is `{name}=`; SIR Giving writes `sha256=` in lowercase")
        elif name != "sha256":
            problems.append(f"the prefix is `{name}=`, not `sha256=`")
    if _HEX.fullmatch(digest):
        if len(digest) != 64:
            other = _HASH_BY_HEX_LENGTH.get(len(digest))
            problems.append(f"the digest has {len(digest)} hex characters where HMAC-SHA256 has 64"
                            + (f" ({other}'s length: made with another hash?)" if other else
                               " (cut short, or run together with something else?)"))
            return None, problems
        if digest != digest.lower():
            problems.append("the hex is in capitals; SIR Giving sends lowercase hex")
        return bytes.fromhex(digest), problems
    try:
        raw = base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        raw = None
    if raw is not None and len(raw) == 32:
        problems.append("the digest is base64; SIR Giving sends lowercase hex")
        return raw, problems
    problems.append("the digest is not hexadecimal (only 0-9 and a-f)")
    return None, problems


def _which_part(secret: str, timestamp: str, body: bytes, received: str, others: dict[str, str],
                pasted: bool) -> list[tuple[str, str, str]]:
    """The signature differs: find the most likely reasons, in order of how often each happens. Every check
    compares the signature the user already has; none tells them one they do not."""
    digest, problems = _read_signature(received.strip())
    if problems:
        problems_text = "; ".join(problems)
        if digest is not None and hmac.compare_digest(_hmac(secret, verification.signed_payload(timestamp, body)),
                                                      digest):
            return [("signature format", "bad", f"The digest is right, but {problems_text}.")]
        found = [("signature format", "bad", f"X-SIR-Signature is `sha256=` and 64 lowercase hex characters; "
                                             f"here {problems_text}.")]
        if digest is None:
            return found + [("secret or body bytes", "unknown", "Not compared: the digest cannot be read.")]
    else:
        found = []
    return found + [_which_content(secret, timestamp, body, "sha256=" + digest.hex(), others, pasted)]


def _which_content(secret: str, timestamp: str, body: bytes, received: str, others: dict[str, str], pasted: bool):
    """What was signed differs (body bytes, signed string, secret); `received` is in SIR Giving's format."""
    for label, variant in _body_variants(body, pasted):
        if _same(verification.expected_signature(secret, timestamp, variant), received):
            return ("body bytes", "bad", f"The signature matches once the body is {label}: the bytes checked are "
                                         "not the bytes that were signed. Verify the raw body, before any parsing.")
    if _same("sha256=" + _hmac(secret, body).hex(), received):
        return ("signed string", "bad", "The signature covers the body alone; SIR Giving signs "
                                        "X-SIR-Timestamp + \".\" + body.")
    if _same("sha256=" + _hmac(secret, timestamp.encode() + body).hex(), received):
        return ("signed string", "bad", "The signature covers timestamp + body without the \".\" between them.")
    for label, other in others.items():
        if other != secret and _same(verification.expected_signature(other, timestamp, body), received):
            return ("secret", "bad", f"This delivery was signed with the secret of {label}, not the one chosen.")
    return ("secret or body bytes", "bad", "No match. Either the secret is not the one this endpoint was registered "
                                           "with, or the body differs from what was sent (even one byte, or JSON "
                                           "re-serialised). The timestamp is part of the signed string too."
                                           + "".join(" " + hint for hint in _body_hints(body)))


def _body_hints(body: bytes):
    """What about the body itself often means it is not the bytes that were sent: read from the body alone."""
    if body.startswith(b"\xef\xbb\xbf"):
        yield "The body starts with a byte-order mark, which SIR Giving does not send."
    if body.endswith((b"\n", b"\r")):
        yield "The body ends with a line break: if a log or an editor added it, it is not part of what was signed."
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    if body.strip() != json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode() and \
            body.strip() != json.dumps(parsed, separators=(",", ":")).encode():
        yield ("The body is JSON laid out with spaces or line breaks: if it was pretty-printed or parsed and "
               "written again on the way, paste the raw body as it arrived.")


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
