"""Plotly reads its labels as markup (`<a href>`, `<b>`, `<span style>`): every name the partner's users, campaigns or
pools chose reaches a chart escaped, so it is shown as typed and never becomes a link.

Builders return plain dicts (no plotly on the request path); here each is passed through plotly's own `go.Figure`
once, which refuses any property plotly does not know, and must come back unchanged."""

import json
from types import SimpleNamespace

import plotly.graph_objects as go

from webapp import charts
from webapp.sir.models import CampaignAnalytics, CampaignDay, TokenPool, TopEarner

LINK = '<a href="https://evil.example">x</a>'
ESCAPED_LINK = '&lt;a href="https://evil.example"&gt;x&lt;/a&gt;'


def earner(name, tokens=100, rank=1):
    return TopEarner(rank=rank, external_user_id=f"user-{rank}", name=name, email=None, tokens=tokens, active_days=3)


def pool(name, balance=500):
    return TokenPool(id=f"pool-{name[:3]}", name=name, environment="sandbox", status="active", balance=balance,
                     allocated=1000, consumed=500, threshold=100)


def analytics():
    return CampaignAnalytics(campaign_id="camp-1", actions=3, tokens=30, participants=2, budget=None,
                             budget_used=None, daily=[CampaignDay("2026-11-24", 1, 10, 1), CampaignDay("2026-11-25", 2, 20, 1)])


def validated(figure: dict) -> dict:
    """The figure as plotly reads it: raises on a property or value plotly does not accept."""
    return go.Figure(figure).to_dict()


def every_string(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from every_string(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from every_string(item)


def test_a_user_named_like_a_link_reaches_the_top_earners_chart_escaped():
    figure = validated(charts.top_earners_chart([earner(LINK, 300, 1), earner("Ada Lovelace", 200, 2)]))
    assert ESCAPED_LINK in figure["data"][0]["y"]
    assert not any("<a" in text for text in every_string(figure))


def test_a_pool_named_with_markup_reaches_the_pools_chart_escaped():
    figure = validated(charts.pools_chart([pool('<b style="color:red">Main</b>'), pool("Spare")]))
    for trace in figure["data"]:
        assert trace["x"][0] == '&lt;b style="color:red"&gt;Main&lt;/b&gt;'
    assert not any("<b" in text for text in every_string(figure))


def test_a_campaign_named_with_markup_reaches_the_chart_title_escaped():
    figure = validated(charts.campaign_chart(analytics(), LINK))
    assert figure["layout"]["title"]["text"] == f"{ESCAPED_LINK}: daily performance"


def test_an_ampersand_is_escaped_so_plotly_shows_it_as_typed():
    figure = validated(charts.top_earners_chart([earner("Tom & Jerry &lt;3")]))
    assert list(figure["data"][0]["y"]) == ["Tom &amp; Jerry &amp;lt;3"]


def test_ordinary_names_look_the_same_as_before():
    names = ["Ada Lovelace", "Zoë O'Neil-Smith", "李小龙", "user_42 (beta)"]
    earners = validated(charts.top_earners_chart([earner(name, 10 * (i + 1), i + 1) for i, name in enumerate(names)]))
    assert list(earners["data"][0]["y"]) == list(reversed(names))
    pools = validated(charts.pools_chart([pool("Main pool"), pool("Q4 \"holiday\" pool")]))
    assert list(pools["data"][0]["x"]) == ["Main pool", 'Q4 "holiday" pool']
    campaign = validated(charts.campaign_chart(analytics(), "Spring drive"))
    assert campaign["layout"]["title"]["text"] == "Spring drive: daily performance"
    # Our own markup stays: the hover templates hide plotly's trace-name box with <extra></extra>.
    assert earners["data"][0]["hovertemplate"] == "%{y}: %{x:,} tokens<extra></extra>"
    for figure in (earners, pools, campaign):
        json.dumps(figure)  # still plain JSON for the chart macro


def days(count: int = 3):
    return [SimpleNamespace(date=f"2026-11-{day:02d}", tokens=10 * day, actions=day, completed=day, failed=0,
                            requests=5 * day, errors=day % 2, participants=day) for day in range(1, count + 1)]


def test_every_chart_is_exactly_the_figure_plotly_would_build_from_it():
    built = [
        charts.trends_chart(SimpleNamespace(days=3, daily=days())),
        charts.top_earners_chart([earner("Ada", 300, 1), earner("Bo <3", 200, 2)]),
        charts.api_usage_chart(SimpleNamespace(days=1, daily=days(1))),
        charts.campaign_chart(analytics(), "Spring & summer"),
        charts.pools_chart([pool("Main"), pool("Empty", balance=0), pool("Low", balance=50)]),
    ]
    for figure in built:
        as_sent = json.loads(json.dumps(figure))  # what the chart macro puts on the page
        assert json.loads(json.dumps(go.Figure(figure).to_plotly_json())) == as_sent
