"""Uploading a batch file: read and check every row, keep the batch only when every row is good.

The rows are stored as they are read, in pages (10,000 rows are a few executemany calls), inside one
transaction that is rolled back at the first bad row's end of file: a file with a bad row keeps nothing and
sends nothing, and the admin sees every bad row by its line number at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from ..actor import Actor
from ..store import batches as store
from . import csvfile

PAGE = 1000  # rows inserted at once
PROBLEMS_SHOWN = 200  # a file of 10,000 bad rows lists the first ones and counts the rest


@dataclass
class Upload:
    batch: store.RewardBatch | None = None
    problems: list[csvfile.Problem] = field(default_factory=list)
    more_problems: int = 0
    earlier: store.RewardBatch | None = None  # the same file, uploaded before (same keys: nothing is doubled)

    @property
    def ok(self) -> bool:
        return self.batch is not None


def upload(actor: Actor, stream: BinaryIO, filename: str, max_rows: int) -> Upload:
    file_print = csvfile.fingerprint(stream)
    batch = store.create(actor.partner_id, actor.environment, filename or "batch.csv", file_print, actor.email)
    result = Upload()
    page: list[tuple[int, str, dict, int]] = []
    rows = tokens = 0
    for item in csvfile.read_rows(stream, file_print, max_rows):
        if isinstance(item, csvfile.Problem):
            if len(result.problems) < PROBLEMS_SHOWN:
                result.problems.append(item)
            else:
                result.more_problems += 1
            continue
        rows += 1
        tokens += item.tokens
        if result.problems:
            continue  # nothing will be kept: checking the rest, storing none
        page.append((item.number, item.key, item.payload, item.tokens))
        if len(page) >= PAGE:
            store.add_rows(batch, page)
            page = []
    if result.problems:
        store.discard()
        actor.audit("batch_refused", filename or "batch.csv", outcome="failure",
                    detail=f"{len(result.problems) + result.more_problems:,} bad rows; nothing sent")
        return result
    store.add_rows(batch, page)
    store.finish_upload(batch, rows, tokens)
    actor.audit("batch_uploaded", f"batch {batch.id} ({batch.filename})",
                detail=f"{rows:,} rows, about {tokens:,} tokens before the campaign")
    result.batch = batch
    result.earlier = store.earlier_upload(actor.partner_id, actor.environment, file_print, batch.id)
    return result
