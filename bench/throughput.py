"""Benchmark: warm throughput of a card partial and of the full overview, against a bare Flask + Jinja page of the
same size served under the same gunicorn settings, in the same run.

    python bench/throughput.py [--seconds 8] [--rounds 3] [--concurrency 4] [--card trends]
                               [--tree /work/main --tree .] [--accept-encoding "gzip, br"]

Each `--tree` is a checkout whose portal is served (the default: this one), so a run can compare main with a
branch. Each portal runs `gunicorn -w 1 --threads 8 -c gunicorn.conf.py wsgi:app` on the embedded default (SQLite,
in-process simulator, a fresh instance folder); the bare page (bench/bare_app.py) runs under the same command.
The client signs in, views the overview once (the HTTP cache is then warm), measures each response's size, then
`--concurrency` threads send keep-alive requests for `--seconds`: the bare page at the partial's size, the card
partial (`HX-Request: true`), the bare page at the overview's size, the overview. `--rounds` repeats the whole
sequence, alternating, so machine load falls on both sides alike. Prints req/s, p50 and p99 per target (median
over rounds, with the spread), and the ratios portal / bare (targets: partial >= 0.8, overview >= 0.5).
Without --accept-encoding the client asks for no compression (what the server does, not the network).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import ROOT, sign_in, start_gunicorn, stop  # noqa: E402


def hammer(base: str, path: str, headers: dict, seconds: float, concurrency: int) -> dict:
    """Requests per second and latency percentiles of `concurrency` keep-alive clients for `seconds`."""
    address = urlsplit(base)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client():
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        mine = []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
                continue
            mine.append((time.perf_counter() - started) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = (lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]) if latencies else (lambda q: float("nan"))
    return {"rps": len(latencies) / elapsed, "p50": pick(0.50), "p99": pick(0.99), "errors": errors[0]}


def portal_targets(base: str, card: str, encoding: str | None) -> tuple[dict, dict]:
    """(partial, overview): path, headers and body size of each, warm."""
    client = sign_in(base)
    cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies)
    common = {"Cookie": cookie, "Accept-Encoding": encoding or "identity"}
    client.get(base + "/").raise_for_status()  # fills the HTTP cache: what follows is warm
    partial_headers = dict(common, **{"HX-Request": "true", "HX-Current-URL": base + "/"})
    partial_path = f"/overview/cards/{card}"
    sizes = {}
    for name, path, headers in (("partial", partial_path, partial_headers), ("overview", "/", common)):
        response = client.get(base + path, headers={k: v for k, v in headers.items() if k != "Cookie"})
        response.raise_for_status()
        sizes[name] = len(response.content)
        if "text/html" not in response.headers.get("Content-Type", ""):
            raise RuntimeError(f"{path} answered {response.headers.get('Content-Type')}")
    return ({"path": partial_path, "headers": partial_headers, "size": sizes["partial"]},
            {"path": "/", "headers": common, "size": sizes["overview"]})


def spread(values: list[float], digits: int = 0) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--card", default="trends")
    parser.add_argument("--tree", action="append", type=Path, help="a checkout to serve (repeatable)")
    parser.add_argument("--accept-encoding", default=None)
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [ROOT])]

    processes = []
    try:
        bare_process, bare_base = start_gunicorn(ROOT / "bench", "bare_app:app")
        processes.append(bare_process)
        portals = []
        for tree in trees:
            process, base = start_gunicorn(tree, "wsgi:app")
            processes.append(process)
            partial, overview = portal_targets(base, args.card, args.accept_encoding)
            portals.append((tree, base, partial, overview))

        bare_headers = {"Accept-Encoding": args.accept_encoding or "identity"}
        results: dict[tuple, list[dict]] = {}
        for _ in range(args.rounds):
            for tree, base, partial, overview in portals:
                for kind, target in (("partial", partial), ("overview", overview)):
                    bare = hammer(bare_base, f"/bare?size={target['size']}", bare_headers, args.seconds, args.concurrency)
                    mine = hammer(base, target["path"], target["headers"], args.seconds, args.concurrency)
                    results.setdefault((tree, kind, "bare"), []).append(bare)
                    results.setdefault((tree, kind, "portal"), []).append(mine)

        print(f"gunicorn -w 1 --threads 8; {args.concurrency} keep-alive clients; {args.seconds:g} s per target; "
              f"{args.rounds} rounds, median (min-max); Accept-Encoding: {args.accept_encoding or 'identity'}")
        for tree, base, partial, overview in portals:
            print(f"\n{tree}")
            for kind, target in (("partial", partial), ("overview", overview)):
                label = f"card partial /overview/cards/{args.card}" if kind == "partial" else "full overview /"
                bare, mine = results[(tree, kind, "bare")], results[(tree, kind, "portal")]
                ratios = [m["rps"] / b["rps"] for m, b in zip(mine, bare)]
                print(f"  {label}: {target['size']:,} bytes")
                for name, runs in (("bare Flask+Jinja", bare), ("portal", mine)):
                    failures = sum(run["errors"] for run in runs)
                    print(f"    {name:18} {spread([r['rps'] for r in runs], 1)} req/s   p50 {spread([r['p50'] for r in runs], 1)} ms"
                          f"   p99 {spread([r['p99'] for r in runs], 1)} ms" + (f"   {failures} failed" if failures else ""))
                target_ratio = 0.8 if kind == "partial" else 0.5
                print(f"    ratio portal/bare  {spread(ratios, 2)}  (target >= {target_ratio})")
    finally:
        stop(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
