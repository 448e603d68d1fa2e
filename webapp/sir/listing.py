"""Whole lists from SIR Giving, whatever form they come in and however the upstream pages them.

The reference names no list scheme. A list may come as a bare JSON array, as `{"data": [...]}`, or as
`{"data": [...], "pagination": {...}}` (models.Page.parse reads all three). `collect` asks page after page
until the list says it is done, a short page arrives, or a page repeats ids already seen (an upstream that
ignores `page`), bounded by `max_pages`. What it could not be sure of is said: `complete` False means
"showing N of at least N".
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, TypeVar

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


class Pager:
    """Reads a list page by page, lazily (`pages()`); `complete` is known once the pages are exhausted.
    `fetch(page, limit)` returns one page's raw payload."""

    def __init__(self, fetch: Callable[[int, int], Any], parse_item: Callable[[Any], T], *, limit: int = PAGE_SIZE,
                 max_pages: int = MAX_PAGES, path: str | None = None):
        self.fetch, self.parse_item, self.limit, self.max_pages, self.path = fetch, parse_item, limit, max_pages, path
        self.complete: bool | None = None

    def pages(self) -> Iterator[list]:
        """The new items of each page, in order, until the list says it is done, a short page arrives, or
        a page repeats ids already seen (an upstream that ignores `page`); at most `max_pages`."""
        from .models import Page

        seen: set = set()
        count = 0
        for number in range(1, self.max_pages + 1):
            page = Page.parse(self.fetch(number, self.limit), self.parse_item, path=self.path)
            fresh = [item for item in page.items if _identity(item) not in seen]
            seen.update(_identity(item) for item in fresh)
            count += len(fresh)
            if fresh:
                yield fresh
            if not page.items:
                self.complete = True
            elif not fresh:  # the same page again: the upstream ignores `page`, the rest cannot be reached
                self.complete = page.total is not None and count >= page.total
            elif page.has_more is not None:
                self.complete = None if page.has_more else True
            elif page.total is not None:
                self.complete = True if count >= page.total else None
            elif len(page.items) < self.limit:
                self.complete = True
            if self.complete is not None:
                return
        self.complete = False


def collect(fetch: Callable[[int, int], Any], parse_item: Callable[[Any], T], *, limit: int = PAGE_SIZE,
            max_pages: int = MAX_PAGES, path: str | None = None) -> Listing:
    """Every item of a list, read to its end (bounded): see `Pager`."""
    pager = Pager(fetch, parse_item, limit=limit, max_pages=max_pages, path=path)
    items = [item for page in pager.pages() for item in page]
    return Listing(items, bool(pager.complete))
