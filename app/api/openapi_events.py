"""The OpenAPI schemas of the events ``POST /events`` takes: the contract's shape and the raw game
shape of seed 000, with the string rules of ``app/service/event_values.py``."""
from __future__ import annotations

from typing import Any, Dict

from app.api.openapi_parts import ref
from app.service.event_input import MAX_EXTRA_FIELDS, MAX_ID, MAX_TEXT
from app.service.event_values import FLAG_FIELDS, NUMBER_FIELDS
from app.storage.customer_events import EVENT_TYPES

UNSET = {"type": "string", "pattern": r"^\s*$", "description": "An empty string: the field is unset"}
NUMBER = {"oneOf": [{"type": "number"}, {"type": "null"}, UNSET, {
    "type": "string", "pattern": r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?\s*$",
    "description": "A decimal number written as a string, e.g. \"4.99\""}]}
FLAG = {"oneOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}, {"type": "null"}, {
    "type": "string", "pattern": r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?\s*$",
    "description": "true/false/1/0 written as a string; empty: unset"}]}
TEXT = {"type": ["string", "null"], "maxLength": MAX_TEXT}

EVENT_COMMON: Dict[str, Any] = {
    "session_id": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
    "event_time": {"type": "string", "format": "date-time",
                   "description": "RFC 3339 date-time (2026-11-24T10:15:00Z); an offset left out means UTC; "
                                  "not before 2000, not more than 5 minutes ahead"},
    "decision_id": {"type": "string", "description": "The decision this event follows (this tenant's)"},
    "country": TEXT, "signin_method": {**TEXT, "description": "'' or absent: not signed in"}, "sku": TEXT,
    **{name: NUMBER for name in NUMBER_FIELDS},
    **{name: FLAG for name in FLAG_FIELDS},
}
EVENT_COMMON["txn_amount"] = {**NUMBER, "description": "Required for purchase; 0 or more"}
EVENT_COMMON["won"] = {**FLAG, "description": "Required for game_end"}

EVENT_SCHEMAS: Dict[str, Any] = {
    "Event": {
        "description": "One event, in the contract's shape or the raw game shape (seed 000). The numeric fields "
                       f"({', '.join(NUMBER_FIELDS)}) take numbers or decimal strings (\"4.99\"); the flags "
                       f"({', '.join(FLAG_FIELDS)}) true/false, 1/0 or those as strings; an empty string is an "
                       "unset field. Other fields (language, os, device_model, ...) are kept as sent (strings, "
                       f"numbers, booleans or null; at most {MAX_EXTRA_FIELDS}; 4 KiB per event as JSON)",
        "oneOf": [ref("ContractEvent"), ref("RawGameEvent")],
    },
    "ContractEvent": {
        "type": "object", "required": ["event_id", "event", "customer_id", "session_id", "event_time"],
        "properties": {
            "event_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID,
                         "description": "Unique per tenant within the UTC hour of event_time: a resent id counts once"},
            "event": {"type": "string", "enum": list(EVENT_TYPES)},
            "customer_id": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            **EVENT_COMMON,
        },
    },
    "RawGameEvent": {
        "type": "object", "required": ["event_id", "customer_identifier", "session_id", "event_time"],
        "not": {"required": ["event"]},
        "description": "The raw shape games send: the event's name in event_id, the customer in "
                       "customer_identifier, no unique id. Its identity is 'raw-' and 32 hex digits of SHA-256 over "
                       "tenant, customer, name, time, session and every other field as read: an identical event "
                       "sent again (in either spelling of its values) is a duplicate",
        "properties": {
            "event_id": {"type": "string", "enum": list(EVENT_TYPES), "description": "The event's name"},
            "customer_identifier": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            **EVENT_COMMON,
        },
    },
}
