"""The comparison for bench/throughput.py: a bare Flask + Jinja page of a chosen size, nothing else (no session,
no database, no upstream). `GET /bare?size=30000` renders a table of escaped rows close to that many bytes."""

from flask import Flask, render_template_string, request

app = Flask(__name__)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1><table>
{% for row in rows %}<tr><td>{{ row.date }}</td><td class="num">{{ "{:,}".format(row.tokens) }}</td><td>{{ row.name }}</td></tr>
{% endfor %}</table><p>{{ tail }}</p></main></body></html>"""

ROW_BYTES = 100  # one rendered row is a little under this; the tail pads the rest


@app.get("/bare")
def bare():
    size = max(0, int(request.args.get("size", 10000)))
    rows = [{"date": f"2026-11-{1 + i % 28:02d}", "tokens": 1000 + i * 37, "name": f"Partner user <{i}> & co"}
            for i in range(size // ROW_BYTES)]
    page = render_template_string(PAGE, title="Bare page", rows=rows, tail="")
    return render_template_string(PAGE, title="Bare page", rows=rows, tail="x" * max(0, size - len(page.encode())))
