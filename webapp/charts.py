"""Plotly figures, built from parsed data: pure functions, data in, figure out.

A figure is a plain dict (`{"data": [...], "layout": {...}}`), exactly what plotly's `go.Figure(...).to_plotly_json()`
would give: building validated `go.Figure`s cost a card ~20 ms per chart on every request, the dict well under
one. tests/dashboard/test_charts.py passes every builder's output through `go.Figure` once, so a property plotly
does not know still fails a test, not a page.

Every chart goes through `figure()` so they look alike: one palette, readable axes, thousands separators,
ISO dates, a title, and no plotly template (keeps the JSON small; plotly's `"none"` template). Each area adds its
builders below; the page puts the dict in a `<script type="application/json">` (chart macro), and app.js mounts
it under the strict CSP.

Plotly reads every label, title and hover text as a small HTML dialect (`<a href>`, `<b>`, `<span style>`):
a user named `<a href="https://evil.example">` would be a link on the overview. `figure()` is the one place
that escapes the text it is handed (titles and the traces' labels), so builders pass names as they are.
"""

from __future__ import annotations

# Colour-blind-safe palette (Okabe–Ito), in the order series take them.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
INK = "#1f2933"
GRID = "#e4e7eb"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


# The trace properties plotly shows as text: labels, category axes, legend names, hover texts. Not hovertemplate:
# that is ours, and holds the markup (`<extra></extra>`) and the `%{y}` placeholders plotly fills with
# the (escaped) values.
TEXT_PROPERTIES = ("x", "y", "text", "hovertext", "name", "labels")


def plain_text(value):
    """`value` as plotly shows it literally: `& < >` as entities (plotly decodes them after reading its tags).
    Numbers, dates and None pass unchanged; sequences are escaped item by item."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if isinstance(value, (list, tuple)):
        return [plain_text(item) for item in value]
    return value


def _escape_labels(trace: dict) -> None:
    for name in TEXT_PROPERTIES:
        if name in trace and trace[name] is not None:
            trace[name] = plain_text(trace[name])


# What plotly's `template="none"` becomes in a figure's JSON.
NO_TEMPLATE = {"data": {"scatter": [{"type": "scatter"}]}}


def bar(**properties) -> dict:
    return {**properties, "type": "bar"}


def scatter(**properties) -> dict:
    return {**properties, "type": "scatter"}


def update_layout(fig: dict, **changes) -> dict:
    """As plotly's `update_layout`: nested dicts are merged into what is there, other values replace it."""
    _merge(fig["layout"], changes)
    return fig


def _merge(target: dict, changes: dict) -> None:
    for name, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(name), dict):
            _merge(target[name], value)
        else:
            target[name] = value


def _layout(title: str, *, x_title: str | None = None, y_title: str | None = None, dates: bool = False,
            height: int = 280, legend: bool = True) -> dict:
    axis = dict(gridcolor=GRID, zeroline=False)
    return dict(
        template=NO_TEMPLATE,
        title=dict(text=plain_text(title), x=0, xanchor="left", font=dict(size=14, color=INK)),
        height=height,
        margin=dict(l=72 if y_title else 56, r=16, t=40, b=40 + (28 if legend else 0)),
        font=dict(family=FONT, size=12, color=INK),
        colorway=PALETTE,
        separators=".,",  # decimal point ".", thousands separator ","
        showlegend=legend,
        # The legend sits at the bottom of the figure itself (container), not a fraction of the plot's height
        # below it: on a phone the dates turn sideways and grow taller than that fraction, and ran into it.
        legend=dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0),
        hovermode="x unified" if dates else "closest",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(axis, automargin=True, **_axis_title(x_title),
                   **({"type": "date", "tickformat": "%Y-%m-%d", "hoverformat": "%Y-%m-%d"} if dates else {})),
        yaxis=dict(axis, tickformat=",d", rangemode="tozero", **_axis_title(y_title)),
    )


def _axis_title(text: str | None) -> dict:
    return {"title": {"text": plain_text(text)}} if text else {}


def figure(traces: list[dict], title: str, **layout_options) -> dict:
    """A figure in the house style, its text escaped; areas build traces and call this. Whatever a builder
    adds afterwards (`update_layout`) is fixed text of ours, never a name from the data."""
    for trace in traces:
        _escape_labels(trace)
    return {"data": traces, "layout": _layout(title, **layout_options)}


# -- overview ------------------------------------------------------------------------------------------

def trends_chart(trends) -> dict:
    """Daily tokens (bars) and actions (line, right axis) over the chosen range."""
    dates = [d.date for d in trends.daily]
    fig = figure([
        bar(x=dates, y=[d.tokens for d in trends.daily], name="Tokens distributed", marker=dict(color=PALETTE[0]),
               hovertemplate="%{y:,} tokens<extra></extra>"),
        scatter(x=dates, y=[d.actions for d in trends.daily], name="Actions", yaxis="y2", mode="lines+markers",
                   line=dict(color=PALETTE[1], width=2), marker=dict(size=4),
                   hovertemplate="%{y:,} actions<extra></extra>"),
    ], f"Activity, last {trends.days} days", dates=True, y_title="Tokens")
    update_layout(fig, yaxis2=dict(title=dict(text="Actions"), overlaying="y", side="right", tickformat=",d",
                                  rangemode="tozero", showgrid=False), bargap=0.2, margin=dict(r=64))
    return fig


def top_earners_chart(earners) -> dict:
    """Horizontal bars, the top earner at the top."""
    ordered = list(reversed(earners))
    fig = figure([bar(x=[e.tokens for e in ordered], y=[e.name for e in ordered], orientation="h",
                         marker=dict(color=PALETTE[2]), hovertemplate="%{y}: %{x:,} tokens<extra></extra>",
                         name="Tokens")],
                 f"Top {len(earners)} earners", legend=False, height=max(220, 32 * len(earners) + 80))
    update_layout(fig, xaxis=dict(tickformat=",d", title=dict(text="Tokens")), yaxis=dict(tickformat="", automargin=True),
                      margin=dict(l=8, r=16, t=40, b=40))
    return fig


def api_usage_chart(usage) -> dict:
    dates = [d.date for d in usage.daily]
    fig = figure([
        bar(x=dates, y=[d.requests - d.errors for d in usage.daily], name="Succeeded", marker=dict(color=PALETTE[0]),
               hovertemplate="%{y:,} succeeded<extra></extra>"),
        bar(x=dates, y=[d.errors for d in usage.daily], name="Errors", marker=dict(color=PALETTE[3]),
               hovertemplate="%{y:,} errors<extra></extra>"),
    ], f"API requests, last {usage.days} day{'s' if usage.days != 1 else ''}", dates=True, y_title="Requests")
    update_layout(fig, barmode="stack", bargap=0.25)
    return fig


def campaign_chart(analytics, name: str) -> dict:
    dates = [d.date for d in analytics.daily]
    fig = figure([
        bar(x=dates, y=[d.tokens for d in analytics.daily], name="Tokens", marker=dict(color=PALETTE[4]),
               hovertemplate="%{y:,} tokens<extra></extra>"),
        scatter(x=dates, y=[d.actions for d in analytics.daily], name="Actions", yaxis="y2", mode="lines",
                   line=dict(color=PALETTE[0], width=2), hovertemplate="%{y:,} actions<extra></extra>"),
    ], f"{name}: daily performance", dates=True, y_title="Tokens")
    update_layout(fig, yaxis2=dict(title=dict(text="Actions"), overlaying="y", side="right", tickformat=",d",
                                  rangemode="tozero", showgrid=False), margin=dict(r=64))
    return fig


# -- text alternatives: the same data as a table ("Show as table") --------------------------------------

def trends_table(trends) -> tuple[list[str], list[list]]:
    return (["Date", "Actions", "Completed", "Failed", "Tokens"],
            [[d.date, d.actions, d.completed, d.failed, d.tokens] for d in trends.daily])


def api_usage_table(usage) -> tuple[list[str], list[list]]:
    return (["Date", "Requests", "Errors"], [[d.date, d.requests, d.errors] for d in usage.daily])


def campaign_table(analytics) -> tuple[list[str], list[list]]:
    return (["Date", "Actions", "Tokens", "Participants"],
            [[d.date, d.actions, d.tokens, d.participants] for d in analytics.daily])


# -- token pools ---------------------------------------------------------------------------------------

def pools_chart(pools) -> dict:
    """Each pool's balance as a bar, its low-balance threshold as a marker across it."""
    names = [p.name for p in pools]
    colours = [PALETTE[3] if p.is_depleted else (PALETTE[1] if p.is_low else PALETTE[2]) for p in pools]
    fig = figure([
        bar(x=names, y=[p.balance for p in pools], name="Balance", marker=dict(color=colours),
               hovertemplate="%{x}: %{y:,} tokens<extra></extra>"),
        scatter(x=names, y=[p.threshold for p in pools], name="Low-balance threshold", mode="markers",
                   marker=dict(symbol="line-ew", size=40, line=dict(width=3, color=INK)),
                   hovertemplate="threshold %{y:,}<extra></extra>"),
    ], "Balance against threshold", y_title="Tokens", height=300)
    return fig


def pools_table(pools) -> tuple[list[str], list[list]]:
    return (["Pool", "Balance", "Threshold", "Allocated", "Consumed"],
            [[p.name, p.balance, p.threshold, p.allocated, p.consumed] for p in pools])
