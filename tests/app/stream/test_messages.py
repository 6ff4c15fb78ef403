"""The message format: round trip, and every malformed shape named (pure, no broker)."""
from __future__ import annotations

import json

import pytest

from app.stream.messages import MalformedMessage, StreamEvent, pack
from tests.app.stream.helpers import synthetic_events


def test_round_trip_keeps_the_event_and_its_count_rows():
    for item in synthetic_events("acme", "hero", 8):
        again = StreamEvent.from_json(item.to_json())
        assert again.segments == item.segments
        assert again.event.event_id == item.event.event_id and again.event.referrer == item.event.referrer
        assert abs((again.event.event_time - item.event.event_time).total_seconds()) < 0.001
        assert again.key == b"acme/web/hero"


@pytest.mark.parametrize("change, reason", [
    (None, "not JSON"),
    ({"v": 2}, "unknown message version"),
    ({"kind": "refund"}, "kind must be one of"),
    ({"tenant": ""}, "tenant must be a non-empty string"),
    ({"segments": ["global", 3]}, "segments must be a non-empty list"),
    ({"event_time_ms": True}, "event_time_ms must be a positive integer"),
    ({"propensity": "high"}, "propensity must be a number"),
])
def test_malformed_messages_are_named(change, reason):
    body = json.loads(synthetic_events("acme", "hero", 1)[0].to_json())
    raw = b"{oops" if change is None else json.dumps({**body, **change}).encode()
    with pytest.raises(MalformedMessage, match=reason):
        StreamEvent.from_json(raw)


def test_a_packed_message_holds_one_slots_events_in_order():
    items = synthetic_events("acme", "hero", 5)
    again = StreamEvent.many_from_json(pack(items))
    assert [i.event.event_id for i in again] == [i.event.event_id for i in items]
    assert StreamEvent.many_from_json(items[0].to_json())[0].event.event_id == items[0].event.event_id


@pytest.mark.parametrize("raw, reason", [(b"[]", "an empty array"), (b"[1]", "not a JSON object")])
def test_a_packed_message_with_a_bad_event_is_malformed_as_a_whole(raw, reason):
    with pytest.raises(MalformedMessage, match=reason):
        StreamEvent.many_from_json(raw)
    good = synthetic_events("acme", "hero", 2)
    with pytest.raises(MalformedMessage, match="kind must be one of"):
        StreamEvent.many_from_json(pack(good)[:-1] + b',{"v":1,"kind":"refund"}]')
