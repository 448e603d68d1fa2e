"""Every text response and static file leaves compressed (brotli, else gzip) when the browser accepts it, except
the once-only secret pages, which must never be (BREACH: a secret beside reflected input, in a compressed body)."""

from __future__ import annotations

import gzip
from pathlib import Path

import brotli
from bs4 import BeautifulSoup

from tests.keys.test_keys import create_key
from tests.keys.test_rotation import start_roll

BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}
STATIC = Path(__file__).resolve().parents[1] / "static"


def decoded(response) -> bytes:
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    return {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda data: data}[encoding](body)


def test_the_overview_is_sent_with_brotli_and_reads_the_same(app, signed_in):
    plain = signed_in.get("/")
    compressed = signed_in.get("/", headers=BROWSER)
    assert compressed.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in compressed.headers["Vary"]
    assert len(compressed.get_data()) < len(plain.get_data()) / 3
    shown = BeautifulSoup(decoded(compressed), "html.parser")
    assert shown.select_one("title").get_text() == BeautifulSoup(plain.get_data(), "html.parser").select_one("title").get_text()
    assert shown.select(".card")


def test_a_browser_without_brotli_gets_gzip_and_one_asking_for_nothing_gets_it_plain(app, signed_in):
    zipped = signed_in.get("/keys/", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert b"<table" in decoded(zipped)
    assert "Content-Encoding" not in signed_in.get("/keys/").headers


def test_a_card_partial_is_compressed_too(app, signed_in):
    partial = signed_in.get("/overview/cards/trends", headers=dict(BROWSER, **{"HX-Request": "true",
                                                                                "HX-Current-URL": "http://localhost/"}))
    assert partial.headers["Content-Encoding"] == "br"
    assert b"data-chart" in decoded(partial)


def test_static_files_are_compressed_and_decode_to_the_file(client):
    for name in ("app.css", "app.js", "vendor/plotly-basic-4.1.1.min.js"):
        response = client.get(f"/static/{name}?v=1", headers=BROWSER)
        assert response.status_code == 200 and response.headers["Content-Encoding"] == "br", name
        assert decoded(response) == (STATIC / name).read_bytes()
        again = client.get(f"/static/{name}?v=1", headers={"Accept-Encoding": "gzip"})
        assert again.headers["Content-Encoding"] == "gzip" and decoded(again) == (STATIC / name).read_bytes()


def test_a_new_keys_secrets_page_is_never_compressed(app, signed_in):
    created, _ = create_key(signed_in)
    shown = signed_in.get(created.headers["Location"], headers=BROWSER)
    assert shown.status_code == 200 and "Content-Encoding" not in shown.headers
    assert BeautifulSoup(shown.get_data(), "html.parser").select_one("#secret-key").get_text().startswith("sk_test_")


def test_a_webhooks_signing_secret_page_is_never_compressed(app, signed_in):
    from tests.webhooks.helpers import register

    registered = register(signed_in, url="https://hooks.acme.example/sir", event_types=["action.completed"])
    shown = signed_in.get(registered.headers["Location"], headers=BROWSER)
    assert shown.status_code == 200 and "Content-Encoding" not in shown.headers
    assert "whsec_" in BeautifulSoup(shown.get_data(), "html.parser").select_one("#webhook-secret").get_text()


def test_a_rolls_new_secrets_page_is_never_compressed(app, signed_in):
    created, _ = create_key(signed_in, name="Rolled")
    signed_in.get(created.headers["Location"])
    key_id = next(row["id"].removeprefix("key-") for row in BeautifulSoup(signed_in.get("/keys/").get_data(), "html.parser")
                  .select("tr[id^=key-]") if "Rolled" in row.get_text())
    roll_url, _ = start_roll(signed_in, key_id)
    from tests.conftest import form_values

    shown = signed_in.post(f"{roll_url}/show", data=form_values(signed_in.get(roll_url), "form[action$='/show']"))
    assert shown.status_code == 302 and "/secrets/" in shown.headers["Location"]
    secrets = signed_in.get(shown.headers["Location"], headers=BROWSER)
    assert secrets.status_code == 200 and "Content-Encoding" not in secrets.headers
    assert "sk_test_" in secrets.get_data(as_text=True)


def test_a_streamed_page_is_compressed_chunk_by_chunk_so_each_part_arrives_when_sent(tmp_path):
    from flask import Response

    from tests.conftest import make_app

    app = make_app(tmp_path)
    sent = []

    def parts():
        for part in ("<!doctype html><head><title>Overview</title></head>", "<section>card one</section>" * 30,
                     "<section>card two</section>"):
            sent.append(part)
            yield part

    app.add_url_rule("/streamed", "streamed", lambda: Response(parts(), mimetype="text/html"))
    for encoding, decompressor in (("br", brotli.Decompressor().process),
                                   ("gzip", __import__("zlib").decompressobj(16 + 15).decompress)):
        sent.clear()
        response = app.test_client().get("/streamed", headers={"Accept-Encoding": encoding}, buffered=False)
        assert response.headers["Content-Encoding"] == encoding and "Content-Length" not in response.headers
        chunks = iter(response.response)
        first = decompressor(next(chunks))
        assert first.decode() == "<!doctype html><head><title>Overview</title></head>" and len(sent) == 1
        rest = b"".join(decompressor(chunk) for chunk in chunks)
        assert rest.decode().endswith("<section>card two</section>")
        response.close()
