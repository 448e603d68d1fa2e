"""The rate limiter (Flask-Limiter): in memory on the embedded default, in Redis with REDIS_URL.

Most limits are decorators on views. The webhook receiver counts by hand (`take`), after it has checked the
signature, since what it counts (refusals per address, genuine deliveries per receiver) is known only then.
Every 429 is counted in the metrics.
"""

from __future__ import annotations

import logging
import math
import time

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from . import metrics

log = logging.getLogger(__name__)
KEY_PREFIX = "portal"  # RATELIMIT_KEY_PREFIX: the decorators' keys and `take`'s share one namespace


def _count_breach(limit) -> None:
    metrics.rate_limited(str(limit.limit))


limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window", on_breach=_count_breach)


def take(limits: str, *identifiers: str) -> int | None:
    """Spend one of each of `limits` ("60 per minute; 1000 per hour") for `identifiers`: None when allowed,
    else the seconds until one is free again. When the limiter's storage fails, allowed: a limit that cannot
    be counted must not refuse what it guards."""
    keys = (KEY_PREFIX, *identifiers)
    try:
        for item in parse_many(limits):
            if not limiter.limiter.hit(item, *keys):
                reset = limiter.limiter.get_window_stats(item, *keys).reset_time
                return max(1, math.ceil(reset - time.time()))  # the limiter's own (wall) clock: a duration
    except Exception as error:  # Redis away: counted again once it is back
        global _last_warning
        if time.monotonic() - _last_warning > 60:  # one line a minute, not one per request
            _last_warning = time.monotonic()
            log.warning("rate limit storage unavailable (%s): %s not counted", type(error).__name__, identifiers[0])
    return None


_last_warning = -math.inf
