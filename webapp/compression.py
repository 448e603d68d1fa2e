"""Compressed responses (Flask-Compress: brotli, else gzip) for every text response and static file.

- Pages, partials and JSON are compressed as they leave; a streamed page is compressed chunk by chunk, each
  chunk flushed, so what the server has sent the browser can already use (Flask-Compress's own streaming
  compression holds chunks back until its buffer fills).
- Static files are fingerprinted and cached for a year by the browser; each one is compressed once per process
  and encoding and kept in memory (shared by every app the process builds, as the content hash names the
  content), so plotly's bundle (1.2 MB; 0.4 MB compressed) costs its compression once, not per visitor.
- BREACH: a response that shows a secret must not be compressed, since a page that also reflects what an attacker
  chose (a query string, a form value) would leak the secret through the compressed length. The once-only secret
  pages (`web.shown_once`: a new key's secrets, a webhook's signing secret, a roll's new secrets) call
  `never_compress`, and go uncompressed. The CSRF token every page carries is masked afresh in each response
  instead (csrf.py), so it is never the same bytes twice.
"""

from __future__ import annotations

import zlib

from flask import Flask, Response, request
from flask_compress import Compress

ALGORITHMS = ["br", "gzip"]
# The text types the portal sends. Images and fonts are compressed already; a CSV export is a download.
MIMETYPES = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
             "text/plain", "image/svg+xml", "text/event-stream"]
BROTLI_QUALITY = 4  # as small as gzip -6 and as fast; higher levels cost plotly's bundle seconds
GZIP_LEVEL = 6


def never_compress(response: Response) -> Response:
    """For a response that carries a secret: sent as it is, whatever the browser accepts (BREACH)."""
    response.carries_secret = True
    return response


_STATIC: dict[str, bytes] = {}


class _StaticCompressed:
    """Flask-Compress's cache, used for static files only: compressed bytes per (encoding, path, version)."""

    def __init__(self):
        self._items = _STATIC

    def get(self, key: str) -> bytes | None:
        return self._items.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.split(";", 1)[1].startswith("static:"):
            self._items[key] = value


def _cache_key(req) -> str:
    if req.endpoint == "static":
        return f"static:{req.path}?{req.args.get('v', '')}"
    return f"response:{id(req)}"  # never stored (_StaticCompressed.set), so never found


class PortalCompress(Compress):
    def after_request(self, response: Response | None) -> Response:
        if response is None or getattr(response, "carries_secret", False):
            return response
        if response.is_streamed and request.endpoint == "static":
            # A static file is sent as a file wrapper (streamed): read it, so it is compressed once and kept.
            response.direct_passthrough = False
            response.set_data(response.get_data())
        elif response.is_streamed:
            return _compress_stream(response)
        return super().after_request(response)


def _compress_stream(response: Response) -> Response:
    """A streamed text response, compressed and flushed chunk by chunk."""
    response.vary.add("Accept-Encoding")
    accepted = request.accept_encodings
    if (response.mimetype not in MIMETYPES or "Content-Encoding" in response.headers
            or not 200 <= response.status_code < 300):
        return response
    if accepted["br"]:
        import brotli

        compressor = brotli.Compressor(quality=BROTLI_QUALITY)
        compress, flush, finish, name = compressor.process, compressor.flush, compressor.finish, "br"
    elif accepted["gzip"]:
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        compress, flush, name = compressor.compress, lambda: compressor.flush(zlib.Z_SYNC_FLUSH), "gzip"
        finish = compressor.flush
    else:
        return response
    chunks = response.iter_encoded()

    def compressed():
        try:
            for chunk in chunks:
                out = compress(chunk) + flush()
                if out:
                    yield out
            yield finish()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    response.response = compressed()
    response.headers["Content-Encoding"] = name
    response.headers.pop("Content-Length", None)
    return response


def init_app(app: Flask) -> None:
    app.config.update(
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_MIMETYPES=MIMETYPES,
        COMPRESS_BR_LEVEL=BROTLI_QUALITY,
        COMPRESS_LEVEL=GZIP_LEVEL,
        COMPRESS_MIN_SIZE=500,  # below this the headers outweigh the saving
        COMPRESS_STREAMS=False,  # streamed responses: _compress_stream, which flushes each chunk
        COMPRESS_CACHE_BACKEND=_StaticCompressed,
        COMPRESS_CACHE_KEY=_cache_key,
    )
    PortalCompress(app)
