"""Fixtures shared by the portal's tests: an app per test on the embedded simulator, signed in as Acme or Globex.

The upstream is the simulator, in process, behind the real transport adapter: every request is really
signed and really verified. Webhook delivery is manual in tests (`simulator.deliver_due()`), so a test
decides when events arrive.

An app costs ~0.1 s: the seeded simulator state is built once per process and each app gets its own copy
(simulator/seed.py), templates compile once per process (webapp/templating.py), SQLite syncs the disk only
at WAL checkpoints, and a finished test's simulator state is dropped at teardown. `auth.sign_in` signs in without the
forms (~15 ms); `auth.sign_in_through_the_forms` is the admin's way, for the tests about sign-in itself.
"""

from __future__ import annotations

import gc
import re
import sqlite3
from contextlib import contextmanager

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from webapp import create_app

ACCOUNTS = {
    "acme": ("admin@acme.example", "Acme Rewards"),
    "globex": ("admin@globex.example", "Globex Giving"),
}
PASSWORD = "sandbox-demo"


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, connection_record):
    """SQLite files in tests: written to the OS but not fsynced at every commit (the disk's fsync costs ~9 ms,
    and a test commits dozens of times). Nothing here outlives the process, so durability is not what these
    tests check; PostgreSQL (the service tests) is untouched. The portal's own database then sets what it
    runs with everywhere (webapp/store/db.py: WAL, synchronous=NORMAL, which syncs only at checkpoints): the
    journal mode is left to it, since leaving WAL needs the file to itself and a restarted app would wait."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


class ReadingClient(FlaskClient):
    """A test client that reads each response whole before handing it back, as a browser does: a streamed
    page (the overview) makes its calls while its body is read, so what a test checks after a request (the log
    line, the metrics, what SIR Giving was asked) is there. `buffered=False` hands back the body unread."""

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


def make_app(tmp_path, environ: dict | None = None, simulator_config: dict | None = None, **overrides):
    # The overview's card budget is about a page a person waits for; on a busy test machine a card that is
    # merely slow must not turn into a skeleton and read as missing (its own tests set it back).
    env = {"INSTANCE_PATH": str(tmp_path / "instance"), "OVERVIEW_BUDGET_SECONDS": "20"}
    env.update(environ or {})
    config = {"DELIVERY_MODE": "manual"}
    config.update(simulator_config or {})
    app = create_app(env, simulator_config=config, **overrides)
    app.config.update(TESTING=True)
    app.test_client_class = ReadingClient
    _BUILT.append(app)
    return app


_BUILT: list = []


def release_simulator(sim) -> None:
    """Drop a finished test's simulator state at once. The state is tens of thousands of small objects,
    held by a Flask app that is in reference cycles, so left alone it waits for a full collection, and the
    collector then walks several tests' worth of dead simulators (a third of the suite's time)."""
    deliverer = getattr(sim, "deliverer", None)
    if deliverer is not None:
        deliverer.stop()
    if getattr(sim, "journal", None) is not None:
        sim.journal.close()
    sim.__dict__.clear()


@pytest.fixture(autouse=True)
def _release_apps():
    yield
    while _BUILT:
        simulator_app = _BUILT.pop().extensions.get("simulator_app")
        if simulator_app is not None:
            release_simulator(simulator_app.extensions["sir_simulator"])


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser is marked `browser`: `pytest -m "not browser"` is the fast inner loop."""
    for item in items:
        if "/tests/browser/" in item.path.as_posix():
            item.add_marker(pytest.mark.browser)


def pytest_collection_finish(session):
    """Garbage collection tuned for a process that builds and drops an app per test: what exists once the
    tests are collected (modules, plotly, SQLAlchemy's tables) lives to the end, so the collector stops
    walking it (`gc.freeze`); and it runs after 20,000 new objects instead of 700, since each test makes
    tens of thousands. Cycles are still collected; together with `release_simulator` this takes the
    collector from about a third of the suite's time to a few percent."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def simulator(app):
    """The simulator's domain object: operator controls as Python methods (clock, faults, decisions)."""
    return app.extensions["simulator_app"].extensions["sir_simulator"]


def expire_cached_answers(app) -> None:
    """Every cached answer past its TTL, as if time had passed (kept for stale-if-error): the next view of each
    page asks SIR Giving, and falls back to these when it fails."""
    cache = app.extensions["sir_client"].cached.cache
    for key in list(cache.responses.keys()):
        response = cache.responses[key]
        response.expires = response.created_at
        cache.responses[key] = response


@contextmanager
def read_timeout(app, seconds: float):
    """SIR Giving calls made inside the block give up after `seconds` without an answer.

    For provoking a timeout: inject a delay fault on the one call (`simulator.add_fault(..., delay_ms=…)`)
    and make the request under test inside this block. Sign-in and set-up before it keep the default
    (10 s), so a busy moment of the machine cannot time them out, as a short SIR_READ_TIMEOUT for the
    whole app could."""
    client = app.extensions["sir_client"]
    saved = client.timeout
    client.timeout = (saved[0], seconds)
    try:
        yield
    finally:
        client.timeout = saved


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html5lib")


def text_of(response) -> str:
    """What a person reads on the page: the visible text, whitespace folded."""
    soup = page(response)
    for hidden in soup.select("script, style, template"):
        hidden.decompose()
    return re.sub(r"\s+", " ", soup.get_text(" ")).strip()


def csrf_token_from(response) -> str:
    soup = page(response)
    meta = soup.find("meta", attrs={"name": "csrf-token"})
    if meta is not None:
        return meta["content"]
    field = soup.find("input", attrs={"name": "csrf_token"})
    assert field is not None, "the page has no CSRF token"
    return field["value"]


def form_values(response, form_selector: str = "form") -> dict:
    """The values a browser would submit from a form on the page (hidden fields included)."""
    form = page(response).select_one(form_selector)
    assert form is not None, f"no form matches {form_selector!r}"
    values = {}
    for field in form.select("input[name], select[name], textarea[name]"):
        if field.name == "input" and field.get("type") in ("checkbox", "radio") and not field.has_attr("checked"):
            continue
        if field.name == "select":
            chosen = field.select_one("option[selected]") or field.select_one("option")
            values[field["name"]] = chosen.get("value", chosen.text) if chosen else ""
        elif field.name == "textarea":
            values[field["name"]] = field.text
        else:
            values[field["name"]] = field.get("value", "")
    return values


class AuthActions:
    """Sign in and out, like flaskr's AuthActions.

    `sign_in` is the cheap way in, for tests about what a signed-in admin does: a real sign-in call to SIR
    Giving (the simulator, over the transport), the session the login view would write, and the portal's
    own key created upstream and stored in the vault as onboarding stores it. It renders no page and
    writes no audit entry. `sign_in_through_the_forms` is the admin's way in (login form, then onboarding's
    "Create a portal key"): use it where the sign-in itself, or what it records, is what the test checks.
    """

    def __init__(self, client):
        self.client = client

    def login(self, who: str = "acme", password: str = PASSWORD, next_url: str | None = None):
        email = ACCOUNTS[who][0] if who in ACCOUNTS else who
        login_page = self.client.get("/login" + (f"?next={next_url}" if next_url else ""))
        data = form_values(login_page, "form#login-form")
        data.update(email=email, password=password)
        return self.client.post("/login", data=data)

    def sign_in_through_the_forms(self, who: str = "acme", with_portal_key: bool = True):
        """Sign in with the login form and, like a first-time admin, let the portal create its own sandbox key."""
        response = self.login(who)
        assert response.status_code == 302, text_of(response)
        if with_portal_key:
            onboarding = self.client.get("/onboarding/")
            data = form_values(onboarding, "form#create-portal-key")
            created = self.client.post("/onboarding/create", data=data)
            assert created.status_code == 302, text_of(created)
        return response

    def sign_in(self, who: str = "acme", with_portal_key: bool = True):
        """Signed in as `who` on the sandbox with the portal's key in the vault, without the forms (~5 ms
        instead of ~40 ms of pages). `tests/test_sign_in_shortcut.py` checks it leaves what the forms leave, but
        for what the login view also fills ahead for the first page (the key flags, the campaign hint, the CSRF
        token): the first page then fills them itself, as it did before the login view did."""
        from datetime import date

        from webapp.auth.session import jwt_expiry
        from webapp.sir.api import AccountApi
        from webapp.sir.client import Credential

        app = self.client.application
        email = ACCOUNTS[who][0]
        sir, vault = app.extensions["sir_client"], app.extensions["vault"]
        account = sir.login(email, PASSWORD)
        token = account.get("token") or account.get("accessToken")
        me = sir.me(token)
        user, partner = me.get("user") or {}, me.get("partner") or {}
        with self.client.session_transaction() as session:  # what webapp/auth/views.py _start_session writes
            session.clear()
            session.update(
                jwt=vault.encrypt(token),
                jwt_expires_at=jwt_expiry(token),
                admin={"id": user.get("id"), "email": user.get("email") or email, "name": user.get("name")},
                partner={"id": partner.get("id"), "name": partner.get("name"), "slug": partner.get("slug"),
                         "status": partner.get("status")},
                publishable_key=me.get("publishableKey"),
                environment="sandbox",
            )
            session.permanent = True
        if with_portal_key:
            with app.app_context():
                if vault.record_for(partner["id"], "sandbox") is None:  # onboarding is offered once
                    name = f"Partner Ops Portal (sandbox, {date.today().isoformat()})"  # onboarding's name
                    created = AccountApi(sir, token).create_key(name, "sandbox", "secret")
                    vault.store_credential(partner["id"], Credential(created["id"], created["secretKey"],
                                                                     created["hmacSecret"]),
                                           source="created", stored_by=email)

    def logout(self):
        overview = self.client.get("/audit/")
        return self.client.post("/logout", data={"csrf_token": csrf_token_from(overview)})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def signed_in(client, auth):
    """The test client, signed in as Acme's admin with the portal's sandbox key in the vault."""
    auth.sign_in("acme")
    return client


def post_form(client, page_url: str, form_selector: str, action_url: str | None = None, headers=None, **fields):
    """Load a page, take a form's values (with its CSRF token), change some fields, and submit it."""
    shown = client.get(page_url)
    assert shown.status_code == 200, text_of(shown)
    data = form_values(shown, form_selector)
    data.update(fields)
    target = action_url or page(shown).select_one(form_selector).get("action") or page_url
    return client.post(target, data=data, headers=headers or {})


def partner_api_for(app, client, environment: str = "sandbox"):
    """A signed client with the credential the portal stored for the signed-in partner: what SIR Giving
    says, to compare with what the page shows."""
    from webapp.sir.api import PartnerApi

    with client.session_transaction() as stored:
        partner_id = stored["partner"]["id"]
    with app.app_context():
        credential = app.extensions["vault"].credential_for(partner_id, environment)
    return PartnerApi(app.extensions["sir_client"], credential, environment)


def session_jwt(app, client) -> str:
    """The admin's JWT as the portal keeps it: encrypted in the session; decrypted here for direct calls."""
    with client.session_transaction() as stored:
        encrypted = stored["jwt"]
    return app.extensions["vault"].decrypt(encrypted)
