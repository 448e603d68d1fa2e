"""Read by gunicorn from the working directory. The embedded simulator lives in one process, so more
than one worker needs a standalone simulator (or real SIR Giving) behind SIR_API_URL."""

import os
from pathlib import Path

bind = os.environ.get("BIND", "127.0.0.1:8000")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))

# gunicorn's control socket (for `gunicornc`) defaults to one path per user ($XDG_RUNTIME_DIR/gunicorn.ctl):
# a second portal on the host would take over the first one's. Each instance gets its own, in its instance
# folder (which only the portal's user may enter), unless GUNICORN_CONTROL_SOCKET names one. A Unix socket's
# path has at most 107 bytes: with a deep INSTANCE_PATH, name a shorter one.
instance_path = Path(os.environ.get("INSTANCE_PATH") or Path.cwd() / "instance").resolve()
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or str(instance_path / "gunicorn.ctl")

# On SIGTERM (a deploy, `systemctl stop`) workers finish the requests they hold for this long, then are
# killed: longer than a page's slowest SIR Giving call (SIR_CONNECT_TIMEOUT + SIR_READ_TIMEOUT, 13 s by
# default), so no admin's request is cut off mid-call. The reverse proxy's own timeout should be longer still.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))


def on_starting(server):
    embedded = not any(os.environ.get(name) for name in ("SIR_API_URL", "SIR_SANDBOX_URL", "SIR_PRODUCTION_URL"))
    if embedded and server.cfg.workers > 1:
        raise SystemExit(
            f"The portal's embedded simulator serves one process, but gunicorn was asked for {server.cfg.workers} "
            "workers. Either run one worker with threads (gunicorn -w 1 --threads 8 wsgi:app), or start "
            "`python -m simulator --port 4010` and set SIR_API_URL=http://127.0.0.1:4010."
        )


def when_ready(server):
    """Metrics under several workers (PROMETHEUS_MULTIPROC_DIR): each run starts with an empty folder, as
    prometheus_client asks, so counters of an earlier run are not added to this one's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def post_worker_init(worker):
    """The worker readied before its first request (webapp.warm_up: templates compiled, upstream threads started)."""
    import webapp

    if hasattr(webapp, "warm_up"):
        webapp.warm_up(worker.wsgi)
    else:  # an older checkout, which a bench (--tree, --before) serves with this file
        from webapp.templating import compile_templates

        compile_templates(worker.wsgi)


def child_exit(server, worker):
    """A worker that is gone stops counting in the live gauges; its counters stay in the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
