"""Validation of request parameters and bodies. Every failure is a ``BadRequest`` naming the field."""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Mapping, Optional

from flask import Request

from app.errors import BadRequest

PLATFORM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
SLOT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_TEXT = 256


def slot_id(value: str) -> str:
    if not SLOT_ID.match(value):
        raise BadRequest("slot_id must be 1-64 letters, digits, '_', '.', ':' or '-'", "invalid_slot_id")
    return value


def platform(args: Mapping[str, str]) -> str:
    value = args.get("platform")
    if value is None or value == "":
        raise BadRequest("query parameter 'platform' is required (e.g. platform=web)", "missing_platform")
    if not PLATFORM.match(value):
        raise BadRequest("platform must be 1-32 letters, digits, '_', '.' or '-'", "invalid_platform")
    return value


def city(args: Mapping[str, str]) -> Optional[str]:
    """Cities are compared lowercase and trimmed; letters of any script are allowed."""
    value = args.get("city")
    if value is None or not value.strip():
        return None
    value = " ".join(value.split()).lower()
    if len(value) > 64 or not all(ch.isalnum() or ch in " '.-_" for ch in value):
        raise BadRequest("city must be at most 64 letters, digits, spaces, '.', \"'\", '-' or '_'", "invalid_city")
    return value


def segment(args: Mapping[str, str]) -> Optional[str]:
    value = args.get("segment")
    if value is None or value == "":
        return None
    if not SEGMENT.match(value):
        raise BadRequest("segment must be 1-64 letters, digits, '_', '.' or '-'", "invalid_segment")
    return value


def free_text(mapping: Mapping[str, Any], name: str) -> Optional[str]:
    """An optional printable string of at most 256 characters (customer_id, referrer)."""
    value = mapping.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", f"invalid_{name}")
    if len(value) > MAX_TEXT or not value.isprintable():
        raise BadRequest(f"{name} must be at most {MAX_TEXT} printable characters", f"invalid_{name}")
    return value


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
