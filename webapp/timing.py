"""`Server-Timing` on every response: time spent at SIR Giving, cache hits, template rendering, total."""

from __future__ import annotations

import time

from flask import Flask, before_render_template, g, template_rendered


def init_app(app: Flask) -> None:
    @app.before_request
    def start_clock():
        g.request_started = time.perf_counter()
        g.sir_calls = []
        g.render_ms = 0.0

    def render_started(sender, template, context, **extra):
        g.setdefault("render_stack", []).append(time.perf_counter())

    def render_finished(sender, template, context, **extra):
        stack = g.get("render_stack")
        if stack:
            started = stack.pop()
            if not stack:  # count nested includes once, through the outermost template
                g.render_ms = g.get("render_ms", 0.0) + (time.perf_counter() - started) * 1000

    # weak=False: these handlers are local functions, which blinker would otherwise drop at once.
    before_render_template.connect(render_started, app, weak=False)
    template_rendered.connect(render_finished, app, weak=False)

    @app.after_request
    def add_server_timing(response):
        started = g.get("request_started")
        if started is None:
            return response
        if g.get("streamed"):  # the header leaves before the calls are made: the request log line counts them
            response.headers["Server-Timing"] = (f'sir;desc="streamed: calls follow the head", '
                                                 f"head;dur={(time.perf_counter() - started) * 1000:.1f}")
            return response
        calls = g.get("sir_calls") or []
        upstream = [c for c in calls if not c.from_cache]
        hits = len(calls) - len(upstream)
        # Calls may run in parallel: the longest one is the time the page waited for SIR Giving.
        waited = max((c.elapsed_ms for c in upstream), default=0.0)
        parts = [
            f'sir;dur={waited:.1f};desc="{len(upstream)} upstream call(s)"',
            f'cache;desc="{hits} hit(s), {len(upstream)} miss(es)"',
            f"render;dur={g.get('render_ms', 0.0):.1f}",
            f"total;dur={(time.perf_counter() - started) * 1000:.1f}",
        ]
        response.headers["Server-Timing"] = ", ".join(parts)
        return response
