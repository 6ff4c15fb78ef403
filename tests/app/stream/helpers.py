"""Synthetic clickstream events and the exact totals they must produce."""
from __future__ import annotations

import collections
import secrets
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Tuple

from app.storage import Event
from app.storage.stream_totals import StreamTotalsStore
from app.stream.messages import StreamEvent

CREATIVES = ("a", "b", "c")
CITIES = (None, "pune", "delhi")


def synthetic_events(tenant: str, slot_id: str, count: int, click_every: int = 5) -> List[StreamEvent]:
    """``count`` events of one slot: impressions over three creatives and cities, every
    ``click_every``-th event a click; referrer 'mail' on every fourth. Unique event ids."""
    run = secrets.token_hex(4)
    items = []
    for i in range(count):
        kind = "click" if i % click_every == click_every - 1 else "impression"
        city = CITIES[i % len(CITIES)]
        segments = ("global",) + ((f"city:{city}",) if city else ())
        event = Event(
            tenant=tenant, platform="web", slot_id=slot_id, event_time=datetime.now(timezone.utc),
            event_id=f"{'click' if kind == 'click' else 'imp'}:{run}-{i}", kind=kind, decision_id=f"d-{run}-{i}",
            creative_id=CREATIVES[i % len(CREATIVES)], segment=segments[-1], city=city,
            referrer="mail" if i % 4 == 0 else None, policy="thompson", propensity=0.5,
        )
        items.append(StreamEvent(event, segments))
    return items


def expected_totals(items: Iterable[StreamEvent]) -> Dict[Tuple[str, str], Tuple[int, int]]:
    """{(segment, creative): (impressions, clicks)} counted directly from the events."""
    impressions, clicks = collections.Counter(), collections.Counter()
    for item in items:
        for segment in item.segments:
            target = impressions if item.event.kind == "impression" else clicks
            target[(segment, item.event.creative_id)] += 1
    return {row: (impressions[row], clicks[row]) for row in set(impressions) | set(clicks)}


def stream_totals(db, tenant: str, slot_id: str) -> Dict[Tuple[str, str], Tuple[int, int]]:
    totals = StreamTotalsStore(db).arm_totals(tenant, "web", slot_id)
    return {row: (c.impressions, c.clicks) for row, c in totals.items()}


def applied_events(db, tenant: str, slot_id: str) -> int:
    """How many events the stream applied to the slot (each counts once in 'global')."""
    return sum(i + c for (segment, _), (i, c) in stream_totals(db, tenant, slot_id).items() if segment == "global")


def produce_raw(bootstrap: str, topic: str, messages: Iterable[Tuple[bytes, bytes]]) -> None:
    """Send (key, value) pairs straight to a topic and wait for the broker to have them."""
    from app.stream.kafka_io import make_producer

    producer = make_producer(bootstrap)
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in messages]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=0)
    finally:
        producer.close(timeout=5)
