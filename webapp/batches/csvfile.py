"""Reading a batch file: the documented columns, every row checked before anything is sent, row-numbered problems.

The file is read as a stream (the upload sits in a spooled temporary file, never whole in a Python string), one
row at a time, so 10,000 rows cost a few milliseconds each and little memory. The checks are the ones SIR Giving
applies to an action (reference: "Submit a reward action"), so a row that passes here is not refused for its
shape upstream, plus the file's own: its encoding, its columns, cells that a spreadsheet would run as formulas,
and idempotency keys that repeat.

A row without an idempotency key gets one derived from the file (its SHA-256) and the row's content: the same
file uploaded again gets the same keys, so SIR Giving recognises a resend and never rewards twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .plan import ACTION_TYPES, AMOUNT_REQUIRED, MAX_AMOUNT, estimated_tokens

# (column, required, what it holds): the page documents the columns from this list, and the template has them.
COLUMNS = (
    ("partner_user_id", True, "Your id for the user who earns the reward (at most 128 characters)."),
    ("action_type", True, "One of " + ", ".join(ACTION_TYPES) + "."),
    ("amount", True, "The purchase or donation amount, a number greater than 0; required for PURCHASE and "
                     "DONATION, may be empty for the others."),
    ("currency", True, "Three letters such as USD; required when there is an amount."),
    ("idempotency_key", False, "Your stable id for this reward (at most 120 characters). Empty: the portal "
                               "derives one from the file and the row, so the same file never rewards twice."),
    ("email", False, "The user's email, used when SIR Giving creates the user."),
    ("first_name", False, "The user's first name (at most 200 characters)."),
    ("last_name", False, "The user's last name (at most 200 characters)."),
    ("metadata", False, 'A JSON object kept with the action, e.g. {"orderId": "98765"}.'),
)
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)
REQUIRED = tuple(name for name, required, _ in COLUMNS if required)
TEMPLATE_ROWS = (
    ("user_0001", "VOLUNTEER", "", "", "shift_2026_11_30_user_0001", "ada@example.com", "Ada", "Lovelace", ""),
    ("user_0002", "PURCHASE", "49.99", "USD", "", "", "", "", '{"orderId": "98765"}'),
)

# A spreadsheet runs a cell that starts like this as a formula (see webapp/csv_export.py): refused, not sent on.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
KEY_MAX = 120  # SIR Giving allows 128: the rest is room for the suffix of a failed row sent again
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
READ_BLOCK = 64 * 1024


@dataclass(frozen=True)
class Row:
    number: int  # the line of the file it starts on (the header is line 1)
    key: str
    payload: dict
    tokens: int  # estimated, before the campaign's multiplier


@dataclass(frozen=True)
class Problem:
    number: int | None  # None: the file as a whole
    message: str


def fingerprint(stream: BinaryIO) -> str:
    """The SHA-256 of the file, read in blocks; the stream is left at its start for the reader."""
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(READ_BLOCK), b""):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def derived_key(file_print: str, payload: dict) -> str:
    """A stable key from the file and the row's content (not its position: a row moved is the same reward)."""
    content = json.dumps({k: v for k, v in payload.items() if k != "idempotencyKey"}, sort_keys=True,
                         separators=(",", ":"))
    return f"batch-{file_print[:16]}-{hashlib.sha256(content.encode()).hexdigest()[:32]}"


def read_rows(stream: BinaryIO, file_print: str, max_rows: int) -> Iterator[Row | Problem]:
    """Every row of the file, checked: a `Row` to send, or a `Problem` naming the line. Stops at a problem with
    the file as a whole (encoding, columns, too many rows)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as error:
        yield _unreadable(error, 1)
        return
    if header is None or not any(cell.strip() for cell in header):
        yield Problem(None, "The file is empty: its first line must name the columns (download the template).")
        return
    names = [cell.strip().lower().replace(" ", "_") for cell in header]
    unknown = [name for name in names if name not in COLUMN_NAMES]
    missing = [name for name in REQUIRED if name not in names]
    if unknown or missing:
        parts = []
        if missing:
            parts.append("it has no column " + ", ".join(missing))
        if unknown:
            parts.append("it has columns the portal does not know: " + ", ".join(repr(n) for n in unknown))
        yield Problem(1, "The first line names the columns, and " + "; ".join(parts)
                      + ". The columns are: " + ", ".join(COLUMN_NAMES) + ".")
        return
    seen: dict[str, int] = {}
    count = 0
    number = 1
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except (UnicodeDecodeError, csv.Error) as error:
            yield _unreadable(error, start)
            return
        number = start
        if not any(cell.strip() for cell in cells):
            continue  # a blank line (a spreadsheet's trailing rows) is no reward
        count += 1
        if count > max_rows:
            yield Problem(None, f"The file has more than {max_rows:,} rows: split it into files of at most "
                                f"{max_rows:,} rows.")
            return
        checked = _row(number, names, cells, file_print)
        if isinstance(checked, Problem):
            yield checked
            continue
        earlier = seen.get(checked.key)
        if earlier is not None:
            own = checked.payload.get("_own_key")
            yield Problem(number, f"Its idempotency key {checked.key!r} is also row {earlier}'s: one key is one "
                                  f"reward, so SIR Giving would reward only one of them." if own else
                                  f"It repeats row {earlier} exactly, so it would be the same reward. If both are "
                                  f"meant, give each its own idempotency_key.")
            continue
        seen[checked.key] = number
        checked.payload.pop("_own_key", None)
        yield checked
    if count == 0:
        yield Problem(None, "The file has a header but no rows.")


def _unreadable(error: Exception, line: int) -> Problem:
    if isinstance(error, UnicodeDecodeError):
        return Problem(line, "The file is not UTF-8 text from this line on. Save it as \"CSV UTF-8\" and "
                             "upload it again.")
    if "NUL" in str(error):
        return Problem(line, "The file holds binary data, not CSV text: export the sheet as CSV.")
    return Problem(line, f"The line cannot be read as CSV ({error}).")


def _row(number: int, names: list[str], cells: list[str], file_print: str) -> Row | Problem:
    if len(cells) > len(names):
        return Problem(number, f"It has {len(cells)} cells, but the first line names {len(names)} columns.")
    raw = dict(zip(names, cells))
    problems = []
    for name, value in raw.items():
        if value.startswith(FORMULA_STARTS):
            problems.append(f"{name} starts with {value[:1]!r}, like a spreadsheet formula; the portal does not "
                            f"send formulas")
    if problems:
        return Problem(number, "; ".join(problems) + ".")
    value = {name: (raw.get(name) or "").strip() for name in COLUMN_NAMES}
    user, action_type = value["partner_user_id"], value["action_type"].upper()
    if not user:
        problems.append("partner_user_id is empty")
    elif len(user) > 128:
        problems.append("partner_user_id is longer than 128 characters")
    if action_type not in ACTION_TYPES:
        problems.append(f"action_type {value['action_type']!r} is not one of {', '.join(ACTION_TYPES)}"
                        if value["action_type"] else "action_type is empty")
    amount = None
    if value["amount"]:
        try:
            amount = float(value["amount"])
        except ValueError:
            problems.append(f"amount {value['amount']!r} is not a number")
        else:
            if not 0 < amount <= MAX_AMOUNT:
                problems.append(f"amount must be greater than 0 and at most {MAX_AMOUNT:,}")
                amount = None
    elif action_type in AMOUNT_REQUIRED:
        problems.append(f"amount is required for {action_type}")
    currency = value["currency"].upper()
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        problems.append(f"currency {value['currency']!r} is not three letters such as USD")
    elif value["amount"] and not currency:
        problems.append("currency is required with an amount")
    key = value["idempotency_key"]
    if len(key) > KEY_MAX:
        problems.append(f"idempotency_key is longer than {KEY_MAX} characters")
    if value["email"] and (len(value["email"]) > 200 or not EMAIL.fullmatch(value["email"])):
        problems.append(f"email {value['email'][:60]!r} is not an email address")
    for name in ("first_name", "last_name"):
        if len(value[name]) > 200:
            problems.append(f"{name} is longer than 200 characters")
    metadata = None
    if value["metadata"]:
        try:
            metadata = json.loads(value["metadata"])
        except ValueError:
            metadata = None
        if not isinstance(metadata, dict):
            problems.append('metadata is not a JSON object like {"orderId": "98765"}')
    if problems:
        return Problem(number, "; ".join(problems) + ".")
    stakeholder = {"stakeholderTypeCode": "CUSTOMER", "partnerUserId": user}
    for column, field in (("email", "userEmail"), ("first_name", "userFirstName"), ("last_name", "userLastName")):
        if value[column]:
            stakeholder[field] = value[column]
    payload = {"actionType": action_type, "stakeholders": [stakeholder], "autoCreateUsers": True}
    if amount is not None:
        payload["amount"], payload["currency"] = amount, currency
    if metadata:
        payload["metadata"] = metadata
    payload["idempotencyKey"] = key or derived_key(file_print, payload)
    payload["_own_key"] = bool(key)
    return Row(number, payload["idempotencyKey"], payload, estimated_tokens(action_type, amount))

