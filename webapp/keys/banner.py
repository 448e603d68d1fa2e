"""A banner on every page for keys that expire within 14 days (or have expired) and rolls left half-way; the
key the portal signs with says that its expiry stops every page (the portal refuses to set one, SIR Giving may not).

The key list is a JWT call; it is remembered in the admin's own session for a minute so the banner costs
no call on most pages and is never shared between admins."""

from __future__ import annotations

from flask import g, session, url_for

from .. import clock
from ..parallel import POOL
from ..sir import errors
from ..sir.client import ENVIRONMENTS
from ..sir.times import parse_time, to_wire
from ..store import alerts as alert_store
from ..store import rotations
from ..templating import Banner, starts_banner_calls, time_left
from ..upstream import account_api, portal_key_stored

REMEMBER_SECONDS = 60


def key_flags_are_fresh() -> bool:
    remembered = session.get("key_flags")
    return bool(remembered) and clock.timestamp() - remembered["at"] < REMEMBER_SECONDS


def remember_key_flags(keys) -> list[dict]:
    now = clock.now()
    items = [{"id": k.id, "name": k.name, "environment": k.environment, "status": k.status,
              "expires_at": to_wire(k.expires_at) or None}
             for k in keys if k.needs_attention(now)]
    session["key_flags"] = {"at": clock.timestamp(), "items": items}
    # The scheduled alert checks cannot list keys (an admin's call): they judge expiry from this list.
    alert_store.remember_keys(g.partner["id"], [{"id": k.id, "name": k.name, "environment": k.environment,
                                                 "status": k.status, "expires_at": to_wire(k.expires_at) or None}
                                                for k in keys if k.expires_at and k.revoked_at is None])
    return items


def start_key_list_call() -> None:
    """`before_app_request`: when the remembered flags are old, the key list is asked as the page begins,
    alongside the view's own calls, instead of in a round of its own after them."""
    from flask import request

    if request.blueprint != "keys" and starts_banner_calls() and "jwt" in session and not key_flags_are_fresh():
        g.key_list_call = POOL.submit(account_api().keys)


def key_flags() -> list[dict]:
    if key_flags_are_fresh():
        return session["key_flags"]["items"]
    started = g.get("key_list_call")
    return remember_key_flags(started.result() if started is not None else account_api().keys())


def forget_key_flags() -> None:
    session.pop("key_flags", None)


def rotations_standing() -> tuple[list[tuple[int, str, str]], set[str]]:
    """The partner's rolls in progress (id, state, old key's name) and the ids of the keys rolled or being
    rolled, read once per request; plain values, which a commit later in the request cannot expire."""
    if "rotations_standing" not in g:
        in_progress, latest = rotations.standing(g.partner["id"])
        g.rotations_standing = ([(r.id, r.state, r.old_key_name) for r in in_progress], set(latest))
    return g.rotations_standing


def read_key_banner_inputs() -> None:
    """The banner's database reads, ahead (`templating.read_banner_inputs`)."""
    from flask import request

    if request.blueprint != "keys":
        rotations_standing()
        portal_key_stored(ENVIRONMENTS[0])  # one read gives every environment's row


def expiring_key_banners() -> list[Banner]:
    from flask import request

    if request.blueprint == "keys":
        return []  # the keys pages flag these keys themselves, next to the key
    banners = []
    in_progress, rolled = rotations_standing()
    for rotation_id, state, old_key_name in in_progress:
        if state != "grace":
            banners.append(Banner("warning", f"Rolling “{old_key_name}” is in progress and waiting for you.",
                                  url_for("keys.roll", rotation_id=rotation_id), "Resume or cancel"))
    try:
        flags = key_flags()
    except errors.SirError:
        return banners
    now = clock.now()
    portal_keys = {row.key_id for env in ENVIRONMENTS if (row := portal_key_stored(env))} if flags else set()
    for key in flags:
        if key["id"] in rolled:
            continue  # being replaced, or replaced already
        if key["status"] == "expired":
            message = f"API key “{key['name']}” ({key['environment']}) has expired."
            level = "danger"
        elif key["id"] in portal_keys:
            message = (f"API key “{key['name']}” ({key['environment']}), which the portal signs with, expires "
                       f"{time_left(parse_time(key['expires_at']) - now)}: then every page of the portal stops working.")
            level = "danger"
        else:
            message = f"API key “{key['name']}” ({key['environment']}) expires {time_left(parse_time(key['expires_at']) - now)}."
            level = "warning"
        banners.append(Banner(level, message, url_for("keys.roll_key", key_id=key["id"]), "Roll this key"))
    return banners
