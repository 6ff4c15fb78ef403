"""Building blocks of the OpenAPI document: references, JSON bodies, error answers, parameters.

Parameters are built from the rules of ``app.api.validation`` that the views apply, so the document
states exactly the constraints the service enforces.
"""
from __future__ import annotations

from typing import Any, Dict

from app.api import validation
from app.api.validation import TextRule

NUMBER_OR_NULL = {"type": "number", "nullable": True}
STRING_OR_NULL = {"type": "string", "nullable": True}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending the request again",
                               "schema": {"type": "integer", "minimum": 1}}}


def ref(name: str) -> Dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Dict[str, Any], description: str) -> Dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> Dict[str, Any]:
    """Error answers; a tenant call (401 among them) may also be refused by its rate limit (429)."""
    text = {400: "Bad parameters or body", 401: "Missing or unknown API key",
            404: "Unknown slot or decision (also another tenant's)", 410: "Click after the attribution window",
            413: "Body too large", 429: "Over the tenant's rate limit (code rate_limited)",
            503: "Storage unavailable"}
    if 401 in statuses:
        statuses = tuple(sorted(set(statuses) | {429}))
    answers = {str(s): json_body(ref("Error"), text[s]) for s in statuses}
    for status in ("429", "503"):
        if status in answers:
            answers[status]["headers"] = RETRY_AFTER
    return answers


def rule_parameter(rule: TextRule, where: str = "query", required: bool = False, name: str = "") -> Dict[str, Any]:
    """A parameter checked by ``rule`` (``app.api.validation``)."""
    return {"name": name or rule.name, "in": where, "required": required or where == "path",
            "description": rule.description, "schema": rule.schema()}


def query(rule: TextRule, description: str) -> Dict[str, Any]:
    return {**rule_parameter(rule), "description": description}


SLOT_PATH = rule_parameter(validation.SLOT_ID, "path")
PLATFORM = rule_parameter(validation.PLATFORM, required=True)


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
