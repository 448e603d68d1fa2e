"""Benchmark: how soon the overview's cards are filled, cold, under gunicorn, against 100 ms of upstream latency.

    python bench/overview.py [--runs 5] [--later 3] [--latency-ms 100] [--before main]

One standalone simulator serves every portal: its app under gunicorn with 100 ms of latency per call (keep-alive,
as a real API is served; `--werkzeug-simulator` runs `python -m simulator --latency-ms 100` instead). Each portal
runs under gunicorn with the repo's gunicorn.conf.py and the HTTP cache off (SIR_CACHE_TTL=0: every view asks SIR Giving).
A sample is cold: a fresh gunicorn process and a fresh browser context (no cookies, no cached static files);
the admin signs in through the form, which lands on the overview ("first view after sign-in": no campaign hint,
no remembered key list), then the overview is opened `--later` more times in the same context ("later views").
"Cards filled" is app.js's `cards-filled` mark, from the start of the overview's own request (after the sign-in
redirect). It is divided by the slowest single upstream call the overview makes, timed alone against the same
simulator.

Three floors, measured in the same run:
- the bare round: the overview's calls at once from a plain client (what the simulator alone costs);
- the replay floor: this tree's overview, its bytes captured once, sent to the same Chromium by a server that does
  nothing else, the head at once and the rest when the slowest call would have answered. No server can fill the
  cards sooner;
- the relay floor: the same bytes, but the rest waits for the real calls, made at once as the request arrives by
  the portal's own SIR client (signing, requests; no cache) on a plain thread pool, a piece of the rest sent as each
  answers. It is what the simulator, the browser, the machine and the client's per-call work cost together, with a
  server that does nothing else; what is left above it is the rest of the portal. It runs in this bench's process
  (which only waits on Playwright meanwhile), makes the ten calls of a later view, and its views are taken between
  the portals' samples, in a context of their own.

Playwright polls for the marks every 100 ms, not on every animation frame (its default): the figures are the
page's own performance marks, so polling sooner would not change them, but it kept Chromium drawing frames on the
two cores the portal and the simulator share. With --before REF, that commit (exported with `git archive`, the
same venv) is measured in the same run, its samples interleaved with the working tree's.
"""

from __future__ import annotations

import argparse
import os
import threading
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
FILLED = "() => performance.getEntriesByName('cards-filled').length > 0"
# Milliseconds from the overview's own request (after any redirect) to its first byte, cards filled (app.js's mark:
# every card in place and the page's scripts run), charts drawn, last byte, and cards painted: when the browser
# first painted the last of the filled cards (Element Timing on each card's title, `elementtiming` in
# macros/ui.html), whether or not the page's scripts have run yet. Headless Chromium draws frames on demand, so this
# one lands late (README, Performance): read cards filled first.
MARKS = """async () => {
  const nav = performance.getEntriesByType('navigation')[0];
  const start = Math.max(nav.fetchStart, nav.redirectEnd);
  const at = (name) => { const m = performance.getEntriesByName(name)[0]; return m ? m.startTime - start : null; };
  const cards = document.querySelectorAll('[data-card]').length;
  const painted = await new Promise((resolve) => {
    const seen = new Map();
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (!e.identifier.startsWith('card-')) continue;  // each card's first paint: a later swap paints it again
        const at = e.renderTime || e.loadTime;
        if (!seen.has(e.identifier) || at < seen.get(e.identifier)) seen.set(e.identifier, at);
      }
      if (seen.size >= cards) { observer.disconnect(); resolve(Math.max(...seen.values()) - start); }
    });
    observer.observe({type: 'element', buffered: true});
    setTimeout(() => { observer.disconnect(); resolve(null); }, 10000);
  });
  return [nav.responseStart - start, at('cards-filled'), at('charts-drawn'), nav.responseEnd - start, painted];
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def simulator_command(port: int, latency_ms: int, werkzeug: bool) -> list[str]:
    """The upstream every portal of the run calls. By default the simulator's app under gunicorn (one process, for
    its in-memory state; threads; keep-alive), as a real API is served. `python -m simulator` runs Werkzeug's
    development server, which closes every connection and starts a thread per request: it costs the simulator
    ~25 % more CPU per overview on the 2 cores the portal and the browser share, and the portal's calls their
    connection set-up."""
    if werkzeug:
        return [sys.executable, "-m", "simulator", "--port", str(port), "--latency-ms", str(latency_ms)]
    app = f'simulator:create_app({{"LATENCY_MS": {latency_ms}, "DELIVER_TO": "anywhere"}})'
    # -c /dev/null: not the portal's gunicorn.conf.py, which gunicorn would read from the working directory.
    return [sys.executable, "-m", "gunicorn", "-c", "/dev/null", "-w", "1", "-k", "gthread", "--threads", "64", "--keep-alive", "30",
            "-b", f"127.0.0.1:{port}", app]


def export(ref: str) -> Path:
    """The tree of `ref`, in a temporary folder."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{ref.replace('/', '-')}-"))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder)
    return folder


class Build:
    """One version of the portal: its source folder and its instance folder (vault, portal key, database)."""

    def __init__(self, label: str, source: Path, sim_url: str):
        self.label, self.source, self.sim_url = label, source, sim_url
        self.instance = Path(tempfile.mkdtemp(prefix=f"bench-portal-{label}-"))
        self.first: list[tuple] = []
        self.later: list[tuple] = []

    def start(self) -> tuple[subprocess.Popen, str]:
        """A fresh gunicorn process (the repo's gunicorn.conf.py: one worker, 8 threads)."""
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update({"SIR_API_URL": self.sim_url, "INSTANCE_PATH": str(self.instance), "SIR_CACHE_TTL": "0",
                    "LOGIN_RATE_LIMIT": "1000 per minute", "BIND": f"127.0.0.1:{port}"})
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                   cwd=self.source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz", process)
        return process, base


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def sign_in(page, base: str) -> None:
    """Through the form, as an admin does; waits for the page it lands on to have its cards filled."""
    page.goto(base + "/login")
    page.fill("input[name=email]", "admin@acme.example")
    page.fill("input[name=password]", "sandbox-demo")
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state("domcontentloaded")
    if "/onboarding" in page.url:  # a fresh instance: its portal key first (only while preparing)
        page.click("button:has-text('Create a portal key')")
        page.wait_for_load_state("domcontentloaded")
        return
    page.wait_for_function(FILLED, timeout=30000, polling=100)


def view(page, base: str) -> tuple:
    page.goto(base + "/", wait_until="commit")
    page.wait_for_function(FILLED, timeout=30000, polling=100)
    return measured(page)


def measured(page) -> tuple:
    try:
        page.wait_for_function("() => performance.getEntriesByName('charts-drawn').length > 0", timeout=30000, polling=100)
    finally:
        result = tuple(page.evaluate(MARKS))
    page.wait_for_load_state("networkidle")
    return result


def sample(browser, build: Build, later: int) -> None:
    process, base = build.start()
    try:
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, base)
        assert page.url.rstrip("/") == base, f"{build.label}: signing in ended on {page.url}"
        build.first.append(measured(page))
        build.later.extend(view(page, base) for _ in range(later))
        context.close()
    finally:
        stop(process)


def overview_calls(sim_url: str) -> list:
    """The overview's calls as a plain client makes them (signed, no cache, no portal): one callable per call."""
    from webapp.sir.api import AccountApi, PartnerApi
    from webapp.sir.client import Credential, SirClient

    client = SirClient(sandbox_url=sim_url, production_url=sim_url)
    token = client.login("admin@acme.example", "sandbox-demo")["token"]
    created = AccountApi(client, token).create_key("bench", "sandbox")
    api = PartnerApi(client, Credential(created["id"], created["secretKey"], created["hmacSecret"]), "sandbox")
    campaign = api.get("/v1/partner/campaigns/active").data["id"]
    paths = [("/v1/partner/dashboard/summary", None), ("/v1/partner/dashboard/trends", {"days": 30}),
             ("/v1/partner/dashboard/top-earners", {"limit": 10, "days": 30}),
             ("/v1/partner/dashboard/webhooks/health", None), ("/v1/partner/dashboard/api-usage", {"days": 7}),
             ("/v1/partner/dashboard/recent-activity", {"limit": 10}), ("/v1/partner/dashboard/integration-health", None),
             ("/v1/partner/campaigns/active", None), (f"/v1/partner/dashboard/campaigns/{campaign}/analytics", None),
             ("/v1/partner/token-pools", None)]
    calls = [lambda path=path, params=params: api.get(path, params) for path, params in paths]
    for call, (path, _) in zip(calls, paths):
        call.path = path
    return calls


def upstream_baselines(calls: list, runs: int) -> tuple[float, str, float]:
    """Straight to the simulator, with no portal: the overview's calls one at a time (the median of the slowest
    one, and its path), and all of them at once from a plain thread pool, as the overview makes them (the
    median of that round: the floor for any portal against this simulator on this machine, since the
    simulator shares its process's CPU between the calls)."""
    from concurrent.futures import ThreadPoolExecutor

    medians = {}
    for call in calls:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            samples.append((time.perf_counter() - started) * 1000)
        medians[call.path] = statistics.median(samples)
    worst = max(medians, key=medians.get)
    rounds = []
    with ThreadPoolExecutor(len(calls)) as pool:
        for _ in range(runs):
            started = time.perf_counter()
            list(pool.map(lambda call: call(), calls))
            rounds.append((time.perf_counter() - started) * 1000)
    return medians[worst], worst, statistics.median(rounds)


def captured_overview(build: Build) -> tuple[subprocess.Popen, str, bytes, bytes]:
    """A running portal of `build` (its static files are served from there), and its overview's bytes as they
    leave it: the head (the first chunk) and the rest, uncompressed."""
    from serving import sign_in as sign_in_with_requests

    process, base = build.start()
    client = sign_in_with_requests(base)
    response = client.get(base + "/", headers={"Accept-Encoding": "identity"}, stream=True)
    chunks = list(response.raw.stream(1 << 16, decode_content=False))
    return process, base, chunks[0], b"".join(chunks[1:])


def replay_server(portal: str, head: bytes, rest: bytes, wait_ms: float | None = None,
                  calls: list | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Serves `/` as `head` at once, then the rest: after `wait_ms` (the replay), or (the relay) once `calls` are
    made against the simulator, all at once from a thread pool, the rest cut into as many pieces as there are
    calls and one piece sent as each answer arrives. Chunked, as the portal streams it; anything else is fetched
    from `portal` (the style sheet, the scripts)."""
    import requests
    from concurrent.futures import ThreadPoolExecutor, as_completed

    pool = ThreadPoolExecutor(len(calls)) if calls else None
    size = -(-len(rest) // len(calls)) if calls else len(rest)
    pieces = [rest[i:i + size] for i in range(0, len(rest), size)]

    class Replay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _chunk(self, data: bytes) -> None:
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        def do_GET(self):
            if self.path == "/":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self._chunk(head)
                if pool is None:
                    time.sleep(wait_ms / 1000)
                    self._chunk(rest)
                else:
                    answers = [pool.submit(call) for call in calls]
                    for piece, answered in zip(pieces, as_completed(answers)):
                        answered.result()  # a call that failed ends the page here: the view then fails, loudly
                        self._chunk(piece)
                    for piece in pieces[len(answers):]:
                        self._chunk(piece)
                self.wfile.write(b"0\r\n\r\n")
                return
            upstream = requests.get(portal + self.path)
            self.send_response(upstream.status_code)
            for name in ("Content-Type", "Cache-Control"):
                if name in upstream.headers:
                    self.send_header(name, upstream.headers[name])
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Replay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Floors:
    """The replay and the relay of `build`'s overview, each viewed in one browser context (its static files cached,
    as for later views). Their views are taken between the portals' samples (`take`), so both are measured under
    the same conditions of the machine as the samples they are compared with."""

    def __init__(self, browser, build: Build, slowest_ms: float, calls: list):
        self.process, base, head, rest = captured_overview(build)  # it serves the style sheet and the scripts
        self.replay, self.replay_url = replay_server(base, head, rest, wait_ms=slowest_ms)
        self.relay, self.relay_url = replay_server(base, head, rest, calls=calls)
        self.context = browser.new_context()
        self.page = self.context.new_page()
        view(self.page, self.replay_url)  # primes the browser's cache with the static files
        view(self.page, self.relay_url)
        self.replayed: list[tuple] = []
        self.relayed: list[tuple] = []

    def take(self, views: int) -> None:
        for _ in range(views):
            self.replayed.append(view(self.page, self.replay_url))
            self.relayed.append(view(self.page, self.relay_url))

    def close(self) -> None:
        self.context.close()
        self.replay.shutdown()
        self.relay.shutdown()
        stop(self.process)


def spread(values: list[float | None], scale: float = 1.0, unit: str = "") -> str:
    values = [v / scale for v in values if v is not None]  # None: not measured (no elementtiming in that tree)
    if not values:
        return "not measured"
    digits = 2 if unit == "x" else 0
    return (f"{statistics.median(values):.{digits}f}{unit} (min {min(values):.{digits}f}, "
            f"max {max(values):.{digits}f}, n={len(values)})")


def report(build: Build, slowest_ms: float, round_ms: float, floor_ms: float, relay_ms: float) -> None:
    print(f"\n{build.label}")
    for name, samples in (("first view after sign-in", build.first), ("later views", build.later)):
        print(f"  {name}:")
        print(f"    first byte          {spread([s[0] for s in samples], unit=' ms')}")
        print(f"    last byte           {spread([s[3] for s in samples], unit=' ms')}")
        print(f"    cards painted       {spread([s[4] for s in samples], unit=' ms')}")
        print(f"    cards filled        {spread([s[1] for s in samples], unit=' ms')}")
        print(f"    charts drawn        {spread([s[2] for s in samples], unit=' ms')}")
        print(f"    painted / slowest   {spread([s[4] for s in samples], slowest_ms, 'x')}  (target <= 1.2x)")
        print(f"    filled / slowest    {spread([s[1] for s in samples], slowest_ms, 'x')}  (target <= 1.2x)")
        print(f"    painted / bare round {spread([s[4] for s in samples], round_ms, 'x')}")
        print(f"    filled / replay floor {spread([s[1] for s in samples], floor_ms, 'x')}")
        print(f"    filled / relay floor  {spread([s[1] for s in samples], relay_ms, 'x')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold samples per version (a fresh process each)")
    parser.add_argument("--later", type=int, default=3, help="later views per sample")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--before", help="a git ref to measure in the same run, e.g. main")
    parser.add_argument("--werkzeug-simulator", action="store_true",
                        help="serve the simulator with `python -m simulator` (Werkzeug's server) instead of gunicorn")
    args = parser.parse_args()

    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    simulator = subprocess.Popen(simulator_command(sim_port, args.latency_ms, args.werkzeug_simulator), cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    builds: list[Build] = []
    try:
        wait_until_up(sim_url + "/partner-api/openapi.json", simulator)
        builds = [Build(f"before ({args.before})", export(args.before), sim_url)] if args.before else []
        builds.append(Build("this working tree", ROOT, sim_url))
        calls = overview_calls(sim_url)
        slowest_ms, slowest_path, round_ms = upstream_baselines(calls, max(args.runs, 5))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for build in builds:  # each instance gets its portal key once, through onboarding
                process, base = build.start()
                try:
                    context = browser.new_context()
                    sign_in(context.new_page(), base)
                    context.close()
                finally:
                    stop(process)
            floors = Floors(browser, builds[-1], slowest_ms, calls)
            try:
                for _ in range(args.runs):
                    for build in builds:
                        sample(browser, build, args.later)
                    floors.take(args.later)
            finally:
                floors.close()
            browser.close()
        floor, relay = floors.replayed, floors.relayed
        floor_ms = statistics.median(s[1] for s in floor if s[1] is not None)
        relay_ms = statistics.median(s[1] for s in relay if s[1] is not None)
        print(f"simulator latency {args.latency_ms} ms per call, served by "
              f"{'Werkzeug (python -m simulator)' if args.werkzeug_simulator else 'gunicorn'}; "
              f"portals under gunicorn (gunicorn.conf.py), SIR_CACHE_TTL=0; "
              f"{args.runs} cold samples (fresh process, fresh browser context), {args.later} later views each")
        print(f"slowest single upstream call  {slowest_ms:.0f} ms  ({slowest_path}, median of {max(args.runs, 5)})")
        print(f"bare round                    {round_ms:.0f} ms  (the overview's calls at once from a plain client, "
              f"no portal: {round_ms / slowest_ms:.2f}x the slowest call)")
        print(f"replay floor                  {floor_ms:.0f} ms  (this tree's overview replayed: head at once, the rest "
              f"after {slowest_ms:.0f} ms; cards filled {spread([s[1] for s in floor], slowest_ms, 'x')} the slowest call)")
        print(f"relay floor                   {relay_ms:.0f} ms  (the same bytes, the rest sent as the overview's calls, made "
              f"at once by a plain client, answer: cards filled {spread([s[1] for s in relay], slowest_ms, 'x')} the "
              f"slowest call)")
        for build in builds:
            report(build, slowest_ms, round_ms, floor_ms, relay_ms)
    finally:
        simulator.terminate()
        for build in builds:  # the instance folders, and the exported tree of --before
            shutil.rmtree(build.instance, ignore_errors=True)
            if build.source != ROOT:
                shutil.rmtree(build.source, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
