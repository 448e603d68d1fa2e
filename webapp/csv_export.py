"""Every CSV the portal writes (the audit log, webhook deliveries): one helper, so every export is safe alike.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(…)` leaks data,
`+cmd|…` ran commands in old Excel); some strip a leading tab or carriage return first. Names typed by admins and
texts from upstream end up in these cells, so such a cell gets a leading apostrophe, which spreadsheets show
as text (OWASP's advice). Rows are written as they are read: a 50,000-row export never sits in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    """`cell` as a spreadsheet will show it, never run it: a text that starts like a formula gets an apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class _Line:
    """What `csv.writer` writes to: each row comes back as the text of its line."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: Sequence, rows: Iterable[Sequence]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def csv_response(filename: str, header: Sequence, rows: Iterable[Sequence]) -> Response:
    """A CSV download of `rows` (read lazily, while the response is sent), every cell neutralised.

    The request's context is pushed again while it streams, but the view's database session has ended by
    then: pass a generator that runs its query when first read, not the result of a query run in the view."""
    response = Response(stream_with_context(csv_lines(header, rows)), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    # An export is the partner's data: never kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response
