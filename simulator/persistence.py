"""Runtime state that survives a restart: an append-only journal of domain operations, replayed over the seed.

Line 1 is a header (`seed`, the exact `seedTime` the demo data was built at, the JWT signing key), so the
replay starts from the very same seeded state. Every later line is one operation as the simulator ran it:
`{"op", "at", "args", "kwargs", "ids"}` — the method name, the frozen clock, the arguments, and the ids and
secrets it generated. Replaying the lines in order through the same methods rebuilds the same state.

A write is one short JSON line handed to the OS (no fsync, no snapshot of the whole state), so persistence
costs a request microseconds; a crash of the process loses nothing the OS already holds. The file is 0600.

It holds secrets (every key's secret and HMAC secret, webhook secrets, the JWT signing key). Given a Fernet
`key`, each line is sealed: `{"sealed": "<token>"}` (the header keeps only its magic and version in the
clear), so nothing secret is on disk in plaintext. A sealed journal read without its key, or with another,
stops the start with a JournalError rather than silently starting over from the seed: a portal would then
hold credentials its upstream had forgotten. An unsealed journal is read as it is and sealed when rewritten.
"""

from __future__ import annotations

import json
import logging
import os
import threading

from cryptography.fernet import Fernet, InvalidToken

MAGIC = "sir-simulator-journal"
VERSION = 1
log = logging.getLogger(__name__)


class JournalError(RuntimeError):
    pass


class Journal:
    def __init__(self, path: str, key: str | bytes | None = None):
        self.path = path
        self.lock = threading.Lock()
        self._file = None
        self._fernet = Fernet(key) if key else None

    def _line(self, item: dict) -> str:
        text = json.dumps(item, separators=(",", ":"))
        if self._fernet is not None:
            text = json.dumps({"sealed": self._fernet.encrypt(text.encode()).decode()})
        return text + "\n"

    def _open(self, item: dict, number: int) -> dict:
        if "sealed" not in item:
            return item
        if self._fernet is None:
            raise JournalError(f"simulator journal {self.path} is sealed: give the key it was written with "
                               "(SIMULATOR_STATE_KEY), or remove the file to start from the seed")
        try:
            return json.loads(self._fernet.decrypt(item["sealed"].encode()))
        except InvalidToken:
            raise JournalError(f"simulator journal {self.path}: line {number} does not open with this key; "
                               "give the key it was written with, or remove the file to start from the seed") from None

    def load(self) -> tuple[dict | None, list[dict]]:
        """The header and the records, or (None, []) when there is no usable journal."""
        if not os.path.exists(self.path):
            return None, []
        header, records = None, []
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    if not isinstance(item, dict):
                        raise ValueError("not an object")
                except ValueError:
                    # A torn last line (the process died mid-write) is dropped; anything else is reported.
                    log.warning("simulator journal %s: line %d is not JSON; ignored", self.path, number)
                    continue
                if header is None:
                    if item.get("journal") != MAGIC or item.get("version") != VERSION:
                        log.warning("simulator journal %s has an unknown header; starting from the seed", self.path)
                        return None, []
                    header = {**item, **self._open(item, number)}  # sealed: magic and version, then what opens
                    header.pop("sealed", None)
                else:
                    records.append(self._open(item, number))
        return header, records

    def start(self, header: dict, records: list[dict] | None = None) -> None:
        """(Re)write the file with `header` (and `records`), then keep it open for appending."""
        with self.lock:
            self.close()
            temporary = f"{self.path}.tmp"
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                opening = {"journal": MAGIC, "version": VERSION}
                if self._fernet is None:
                    handle.write(json.dumps({**opening, **header}) + "\n")
                else:  # magic and version stay readable, so a journal is recognised before it is opened
                    sealed = json.loads(self._line(header))
                    handle.write(json.dumps({**opening, **sealed}) + "\n")
                for record in records or ():
                    handle.write(self._line(record))
            os.replace(temporary, self.path)
            self._file = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        line = self._line(record)
        with self.lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()  # to the OS at once: a crash keeps it; no fsync, so it stays cheap

    def flush(self) -> None:
        with self.lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
