"""POST /events and GET /customer/<id>/features answer what /openapi.json describes."""
from dataclasses import replace

import pytest

from app.api.factory import create_app
from app.service.runtime import Runtime
from tests.app.service.test_ingest import ev, story
from tests.app.api.test_openapi import ApiDescription  # noqa: F401  (the fixture below builds one)
from tests.app.api.test_openapi import described  # noqa: F401  (module fixture)

pytestmark = pytest.mark.integration
EVENTS, FEATURES = "/events", "/customer/{customer_id}/features"


def test_events_and_features_answers_match_the_spec(described, client, tenant):
    first = described.check(EVENTS, "post", client.post("/events", json=story() + [ev("bad", "nope", 1)],
                                                         headers=tenant.headers), "EventsResult")
    assert (first["accepted"], first["duplicates"], first["rejected"][0]["index"]) == (10, 0, 10)
    again = described.check(EVENTS, "post", client.post("/events", json=story()[:2], headers=tenant.headers),
                            "EventsResult")
    assert again == {"accepted": 0, "duplicates": 2, "rejected": []}
    body = described.check(FEATURES, "get", client.get("/customer/c1/features", headers=tenant.headers),
                           "CustomerFeatures")
    assert body["features"]["last_session.win_ratio"] == 0.67
    client.post("/events", json=[ev("lonely", "game_start", 1, customer="quiet")], headers=tenant.headers)
    quiet = described.check(FEATURES, "get", client.get("/customer/quiet/features", headers=tenant.headers),
                            "CustomerFeatures")
    assert quiet["features"]["country"] is None and quiet["features"]["last_session.win_ratio"] is None


def test_events_and_features_errors_match_the_spec(described, client, tenant, settings):
    def error(path, method, answer, status, code):
        body = described.check(path, method, answer, "Error")
        assert (answer.status_code, body["error"]["code"]) == (status, code)

    error(EVENTS, "post", client.post("/events", json=story()), 401, "missing_api_key")
    error(EVENTS, "post", client.post("/events", json={"event": "x"}, headers=tenant.headers), 400, "invalid_events")
    error(EVENTS, "post", client.post("/events", data=b"[", content_type="application/json",
                                      headers=tenant.headers), 400, "invalid_json")
    error(EVENTS, "post", client.post("/events", json=[story()[0]] * 1001, headers=tenant.headers), 400,
          "too_many_events")
    error(EVENTS, "post", client.post("/events", data=b"[" + b" " * settings.max_events_body_bytes + b"]",
                                      content_type="application/json", headers=tenant.headers),
          413, "payload_too_large")
    error(FEATURES, "get", client.get("/customer/nobody/features", headers=tenant.headers), 404, "unknown_customer")
    error(FEATURES, "get", client.get("/customer/c1/features"), 401, "missing_api_key")
    error(FEATURES, "get", client.get("/customer/%01/features", headers=tenant.headers), 400, "invalid_customer_id")


def test_storage_down_events_answers_match_the_spec(described, settings):
    down = replace(settings, cassandra_hosts=("127.0.0.1",), cassandra_port=1, protocol_version=3)
    app = create_app(down, runtime=Runtime.build(down))
    try:
        client = app.test_client()
        described.check(EVENTS, "post", client.post("/events", json=story(), headers={"X-Api-Key": "sb_k"}), "Error")
        described.check(FEATURES, "get", client.get("/customer/c1/features", headers={"X-Api-Key": "sb_k"}), "Error")
    finally:
        app.extensions["slotbandit"].close()


def test_both_event_shapes_are_described(described):
    """The seed's raw events as written and the contract's events validate against Event; a raw event
    with a value that cannot be read does not."""
    import jsonschema

    from tests.app.service.test_raw_events import SEED_EVENTS

    event = described.component("Event")
    for item in SEED_EVENTS + story():
        event.validate(item)
    for bad in ({**SEED_EVENTS[4], "txn_amount": "abc"}, {**SEED_EVENTS[2], "won": "maybe"},
                {**SEED_EVENTS[1], "event_id": "level_up"}):
        with pytest.raises(jsonschema.ValidationError):
            event.validate(bad)
