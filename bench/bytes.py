"""Benchmark: bytes transferred for the overview in Chromium, on a first visit and on a repeat visit.

    python bench/bytes.py [--tree /work/main --tree .] [--runs 3]

Each `--tree` is a checkout whose portal is served under gunicorn (bench/serving.py), so one run can compare
main with a branch. For each run: a fresh browser context (empty cache) gets a signed-in cookie (signing in is
done over HTTP, outside the browser, so it warms no browser cache), then opens the overview and waits until
every chart is drawn and the network is idle: the bytes on the wire for that are the first visit. It then opens
the overview again in the same context: the repeat visit. Bytes are Chromium's own count of what crossed the
network (`Network.loadingFinished` encodedDataLength: headers and body as sent, compressed if they were);
answers from the browser's cache count nothing. Targets: first visit <= 500 KB, repeat visit <= 30 KB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import ROOT, sign_in, start_gunicorn, stop  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
DONE = "() => performance.getEntriesByName('charts-drawn').length > 0"


def visit(page, cdp, url: str) -> tuple[int, dict]:
    """Bytes transferred while the page loads until its charts are drawn and the network is idle; by type."""
    sizes: dict[str, int] = {}
    types: dict[str, str] = {}

    def sent(event):
        types[event["requestId"]] = event.get("type", "Other")

    def finished(event):
        kind = types.get(event["requestId"], "Other")
        sizes[kind] = sizes.get(kind, 0) + int(event["encodedDataLength"])

    cdp.on("Network.responseReceived", sent)
    cdp.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="commit")
    page.wait_for_function(DONE, timeout=60000)
    page.wait_for_load_state("networkidle")
    cdp.remove_listener("Network.responseReceived", sent)
    cdp.remove_listener("Network.loadingFinished", finished)
    return sum(sizes.values()), sizes


def measure(browser, base: str) -> tuple[tuple[int, dict], tuple[int, dict]]:
    cookies = sign_in(base).cookies
    context = browser.new_context()
    context.add_cookies([{"name": c.name, "value": c.value, "url": base} for c in cookies])
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    first = visit(page, cdp, base + "/")
    repeat = visit(page, cdp, base + "/")
    context.close()
    return first, repeat


def kb(value: float) -> str:
    return f"{value / 1024:,.1f} KB"


def main() -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to serve (repeatable)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [ROOT])]
    processes = []
    try:
        portals = []
        for tree in trees:
            process, base = start_gunicorn(tree, "wsgi:app")
            processes.append(process)
            portals.append((tree, base))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            results = {tree: [measure(browser, base) for _ in range(args.runs)] for tree, base in portals}
            browser.close()
        print(f"Chromium, fresh context per run, overview until charts drawn and network idle; {args.runs} runs")
        for tree, runs in results.items():
            firsts, repeats = [run[0][0] for run in runs], [run[1][0] for run in runs]
            print(f"\n{tree}")
            print(f"  first visit   {kb(statistics.median(firsts))}  ({kb(min(firsts))}-{kb(max(firsts))})  target <= 500 KB")
            print(f"  repeat visit  {kb(statistics.median(repeats))}  ({kb(min(repeats))}-{kb(max(repeats))})  target <= 30 KB")
            for label, (total, by_type) in (("first", runs[0][0]), ("repeat", runs[0][1])):
                parts = ", ".join(f"{kind} {kb(size)}" for kind, size in sorted(by_type.items(), key=lambda i: -i[1]))
                print(f"    {label} by type: {parts}")
    finally:
        stop(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
