from __future__ import annotations


from flask import abort, flash, g, render_template, request, session, url_for

from .. import clock
from ..actor import current_actor
from ..errors import in_place
from ..parallel import POOL
from ..sir import errors
from ..sir.client import ENVIRONMENTS
from ..store import rotations, submissions
from ..upstream import account_api, current_environment, partner_api, sir_client, vault
from ..web import get_for_partner, go, once_link, render_htmx_template, shown_once, take_revealed, use_once_link
from . import bp, changes
from ..auth.kept_forms import restored_form
from .banner import forget_key_flags
from .forms import ActiveForm, ConfirmNameForm, CreateKeyForm, ExpiryForm, RenameForm, RollForm
from .issuing import PURPOSE as CREATE_KEY, issue_key
from .rotation import (GRACE_LABELS, STATE_LABELS, STEPS, RotationError, Rotator, can_cancel, describe, grace_over,
                       key_lifetime, purpose, replaced_by, secrets_waiting, step_done, still_in_use)


def _portal_key_ids() -> dict[str, str | None]:
    return {env: (row.key_id if (row := vault().record_for(g.partner["id"], env)) else None) for env in ENVIRONMENTS}


def _usage_by_key(started: dict | None = None) -> dict:
    """Last-24-hour traffic per key, from each environment the portal can read; unknown where it cannot.
    `started`: the calls `_start_usage` began, so they ran while the page's other calls did."""
    usage = {}
    for task in (_start_usage() if started is None else started).values():
        try:
            for key_usage in task.result().value.by_key:
                usage[key_usage.key_id] = key_usage
        except errors.SirError:
            continue
    return usage


def _start_usage() -> dict:
    """The usage calls of every environment the portal can read, started at once (a page's one round)."""
    tasks = {}
    for env in ENVIRONMENTS:
        if vault().record_for(g.partner["id"], env) is None:
            continue
        # Fresh: a key made a minute ago is not in a cached answer, and impact is about right now.
        tasks[env] = POOL.submit(partner_api(env).api_usage, days=1, fresh=True)
    return tasks


def _key_or_404(key_id: str):
    """The key as SIR Giving says now (for a change): its failure is the error page's to say."""
    try:
        return account_api().key(key_id)
    except errors.NotFound:
        abort(404)


def _key_for_page(key_id: str):
    """The key for a page that only shows it: a recent copy, marked stale, when SIR Giving fails twice."""
    try:
        return account_api().key_page(key_id)
    except errors.NotFound:
        abort(404)


def _rotator() -> Rotator:
    return Rotator(sir_client(), account_api(), vault(), current_actor())


@bp.get("/")
def index():
    listing = POOL.submit(account_api().key_list)  # first: it flies while the usage calls are set up
    usage = _start_usage()  # runs while the key list is read: one round for the page
    listed = listing.result()
    keys = listed.value
    # `rolled`: a key being replaced, or replaced, is not flagged again (completing a roll below keeps it there)
    in_progress, rolled = rotations.standing(g.partner["id"])
    if not listed.reply.stale:  # a roll is finished on what SIR Giving says now, never on a copy
        _rotator().complete_finished(in_progress, {k.id: k for k in keys})
    now = clock.now()
    flagged = [k for k in keys if k.needs_attention(now) and k.id not in rolled]
    return render_template("keys/page.html", keys=keys, portal_keys=_portal_key_ids(), usage=_usage_by_key(usage),
                           rotations=[r for r in in_progress if r.in_progress], flagged=flagged, now=now, rolled=rolled,
                           can_cancel=can_cancel, state_labels=STATE_LABELS, keys_reply=listed.reply)


# -- create, with secrets shown once ---------------------------------------------------------------

@bp.route("/new", methods=["GET", "POST"])
def new():
    form = CreateKeyForm(environment=current_environment())
    if request.method == "GET":
        kept = restored_form("keys.new", g.partner["id"])
        if kept:
            form = CreateKeyForm(formdata=kept)
        form.submission.data = submissions.issue(g.partner["id"], CREATE_KEY)
        return render_htmx_template("keys/new.html", "keys/_new_form.html", form=form)
    if not form.validate_on_submit():
        return render_htmx_template("keys/new.html", "keys/_new_form.html", form=form, status=422)
    outcome = issue_key(current_actor(), account_api(), vault(), form.submission.data, name=form.name.data.strip(),
                        environment=form.environment.data, key_type=form.key_type.data,
                        for_portal=form.use_for_portal.data)
    if outcome.state == "expired":
        flash("That form was already used; here is a fresh one.", "warning")
        return go(url_for("keys.new"))
    if outcome.state == "failed":
        form.name.errors.append(in_place(outcome.error).sentence)
        return render_htmx_template("keys/new.html", "keys/_new_form.html", form=form, status=502)
    forget_key_flags()
    # A double click or a resend finds the key made once; its secrets page may already have been shown.
    shown_at = (outcome.result or {}).get("reveal")
    return go(url_for("keys.secrets", token=shown_at) if shown_at else url_for("keys.index"))


@bp.get("/secrets/<token>")
@shown_once
def secrets(token):
    """The one page that shows a new key's secrets: never cached, and gone once rendered."""
    revealed, shown = take_revealed(token, "key")
    return render_template("keys/secrets.html", shown=shown, revealed=revealed,
                           portal_key_id=_portal_key_ids().get(shown["environment"]) if shown else None)


# -- one key: details, impact, changes --------------------------------------------------------------

def _key_page(key, status=200, reply=None, usage_calls=None, **forms):
    portal_keys = _portal_key_ids()
    usage = _usage_by_key(usage_calls).get(key.id)
    latest = rotations.latest_by_old_key(g.partner["id"]).get(key.id)
    replaced = replaced_by(latest, key)
    context = dict(key=key, is_portal_key=portal_keys.get(key.environment) == key.id, usage=usage,
                   expiring=key.needs_attention(clock.now()) and not replaced,
                   rotation=latest if latest is not None and latest.in_progress else None, replaced=replaced,
                   still_used=still_in_use(usage, latest),
                   rename_form=forms.get("rename_form") or RenameForm(name=key.name),
                   expiry_form=forms.get("expiry_form") or ExpiryForm(expires_on=key.expires_at.strftime("%Y-%m-%d") if key.expires_at else ""),
                   revoke_form=forms.get("revoke_form") or ConfirmNameForm(key.name, formdata=None),
                   active_form=ActiveForm(), message=forms.get("message"), refusal=forms.get("refusal"),
                   key_reply=reply)
    return render_htmx_template("keys/show.html", "keys/_actions.html", status=status, **context)


@bp.get("/<key_id>")
def show(key_id):
    usage = _start_usage()  # runs while the key is read
    shown = _key_for_page(key_id)
    return _key_page(shown.value, reply=shown.reply, usage_calls=usage)


def _sign_in_again(back_to: str, what: str = "Nothing was changed."):
    """The admin's SIR Giving sign-in lapsed: to the login page, then back to a page (never to a POST-only URL)."""
    session.clear()
    flash(f"Your session expired. {what} Sign in again to continue.", "warning")
    return go(url_for("auth.login", next=back_to))


def _changed(key, message):
    forget_key_flags()
    return _key_page(key, message=message)


def _upstream_failure(key, error, **forms):
    """A change SIR Giving refused or could not make (audited by `changes`): said in place, on the key's page."""
    if isinstance(error, errors.Unauthorized):
        return _sign_in_again(url_for("keys.show", key_id=key.id))
    return _key_page(key, status=502, refusal=f"{error.title}. {error.message} {error.next_step}", **forms)


@bp.post("/<key_id>/rename")
def rename(key_id):
    key = _key_or_404(key_id)
    form = RenameForm()
    if not form.validate_on_submit():
        return _key_page(key, status=422, rename_form=form)
    try:
        updated = changes.rename(current_actor(), account_api(), key, form.name.data.strip())
    except errors.SirError as error:
        return _upstream_failure(key, error, rename_form=form)
    return _changed(updated, f"Renamed to “{updated.name}”.")


@bp.post("/<key_id>/expiry")
def set_expiry(key_id):
    key = _key_or_404(key_id)
    form = ExpiryForm()
    clearing = request.form.get("clear") == "1"
    if refusal := changes.refusal(current_actor(), vault(), key, "no_expiry" if clearing else "expiry"):
        return _key_page(key, status=409, expiry_form=form, refusal=refusal)
    if not clearing and not form.validate_on_submit():  # CSRFProtect has already checked every POST
        return _key_page(key, status=422, expiry_form=form)
    try:
        updated = changes.set_expiry(current_actor(), account_api(), key, None if clearing else form.expires_on.moment)
    except errors.ValidationFailed as error:
        form.expires_on.errors = [*form.expires_on.errors, changes.refused_because(error)]
        return _key_page(key, status=422, expiry_form=form)
    except errors.SirError as error:
        return _upstream_failure(key, error, expiry_form=form)
    if clearing:
        return _changed(updated, "The key no longer expires.")
    return _changed(updated, f"The key now expires on {form.expires_on.data} at 23:59 UTC.")


@bp.post("/<key_id>/active")
def set_active(key_id):
    key = _key_or_404(key_id)
    ActiveForm().validate_on_submit() or abort(400)
    activate = request.form.get("active") == "true"
    if not activate and (refusal := changes.refusal(current_actor(), vault(), key, "deactivate")):
        return _key_page(key, status=409, refusal=refusal)
    try:
        updated = changes.set_active(current_actor(), account_api(), key, activate)
    except errors.SirError as error:
        return _upstream_failure(key, error)
    return _changed(updated, "The key works again." if activate
                    else "The key is deactivated: SIR Giving refuses it until it is reactivated.")


@bp.post("/<key_id>/revoke")
def revoke(key_id):
    key = _key_or_404(key_id)
    if refusal := changes.refusal(current_actor(), vault(), key, "revoke"):
        return _key_page(key, status=409, refusal=refusal)
    form = ConfirmNameForm(key.name)
    if not form.validate_on_submit():
        return _key_page(key, status=422, revoke_form=form)
    try:
        updated = changes.revoke(current_actor(), account_api(), key)
    except errors.SirError as error:
        return _upstream_failure(key, error, revoke_form=form)
    return _changed(updated, "The key is revoked for good; SIR Giving refuses it from now on.")


# -- rolling a key (its saved state machine: rotation.py) ------------------------------------------

@bp.route("/<key_id>/roll", methods=["GET", "POST"])
def roll_key(key_id):
    shown = _key_for_page(key_id) if request.method == "GET" else None  # the roll itself starts on the key now
    key = shown.value if shown else _key_or_404(key_id)
    existing = rotations.in_progress_for(g.partner["id"], key.id)
    if existing:  # a second tab, or a double click on start: the same roll
        return go(_after_post(existing[0]) if request.method == "POST" else url_for("keys.roll", rotation_id=existing[0].id))
    if key.status == "revoked":
        flash("A revoked key cannot be rolled; create a new key instead.", "warning")
        return go(url_for("keys.index"))
    form = RollForm()
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "GET":
            form.submission.data = submissions.issue(g.partner["id"], purpose(key.id))
        return render_htmx_template("keys/roll_key.html", "keys/_roll_form.html", key=key, form=form,
                                    usage=_usage_by_key().get(key.id),
                                    replacement_expires=_rotator().replacement_expiry(key),
                                    lifetime=key_lifetime(key) and describe(key_lifetime(key)),
                                    is_portal_key=_portal_key_ids().get(key.environment) == key.id,
                                    key_reply=shown.reply if shown else None,
                                    status=200 if request.method == "GET" else 422)
    outcome = _rotator().start(key, form.grace.data, form.submission.data)
    if outcome.state == "expired":
        flash("That form was already used; here is a fresh one.", "warning")
        return go(url_for("keys.roll_key", key_id=key.id))
    rotation_id = (outcome.result or {}).get("rotation")  # none yet: a resend while the first is still starting
    return go(_after_post(_rotation_or_404(rotation_id)) if rotation_id else url_for("keys.show", key_id=key.id))


def _rotation_or_404(rotation_id):
    return get_for_partner(rotations.of_partner, rotation_id)


def _after_post(row) -> str:
    """Where a roll's form leads: while the replacement's secrets wait to be shown, to the one page that shows
    them, by a link only this answer to a POST carries; otherwise to the roll's page."""
    if secrets_waiting(row):
        return url_for("keys.roll_secrets", rotation_id=row.id, link=once_link(f"roll:{row.id}:{row.new_key_id}"))
    return url_for("keys.roll", rotation_id=row.id)


def _roll_context(row, rotator):
    progress = rotator.progress(row)  # completes a grace period SIR Giving says is over
    return dict(rotation=row, traffic=progress.traffic, traffic_note=progress.traffic_note, idle=progress.idle,
                steps=STEPS, step_done=step_done, grace_labels=GRACE_LABELS, state_labels=STATE_LABELS,
                can_cancel=can_cancel(row), grace_over=grace_over(row, rotator.now()))


@bp.get("/rolls/<int:rotation_id>")
def roll(rotation_id):
    """A roll's progress. It never shows the replacement's secrets: a GET is what a link from another site makes,
    and it must not use up their one showing. While they wait, it offers a button that shows them."""
    row = _rotation_or_404(rotation_id)
    rotator = _rotator()
    return render_template("keys/roll.html", secrets=None, **_roll_context(row, rotator))


@bp.post("/rolls/<int:rotation_id>/show")
def roll_show(rotation_id):
    """"Show the new secrets once": from the roll's own page, to the one page that shows them."""
    return go(_after_post(_rotation_or_404(rotation_id)))


@bp.get("/rolls/<int:rotation_id>/secrets/<link>")
@shown_once
def roll_secrets(rotation_id, link):
    """The replacement's secrets, once, at the link a POST of this roll handed out in this session; a wrong or
    used link shows the roll's page and uses nothing up."""
    row = _rotation_or_404(rotation_id)
    rotator = _rotator()
    shown = rotator.reveal(row) if use_once_link(f"roll:{row.id}:{row.new_key_id}", link) else None
    return render_template("keys/roll.html", secrets=shown, **_roll_context(row, rotator))


@bp.get("/rolls/<int:rotation_id>/traffic")
def roll_traffic(rotation_id):
    """The roll's steps and traffic on their own: the page polls them during the grace period, so the admin
    watches the move happen and the roll finish when the old key stops, without opening another page."""
    row = _rotation_or_404(rotation_id)
    return render_htmx_template("keys/roll.html", "keys/_roll_body.html", secrets=None,
                                **_roll_context(row, _rotator()))


def _roll_action(rotation_id, action):
    """Run one of the roll's actions (`action(rotator, row)`) and go back to its page, which shows the outcome
    (or to the page that shows a replacement's secrets, when the action made one)."""
    row = _rotation_or_404(rotation_id)
    here = url_for("keys.roll", rotation_id=row.id)
    try:
        action(_rotator(), row)
    except RotationError as error:
        if str(error) != row.error:  # a failed step is shown by the page itself, next to its step
            flash(str(error), "error")
    except errors.Unauthorized:
        return _sign_in_again(here, "Every step of the roll so far is saved; resume it once signed in.")
    forget_key_flags()
    return go(_after_post(row))


@bp.post("/rolls/<int:rotation_id>/stored")
def roll_stored(rotation_id):
    return _roll_action(rotation_id, Rotator.continue_after_stored)


@bp.post("/rolls/<int:rotation_id>/new-replacement")
def roll_new_replacement(rotation_id):
    return _roll_action(rotation_id, Rotator.make_new_replacement)


@bp.post("/rolls/<int:rotation_id>/resume")
def roll_resume(rotation_id):
    return _roll_action(rotation_id, Rotator.advance)


@bp.post("/rolls/<int:rotation_id>/cancel")
def roll_cancel(rotation_id):
    return _roll_action(rotation_id, Rotator.cancel)


@bp.post("/rolls/<int:rotation_id>/end-grace")
def roll_end_grace(rotation_id):
    return _roll_action(rotation_id, Rotator.end_grace_now)
