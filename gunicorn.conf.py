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


def when_ready(server):
    """Metrics under several workers (PROMETHEUS_MULTIPROC_DIR): each run starts with an empty folder, as
    prometheus_client asks, so counters of an earlier run are not added to this one's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker):
    """A worker that is gone stops counting in the live gauges; its counters stay in the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
