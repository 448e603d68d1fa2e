"""Benchmark: how fast the overview fills, cold and warm, against a simulator with 100 ms of latency.

    python bench/overview.py [--runs 5] [--latency-ms 100]

Starts `python -m simulator --latency-ms 100` and two portals pointed at it with SIR_API_URL: one with
the HTTP cache disabled (SIR_CACHE_TTL=0: every view is a cold view) and one with the default cache (after
one view, views within the TTL are warm). Headless Chromium loads the overview and waits until every
card is filled and every chart drawn. Prints medians of --runs views, upstream calls per view (from the
portal's Server-Timing header), the slowest single upstream call measured on its own, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
# app.js marks "cards-filled" when no card is loading and "charts-drawn" when every chart is drawn.
DONE = "() => performance.getEntriesByName('charts-drawn').length > 0"
MARKS = "() => ['cards-filled', 'charts-drawn'].map(n => performance.getEntriesByName(n)[0].startTime)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


def start_portal(sim_url: str, extra: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"SIR_API_URL": sim_url, "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-portal-"),
                "LOGIN_RATE_LIMIT": "1000 per minute"}, **extra)
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port),
                                "--no-reload", "--with-threads"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/healthz", process)
    return process, base


def sign_in(page, base: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=email]", "admin@acme.example")
    page.fill("input[name=password]", "sandbox-demo")
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state("networkidle")
    if "/onboarding" in page.url:
        page.click("button:has-text('Create a portal key')")
        page.wait_for_load_state("networkidle")


def time_overview(page, base: str) -> tuple[float, float, int]:
    """Milliseconds from navigation start until every card is filled, and until every chart is drawn;
    upstream calls the view made."""
    calls = []

    def on_response(response):
        timing = response.headers.get("server-timing", "")
        found = re.search(r'(\d+) upstream call', timing)
        if found and response.url.startswith(base):
            calls.append(int(found.group(1)))

    page.on("response", on_response)
    page.goto(base + "/", wait_until="commit")
    page.wait_for_function(DONE, timeout=30000)
    filled, drawn = page.evaluate(MARKS)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", on_response)
    return filled, drawn, sum(calls)


def slowest_single_call(sim_url: str, runs: int) -> tuple[float, str]:
    """The overview's calls one at a time, straight to the simulator: the median of the slowest one."""
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
             ("/v1/partner/campaigns/active", None), (f"/v1/partner/dashboard/campaigns/{campaign}/analytics", None)]
    medians = {}
    for path, params in paths:
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            api.get(path, params)
            samples.append((time.perf_counter() - started) * 1000)
        medians[path] = statistics.median(samples)
    worst = max(medians, key=medians.get)
    return medians[worst], worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()

    sim_port = free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    simulator = subprocess.Popen([sys.executable, "-m", "simulator", "--port", str(sim_port),
                                  "--latency-ms", str(args.latency_ms)], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [simulator]
    try:
        wait_until_up(sim_url + "/partner-api/openapi.json", simulator)
        cold_portal, cold_base = start_portal(sim_url, {"SIR_CACHE_TTL": "0"})
        warm_portal, warm_base = start_portal(sim_url, {})
        processes += [cold_portal, warm_portal]
        slowest_ms, slowest_path = slowest_single_call(sim_url, args.runs)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            cold_page, warm_page = browser.new_page(), browser.new_page()
            sign_in(cold_page, cold_base)
            sign_in(warm_page, warm_base)
            time_overview(cold_page, cold_base)  # let the browser cache static files and plotly.js
            time_overview(warm_page, warm_base)  # fills the warm portal's HTTP cache
            cold = [time_overview(cold_page, cold_base) for _ in range(args.runs)]
            warm = [time_overview(warm_page, warm_base) for _ in range(args.runs)]
            browser.close()
        def median(runs, index):
            return statistics.median(run[index] for run in runs)

        cold_ms, warm_ms = median(cold, 0), median(warm, 0)
        print(f"simulator latency              {args.latency_ms} ms per call; {args.runs} views each; medians")
        print(f"slowest single upstream call   {slowest_ms:.0f} ms  ({slowest_path})")
        print(f"cold cache: cards filled       {cold_ms:.0f} ms   charts drawn {median(cold, 1):.0f} ms   "
              f"upstream calls per view {median(cold, 2):.0f}")
        print(f"warm cache: cards filled       {warm_ms:.0f} ms   charts drawn {median(warm, 1):.0f} ms   "
              f"upstream calls per view {median(warm, 2):.0f}")
        print(f"cold filled / slowest call     {cold_ms / slowest_ms:.2f}x  (target <= 1.3x)")
        print(f"warm filled <= 250 ms: {'met' if warm_ms <= 250 else 'NOT met'}; "
              f"0 upstream calls warm: {'met' if all(run[2] == 0 for run in warm) else 'NOT met'}")
    finally:
        for process in processes:
            process.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
