"""Kafka mode with a half-life: bucketed totals travel in the message and are applied exactly once
(the applier against the real Cassandra; the broker only delivers, so none is needed here)."""
from __future__ import annotations

import dataclasses

import pytest

from app.storage import EventStore
from app.storage.stream_totals import StreamTotalsStore
from app.stream.applier import Applier
from app.stream.messages import StreamEvent
from tests.app.stream.helpers import expected_totals, synthetic_events

BUCKETS = (1_800_000_000, 1_800_000_015)


def with_buckets(items):
    """The events split over two buckets (even and odd positions)."""
    return [dataclasses.replace(item, bucket=BUCKETS[i % 2]) for i, item in enumerate(items)]


def test_the_bucket_survives_the_message_and_is_checked():
    item = with_buckets(synthetic_events("acme", "hero", 1))[0]
    assert StreamEvent.from_json(item.to_json()).bucket == BUCKETS[0]
    plain = synthetic_events("acme", "hero", 1)[0]
    assert b'"bucket"' not in plain.to_json() and StreamEvent.from_json(plain.to_json()).bucket is None
    from app.stream.messages import MalformedMessage

    with pytest.raises(MalformedMessage, match="bucket must be an integer"):
        StreamEvent.from_json(item.to_json().replace(b'"bucket":1800000000', b'"bucket":"x"'))


@pytest.mark.integration
def test_bucket_totals_are_applied_once_even_when_delivered_twice(db, tenant):
    items = with_buckets(synthetic_events(tenant.name, "hero", 60))
    applier = Applier(StreamTotalsStore(db), EventStore(db))
    first = applier.apply(items[:40])
    again = applier.apply(items)  # a replay of the first 40 and 20 new ones
    assert (first.applied, again.applied, again.duplicates) == (40, 20, 40)
    got = {(b, s, c): (n, k) for b, s, c, n, k in StreamTotalsStore(db).bucket_totals(tenant.name, "web", "hero", 0)}
    expected = {}
    for bucket in BUCKETS:
        mine = [item for item in items if item.bucket == bucket]
        expected.update({(bucket, s, c): v for (s, c), v in expected_totals(mine).items()})
    assert got == expected
    # a range read from the second bucket on finds only that bucket
    later = StreamTotalsStore(db).bucket_totals(tenant.name, "web", "hero", BUCKETS[1])
    assert {row[0] for row in later} == {BUCKETS[1]}
