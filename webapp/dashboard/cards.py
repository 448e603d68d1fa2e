"""The overview's cards: what each one asks SIR Giving, which parameters it takes, and how they load.

The overview fetches every card's call at once on a small thread pool, so the page costs about one round
trip of the slowest call instead of one per card (a browser would also open at most six connections per
host, so eight lazily loaded cards would take two rounds). The page itself is streamed (views.overview):
each card is sent the moment its own answer arrives (`in_order_of_arrival`). A card still waiting when the
time budget runs out is sent as a skeleton that loads itself; its answer, once it arrives, is in the HTTP cache.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator

from ..sir import errors
from ..outages import held_back
from ..parallel import POOL, Task, done
from ..sir.api import Parsed, PartnerApi
from ..sir.client import CACHED_ONLY, DEPARTING, NotCached, cached_only
from . import usage

BUDGET_SECONDS = 2.5

# Parameters a card takes: name → (allowed values, default). They live in the page's URL.
PARAMS = {
    "trend_days": ((7, 30, 90), 30),
    "earners_limit": ((5, 10, 25), 10),
    "usage_days": ((1, 7, 30), 7),
}


def read_params(source) -> dict:
    """Known parameters from a query string; an unknown or bad value falls back to the default."""
    values = {}
    for name, (allowed, default) in PARAMS.items():
        try:
            value = int(source.get(name, default))
        except (TypeError, ValueError):
            value = default
        values[name] = value if value in allowed else default
    return values


@dataclass
class Card:
    id: str
    title: str
    template: str
    fetch: Callable[[PartnerApi, dict, dict], Parsed]
    wide: bool = False


@dataclass
class Loaded:
    card: Card
    value: Any = None
    reply: Any = None
    error: errors.SirError | None = None
    pending: bool = False
    extra: dict = field(default_factory=dict)


_SHARED_LOCK = threading.Lock()


def shared(hints: dict, key: str, call: Callable[[], Parsed]) -> Parsed:
    """One upstream call per view for what two cards both need (the runway card reuses the trends card's
    30-day trends): the first card to ask makes the call, the other waits for the same answer."""
    if CACHED_ONLY.get():
        return _shared_from_cache(hints, key, call)
    with _SHARED_LOCK:
        future = hints.get(key)
        owner = future is None
        if owner:
            future = hints[key] = Future()
    if owner:
        try:
            future.set_result(call())
        except BaseException as exc:
            future.set_exception(exc)
    else:
        departing = DEPARTING.get()
        if departing is not None:
            departing()  # this card's call is the other card's, already on its way (Departures)
    return future.result()


def _shared_from_cache(hints: dict, key: str, call: Callable[[], Parsed]) -> Parsed:
    """`shared` under `cached_only`: an answer already shared is used once it has arrived; otherwise it is looked
    up here and shared only when found, so a miss leaves the call to the worker that makes it (and nobody waits
    on a look-up that gave nothing)."""
    with _SHARED_LOCK:
        future = hints.get(key)
    if future is not None:
        if not future.done():
            raise NotCached(key)  # a worker is asking SIR Giving for it: the card waits for it there
        return future.result()
    value = call()  # NotCached goes up from here, with nothing shared
    with _SHARED_LOCK:
        if key not in hints:
            hints[key] = Future()
            hints[key].set_result(value)
    return value


def _trends(api: PartnerApi, params: dict, hints: dict) -> Parsed:
    days = params["trend_days"]
    return shared(hints, f"trends:{days}", lambda: api.trends(days))


def _runway(api: PartnerApi, params: dict, hints: dict) -> Parsed:
    """Each pool with its runway at the current pace: the same forecast as the pools page."""
    from ..pools.forecast import pool_runways

    forecast = pool_runways(api, pools_call=lambda: shared(hints, "token_pools", api.token_pools),
                            trends_call=lambda: shared(hints, "trends:30", lambda: api.trends(30)),
                            campaign_call=lambda: shared(hints, "campaign", lambda: _campaign(api, params, hints)))
    return Parsed([(pool, r) for pool, r in forecast.value.rows if pool.status != "inactive"], forecast.reply)


def _campaign(api: PartnerApi, params: dict, hints: dict) -> Parsed:
    """The active campaign and its analytics. Analytics need the campaign's id, which would make two rounds;
    the id seen last time (a hint) lets both calls start at once, and a changed campaign costs one more."""
    known = hints.get("campaign_id")
    prefetch = POOL.submit(api.campaign_analytics, known) if known else None
    active = api.active_campaign()
    if active.value is None:
        return active
    analytics = None
    if prefetch is not None and active.value.id == known:
        try:
            analytics = prefetch.result()
        except errors.SirError:
            analytics = None
    analytics = analytics or api.campaign_analytics(active.value.id)
    hints["seen_campaign_id"] = active.value.id
    return Parsed((active.value, analytics.value), analytics.reply)


CARDS = {card.id: card for card in (
    Card("summary", "Summary", "dashboard/_summary.html", lambda api, p, h: api.summary(), wide=True),
    Card("trends", "Activity trends", "dashboard/_trends.html", _trends, wide=True),
    Card("runway", "Token pool runway", "pools/_overview_card.html", _runway),
    Card("top_earners", "Top earners", "dashboard/_top_earners.html", lambda api, p, h: api.top_earners(p["earners_limit"])),
    Card("integration_health", "Integration health", "dashboard/_integration_health.html",
         lambda api, p, h: api.integration_health()),
    Card("webhook_health", "Webhook health", "dashboard/_webhook_health.html", lambda api, p, h: api.webhook_health()),
    Card("api_usage", "API usage", "dashboard/_api_usage.html", lambda api, p, h: usage.api_usage(api, p["usage_days"])),
    Card("recent_activity", "Recent activity", "dashboard/_recent_activity.html", lambda api, p, h: api.recent_activity(10)),
    # Wide: a daily chart of a campaign's run needs the width to keep its dates readable.
    Card("campaign", "Active campaign", "dashboard/_campaign.html",  # shared: the runway card needs it too
         lambda api, p, h: shared(h, "campaign", lambda: _campaign(api, p, h)), wide=True),
)}


def load(card: Card, api: PartnerApi, params: dict, hints: dict | None = None) -> Loaded:
    try:
        parsed = card.fetch(api, params, {} if hints is None else hints)
    except errors.SirError as error:
        return Loaded(card, error=error)
    return Loaded(card, value=parsed.value, reply=parsed.reply)


# The banners' share of the overview's round, next to the cards in `start_overview`'s tasks.
BANNERS = "banners"


@dataclass
class Overview:
    cards: list[Loaded]
    pools: Parsed | None  # the pool list, for the low-balance banner (None: that call failed)
    keys: list | None  # the key list, for the expiring-key banner (None: not asked, or that call failed)


class Departures:
    """The calls of a view's round leaving for SIR Giving. The streamed overview sends its head once every task of
    its round has sent its first request (or ended), or after a short while: the calls are what the cards wait for,
    and the work the head starts (rendering it here; parsing it, styling and painting it in a browser that may share
    the machine) would otherwise run while they are still leaving, one by one, under one interpreter lock. Measured
    with Chromium on the same 2 cores: the calls of a first view after sign-in left up to 65 ms after the request
    arrived when the head went first, ~20 ms when it waited."""

    def __init__(self):
        self._leaving = 0
        self._changed = threading.Condition()

    def tracked(self, call: Callable) -> Callable:
        """`call`, counted until it sends its first request (`client.DEPARTING`) or ends."""
        with self._changed:
            self._leaving += 1
        gone = []

        def departed():
            with self._changed:
                if not gone:
                    gone.append(True)
                    self._leaving -= 1
                    self._changed.notify_all()

        departed.track = self.tracked  # what the call hands to the pool in turn is counted too (parallel.submit)

        def run(*args, **kwargs):
            token = DEPARTING.set(departed)
            try:
                return call(*args, **kwargs)
            finally:
                DEPARTING.reset(token)
                departed()

        return run

    def wait(self, timeout: float) -> bool:
        """Until every tracked call has left (True), or `timeout` seconds (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._leaving == 0, timeout)


def start_overview(api: PartnerApi, params: dict, hints: dict, keys_call: Callable[[], list] | None = None,
                   departures: Departures | None = None) -> dict[str, Task]:
    """Every card's call at once, and in the same round what the banners of every page need: the pools, and
    the key list through `keys_call` (a JWT call) unless the banner remembers it. Tasks by card id, and under
    BANNERS one that gives (pools or None, keys or None) when both have answered. `departures` hears of each
    call handed to a worker as it leaves."""
    track = departures.tracked if departures is not None else (lambda call: call)
    keys_task = POOL.submit(track(keys_call)) if keys_call is not None else None  # a JWT call: never cached
    if api.client.caches_answers:
        submit = _FromCacheOrPool(track)
    else:
        def submit(call, *args):
            return POOL.submit(track(call), *args)
    pools_task = submit(shared, hints, "token_pools", api.token_pools)
    tasks = {card.id: submit(load, card, api, params, hints) for card in CARDS.values()}

    def banners():
        return _answer(pools_task), _answer(keys_task) if keys_task is not None else None

    tasks[BANNERS] = done(banners) if pools_task.done() and keys_task is None else POOL.submit(banners)
    return tasks


class _FromCacheOrPool:
    """A card whose answers are all fresh in the HTTP cache is read here and now (a look-up: handing it to a
    worker cost a warm overview a quarter of its throughput); one that needs SIR Giving goes to a worker, its
    call starting at once. A cache store that fails (Redis timing out) makes the look-up a miss, is logged, and
    sends the view's remaining cards straight to the workers: it is not an outage of the page, whose cards then
    come from SIR Giving."""

    def __init__(self, track: Callable[[Callable], Callable] = lambda call: call):
        self.usable, self.track = True, track

    def __call__(self, call: Callable, *args) -> Task:
        if self.usable:
            task = None
            with held_back() as found:
                try:
                    with cached_only():
                        task = done(call, *args)  # what it raised, a card's error included, is its answer too
                except NotCached:
                    pass
            if found:
                self.usable = False
            if task is not None:
                return task
        return POOL.submit(self.track(call), *args)


def in_order_of_arrival(tasks: dict[Hashable, Task], budget: float) -> Iterator[tuple[Hashable, Task | None]]:
    """(key, task) for each task as it finishes, in whatever order they finish; those still running when
    `budget` seconds (from this call) have passed come last, with None. A task that finished while the caller
    was busy (rendering the cards before it) is given as finished even when the budget has passed since."""
    deadline = time.monotonic() + budget
    keys = {task.future: key for key, task in tasks.items()}
    left = dict(tasks)

    def remaining():
        return max(0.0, deadline - time.monotonic())

    try:
        for future in as_completed(keys, timeout=remaining()):
            key = keys[future]
            del left[key]
            yield key, tasks[key]
    except TimeoutError:
        pass
    for key, task in left.items():
        yield key, task if task.done() else None


def load_overview(api: PartnerApi, params: dict, hints: dict, keys_call: Callable[[], list] | None = None,
                  budget: float = BUDGET_SECONDS) -> Overview:
    """The whole overview at once (see `start_overview`); the banners' calls are waited for past the budget."""
    tasks = start_overview(api, params, hints, keys_call)
    arrived = dict(in_order_of_arrival(tasks, budget))
    cards = [arrived[card.id].result() if arrived[card.id] else Loaded(card, pending=True) for card in CARDS.values()]
    pools, keys = tasks[BANNERS].result()
    return Overview(cards, pools, keys)


def _answer(task: Task):
    try:
        return task.result()
    except errors.SirError:
        return None  # only a banner needs it; the page does not fail for it


def load_all(api: PartnerApi, params: dict, hints: dict | None = None, budget: float = BUDGET_SECONDS) -> list[Loaded]:
    """Every card at once. `hints` carries what the last view learnt (the active campaign's id) and comes
    back with what this one saw."""
    hints = {} if hints is None else hints
    tasks = {card.id: POOL.submit(load, card, api, params, hints) for card in CARDS.values()}
    arrived = dict(in_order_of_arrival(tasks, budget))
    return [arrived[card_id].result() if arrived[card_id] else Loaded(card, pending=True)
            for card_id, card in CARDS.items()]
