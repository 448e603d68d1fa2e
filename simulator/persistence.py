"""Runtime state that survives a restart: an append-only journal of domain operations, replayed over the seed.

Line 1 is a header (`seed`, the exact `seedTime` the demo data was built at, the JWT signing key), so the
replay starts from the very same seeded state. Every later line is one operation as the simulator ran it:
`{"op", "at", "args", "kwargs", "ids"}` — the method name, the frozen clock, the arguments, and the ids and
secrets it generated. Replaying the lines in order through the same methods rebuilds the same state.

A write is one short JSON line handed to the OS (no fsync, no snapshot of the whole state), so persistence
costs a request microseconds; a crash of the process loses nothing the OS already holds. The file is 0600:
it holds secrets (the simulator's own, for a local demo).
"""

from __future__ import annotations

import json
import logging
import os
import threading

MAGIC = "sir-simulator-journal"
VERSION = 1
log = logging.getLogger(__name__)


class Journal:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self._file = None

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
                except ValueError:
                    # A torn last line (the process died mid-write) is dropped; anything else is reported.
                    log.warning("simulator journal %s: line %d is not JSON; ignored", self.path, number)
                    continue
                if header is None:
                    if item.get("journal") != MAGIC or item.get("version") != VERSION:
                        log.warning("simulator journal %s has an unknown header; starting from the seed", self.path)
                        return None, []
                    header = item
                else:
                    records.append(item)
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
                handle.write(json.dumps({"journal": MAGIC, "version": VERSION, **header}) + "\n")
                for record in records or ():
                    handle.write(json.dumps(record, separators=(",", ":")) + "\n")
            os.replace(temporary, self.path)
            self._file = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
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
