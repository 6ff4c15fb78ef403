"""Building blocks of the OpenAPI document: references, JSON bodies, error answers, query parameters."""
from __future__ import annotations

from typing import Any, Dict

NUMBER_OR_NULL = {"type": "number", "nullable": True}
STRING_OR_NULL = {"type": "string", "nullable": True}


def ref(name: str) -> Dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Dict[str, Any], description: str) -> Dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> Dict[str, Any]:
    text = {400: "Bad parameters or body", 401: "Missing or unknown API key",
            404: "Unknown slot or decision (also another tenant's)", 410: "Click after the attribution window",
            413: "Body too large", 503: "Storage unavailable"}
    return {str(s): json_body(ref("Error"), text[s]) for s in statuses}


def query(name: str, description: str, required: bool = False) -> Dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": "string"}}


SLOT_PATH = {"name": "slot_id", "in": "path", "required": True, "schema": {"type": "string"}}
PLATFORM = query("platform", "Platform of the slot (web, android, ...)", required=True)


# The serving controls of a slot (slots.timezone, frequency_cap, frequency_window_s) as stats show them.
SERVING_CONTROLS = {
    "timezone": {"type": "string", "description": "IANA zone of the slot's hours and days; UTC when unset or unknown"},
    "local_time": {"type": "string", "format": "date-time", "description": "Now, in the slot's zone"},
    "frequency_cap": {"type": "integer", "nullable": True, "minimum": 1,
                      "description": "Impressions of one creative per customer_id and window; null = no cap"},
    "frequency_window_s": {"type": "integer", "minimum": 1},
    "warnings": {"type": "array", "items": {"type": "string"},
                 "description": "Configuration problems, e.g. an unknown time zone (the slot then decides in UTC)"},
}
