"""What a batch will cost: the tokens each action is expected to distribute, before the campaign's multiplier.

SIR Giving's reward rules, as its sandbox applies them: VOLUNTEER 50, REFERRAL 100, ADVOCACY 20 tokens; PURCHASE
one token per unit of amount, DONATION one per two (each at least 5); the active campaign multiplies them. It is
an estimate for the preflight and the confirmation (production rates may differ by agreement): the result file
has the tokens SIR Giving actually distributed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ACTION_TYPES = ("PURCHASE", "VOLUNTEER", "DONATION", "REFERRAL", "ADVOCACY")
AMOUNT_REQUIRED = ("PURCHASE", "DONATION")
FIXED_TOKENS = {"VOLUNTEER": 50, "REFERRAL": 100, "ADVOCACY": 20}
MAX_AMOUNT = 10_000_000  # SIR Giving refuses a larger amount
CHUNK = 100  # actions per bulk call: SIR Giving's limit


def estimated_tokens(action_type: str, amount: float | None) -> int:
    fixed = FIXED_TOKENS.get(action_type)
    if fixed is not None:
        return fixed
    per_unit = 1 if action_type == "PURCHASE" else 0.5
    return max(5, int(round((amount or 0) * per_unit)))


def with_multiplier(tokens: int, multiplier: float | None) -> int:
    return int(round(tokens * (multiplier or 1.0)))


@dataclass(frozen=True)
class Plan:
    """A planned batch: how many actions, and their tokens before the campaign's multiplier."""

    actions: int
    base_tokens: int
    pool_id: str | None = None  # None: the pool SIR Giving draws from (the campaign's, or the first active)

    @property
    def bulk_calls(self) -> int:
        return math.ceil(self.actions / CHUNK)
