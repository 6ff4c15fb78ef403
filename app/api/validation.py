"""Validation of request parameters and bodies. Every failure is a ``BadRequest`` naming the field.

Each text parameter has one ``TextRule``: the views apply it (``TextRule.check``) and the OpenAPI
document states it (``TextRule.schema``: ``minLength``, ``maxLength``, ``pattern``), so the two
cannot drift apart. The pattern is the whole rule: a value it matches is accepted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

from flask import Request

from app.errors import BadRequest


@dataclass(frozen=True)
class TextRule:
    """A string parameter: a full-match ``pattern`` and at most ``max_length`` characters.

    ``min_length`` 0 means optional: an empty value is the same as none.
    """

    name: str
    pattern: str
    max_length: int
    min_length: int
    message: str
    description: str
    example: str = ""
    compiled: "re.Pattern[str]" = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern))

    def check(self, value: Any) -> Optional[str]:
        """The value when the rule accepts it (``None`` for an optional empty one), else a 400."""
        if value is None or (value == "" and self.min_length == 0):
            return None
        if not isinstance(value, str):
            raise BadRequest(f"{self.name} must be a string", f"invalid_{self.name}")
        if not self.min_length <= len(value) <= self.max_length or not self.compiled.fullmatch(value):
            raise BadRequest(f"{self.name} must be {self.message}", f"invalid_{self.name}")
        return value

    def schema(self) -> Dict[str, Any]:
        """The rule as an OpenAPI 3.0 string schema."""
        schema = {"type": "string", "minLength": self.min_length, "maxLength": self.max_length,
                  "pattern": self.pattern}
        return {**schema, "example": self.example} if self.example else schema


MAX_TEXT = 256
# C0 and C1 control characters and DEL: what a printable id may not hold.
_NO_CONTROLS = r"[^\x00-\x1f\x7f-\x9f]"

PLATFORM = TextRule("platform", r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", 32, 1,
                    "1-32 letters, digits, '_', '.' or '-'", "Platform of the slot (web, android, ...)", "web")
SLOT_ID = TextRule("slot_id", r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", 64, 1,
                   "1-64 letters, digits, '_', '.', ':' or '-'", "The slot", "home-banner")
SEGMENT = TextRule("segment", r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$", 64, 0,
                   "1-64 letters, digits, '_', '.' or '-'", "Tenant-named segment")
# \w: letters and digits of any script and '_'. Compared lowercase, runs of spaces as one.
CITY = TextRule("city", r"^[\w '.-]{0,64}$", 64, 0,
                "at most 64 letters, digits, spaces, '.', \"'\", '-' or '_'", "Visitor's city", "pune")
CUSTOMER_ID = TextRule("customer_id", rf"^{_NO_CONTROLS}{{0,{MAX_TEXT}}}$", MAX_TEXT, 0,
                       f"at most {MAX_TEXT} characters without control characters", "Visitor id", "c-17")
REFERRER = TextRule("referrer", rf"^{_NO_CONTROLS}{{0,{MAX_TEXT}}}$", MAX_TEXT, 0,
                    f"at most {MAX_TEXT} characters without control characters", "Where the visitor came from")
CUSTOMER_PATH = TextRule("customer_id", rf"^{_NO_CONTROLS}{{1,{MAX_TEXT}}}$", MAX_TEXT, 1,
                         f"1 to {MAX_TEXT} characters without control characters", "The customer", "c-17")
DECISION_ID = TextRule("decision_id", r"^[\x21-\x7e]{1,2048}$", 2048, 1,
                       "the decision_id of a decision (1 to 2048 visible ASCII characters)",
                       "The decision_id of the decision clicked")
FREE_TEXT = {"customer_id": CUSTOMER_ID, "referrer": REFERRER}


def slot_id(value: str) -> str:
    return SLOT_ID.check(value)


def platform(args: Mapping[str, str]) -> str:
    value = args.get("platform")
    if value is None or value == "":
        raise BadRequest("query parameter 'platform' is required (e.g. platform=web)", "missing_platform")
    return PLATFORM.check(value)


def city(args: Mapping[str, str]) -> Optional[str]:
    """Cities are compared lowercase and trimmed, runs of spaces as one; letters of any script."""
    value = CITY.check(args.get("city"))
    if value is None or not value.strip():
        return None
    return " ".join(value.split()).lower()


def segment(args: Mapping[str, str]) -> Optional[str]:
    return SEGMENT.check(args.get("segment"))


def free_text(mapping: Mapping[str, Any], name: str) -> Optional[str]:
    """An optional id of at most 256 characters without control characters (customer_id, referrer)."""
    return FREE_TEXT[name].check(mapping.get(name))


def decision_id(body: Mapping[str, Any]) -> str:
    value = body.get("decision_id")
    if value is None or value == "":
        raise BadRequest("decision_id must be a non-empty string", "invalid_decision_id")
    return DECISION_ID.check(value)


def json_object(request: Request) -> Dict[str, Any]:
    """The request body as a JSON object; any other body is a 400 that says what was wrong."""
    raw = request.get_data(cache=False)  # bounded by MAX_CONTENT_LENGTH: larger bodies are a 413 already
    if not raw.strip():
        raise BadRequest("request body must be a JSON object", "invalid_json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BadRequest(f"request body is not valid JSON: {error}", "invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", "invalid_json")
    return body
