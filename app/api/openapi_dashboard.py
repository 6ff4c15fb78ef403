"""The OpenAPI description of the dashboard's JSON calls, merged into ``app.api.openapi.spec``."""
from __future__ import annotations

from typing import Any, Dict

from app.api import validation
from app.api.views.dashboard import DEFAULT_WINDOW_S, MAX_WINDOW_S, MIN_WINDOW_S
from app.api.openapi_parts import NUMBER_OR_NULL, PLATFORM, SLOT_PATH, STRING_OR_NULL, errors, json_body, query, ref

COUNTS = {"type": "object", "required": ["impressions", "clicks"],
          "properties": {"impressions": {"type": "integer", "minimum": 0}, "clicks": {"type": "integer", "minimum": 0}}}

SCHEMAS: Dict[str, Any] = {
    "SlotList": {
        "type": "object", "required": ["platform", "platforms", "slots"],
        "properties": {
            "platform": {"type": "string"},
            "platforms": {"type": "array", "items": {"type": "string"},
                          "description": "every platform on which the tenant has slots, sorted"},
            "slots": {"type": "array", "items": {
                "type": "object",
                "required": ["slot_id", "description", "objective", "holdout_share", "creatives", "active_creatives"],
                "properties": {"slot_id": {"type": "string"}, "description": STRING_OR_NULL,
                               "objective": {"type": "string"},
                               "holdout_share": {"type": "number", "minimum": 0, "maximum": 1},
                               "creatives": {"type": "integer", "minimum": 0},
                               "active_creatives": {"type": "integer", "minimum": 0},
                               "timezone": {"type": "string", "description": "IANA zone; UTC when unset or unknown"},
                               "frequency_cap": {"type": "integer", "nullable": True},
                               "warnings": {"type": "array", "items": {"type": "string"},
                                            "description": "e.g. an unknown time zone (the slot decides in UTC)"}}}},
        },
    },
    "OverviewLift": {
        "type": "object", "nullable": True,
        "description": "Lift of the bandit over the holdout group, to date; null while no holdout data exists",
        "required": ["bandit", "holdout", "treated_ctr", "holdout_ctr", "lift", "ci", "level"],
        "properties": {
            "bandit": COUNTS, "holdout": COUNTS,
            "treated_ctr": NUMBER_OR_NULL, "holdout_ctr": NUMBER_OR_NULL,
            "lift": {**NUMBER_OR_NULL, "description": "treated_ctr / holdout_ctr - 1"},
            "ci": {"type": "array", "nullable": True, "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                   "description": "Katz log-ratio confidence interval of the lift"},
            "level": {"type": "number"},
        },
    },
    "Overview": {
        "type": "object", "required": ["slot_id", "platform", "traffic", "lift", "segments", "savings"],
        "properties": {
            "slot_id": {"type": "string"}, "platform": {"type": "string"},
            "traffic": {
                "type": "object", "required": ["window_s", "impressions", "clicks", "creatives"],
                "description": "Impressions per creative in the last window_s seconds of the event log",
                "properties": {
                    "window_s": {"type": "integer"},
                    "impressions": {"type": "integer", "minimum": 0}, "clicks": {"type": "integer", "minimum": 0},
                    "creatives": {"type": "array", "items": {
                        "type": "object", "required": ["creative_id", "impressions", "clicks", "share"],
                        "properties": {"creative_id": {"type": "string"},
                                       "impressions": {"type": "integer", "minimum": 0},
                                       "clicks": {"type": "integer", "minimum": 0},
                                       "share": {**NUMBER_OR_NULL, "minimum": 0, "maximum": 1}}}},
                },
            },
            "lift": ref("OverviewLift"),
            "savings": ref("Savings"),
            "half_life_s": {"type": "integer", "nullable": True, "description": "the slot's half-life in force (null: none)"},
            "segments": {"type": "array", "items": ref("SegmentStats"),
                         "description": "As GET /slot/{slot_id}/stats, without the holdout segment"},
            "timezone": {"type": "string", "description": "IANA zone of the slot (UTC when unset or unknown)"},
            "local_time": {"type": "string", "format": "date-time", "description": "Now, in the slot's zone"},
        },
    },
}

PATHS: Dict[str, Any] = {
    "/slots": {"get": {
        "summary": "The tenant's slots on one platform (read by the dashboard at /dashboard)",
        "security": [{"ApiKey": []}],
        "parameters": [PLATFORM],
        "responses": {"200": json_body(ref("SlotList"), "Slots"), **errors(400, 401, 503)},
    }},
    "/slot/{slot_id}/overview": {"get": {
        "summary": "Live traffic share, posteriors with intervals and lift over holdout of one slot",
        "security": [{"ApiKey": []}],
        "parameters": [SLOT_PATH, PLATFORM, query(validation.CITY, "Only global and this city"),
                       {"name": "window_s", "in": "query", "required": False,
                        "description": f"Seconds of recent traffic ({MIN_WINDOW_S} to {MAX_WINDOW_S}, "
                                       f"default {DEFAULT_WINDOW_S})",
                        "schema": {"type": "integer", "minimum": MIN_WINDOW_S, "maximum": MAX_WINDOW_S}}],
        "responses": {"200": json_body(ref("Overview"), "Overview"), **errors(400, 401, 404, 503)},
    }},
}
