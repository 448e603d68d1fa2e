"""Read by gunicorn from the working directory. The embedded simulator lives in one process, so more
than one worker needs a standalone simulator (or real SIR Giving) behind SIR_API_URL."""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))


def on_starting(server):
    embedded = not any(os.environ.get(name) for name in ("SIR_API_URL", "SIR_SANDBOX_URL", "SIR_PRODUCTION_URL"))
    if embedded and server.cfg.workers > 1:
        raise SystemExit(
            f"The portal's embedded simulator serves one process, but gunicorn was asked for {server.cfg.workers} "
            "workers. Either run one worker with threads (gunicorn -w 1 --threads 8 wsgi:app), or start "
            "`python -m simulator --port 4010` and set SIR_API_URL=http://127.0.0.1:4010."
        )
