"""The in-process schedule: a thread that runs the alert checks every ALERTS_INTERVAL_MINUTES.

One periodic job whose once-per-interval guarantee lives in the database (webapp/alerts/run.py) needs no
scheduling library: a thread waiting on an Event runs it and stops at once when told. It starts with the first
request the portal serves (so `flask` commands and tests that build an app start none), unless it is off
(ALERTS_SCHEDULER); tests that want it call `start` themselves, and `stop` ends it cleanly.
"""

from __future__ import annotations

import atexit
import threading

from flask import Flask

# Seconds after the start before the first run (the portal is up and serving by then), then every interval.
FIRST_DELAY = 30


class AlertScheduler:
    def __init__(self, app: Flask, interval_seconds: float, first_delay: float = FIRST_DELAY):
        self.app = app
        self.interval = interval_seconds
        self.first_delay = first_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.runs = 0  # rounds this thread went through (ran or found the interval taken)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="portal-alerts", daemon=True)
            self._thread.start()
        atexit.register(self.stop)

    def stop(self, timeout: float = 30) -> None:
        """Ask the thread to end and wait for it: a run in progress finishes its current alert first."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        from .run import run

        wait = self.first_delay
        while not self._stop.wait(wait):
            try:
                with self.app.app_context():
                    run(self.app)
            except Exception:  # the schedule must outlive one failed run (a database restart, say)
                self.app.logger.exception("scheduled alert checks failed")
            self.runs += 1
            wait = self.interval


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    scheduler = AlertScheduler(app, settings.alerts_interval_minutes * 60)
    app.extensions["alerts_scheduler"] = scheduler
    if not settings.alerts_scheduler:
        return
    started = []

    @app.before_request
    def start_alert_schedule():
        if not started and not app.testing:
            started.append(True)
            scheduler.start()
