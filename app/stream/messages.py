"""The clickstream message: one impression or click, as JSON on a Kafka topic.

Topics (``SLOTBANDIT_KAFKA_TOPIC_PREFIX``, default ``slotbandit.``):
``<prefix>impressions``, ``<prefix>clicks`` and the dead-letter topic ``<prefix>dead-letter``.
Every message is keyed by ``tenant/platform/slot_id``, so all events of one slot land in one
partition of each topic, in the order they were published.

A message is one event (a JSON object) or several events of the same slot (a JSON array of such
objects, in order): the publisher packs what it has for one slot into one message, which costs the
producer far less than one message per event. An event carries everything the worker needs to apply it without reading the decision again:
the count rows it increments (``segments``, plus the referrer row when ``referrer`` is set) and
the event-log row. ``event_id`` (``imp:<nonce>`` or ``click:<nonce>``) is unique per event and is
what the worker de-duplicates on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

from app.storage import Event

VERSION = 1
KINDS = ("impression", "click")
PARTITIONS = 4  # per topic: up to four workers share the work


class MalformedMessage(ValueError):
    """A message the worker cannot apply; ``str(error)`` is the dead-letter reason."""


@dataclass(frozen=True)
class Topics:
    """The topic names under one prefix."""

    prefix: str = "slotbandit."

    @property
    def impressions(self) -> str:
        return f"{self.prefix}impressions"

    @property
    def clicks(self) -> str:
        return f"{self.prefix}clicks"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}dead-letter"

    def for_kind(self, kind: str) -> str:
        return self.impressions if kind == "impression" else self.clicks

    @property
    def all(self) -> Tuple[str, str, str]:
        return (self.impressions, self.clicks, self.dead_letter)


@dataclass(frozen=True)
class StreamEvent:
    """An impression or click on its way to Cassandra."""

    event: Event
    segments: Tuple[str, ...]
    bucket: Optional[int] = None  # time bucket of the decision, for slots with a half-life (bandit.discount)

    @property
    def key(self) -> bytes:
        """The partitioning key: one slot's events share a partition."""
        return slot_key(self.event.tenant, self.event.platform, self.event.slot_id)

    def to_json(self) -> bytes:
        e = self.event
        body: Dict[str, Any] = {
            "v": VERSION, "event_id": e.event_id, "kind": e.kind, "tenant": e.tenant, "platform": e.platform,
            "slot_id": e.slot_id, "creative_id": e.creative_id, "segments": list(self.segments),
            "event_time_ms": int(e.event_time.timestamp() * 1000), "decision_id": e.decision_id,
            "segment": e.segment, "city": e.city, "customer_id": e.customer_id, "referrer": e.referrer,
            "policy": e.policy, "propensity": e.propensity,
        }
        if self.bucket is not None:
            body["bucket"] = self.bucket
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: Optional[bytes]) -> "StreamEvent":
        """Parse and check a one-event message; raises ``MalformedMessage`` saying what is wrong."""
        return cls.from_body(_parse(raw))

    @classmethod
    def many_from_json(cls, raw: Optional[bytes]) -> List["StreamEvent"]:
        """The events of a message (one object or an array of them); any bad event makes the whole
        message malformed, so a message is applied entirely or goes to the dead-letter topic."""
        body = _parse(raw)
        if isinstance(body, list):
            if not body:
                raise MalformedMessage("an empty array")
            return [cls.from_body(item) for item in body]
        return [cls.from_body(body)]

    @classmethod
    def from_body(cls, body: Any) -> "StreamEvent":
        if not isinstance(body, dict):
            raise MalformedMessage("not a JSON object")
        if body.get("v") != VERSION:
            raise MalformedMessage(f"unknown message version {body.get('v')!r}")
        if body.get("kind") not in KINDS:
            raise MalformedMessage(f"kind must be one of {', '.join(KINDS)}")
        for name in ("event_id", "tenant", "platform", "slot_id", "creative_id", "decision_id", "segment"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise MalformedMessage(f"{name} must be a non-empty string")
        segments = body.get("segments")
        if not isinstance(segments, list) or not segments or not all(isinstance(s, str) and s for s in segments):
            raise MalformedMessage("segments must be a non-empty list of strings")
        for name in ("city", "customer_id", "referrer", "policy"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise MalformedMessage(f"{name} must be a string or null")
        when = body.get("event_time_ms")
        if not isinstance(when, int) or isinstance(when, bool) or when <= 0:
            raise MalformedMessage("event_time_ms must be a positive integer")
        propensity = body.get("propensity")
        if propensity is not None and (not isinstance(propensity, (int, float)) or isinstance(propensity, bool)):
            raise MalformedMessage("propensity must be a number or null")
        bucket = body.get("bucket")
        if bucket is not None and (not isinstance(bucket, int) or isinstance(bucket, bool) or bucket < 0):
            raise MalformedMessage("bucket must be an integer >= 0 or absent")
        event = Event(
            tenant=body["tenant"], platform=body["platform"], slot_id=body["slot_id"],
            event_time=datetime.fromtimestamp(when / 1000, timezone.utc), event_id=body["event_id"],
            kind=body["kind"], decision_id=body["decision_id"], creative_id=body["creative_id"],
            segment=body["segment"], city=body.get("city"), customer_id=body.get("customer_id"),
            referrer=body.get("referrer"), policy=body.get("policy"),
            propensity=float(propensity) if propensity is not None else None,
        )
        return cls(event, tuple(segments), bucket)


def pack(items: Sequence[StreamEvent]) -> bytes:
    """One message holding several events of one slot, in order (a JSON array)."""
    return b"[" + b",".join(item.to_json() for item in items) + b"]"


def _parse(raw: Optional[bytes]) -> Any:
    try:
        return json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        raise MalformedMessage("not JSON") from None


def slot_key(tenant: str, platform: str, slot_id: str) -> bytes:
    return f"{tenant}/{platform}/{slot_id}".encode()
