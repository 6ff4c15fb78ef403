"""The message format: round trip, and every malformed shape named (pure, no broker)."""
from __future__ import annotations

import json

import pytest

from app.stream.messages import MalformedMessage, StreamEvent
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
