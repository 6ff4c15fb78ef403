"""A customer's event as it is stored: validated, typed, with the identity that makes a resend a duplicate."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import orjson

from app.storage.lazy import computed_once

EVENT_TYPES = ("app_launched", "game_start", "game_end", "offer_shown", "purchase", "refund", "cancellation")
MONEY_EVENTS = ("purchase", "refund", "cancellation")


@dataclass(frozen=True)
class CustomerEvent:
    """A validated event. ``event_time`` is UTC, truncated to milliseconds (Cassandra's precision)."""

    tenant: str
    event_id: str
    event: str
    customer_id: str
    session_id: str
    event_time: datetime
    decision_id: Optional[str] = None
    txn_amount: Optional[float] = None
    score: Optional[float] = None
    won: Optional[bool] = None
    country: Optional[str] = None
    signin_method: Optional[str] = None
    sku: Optional[str] = None
    attrs: Dict[str, Any] = field(default_factory=dict)  # the event's own fields, typed ones included
    digest: Optional[str] = None  # SHA-256 of the content when the parser computed it (raw events)
    attrs_text: Optional[str] = None  # ``attrs_json`` when the parser wrote it already (raw events)

    @computed_once
    def month(self) -> str:
        moment = self.event_time.astimezone(timezone.utc)
        return f"{moment.year:04d}{moment.month:02d}"

    @computed_once
    def hour(self) -> str:
        """The UTC hour of the event's time as 'YYYYMMDDHH'."""
        moment = self.event_time.astimezone(timezone.utc)
        return f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}"

    @property
    def micros(self) -> int:
        """The event time in microseconds since the epoch: the write timestamp of its feature cells."""
        return int((self.event_time - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))

    @computed_once
    def attrs_json(self) -> str:
        """The event's own fields as stored: compact JSON with sorted keys (``compact_json``)."""
        return self.attrs_text if self.attrs_text is not None else compact_json(self.attrs)

    @computed_once
    def fingerprint(self) -> str:
        """SHA-256 of the event's canonical JSON: tells a resend of the same event from another one."""
        if self.digest is not None:
            return self.digest
        canonical = {"event_id": self.event_id, "event": self.event, "customer_id": self.customer_id,
                     "session_id": self.session_id, "event_time": self.event_time.isoformat(),
                     "decision_id": self.decision_id, "attrs": self.attrs}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compact_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, characters as they are (not escaped to ASCII): what
    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, to the
    byte (raw events are identified by a hash of it).

    orjson writes it several times faster where its output is the same: strings (it escapes the
    same characters the same way), booleans, None, integers, and floats that Python writes without an
    exponent (orjson writes 1e-05 as 0.00001), in dicts with string keys and lists. Anything else
    goes to the standard library (tests/app/storage/test_compact_json.py compares the two)."""
    if _orjson_writes_it(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
            pass
    return _COMPACT.encode(value)


_PLAIN = (str, bool, int, type(None))


def _orjson_writes_it(value: Any) -> bool:
    kind = value.__class__
    if kind in _PLAIN:
        return True
    if kind is float:
        return value == 0 or 1e-4 <= abs(value) < 1e16  # no exponent either way (NaN is neither)
    if kind is dict:
        for key, item in value.items():
            if key.__class__ is not str or not (item.__class__ is str or _orjson_writes_it(item)):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if not (item.__class__ is str or _orjson_writes_it(item)):
                return False
        return True
    return False


def month_bucket(moment: datetime) -> str:
    """The partition bucket of a moment: its UTC month as 'YYYYMM'."""
    return moment.astimezone(timezone.utc).strftime("%Y%m")
