"""Limits of a request's line and headers, checked before any view runs (414 and 431 in JSON).

Under ``slotbandit serve`` gunicorn allows more than these (``app/api/server.py``), so that a
request over them reaches the app and gets the service's JSON error, not a server page.
"""
from __future__ import annotations

from flask import Flask, request

from app.errors import HeaderFieldsTooLarge, UriTooLong

MAX_REQUEST_LINE = 8000  # bytes of method, path, query and protocol
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_SIZE = 8190  # bytes of one "Name: value"


def init_app(app: Flask) -> None:
    @app.before_request
    def _check_limits():
        environ = request.environ
        line = (len(environ.get("REQUEST_METHOD", "")) + len(environ.get("PATH_INFO", ""))
                + len(environ.get("QUERY_STRING", "")) + len(environ.get("SERVER_PROTOCOL", "")) + 3)
        if line > MAX_REQUEST_LINE:
            raise UriTooLong(f"the request line is {line} bytes; at most {MAX_REQUEST_LINE} are accepted")
        headers = list(request.headers.items())
        if len(headers) > MAX_HEADER_FIELDS:
            raise HeaderFieldsTooLarge(f"the request has {len(headers)} header fields; at most "
                                       f"{MAX_HEADER_FIELDS} are accepted")
        for name, value in headers:
            if len(name) + len(value) + 2 > MAX_HEADER_FIELD_SIZE:
                raise HeaderFieldsTooLarge(f"header {name[:40]!r} is {len(name) + len(value) + 2} bytes; at "
                                           f"most {MAX_HEADER_FIELD_SIZE} are accepted")
