"""Every error code of the contract, and malformed input of every kind: a 4xx JSON error, never a 500."""
from dataclasses import replace

import pytest

from app.api.factory import create_app
from app.service.runtime import Runtime

pytestmark = pytest.mark.integration


def assert_error(answer, status, code=None):
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = answer.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


def test_missing_and_unknown_keys_are_401(client, tenant):
    tenant.add_slot("home")
    assert_error(client.get("/slot/home/creative?platform=web"), 401, "missing_api_key")
    assert_error(client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": "sb_nope"}), 401,
                 "unknown_api_key")
    assert_error(client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": "x" * 5000}), 401)
    assert_error(client.post("/click", json={"decision_id": "x"}), 401)
    assert_error(client.get("/slot/home/stats?platform=web"), 401)


@pytest.mark.parametrize("query, code", [
    ("", "missing_platform"),
    ("platform=", "missing_platform"),
    ("platform=we%20b", "invalid_platform"),
    ("platform=" + "w" * 40, "invalid_platform"),
    ("platform=web&city=" + "x" * 65, "invalid_city"),
    ("platform=web&city=%3Cscript%3E", "invalid_city"),
    ("platform=web&segment=a%20b", "invalid_segment"),
    ("platform=web&customer_id=" + "c" * 300, "invalid_customer_id"),
    ("platform=web&referrer=%00", "invalid_referrer"),
])
def test_bad_decision_parameters_are_400(client, tenant, query, code):
    tenant.add_slot("home")
    assert_error(client.get(f"/slot/home/creative?{query}", headers=tenant.headers), 400, code)


def test_bad_slot_id_is_400(client, tenant):
    assert_error(client.get("/slot/%20bad%20/creative?platform=web", headers=tenant.headers), 400, "invalid_slot_id")


@pytest.mark.parametrize("body, content_type", [
    (b"", "application/json"),
    (b"{", "application/json"),
    (b"not json", "text/plain"),
    (b"[1, 2]", "application/json"),
    (b'"a string"', "application/json"),
    (b"null", "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"[" * 20000 + b"]" * 20000, "application/json"),
    (b'{"decision_id": 42}', "application/json"),
    (b'{"decision_id": ""}', "application/json"),
    (b'{"decision_id": null}', "application/json"),
    (b'{"other": "x"}', "application/json"),
    (b'{"decision_id": "v1.a.b", "customer_id": 7}', "application/json"),
])
def test_malformed_click_bodies_are_400(client, tenant, body, content_type):
    answer = client.post("/click", data=body, content_type=content_type, headers=tenant.headers)
    assert_error(answer, 400)


def test_huge_body_is_413(client, tenant):
    answer = client.post("/click", data=b'{"decision_id": "' + b"x" * 100_000 + b'"}',
                         content_type="application/json", headers=tenant.headers)
    assert_error(answer, 413, "payload_too_large")


def test_unknown_route_and_wrong_method_are_json(client, tenant):
    assert_error(client.get("/nope", headers=tenant.headers), 404)
    assert_error(client.get("/click", headers=tenant.headers), 405, "method_not_allowed")
    assert_error(client.delete("/slot/home/creative?platform=web", headers=tenant.headers), 405)


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/click", {"POST", "OPTIONS"}),
    ("TRACE", "/events", {"POST", "OPTIONS"}),
    ("DELETE", "/slot/home/creative?platform=web", {"GET", "HEAD", "OPTIONS"}),
    ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
])
def test_405_says_which_methods_the_resource_allows(client, tenant, method, path, allowed):
    answer = client.open(path, method=method, headers=tenant.headers)
    assert_error(answer, 405, "method_not_allowed")
    assert {m.strip() for m in answer.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize("query, code", [
    ("platform=web&city=a%09b", "invalid_city"),                # a tab is not a space
    ("platform=web&city=" + "a%20" * 40, "invalid_city"),       # 80 characters before runs of spaces are joined
    ("platform=web&customer_id=c%C2%85", "invalid_customer_id"),  # a C1 control character
    ("platform=web&segment=-a", "invalid_segment"),
])
def test_what_the_document_does_not_allow_is_400(client, tenant, query, code):
    tenant.add_slot("home")
    assert_error(client.get(f"/slot/home/creative?{query}", headers=tenant.headers), 400, code)


@pytest.mark.parametrize("query", ["platform=web&city=", "platform=web&city=%20", "platform=web&city=S%C3%A3o%20Paulo",
                                   "platform=web&segment=", "platform=web&customer_id=c%20%E2%80%94%2017",
                                   "platform=web&referrer="])
def test_what_the_document_allows_is_served(client, tenant, query):
    tenant.add_slot("home")
    assert client.get(f"/slot/home/creative?{query}", headers=tenant.headers).status_code == 200


def test_bad_stats_parameter_is_400(client, tenant):
    tenant.add_slot("home")
    assert_error(client.get("/slot/home/stats?platform=web&by=color", headers=tenant.headers), 400, "invalid_by")


def test_storage_down_is_503_and_health_stays_up(settings):
    """A service whose Cassandra is unreachable: 503 on every storage path, /healthz 200, /readyz 503."""
    down = replace(settings, cassandra_hosts=("127.0.0.1",), cassandra_port=1, protocol_version=3)
    app = create_app(down, runtime=Runtime.build(down))
    client = app.test_client()
    assert_error(client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": "sb_k"}), 503,
                 "storage_unavailable")
    assert_error(client.post("/click", json={"decision_id": "v1.a.b"}, headers={"X-Api-Key": "sb_k"}), 503)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["cassandra"] == "unreachable"
    app.extensions["slotbandit"].close()
