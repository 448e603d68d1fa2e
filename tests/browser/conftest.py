"""Browser tests: the real server on a free port (as Datasette's tests do), driven by Playwright through
Debian's Chromium at /usr/bin/chromium. The whole folder skips where Chromium or Playwright is missing.

Fixtures:
- `live_server` (module scope): `python -m flask --app wsgi run` in a subprocess, on a free port, with a fresh
  `INSTANCE_PATH` (SQLite, generated secrets, simulator state; in /dev/shm where there is one, so commits cost
  no disk sync); yields the base URL (a str with `.log_path`).
  DATABASE_URL and REDIS_URL are removed from its environment: it is the embedded default.
- `browser` (session scope): headless Chromium.
- `page`: a fresh context and page. Every CSP violation (in any document the page visits), console error and
  uncaught exception is recorded in `page.problems`, and the test FAILS at teardown if there is any. A test
  that expects problems (a negative check) should make its own page from `browser` instead.
- `sign_in(page, base_url, who="acme")`: signed in cheaply (the forms' requests through the page's request
  context, the portal key created on a partner's first sign-in), and ends on the overview with its cards
  filled. `sign_in_through_the_form` types into the login form and clicks through onboarding, as an admin does.
- `settle(page)`, `wait_until(page, expression)` and `poll_until(page, locator, every_ms)`: wait on what the
  page has done or shows, never a fixed time; `poll_until` moves a self-refreshing page's clock on instead of
  waiting its refresh periods out.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = {"acme": "admin@acme.example", "globex": "admin@globex.example"}
PASSWORD = "sandbox-demo"

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or not os.path.exists(CHROMIUM):
    pytest.skip("browser tests need the playwright package and /usr/bin/chromium", allow_module_level=True)

# Runs in every document before its own scripts: CSP violations go to the test through a binding, so a
# violation on a page the test has already left is not lost.
WATCH_SCRIPT = """
document.addEventListener('securitypolicyviolation', (e) => {
  const text = e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') +
    (e.sample ? ' (' + e.sample + ')' : '') + ' at ' + e.documentURI + (e.lineNumber ? ':' + e.lineNumber : '');
  if (window.__reportCspViolation) window.__reportCspViolation(text);
});
"""


class LiveServer(str):
    """The base URL, plus where the server's output goes."""

    log_path: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(instance: Path, extra_env: dict | None = None):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # The alert schedule would start with the first request (a served portal): tests that want it ask for it.
    env.update({"INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1", "ALERTS_SCHEDULER": "off"})
    env.update(extra_env or {})
    log_path = instance / "server.log"
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port),
                                "--no-reload"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = LiveServer(f"http://127.0.0.1:{port}")
    base_url.log_path = log_path
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=1) as reply:
                if reply.status == 200:
                    return process, base_url, log
        except OSError:
            time.sleep(0.05)  # not answering yet: ask again
    stop_server(process, log)
    raise RuntimeError(f"the portal did not answer /healthz within 30 s (exit code {process.returncode}):\n"
                       f"{log_path.read_text()[-6000:]}")


def stop_server(process, log) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def instance_folder(tmp_path_factory) -> Path:
    """A fresh instance folder, in memory (/dev/shm) where there is one: the server's SQLite commits then
    cost no disk sync (~9 ms each on the development machine's disk, one or more per request)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="portal-browser-", dir=shm))
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    yield from serving(tmp_path_factory)


def serving(tmp_path_factory, extra_env: dict | None = None):
    """A fresh server while the generator runs (a fixture's body: `yield from serving(tmp_path_factory)`);
    `extra_env` adds to its environment (settings such as SIMULATOR_VARIANT)."""
    instance = instance_folder(tmp_path_factory)
    try:
        process, base_url, log = start_server(instance, extra_env)
        yield base_url
        stop_server(process, log)
    finally:
        if str(instance).startswith("/dev/shm/"):
            shutil.rmtree(instance, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(autouse=True)
def _server_log_on_failure(request):
    """When a test that used the live server fails, show the end of the server's output with it."""
    yield
    report = getattr(request.node, "report_call", None)
    server = request.node.funcargs.get("live_server")
    if report is not None and report.failed and isinstance(server, LiveServer) and server.log_path.exists():
        print(f"--- last lines of the portal's output ({server.log_path}) ---")
        print(server.log_path.read_text()[-6000:])


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def watch(context, problems: list[str]) -> None:
    """Record CSP violations of every document in `context` into `problems`."""
    context.expose_binding("__reportCspViolation", lambda source, text: problems.append(f"CSP violation: {text}"))
    context.add_init_script(WATCH_SCRIPT)


def open_page(browser, problems: list[str], **context_options):
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
    watch(context, problems)
    page = context.new_page()
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    page.problems = problems
    return page


@pytest.fixture
def page(browser):
    problems: list[str] = []
    page = open_page(browser, problems)
    yield page
    settle(page)
    page.context.close()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


# The overview as the admin sees it once every card has its data (what app.js marks as "cards-filled"; read
# from the page itself, since a test that installs Playwright's clock replaces `performance`).
CARDS_FILLED = "!!document.querySelector('[data-card]') && !document.querySelector('[data-card].is-loading')"
# ...and every chart drawn by plotly ("charts-drawn").
CHARTS_DRAWN = CARDS_FILLED + (" && [...document.querySelectorAll('script[data-chart]')].every(s => "
                               "document.getElementById(s.dataset.chart)?.getAttribute('data-chart-drawn') === 'true')")


def sign_in(page, base_url: str, who: str = "acme") -> None:
    """Signed in as Acme or Globex, on the overview with its cards filled, without typing.

    The login form and, on a fresh server, onboarding's "Create a portal key" are sent through the page's
    own request context, which shares the browser's cookies: the same requests the forms send, without
    rendering and waiting on each page. `sign_in_through_the_form` is the admin's way, for the tests
    about it."""
    request = page.context.request
    login = request.get(base_url + "/login")
    fields = form_fields(login.text(), "form#login-form")
    fields.update(email=ACCOUNTS[who], password=PASSWORD)
    signed = request.post(base_url + "/login", form=fields, max_redirects=0)
    assert signed.status == 302, f"signing in as {who}: HTTP {signed.status}"
    overview = request.get(base_url + "/", max_redirects=0)
    if overview.status == 302 and urlpath(overview.headers["location"]).startswith("/onboarding"):
        onboarding = request.get(base_url + "/onboarding/")
        created = request.post(base_url + "/onboarding/create", max_redirects=0,
                               form=form_fields(onboarding.text(), "form#create-portal-key"))
        assert created.status == 302, f"creating the portal key for {who}: HTTP {created.status}"
    page.goto(base_url + "/")
    wait_until(page, CARDS_FILLED)
    assert urlpath(page.url) == "/", f"signing in as {who} ended on {page.url}"


def sign_in_through_the_form(page, base_url: str, who: str = "acme") -> None:
    """Sign in as Acme or Globex by typing into the login form, as an admin does, and end on the overview.

    On a fresh server the first sign-in lands on onboarding: click "Create a portal key", then go on."""
    page.goto(base_url + "/login")
    page.fill("input[name=email]", ACCOUNTS[who])
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlpath(url) in ("/", "/onboarding/"))
    if urlpath(page.url).startswith("/onboarding"):
        page.get_by_role("button", name="Create a portal key").click()
        page.wait_for_url(lambda url: urlpath(url) == "/")
    wait_until(page, CARDS_FILLED)
    assert urlpath(page.url) == "/", f"signing in as {who} ended on {page.url}"


def form_fields(html: str, selector: str) -> dict:
    """The values a browser would send from a form of the page (hidden fields included)."""
    from bs4 import BeautifulSoup

    form = BeautifulSoup(html, "html5lib").select_one(selector)
    assert form is not None, f"no form matches {selector!r}"
    return {field["name"]: field.get("value", "") for field in form.select("input[name]")
            if field.get("type") not in ("checkbox", "radio") or field.has_attr("checked")}


def settle(page) -> None:
    """Let the page report what it has already done: a round trip through its task queue, after which every
    CSP violation or error raised so far has been queued and sent to the test ahead of the answer (one
    connection, in order). Used instead of a fixed wait before the problems are read."""
    try:
        page.evaluate("() => new Promise(resolve => setTimeout(resolve, 0))")
    except Exception:  # a page that is already closed has nothing more to report
        pass


def urlpath(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def poll_until(page, locator, every_ms: int, timeout: float = 15.0) -> None:
    """Wait until `locator` shows on a page that refreshes itself every `every_ms` (htmx `every …`),
    moving the browser's clock on one period at a time instead of waiting the periods out.

    The test installs the clock first (`page.clock.install()`, before the page loads). Each step fires the
    page's refresh once and gives its answer up to a second to land; what the refresh brings depends on
    the server (a delivery still on its way shows on a later step)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    deadline = time.monotonic() + timeout
    while not locator.first.is_visible():
        if time.monotonic() > deadline:
            raise AssertionError(f"not shown after {timeout} s of refreshes every {every_ms} ms: {locator}")
        page.clock.fast_forward(every_ms)
        try:
            locator.first.wait_for(state="visible", timeout=1000)
        except PlaywrightTimeoutError:
            continue


def wait_until(page, expression: str, timeout: float = 10.0, interval: float = 0.05):
    """Poll a JavaScript expression until it is truthy, and return its value.

    Use this instead of `page.wait_for_function("…")`: Playwright re-evaluates a string predicate with eval
    inside the page, which the portal's CSP (no 'unsafe-eval') refuses and reports as a violation.
    `page.evaluate` runs through the DevTools protocol and is not subject to the page's CSP.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(interval * 1000)
