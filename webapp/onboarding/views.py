from __future__ import annotations

from datetime import date

from flask import flash, g, redirect, render_template, request, url_for

from ..sir import errors
from ..sir.api import PartnerApi
from ..sir.client import Credential
from ..store import audit, submissions
from ..upstream import account_api, current_environment, sir_client, vault
from ..web import safe_next
from . import bp
from .forms import CreatePortalKeyForm, PasteCredentialForm


def _page(create_form=None, paste_form=None, upstream_error=None, status=200):
    environment = current_environment()
    next_url = request.values.get("next", "")
    create_form = create_form or CreatePortalKeyForm(
        submission=submissions.issue(g.partner["id"], f"portal-key:{environment}"), next=next_url)
    paste_form = paste_form or PasteCredentialForm(environment, formdata=None, next=next_url)
    stored = {env: vault().record_for(g.partner["id"], env) for env in ("sandbox", "production")}
    return render_template("onboarding/page.html", create_form=create_form, paste_form=paste_form,
                           stored=stored, environment=environment, upstream_error=upstream_error), status


@bp.get("/")
def index():
    return _page()


@bp.post("/create")
def create_portal_key():
    environment = current_environment()
    form = CreatePortalKeyForm()
    done_url = safe_next(form.next.data, url_for("dashboard.overview"))
    claim = submissions.claim(form.submission.data, g.partner["id"], f"portal-key:{environment}")
    if claim.state in ("done", "running"):
        # A double click or a resubmit: the first submission made (or is making) the key; make no second one.
        return redirect(done_url)
    if claim.state != "claimed":
        flash("That form was already used or has expired; here is a fresh one.", "warning")
        return redirect(url_for("onboarding.index", next=form.next.data or None))
    name = f"Partner Ops Portal ({environment}, {date.today().isoformat()})"
    try:
        created = account_api().create_key(name, environment, "secret")
    except errors.SirError as error:
        submissions.release(form.submission.data)
        audit.record(actor=g.admin["email"], action="credential_created", outcome="failure",
                     partner_id=g.partner["id"], environment=environment, detail=error.code)
        if isinstance(error, errors.Unauthorized):
            raise
        return _page(upstream_error=error, status=502)
    credential = Credential(created["id"], created["secretKey"], created["hmacSecret"])
    vault().store_credential(g.partner["id"], credential, source="created", stored_by=g.admin["email"], commit=False)
    audit.record(actor=g.admin["email"], action="credential_created", partner_id=g.partner["id"],
                 environment=environment, target=f"{created['id']} ({credential.secret_key[:12]}…)", commit=False)
    submissions.finish(form.submission.data, {"keyId": created["id"]})  # commits all three together
    flash(f"The portal now signs {environment} calls with its own key “{name}”. "
          "Its secrets are stored encrypted and are not shown anywhere.", "success")
    return redirect(done_url)


@bp.post("/paste")
def paste_credential():
    environment = current_environment()
    form = PasteCredentialForm(environment)
    if not form.validate_on_submit():
        return _page(paste_form=form, status=422)
    credential = Credential(None, form.secret_key.data.strip(), form.hmac_secret.data.strip().lower())
    try:
        # One signed GET proves the key and the HMAC secret belong together before anything is saved.
        PartnerApi(sir_client(), credential, environment).get("/v1/partner/users", {"limit": 1})
    except errors.SirError as error:
        audit.record(actor=g.admin["email"], action="credential_pasted", outcome="failure",
                     partner_id=g.partner["id"], environment=environment, detail=error.code)
        form.secret_key.errors.append(f"{error.title}: {error.message}")
        return _page(paste_form=form, status=422)
    key_id = _key_id_for(credential.secret_key)
    credential = Credential(key_id, credential.secret_key, credential.hmac_secret)
    vault().store_credential(g.partner["id"], credential, source="pasted", stored_by=g.admin["email"], commit=False)
    audit.record(actor=g.admin["email"], action="credential_pasted", partner_id=g.partner["id"],
                 environment=environment, target=f"{key_id or 'unknown key'} ({credential.secret_key[:12]}…)")
    flash(f"The key was checked with SIR Giving and stored encrypted; the portal now signs {environment} calls with it.",
          "success")
    return redirect(safe_next(form.next.data, url_for("dashboard.overview")))


def _key_id_for(secret_key: str) -> str | None:
    """The key record that a pasted secret belongs to, found by its masked prefix in the admin's key list."""
    try:
        keys = account_api().list_keys()
    except errors.SirError:
        return None
    for key in keys:
        prefix = (key.get("secretKeyPrefix") or "").rstrip("…").rstrip(".")
        if prefix and secret_key.startswith(prefix):
            return key.get("id")
    return None
