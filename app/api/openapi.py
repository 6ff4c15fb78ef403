"""The OpenAPI 3.0 description of the HTTP API. Tests validate real answers against these schemas."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from app.api import openapi_dashboard, openapi_parts, openapi_savings, validation
from app.api.openapi_events import EVENT_SCHEMAS
from app.api.openapi_parts import (NUMBER_OR_NULL, PLATFORM, SLOT_PATH, STRING_OR_NULL, errors, json_body, query, ref,
                                   rule_parameter)

SCHEMAS: Dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"],
                                 "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "Decision": {
        "type": "object",
        "required": ["decision_id", "slot_id", "platform", "creative", "segment", "policy", "propensity"],
        "properties": {
            "decision_id": {"type": "string", "description": "Signed; pass it to POST /click"},
            "slot_id": {"type": "string"},
            "platform": {"type": "string"},
            "creative": {"type": "object", "required": ["creative_id", "image_url", "payload"],
                         "properties": {"creative_id": {"type": "string"}, "image_url": STRING_OR_NULL,
                                        "payload": {"nullable": True, "description": "The creative's JSON payload"},
                                        "offer_type": {"type": "string", "nullable": True,
                                                       "description": "Offers only: the kind of offer"},
                                        "price": {"type": "number", "nullable": True, "minimum": 0,
                                                  "description": "Offers only: the offer's price"}}},
            "segment": {"type": "string",
                        "description": "Posterior that decided: global, city:<c>, segment:<s>, feature:<leaf>; "
                                       "holdout for a uniform pick of the slot's holdout group"},
            "policy": {"type": "string", "enum": ["thompson", "holdout"]},
            "propensity": {"type": "number", "minimum": 0, "maximum": 1,
                           "description": "the probability this creative was shown in this context; with a min_share "
                                          "floor f, the mixture f + (1 - K f) q of the policy's choice probability q"},
        },
    },
    "ClickRequest": {
        "type": "object", "required": ["decision_id"],
        "properties": {"decision_id": validation.DECISION_ID.schema(),
                       "customer_id": {**validation.CUSTOMER_ID.schema(), "nullable": True}},
    },
    "ClickResult": {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["accepted", "duplicate"]}},
    },
    "CreativeStats": {
        "type": "object",
        "required": ["creative_id", "impressions", "clicks", "effective_impressions", "effective_clicks", "alpha", "beta",
                     "mean", "ci95", "p_best", "eligible"],
        "properties": {
            "creative_id": {"type": "string"},
            "impressions": {"type": "integer", "minimum": 0, "description": "all-time (raw) impressions"},
            "clicks": {"type": "integer", "minimum": 0, "description": "all-time (raw) clicks"},
            "effective_impressions": {"type": "number", "minimum": 0,
                                      "description": "impressions weighted 0.5^(age / half_life_s) (the last 30 time "
                                                     "buckets), as the posterior uses them; equal to impressions "
                                                     "without a half-life"},
            "effective_clicks": {"type": "number", "minimum": 0, "description": "clicks weighted likewise"},
            "alpha": {"type": "number"}, "beta": {"type": "number"},
            "mean": {"type": "number", "description": "Posterior mean alpha / (alpha + beta)"},
            "ci95": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                     "description": "Equal-tailed 95% credible interval"},
            "p_best": {**NUMBER_OR_NULL, "description": "P(this creative has the highest rate); null if not eligible"},
            "eligible": {"type": "boolean", "description": "May be shown in this segment's city right now"},
            "status": {"type": "string", "enum": ["serving", "paused", "other_cities", "not_started", "ended",
                                                  "outside_hours", "removed"],
                       "description": "Why it is or is not shown now: flight (not_started, ended), hours in the "
                                      "slot's time zone (outside_hours), active (paused), cities (other_cities); "
                                      "removed = history of a creative no longer configured"},
            "revenue": ref("OfferStats"),
        },
    },
    "OfferStats": {
        "type": "object",
        "description": "Revenue slots, every offer shown (paused ones too): posterior means of the factors of the value per impression "
                       "click x purchase x (1 - refund) x amount, the value's mean and 95% interval, and "
                       "P(this offer has the highest value)",
        "required": ["purchases", "gross", "effective_purchases", "effective_gross", "purchase_rate", "refund_rate",
                     "amount", "value", "value_ci95", "p_best"],
        "properties": {
            "purchases": {"type": "number", "minimum": 0,
                          "description": "all-time attributed purchase credit (a purchase shared by k decisions: 1/k "
                                         "each)"},
            "gross": {"type": "number", "minimum": 0, "description": "all-time attributed revenue before refunds"},
            "effective_purchases": {"type": "number", "minimum": 0,
                                    "description": "purchase credit weighted 0.5^(age of its decision / half_life_s) "
                                                   "(the last 30 time buckets), as the factor posteriors use it; "
                                                   "equal to purchases without a half-life"},
            "effective_gross": {"type": "number", "minimum": 0, "description": "gross revenue weighted likewise"},
            "purchase_rate": {"type": "number", "description": "p(purchase | click)"},
            "refund_rate": {"type": "number", "description": "p(refund | purchase)"},
            "amount": {"type": "number", "description": "E(revenue | purchase)"},
            "value": {"type": "number"},
            "value_ci95": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            "p_best": {**NUMBER_OR_NULL,
                       "description": "P(the highest value) among the eligible offers; null for one not eligible"},
        },
    },
    "SegmentStats": {
        "type": "object", "required": ["segment", "decided_by", "creatives"],
        "properties": {"segment": {"type": "string"},
                       "decided_by": {"type": "string", "description": "global while the segment has no data"},
                       "creatives": {"type": "array", "items": ref("CreativeStats")}},
    },
    "Stats": {
        "type": "object", "required": ["slot_id", "platform", "objective", "half_life_s", "min_share", "segments",
                                       "lift_over_holdout", "savings"],
        "properties": {"slot_id": {"type": "string"}, "platform": {"type": "string"},
                       "objective": {"type": "string", "enum": ["clicks", "revenue"]},
                       **openapi_parts.SERVING_CONTROLS,
                       "half_life_s": {"type": "integer", "nullable": True, "minimum": 1,
                                       "description": "the slot's half-life in force (null: no discounting)"},
                       "min_share": {"type": "number", "minimum": 0, "maximum": 1,
                                     "description": "the slot's exploration floor per eligible creative, before the "
                                                    "cap of 0.5 / K"},
                       "segments": {"type": "array", "items": ref("SegmentStats")},
                       "lift_over_holdout": ref("Lift"),
                       "savings": ref("Savings")},
    },
    "Lift": {
        "type": "object", "required": ["treated_ctr", "holdout_ctr", "lift", "ci", "level"],
        "description": "Click-through of the bandit's impressions (global minus holdout) against the holdout "
                       "group's, relative lift p_t / p_h - 1 and its Katz log-ratio confidence interval; "
                       "null while either group has no impressions",
        "properties": {
            "treated_ctr": NUMBER_OR_NULL, "holdout_ctr": NUMBER_OR_NULL, "lift": NUMBER_OR_NULL,
            "ci": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2, "nullable": True},
            "level": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
    "Rate": {
        "type": "object", "required": ["impressions", "clicks", "ctr"],
        "properties": {"impressions": {"type": "integer"}, "clicks": {"type": "integer"}, "ctr": NUMBER_OR_NULL,
                       "creative_id": {"type": "string"}},
    },
    "ReferrerStats": {
        "type": "object", "required": ["slot_id", "platform", "referrers"],
        "properties": {
            "slot_id": {"type": "string"}, "platform": {"type": "string"},
            "referrers": {"type": "array", "items": {"allOf": [ref("Rate"), {
                "type": "object", "required": ["referrer", "creatives"],
                "properties": {"referrer": {"type": "string"},
                               "creatives": {"type": "array", "items": ref("Rate")}}}]}},
        },
    },
    **EVENT_SCHEMAS,
    "EventsResult": {
        "type": "object", "required": ["accepted", "duplicates", "rejected"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0, "description": "New events stored"},
            "duplicates": {"type": "integer", "minimum": 0, "description": "Events already stored (counted once: "
                           "among calls racing on one event exactly one counts it as accepted)"},
            "rejected": {"type": "array", "items": {
                "type": "object", "required": ["index", "reason"],
                "properties": {"index": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}}}},
        },
    },
    "CustomerFeatures": {
        "type": "object", "required": ["customer_id", "features"],
        "properties": {
            "customer_id": {"type": "string"},
            "features": {
                "type": "object",
                "required": ["country", "facebook_connected", "last_week.purchase_amount",
                             "last_session.games_played", "last_session.win_ratio"],
                "properties": {
                    "country": {**STRING_OR_NULL, "description": "Of the latest app_launched that carried one"},
                    "facebook_connected": {"type": "boolean",
                                           "description": "The latest app_launched signed in with facebook"},
                    "last_week.purchase_amount": {"type": "number", "minimum": 0, "description":
                        "Sum of purchase txn_amount in the 7 days up to the customer's latest event"},
                    "last_session.games_played": {"type": "integer", "minimum": 0,
                                                  "description": "game_end events of the session of the latest one"},
                    "last_session.win_ratio": {**NUMBER_OR_NULL, "minimum": 0, "maximum": 1,
                                               "description": "Won / played in that session, 2 decimals"},
                },
            },
        },
    },
    "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"},
                                                                        "cassandra": {"type": "string"},
                                                                        "kafka": {"type": "string"},
                                                                        "spooled": {"type": "integer"}}},
}


@lru_cache(maxsize=1)
def spec() -> Dict[str, Any]:
    api_key = [{"ApiKey": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "slotbandit", "version": "1",
                 "description": "Choose a creative per request by Thompson sampling; learn from clicks."},
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": {**SCHEMAS, **openapi_dashboard.SCHEMAS, **openapi_savings.SCHEMAS},
        },
        "paths": {
            "/slot/{slot_id}/creative": {"get": {
                "summary": "Choose a creative for one request",
                "security": api_key,
                "parameters": [SLOT_PATH, PLATFORM, query(validation.CITY, "Visitor's city (pooled toward the slot)"),
                               rule_parameter(validation.SEGMENT),
                               query(validation.CUSTOMER_ID, "Visitor id (frequency caps count per customer_id; "
                                                             "without it a request is not capped)"),
                               rule_parameter(validation.REFERRER)],
                "responses": {"200": json_body(ref("Decision"), "The chosen creative"), **errors(400, 401, 503),
                              "404": json_body(ref("Error"), "Unknown slot (also another tenant's); code "
                                               "no_eligible_creative: no creative for this city, flight and hour; "
                                               "code frequency_capped: every eligible creative reached the slot's "
                                               "frequency_cap for this customer_id")},
            }},
            "/click": {"post": {
                "summary": "Report the click of a decision (counted once)",
                "security": api_key,
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ClickRequest")}}},
                "responses": {"202": json_body(ref("ClickResult"), "Counted"),
                              "200": json_body(ref("ClickResult"), "Already counted: duplicate"),
                              **errors(400, 401, 404, 410, 413, 503)},
            }},
            "/slot/{slot_id}/stats": {"get": {
                "summary": "What the slot has learned, per segment and creative (or per referrer)",
                "security": api_key,
                "parameters": [SLOT_PATH, PLATFORM, query(validation.CITY, "Only global and this city"),
                               {"name": "by", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["segment", "referrer"]}}],
                "responses": {"200": json_body({"oneOf": [ref("Stats"), ref("ReferrerStats")]}, "Stats"),
                              **errors(400, 401, 404, 503)},
            }},
            "/events": {"post": {
                "summary": "Send 1 to 1,000 events of customers, in the contract's or the raw game shape "
                           "(validated one by one, stored once)",
                "security": api_key,
                "description": "Each item is checked on its own against the Event schema "
                               "(#/components/schemas/Event): an item that does not match it is listed in "
                               "`rejected` with the reason, and the others are stored. So the body as a whole is "
                               "refused (400) only when it is not an array of 1 to 1,000 items.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "array", "minItems": 1, "maxItems": 1000,
                    "items": {"description": "An Event; any other item is rejected on its own"}}}}},
                "responses": {"200": json_body(ref("EventsResult"), "What happened to every event"),
                              **errors(400, 401, 413, 503)},
            }},
            "/customer/{customer_id}/features": {"get": {
                "summary": "A customer's user features, current as of the latest event received",
                "security": api_key,
                "parameters": [rule_parameter(validation.CUSTOMER_PATH, "path")],
                "responses": {"200": json_body(ref("CustomerFeatures"), "The features"),
                              **errors(400, 401, 503),
                              "404": json_body(ref("Error"), "Unknown customer (also another tenant's)")},
            }},
            "/healthz": {"get": {"summary": "Process up", "responses": {"200": json_body(ref("Status"), "Up")}}},
            "/readyz": {"get": {"summary": "Cassandra reachable",
                                "responses": {"200": json_body(ref("Status"), "Ready"),
                                              "503": json_body(ref("Status"), "Cassandra unreachable")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics",
                                 "responses": {"200": {"description": "Prometheus text format",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI 3.0",
                                                            "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            **openapi_dashboard.PATHS,
        },
    }
