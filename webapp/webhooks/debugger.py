"""The signature debugger: given a delivery's headers, raw body and a secret, show the exact signed string,
the expected and received signatures, and which part does not match. Pure functions; never returns a secret."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..sir import webhooks as verification


@dataclass
class Report:
    timestamp: str | None
    received: str | None
    signed_string: str
    expected: str | None
    secret_label: str | None
    verdicts: list[tuple[str, str, str]] = field(default_factory=list)  # (part, ok|bad|unknown, explanation)

    @property
    def ok(self) -> bool:
        return all(v[1] == "ok" for v in self.verdicts)


def parse_headers(text: str) -> dict[str, str]:
    headers = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if value:
            headers[name.strip().lower()] = value.strip()
    return headers


def diagnose(header_text: str, body: bytes, secret: str | None, secret_label: str | None,
             other_secrets: dict[str, str], now: float | None = None) -> Report:
    now = time.time() if now is None else now
    headers = parse_headers(header_text)
    timestamp, received = headers.get("x-sir-timestamp"), headers.get("x-sir-signature")
    signed = (timestamp or "<missing X-SIR-Timestamp>") + "." + body.decode("utf-8", "replace")
    report = Report(timestamp, received, signed, None, secret_label)
    if not timestamp or not received:
        report.verdicts.append(("headers", "bad", "Both X-SIR-Timestamp and X-SIR-Signature are needed."))
        return report
    try:
        age = now - int(timestamp)
        window_ok = abs(age) <= verification.TOLERANCE_SECONDS
        report.verdicts.append(("timestamp window", "ok" if window_ok else "bad",
                                f"Sent {int(abs(age))} s {'ago' if age >= 0 else 'in the future'}; at most 300 s is accepted."))
    except ValueError:
        report.verdicts.append(("timestamp window", "bad", "X-SIR-Timestamp is not a whole number of seconds."))
        return report
    if secret is None:
        report.verdicts.append(("secret", "unknown", "Choose a stored endpoint secret or paste one to compare signatures."))
        return report
    report.expected = verification.expected_signature(secret, timestamp, body)
    if report.expected == received:
        report.verdicts.append(("signature", "ok", "The signature matches the body, timestamp and secret."))
        return report
    # Which part differs? Try the usual suspects: the body's bytes as they were before a framework touched them.
    for label, variant in _body_variants(body):
        if verification.expected_signature(secret, timestamp, variant) == received:
            report.verdicts.append(("body bytes", "bad", f"The signature matches once the body is {label}: your code "
                                                         "verifies different bytes than were sent. Verify the raw body."))
            return report
    for url, other in other_secrets.items():
        if verification.expected_signature(other, timestamp, body) == received:
            report.verdicts.append(("secret", "bad", f"This delivery was signed with the secret of {url}, not the one chosen."))
            return report
    report.verdicts.append(("signature", "bad", "No match: the secret is not this endpoint's, or the body was changed "
                                                "(even one byte, or re-serialised JSON)."))
    return report


def _body_variants(body: bytes):
    yield "without its trailing newline", body.rstrip(b"\r\n")
    yield "with a trailing newline", body + b"\n"
    yield "with \\n line endings instead of \\r\\n", body.replace(b"\r\n", b"\n")
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    yield "the compact JSON re-serialisation", json.dumps(parsed, separators=(",", ":")).encode()
    yield "JSON with spaces after separators", json.dumps(parsed).encode()
