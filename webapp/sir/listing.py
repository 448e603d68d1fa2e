"""Whole lists from SIR Giving, whatever form they come in and however the upstream pages them.

The reference names no list scheme. A list may come as a bare JSON array, as `{"data": [...]}`, or as
`{"data": [...], "pagination": {...}}` (models.Page.parse reads all three). `collect` asks page after page
until the list says it is done, a short page arrives, or a page repeats ids already seen (an upstream that
ignores `page`), bounded by `max_pages`. What it could not be sure of is said: `complete` False means
"showing N of at least N".
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

T = TypeVar("T")
PAGE_SIZE = 100  # the most the reference's lists are known to give in one page
MAX_PAGES = 20  # at most 2,000 items: bounded work per request, and the page says when it stopped short


class Listing(list):
    """The items of a list (a plain list, so callers that iterate need not know) and whether that is all of
    them: `complete` False when the cap was reached or the upstream would not page."""

    def __init__(self, items=(), complete: bool = True):
        super().__init__(items)
        self.complete = complete

    @property
    def count_label(self) -> str:
        """"219", or "at least 2,000" when the portal could not see the end of the list."""
        return f"{len(self):,}" if self.complete else f"at least {len(self):,}"


def _identity(item) -> Any:
    return getattr(item, "id", None) or id(item)


def collect(fetch: Callable[[int, int], Any], parse_item: Callable[[Any], T], *, limit: int = PAGE_SIZE,
            max_pages: int = MAX_PAGES, path: str | None = None) -> Listing:
    """Every item of a list: `fetch(page, limit)` returns one page's raw payload."""
    from .models import Page

    items: list = []
    seen: set = set()
    for number in range(1, max_pages + 1):
        page = Page.parse(fetch(number, limit), parse_item, path=path)
        fresh = [item for item in page.items if _identity(item) not in seen]
        items += fresh
        seen.update(_identity(item) for item in fresh)
        if not page.items:
            return Listing(items, True)
        if not fresh:  # the same page again: the upstream ignores `page`, so the rest cannot be reached
            return Listing(items, page.total is not None and len(items) >= page.total)
        if page.has_more is not None:
            if not page.has_more:
                return Listing(items, True)
        elif page.total is not None:
            if len(items) >= page.total:
                return Listing(items, True)
        elif len(page.items) < limit:
            return Listing(items, True)
    return Listing(items, False)
