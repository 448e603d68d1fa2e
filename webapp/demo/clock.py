"""Moving the embedded simulator's clock. SIR Giving's simulator has one clock for every partner on it (a
partner's clock of its own would let its signed calls, deliveries and sign-ins disagree with the others'), so a
move reaches every partner and ends every admin's sign-in. The admin confirms that effect first, and it is
audited: in their own partner's log with who and how far, and in each other partner's log without naming them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .. import clock as portal_clock
from ..actor import Actor
from ..sir.operator import SimulatorClock, SimulatorControls
from ..store import audit
from ..store.db import commit

SIGN_IN_LASTS = timedelta(hours=1)  # SIR Giving's sign-in (JWT) lifetime: who signed in earlier is out anyway


@dataclass(frozen=True)
class Reach:
    """Whom a move of the clock reaches: every partner on the simulator, and the admins probably signed in."""

    partners: int
    signed_in: int  # admins of any partner whose latest sign-in on this portal is within SIGN_IN_LASTS


def reach(clock: SimulatorClock) -> Reach:
    since = portal_clock.now() - SIGN_IN_LASTS
    return Reach(partners=len(clock.partner_ids), signed_in=audit.signed_in_since(since))


def move(actor: Actor, controls: SimulatorControls, seconds: int, label: str) -> SimulatorClock:
    before = controls.clock()
    seen = reach(before)
    moved = controls.advance_clock(seconds)
    actor.audit("simulator_clock_moved", f"+{label}", commit=False,
                detail=(f"for every partner on the simulator ({seen.partners}); {seen.signed_in} admin"
                        f"{'s' if seen.signed_in != 1 else ''} signed in during the last hour; simulator time is now "
                        f"{moved.now:%Y-%m-%d %H:%M} UTC"))
    for partner_id in before.partner_ids:
        if partner_id != actor.partner_id:  # they are told what ended their sign-ins, not who did it
            audit.record(actor="another partner's admin", action="simulator_clock_moved", partner_id=partner_id,
                         target=f"+{label}", detail="the simulator's one clock moves for every partner; sign-ins "
                         "older than the move ended", commit=False)
    commit()
    return moved
