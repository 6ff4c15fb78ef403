"""The OpenAPI schema of a slot's saved traffic (``savings`` in the stats and the dashboard overview)."""
from __future__ import annotations

from typing import Any, Dict

from app.api.openapi_parts import NUMBER_OR_NULL

INTERVAL = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}

SCHEMAS: Dict[str, Any] = {
    "Savings": {
        "type": "object",
        "description": "Traffic kept away from non-performers, counts to date (bandit/savings.py). Traffic is grouped "
                       "by the posterior that decided it (each city with data of its own, else global). A creative "
                       "is a non-performer of a group when the upper end of its 95% credible interval is below the "
                       "best posterior mean there. saved_share = 1 - non_performer_impressions / "
                       "uniform_non_performer_impressions (what a uniform split over the same creatives would have "
                       "given them); null while no group has a non-performer. gain: expected clicks (revenue for "
                       "revenue slots) of the service's split minus a uniform split of the same impressions, with "
                       "an equal-tailed 95% posterior interval.",
        "required": ["metric", "impressions", "non_performer_impressions", "uniform_non_performer_impressions",
                     "saved_share", "gain", "expected", "segments"],
        "properties": {
            "metric": {"type": "string", "enum": ["clicks", "revenue"]},
            "impressions": {"type": "integer", "minimum": 0},
            "non_performer_impressions": {"type": "integer", "minimum": 0},
            "uniform_non_performer_impressions": {"type": "number", "minimum": 0},
            "saved_share": {**NUMBER_OR_NULL, "maximum": 1},
            "gain": {"type": "object", "required": ["value", "ci95"],
                     "properties": {"value": {"type": "number"}, "ci95": INTERVAL}},
            "expected": {"type": "object", "required": ["served", "uniform"],
                         "description": "Expected clicks (or revenue) of the service's split and of a uniform one",
                         "properties": {"served": {"type": "number"}, "uniform": {"type": "number"}}},
            "segments": {"type": "array", "items": {
                "type": "object",
                "required": ["segment", "impressions", "non_performers", "non_performer_impressions", "saved_share"],
                "properties": {"segment": {"type": "string", "description": "global or city:<c>"},
                               "impressions": {"type": "integer", "minimum": 0},
                               "non_performers": {"type": "array", "items": {"type": "string"}},
                               "non_performer_impressions": {"type": "integer", "minimum": 0},
                               "saved_share": {**NUMBER_OR_NULL, "maximum": 1}}}},
        },
    },
}
