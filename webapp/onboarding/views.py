from __future__ import annotations


from flask import flash, g, redirect, render_template, request, url_for

from .. import clock
from ..actor import current_actor
from ..errors import in_place
from ..sir import errors
from ..sir.client import ENVIRONMENTS
from ..store import submissions
from ..upstream import account_api, current_environment, sir_client, vault
from ..web import safe_next
from . import bp
from .forms import CreatePortalKeyForm, PasteCredentialForm
from .portal_key import create_portal_key as create_key_for_portal, keep_pasted_credential, pasted_refusal, purpose


def _page(create_form=None, paste_form=None, upstream_error=None, status=200):
    environment = current_environment()
    next_url = request.values.get("next", "")
    create_form = create_form or CreatePortalKeyForm(
        submission=submissions.issue(g.partner["id"], purpose(environment)), next=next_url)
    paste_form = paste_form or PasteCredentialForm(environment, formdata=None, next=next_url)
    stored = {env: vault().record_for(g.partner["id"], env) for env in ENVIRONMENTS}
    return render_template("onboarding/page.html", create_form=create_form, paste_form=paste_form,
                           stored=stored, environment=environment, upstream_error=upstream_error), status


@bp.get("/")
def index():
    return _page()


@bp.post("/create")
def create_portal_key():
    form = CreatePortalKeyForm()
    done_url = safe_next(form.next.data, url_for("dashboard.overview"))
    outcome = create_key_for_portal(current_actor(), account_api(), vault(), form.submission.data, clock.now().date())
    if outcome.state == "already":
        # A double click or a resubmit: the first submission made (or is making) the key; make no second one.
        return redirect(done_url)
    if outcome.state == "expired":
        flash("That form was already used or has expired; here is a fresh one.", "warning")
        return redirect(url_for("onboarding.index", next=form.next.data or None))
    if outcome.state == "failed":
        return _page(upstream_error=in_place(outcome.error), status=502)
    flash(f"The portal now signs {current_environment()} calls with its own key “{outcome.result['name']}”. "
          "Its secrets are stored encrypted and are not shown anywhere.", "success")
    return redirect(done_url)


@bp.post("/paste")
def paste_credential():
    environment = current_environment()
    form = PasteCredentialForm(environment)
    if not form.validate_on_submit():
        return _page(paste_form=form, status=422)
    secret_key = form.secret_key.data.strip()
    try:
        keep_pasted_credential(current_actor(), sir_client(), account_api(), vault(),
                               secret_key, form.hmac_secret.data.strip().lower())
    except errors.SirError as error:
        form.secret_key.errors.append(pasted_refusal(secret_key, error))
        return _page(paste_form=form, status=422)
    flash(f"The key was checked with SIR Giving and stored encrypted; the portal now signs {environment} calls with it.",
          "success")
    return redirect(safe_next(form.next.data, url_for("dashboard.overview")))
