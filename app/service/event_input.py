"""Validation of the events of ``POST /events`` and ``slotbandit ingest-events``: each event on its
own, in the contract's shape or the raw game shape, with a reason when refused.

A bad event never refuses the others. The body as a whole is refused (400) only when it is not a
JSON array of 1 to 1,000 events.
"""
from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from app.clock import parse_rfc3339
from app.errors import BadRequest
from app.service.event_values import NUMBER_FIELDS, BadValue, as_float, is_unset, read_fields
from app.storage.customer_events import EVENT_TYPES, CustomerEvent, compact_json

MAX_EVENTS = 1000
MAX_EVENT_BYTES = 4096          # one event, as compact JSON
MAX_ID = 128                    # event_id
MAX_TEXT = 256                  # customer_id, session_id, string values
MAX_DECISION_ID = 1024
MAX_EXTRA_FIELDS = 32
MAX_FIELD_NAME = 64
MAX_AMOUNT = 1e9
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_SKEW = timedelta(minutes=5)  # clocks of devices run ahead; later than this is refused
CORE_FIELDS = ("event_id", "event", "customer_id", "session_id", "event_time", "decision_id")
RAW_CORE_FIELDS = ("event_id", "event", "customer_identifier", "customer_id", "session_id", "event_time",
                   "decision_id")


class Invalid(Exception):
    """One event is refused; ``str(error)`` is the reason given back to the client."""


def event_array(body: Any) -> List[Any]:
    """The body must be a JSON array of 1..1000 items; anything else is a 400 for the whole call."""
    if not isinstance(body, list):
        raise BadRequest(f"request body must be a JSON array of 1 to {MAX_EVENTS} events", "invalid_events")
    if not body:
        raise BadRequest("request body is an empty array: send 1 to 1000 events", "invalid_events")
    if len(body) > MAX_EVENTS:
        raise BadRequest(f"at most {MAX_EVENTS} events per call, but {len(body)} are given", "too_many_events")
    return body


def parse_event(tenant: str, item: Any, decision_ok: Callable[[str], bool],
                now: Optional[datetime] = None) -> CustomerEvent:
    """A validated event of ``tenant``, or ``Invalid`` with the first reason found.

    ``item`` has the contract's shape (``event_id`` the event's unique id, ``event`` its name,
    ``customer_id``) or the raw game shape (``event_id`` the event's name, ``customer_identifier``,
    no unique id: the identity is derived from the content, see ``raw_digest``). Values follow
    the string rules of ``app/service/event_values.py``. ``decision_ok(decision_id)`` says whether
    a decision id is a genuine decision of this tenant.
    """
    if not isinstance(item, dict):
        raise Invalid("event must be a JSON object")
    if _json_size_bound(item) > MAX_EVENT_BYTES:
        size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_EVENT_BYTES:
            raise Invalid(f"event is {size} bytes as JSON; at most {MAX_EVENT_BYTES}")
    raw = is_raw_shape(item)
    if raw:
        kind = _text(item, "event_id", MAX_ID, required=True)
        customer_field = "customer_id" if is_unset(item.get("customer_identifier")) and not is_unset(
            item.get("customer_id")) else "customer_identifier"
        core = RAW_CORE_FIELDS
    else:
        event_id = _text(item, "event_id", MAX_ID, required=True)
        kind, customer_field, core = _required(item, "event"), "customer_id", CORE_FIELDS
    if kind not in EVENT_TYPES:
        raise Invalid(f"unknown event type {str(kind)[:40]!r}; expected one of {', '.join(EVENT_TYPES)}")
    customer_id = _text(item, customer_field, MAX_TEXT, required=True)
    session_id = _text(item, "session_id", MAX_TEXT, required=True)
    event_time = _time(_required(item, "event_time"), now or datetime.now(timezone.utc))
    decision_id = _text(item, "decision_id", MAX_DECISION_ID)
    if decision_id is not None and not decision_ok(decision_id):
        raise Invalid("decision_id is not a decision of this tenant")
    attrs = _own_fields(item, core)
    typed = _typed_fields(attrs, kind)
    digest = attrs_text = None
    if raw:
        attrs_text = compact_json(attrs)
        digest = raw_digest(tenant, customer_id, kind, event_time, session_id, decision_id, attrs, attrs_text)
        event_id = "raw-" + digest[:32]
    return CustomerEvent(tenant=tenant, event_id=event_id, event=kind, customer_id=customer_id,
                         session_id=session_id, event_time=event_time, decision_id=decision_id,
                         attrs=attrs, digest=digest, attrs_text=attrs_text, **typed)


def _json_size_bound(item: Dict[str, Any]) -> int:
    """An upper bound of the item's size as compact UTF-8 JSON, without encoding it: a character
    takes at most 6 bytes (an escape), a scalar that is not a string at most 24."""
    size = 2
    for name, value in item.items():
        if isinstance(value, str):
            size += 6 * len(value) + 2
        elif value is None or isinstance(value, (bool, float)) or (isinstance(value, int) and abs(value) < 10 ** 20):
            size += 24
        else:  # nested values and long integers: encode them
            return MAX_EVENT_BYTES + 1
        size += 6 * len(str(name)) + 4
    return size


def is_raw_shape(item: Dict[str, Any]) -> bool:
    """The raw game shape: no ``event`` field, and the event's name in ``event_id`` or the customer
    in ``customer_identifier``."""
    if not is_unset(item.get("event")):
        return False
    return item.get("event_id") in EVENT_TYPES or not is_unset(item.get("customer_identifier"))


def raw_digest(tenant: str, customer_id: str, kind: str, event_time: datetime, session_id: str,
               decision_id: Optional[str], attrs: Dict[str, Any], attrs_text: Optional[str] = None) -> str:
    """SHA-256 (hex) over tenant, customer, name, time (UTC, milliseconds), session, decision and
    every other field as read. A raw event's id is ``raw-`` and its first 32 hex digits, and the
    whole digest is its fingerprint. The same event sent again, in either spelling of its values
    ("4.99" or 4.99), has the same id; two events that differ in any field (two games ending in
    the same second with other scores) have different ids.

    The hashed text is the compact JSON of that list (``compact_json``); ``attrs_text``, the
    compact JSON of ``attrs`` when the caller has it, is spliced in instead of being written again."""
    head = compact_json([tenant, customer_id, kind, event_time.isoformat(), session_id, decision_id])
    canonical = head[:-1] + "," + (compact_json(attrs) if attrs_text is None else attrs_text) + "]"
    return hashlib.sha256(canonical.encode()).hexdigest()


def _required(item: Dict[str, Any], name: str) -> Any:
    value = item.get(name)
    if is_unset(value):
        raise Invalid(f"missing field '{name}'")
    return value


def _text(item: Dict[str, Any], name: str, limit: int, required: bool = False) -> Optional[str]:
    value = item.get(name)
    if is_unset(value):
        if required:
            raise Invalid(f"missing field '{name}'")
        return None
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise Invalid(f"{name} must be a string of 1 to {limit} printable characters")
    return value


def _time(value: Any, now: datetime) -> datetime:
    """An RFC 3339 date-time; no offset means UTC. Not before 2000, not in the future."""
    moment = parse_rfc3339(value.strip()) if isinstance(value, str) else None
    if moment is None:
        raise Invalid(f"event_time {str(value)[:40]!r} is not an ISO 8601 date and time (RFC 3339), "
                      "e.g. 2026-11-24T10:15:00Z")
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    if moment < EARLIEST:
        raise Invalid("event_time is before 2000-01-01")
    if moment > now + FUTURE_SKEW:
        raise Invalid(f"event_time {value[:40]} is in the future (more than 5 minutes after the server's clock)")
    return moment


def _typed_fields(attrs: Dict[str, Any], kind: str) -> Dict[str, Any]:
    """The fields features and revenue read (already read by the string rules), checked for the
    event's requirements."""
    if kind == "purchase" and attrs.get("txn_amount") is None:
        raise Invalid("missing field 'txn_amount' (a purchase carries its amount)")
    if kind == "game_end" and attrs.get("won") is None:
        raise Invalid("missing field 'won' (a game_end says whether the game was won: true or false)")
    typed: Dict[str, Any] = {"txn_amount": as_float(attrs.get("txn_amount")), "score": as_float(attrs.get("score")),
                             "won": attrs.get("won")}
    if typed["txn_amount"] is not None and not 0 <= typed["txn_amount"] <= MAX_AMOUNT:
        raise Invalid(f"txn_amount must be between 0 and {MAX_AMOUNT:.0f}")
    for name in ("country", "signin_method", "sku"):
        typed[name] = _text(attrs, name, MAX_TEXT)
    return typed


def _own_fields(item: Dict[str, Any], core: Tuple[str, ...]) -> Dict[str, Union[str, float, int, bool]]:
    """Every field beyond the common ones, read by the string rules (unset ones left out): scalar
    values only, bounded in number and size."""
    extra = {k: v for k, v in item.items() if k not in core}
    if len(extra) > MAX_EXTRA_FIELDS:
        raise Invalid(f"an event has at most {MAX_EXTRA_FIELDS} fields of its own, but {len(extra)} are given")
    for name, value in extra.items():
        if not name or len(name) > MAX_FIELD_NAME or not name.isprintable():
            raise Invalid(f"field names must be 1 to {MAX_FIELD_NAME} printable characters")
        if isinstance(value, (dict, list)):
            raise Invalid(f"field '{name[:40]}' must be a string, number, true, false or null")
        if isinstance(value, float) and not math.isfinite(value) and name not in NUMBER_FIELDS:
            raise Invalid(f"field '{name[:40]}' must be a finite number")
        if isinstance(value, str) and (len(value) > MAX_TEXT or not value.isprintable()):
            raise Invalid(f"field '{name[:40]}' must be at most {MAX_TEXT} printable characters")
    try:
        return read_fields(extra)
    except BadValue as reason:
        raise Invalid(str(reason)) from None


def parse_all(tenant: str, items: List[Any], decision_ok: Callable[[str], bool],
              now: Optional[datetime] = None) -> Tuple[List[Tuple[int, CustomerEvent]], List[Dict[str, Any]]]:
    """(index, event) of the valid events and {"index", "reason"} of the refused ones, in order."""
    now = now or datetime.now(timezone.utc)
    valid, rejected = [], []
    for index, item in enumerate(items):
        try:
            valid.append((index, parse_event(tenant, item, decision_ok, now)))
        except Invalid as reason:
            rejected.append({"index": index, "reason": str(reason)})
    return valid, rejected
