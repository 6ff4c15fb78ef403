"""Requests over the line and header limits get the JSON error every other bad request gets: from the
app (414, 431), and from gunicorn itself where a request breaks its own, higher limits."""
import socket

import pytest
import requests

from app.api.limits import MAX_HEADER_FIELD_SIZE, MAX_REQUEST_LINE
from benchmarks.live_server import LiveServer

pytestmark = pytest.mark.integration


def test_a_long_request_line_is_414_json(client, tenant):
    answer = client.get("/slot/home/creative", query_string={"platform": "web", "city": "x" * MAX_REQUEST_LINE},
                        headers=tenant.headers)
    assert answer.status_code == 414 and answer.get_json()["error"]["code"] == "uri_too_long"


def test_a_huge_header_is_431_json(client, tenant):
    answer = client.get("/healthz", headers={"X-Big": "y" * MAX_HEADER_FIELD_SIZE})
    assert answer.status_code == 431 and answer.get_json()["error"]["code"] == "header_fields_too_large"


def test_too_many_headers_are_431_json(client):
    answer = client.get("/healthz", headers={f"X-H{i}": "1" for i in range(120)})
    assert answer.status_code == 431


@pytest.mark.slow
def test_what_gunicorn_refuses_is_json_too(settings):
    server = LiveServer(settings, workers=1).start()
    try:
        app_limit = requests.get(f"{server.url}/healthz", params={"q": "x" * 8100}, timeout=10)
        assert app_limit.status_code == 414 and app_limit.json()["error"]["code"] == "uri_too_long"
        over = requests.get(f"{server.url}/healthz", params={"q": "x" * 9000}, timeout=10)  # over gunicorn's 8190
        assert over.status_code == 414 and over.headers["Content-Type"] == "application/json"
        assert over.json()["error"]["code"] == "uri_too_long"
        many = requests.get(f"{server.url}/healthz", headers={f"X-H{i}": "1" for i in range(250)}, timeout=10)
        assert many.status_code == 431 and many.json()["error"]["code"] == "header_fields_too_large"
        assert _raw(server.port, b"NOT A REQUEST\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert b'"code": "bad_request"' in _raw(server.port, b"NOT A REQUEST\r\n\r\n")
    finally:
        server.stop()


def _raw(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
