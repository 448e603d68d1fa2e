"""`python -m simulator --host 127.0.0.1 --port 4010 [--latency-ms N] [--jitter-ms N] [--error-rate F]
[--rate-limit N] [--seed N] [--state PATH] [--deliver-to public|anywhere] [--lists bare|envelope]
[--errors opaque|coded] [--ignore-query] [--extra-fields] [--missing-optional] [--clock-offset SECONDS]`: the simulator as a standalone server.

Webhook deliveries go anywhere (localhost included: a portal on this machine is the usual receiver) while the
simulator listens on loopback only; listening on another address, it delivers to public addresses only, since
anyone who reaches it could otherwise make it post into this machine's network. `--deliver-to` says it outright.

The last six vary what the reference leaves open (simulator/variant.py), so the portal can be tried against
an upstream that answers differently from this simulator's defaults.

With --state, set SIMULATOR_STATE_KEY (a Fernet key) to keep the journal's secrets encrypted on disk."""

from __future__ import annotations

import argparse
import os
import sys

from .api.webhooks import is_loopback
from .delivery import DELIVER_TO


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m simulator", description="A local SIR Giving Partner API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4010)
    parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every SIR call")
    parser.add_argument("--jitter-ms", type=int, default=0, help="random extra latency, up to this much")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of SIR calls answered 500 (0..1)")
    parser.add_argument("--rate-limit", type=int, default=None, help="requests a minute per key, then 429")
    parser.add_argument("--seed", type=int, default=42, help="seed of the demo data (same seed, same data)")
    parser.add_argument("--state", default=None, help="file that keeps what is created at run time across restarts")
    parser.add_argument("--deliver-to", choices=DELIVER_TO, default=None,
                        help="where webhooks may be delivered: 'anywhere' (localhost included; the default when "
                             "listening on loopback) or 'public' addresses only (the default otherwise)")
    parser.add_argument("--lists", choices=("envelope", "bare"), default="envelope",
                        help="lists as {data, pagination} (default) or as a bare JSON array")
    parser.add_argument("--errors", choices=("coded", "opaque"), default="coded",
                        help="error bodies with a code (default), or the status alone with a text body")
    parser.add_argument("--ignore-query", action="store_true", help="ignore page, limit and every filter")
    parser.add_argument("--extra-fields", action="store_true", help="add unknown fields to every object")
    parser.add_argument("--missing-optional", action="store_true",
                        help="leave out null and undocumented optional fields, and list pagination")
    parser.add_argument("--clock-offset", type=int, default=0, metavar="SECONDS",
                        help="run the simulator's clock (timestamp window, reply times, Date header) this far "
                             "off real time")
    args = parser.parse_args(argv)
    from .variant import MAX_CLOCK_OFFSET, Variant

    args.variant = Variant(lists=args.lists, errors=args.errors, ignore_query=args.ignore_query,
                           extra_fields=args.extra_fields, missing_optional=args.missing_optional,
                           clock_offset=args.clock_offset)
    if abs(args.clock_offset) > MAX_CLOCK_OFFSET:
        parser.error("--clock-offset must be at most a century either way")
    if not 0 <= args.error_rate <= 1:
        parser.error("--error-rate must be between 0 and 1")
    for name in ("latency_ms", "jitter_ms"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be zero or more")
    if args.rate_limit is not None and args.rate_limit < 1:
        parser.error("--rate-limit must be at least 1 request a minute")
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    if args.deliver_to is None:
        args.deliver_to = "anywhere" if is_loopback(args.host) else "public"
    args.state_key = os.environ.get("SIMULATOR_STATE_KEY") or None
    if args.state_key:
        from cryptography.fernet import Fernet

        try:
            Fernet(args.state_key)
        except (ValueError, TypeError):
            parser.error("SIMULATOR_STATE_KEY is not a Fernet key (32 url-safe base64 bytes)")
    return args


def main(argv=None) -> int:
    from werkzeug.serving import run_simple

    from . import create_app

    args = parse_args(argv)
    app = create_app({"SEED": args.seed, "STATE_PATH": args.state, "STATE_KEY": args.state_key, "LATENCY_MS": args.latency_ms,
                      "JITTER_MS": args.jitter_ms, "ERROR_RATE": args.error_rate, "RATE_LIMIT": args.rate_limit,
                      "DELIVER_TO": args.deliver_to, "VARIANT": args.variant})
    print(f"SIR Giving simulator on http://{args.host}:{args.port} (seed {args.seed}, variant {args.variant}; "
          f"webhooks delivered to {'any address' if args.deliver_to == 'anywhere' else 'public addresses only'}); "
          "docs at /partner-api",
          file=sys.stderr, flush=True)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
