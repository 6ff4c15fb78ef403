"""GET /openapi.json describes the API, and the running service answers what it describes.

Real answers of the app (Flask test client, real Cassandra) are validated with jsonschema against the
document's component schemas. OpenAPI 3.0 is not JSON Schema: ``nullable: true`` is rewritten to a
type list with "null", and ``#/components/schemas/...`` references are resolved through a registry
that holds the converted document.
"""
import time
from dataclasses import replace

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.api.factory import create_app
from app.decision_ids import DecisionToken
from app.service.runtime import Runtime

pytestmark = pytest.mark.integration

DOCUMENT_URI = "urn:slotbandit:openapi"
CONTRACT_OPERATIONS = {
    "/slot/{slot_id}/creative": "get",
    "/click": "post",
    "/slot/{slot_id}/stats": "get",
    "/healthz": "get",
    "/readyz": "get",
    "/metrics": "get",
    "/openapi.json": "get",
    "/events": "post",
    "/customer/{customer_id}/features": "get",
}
TENANT_PATHS = {"/slot/{slot_id}/creative", "/click", "/slot/{slot_id}/stats", "/events",
                "/customer/{customer_id}/features"}


def to_json_schema(node):
    """An OpenAPI 3.0 schema (or any part of the document) as JSON Schema 2020-12.

    ``nullable: true`` next to ``type: T`` becomes ``type: [T, "null"]`` (and ``null`` joins an ``enum``);
    without a ``type`` it allows anything already, so it is dropped.
    """
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True and "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        converted["type"] = types + ["null"]
        if "enum" in node:
            converted["enum"] = list(node["enum"]) + [None]
    return converted


def _absolute_refs(node):
    """Refs of a schema taken out of the document, made to point into the registered document."""
    if isinstance(node, list):
        return [_absolute_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {key: DOCUMENT_URI + value if key == "$ref" and value.startswith("#") else _absolute_refs(value)
            for key, value in node.items()}


class ApiDescription:
    """The served document, with validators for its component schemas and declared responses."""

    def __init__(self, document: dict):
        self.document = document
        resource = Resource.from_contents(to_json_schema(document), default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)

    def validator(self, schema: dict) -> jsonschema.Draft202012Validator:
        """A validator of an OpenAPI schema object whose refs point into the document."""
        return jsonschema.Draft202012Validator(_absolute_refs(to_json_schema(schema)), registry=self.registry)

    def component(self, name: str) -> jsonschema.Draft202012Validator:
        assert name in self.document["components"]["schemas"], name
        return self.validator({"$ref": f"#/components/schemas/{name}"})

    def check(self, path: str, method: str, answer, component: str = None):
        """Assert the status is declared for path+method and the body matches its schema; return the body."""
        responses = self.document["paths"][path][method]["responses"]
        status = str(answer.status_code)
        assert status in responses, (
            f"{method.upper()} {path} answered {status}, which the spec does not declare "
            f"(declared: {sorted(responses)}); body: {answer.get_data(as_text=True)[:300]}")
        content = responses[status]["content"]
        assert answer.mimetype in content, f"{path} {status}: {answer.mimetype} not in {sorted(content)}"
        if answer.mimetype != "application/json":
            return answer.get_data(as_text=True)
        body = answer.get_json()
        self.validator(content["application/json"]["schema"]).validate(body)
        if component:  # also against the one schema this particular answer must match
            self.component(component).validate(body)
        return body


@pytest.fixture(scope="module")
def described(app):
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return ApiDescription(answer.get_json())


def test_document_is_openapi_30_with_every_contract_path(described):
    document = described.document
    assert document["openapi"].startswith("3.0.")
    assert document["info"]["title"] and document["info"]["version"]
    for path, method in CONTRACT_OPERATIONS.items():
        assert path in document["paths"], path
        operation = document["paths"][path][method]
        assert operation["responses"], path
        assert ("security" in operation) == (path in TENANT_PATHS), path
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    slot_parameters = document["paths"]["/slot/{slot_id}/creative"]["get"]["parameters"]
    assert {p["name"] for p in slot_parameters} >= {"slot_id", "platform", "city", "segment", "customer_id",
                                                      "referrer"}
    assert {p["name"] for p in slot_parameters if p.get("required")} == {"slot_id", "platform"}


def test_every_reference_resolves_and_every_component_schema_is_valid(described):
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(described.document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        described.validator({"$ref": ref})  # builds
        described.registry.resolver().lookup(DOCUMENT_URI + ref)  # raises when unresolvable
    for name, schema in described.document["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(to_json_schema(schema))


def test_nullable_conversion_accepts_null_only_where_declared(described):
    creative_stats = described.component("CreativeStats")
    row = {"creative_id": "a", "impressions": 3, "clicks": 1, "alpha": 2.0, "beta": 3.0, "mean": 0.4,
           "ci95": [0.1, 0.8], "p_best": None, "eligible": False,
           "effective_impressions": 3.0, "effective_clicks": 1.0}
    creative_stats.validate(row)  # p_best is nullable
    creative_stats.validate({**row, "p_best": 0.25, "eligible": True})
    for bad in ({**row, "p_best": "high"}, {**row, "mean": None}, {**row, "ci95": [0.1]},
                {**row, "impressions": -1}):
        with pytest.raises(jsonschema.ValidationError):
            creative_stats.validate(bad)
    assert to_json_schema({"type": "string", "nullable": True, "enum": ["a"]}) == {
        "type": ["string", "null"], "enum": ["a", None]}
    decision = described.component("Decision")
    with pytest.raises(jsonschema.ValidationError):
        decision.validate({"decision_id": "d", "slot_id": "s", "platform": "web", "segment": "global",
                           "policy": "thompson", "propensity": 0.5})  # no creative
    with pytest.raises(jsonschema.ValidationError):
        described.component("Error").validate({"error": {"code": "x"}})


def test_decision_click_and_stats_answers_match_the_spec(described, client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    creative_path, stats_path = "/slot/{slot_id}/creative", "/slot/{slot_id}/stats"

    decision = described.check(creative_path, "get", client.get(
        "/slot/home/creative", query_string={"platform": "web", "city": "pune", "referrer": "news",
                                             "customer_id": "c-1"},
        headers=tenant.headers), "Decision")
    assert decision["slot_id"] == "home" and decision["creative"]["creative_id"] in {"a", "b"}

    first = client.post("/click", json={"decision_id": decision["decision_id"]}, headers=tenant.headers)
    again = client.post("/click", json={"decision_id": decision["decision_id"]}, headers=tenant.headers)
    assert first.status_code == 202 and again.status_code == 200
    assert described.check("/click", "post", first, "ClickResult") == {"status": "accepted"}
    assert described.check("/click", "post", again, "ClickResult") == {"status": "duplicate"}

    assert runtime.writer.flush(timeout_s=10)
    # The creative that was shown goes inactive: its stats row stays (it has counts) with p_best null.
    tenant.set_creative("home", decision["creative"]["creative_id"], active=False)
    everything = described.check(stats_path, "get", client.get(
        "/slot/home/stats?platform=web", headers=tenant.headers), "Stats")
    segments = {s["segment"]: s for s in everything["segments"]}
    assert set(segments) == {"global", "city:pune"}
    shown = {r["creative_id"]: r for r in segments["global"]["creatives"]}[decision["creative"]["creative_id"]]
    assert (shown["impressions"], shown["clicks"], shown["p_best"], shown["eligible"]) == (1, 1, None, False)

    one_city = described.check(stats_path, "get", client.get(
        "/slot/home/stats?platform=web&city=Pune", headers=tenant.headers), "Stats")
    assert [s["segment"] for s in one_city["segments"]] == ["global", "city:pune"]

    by_referrer = described.check(stats_path, "get", client.get(
        "/slot/home/stats?platform=web&by=referrer", headers=tenant.headers), "ReferrerStats")
    assert [(r["referrer"], r["impressions"], r["clicks"]) for r in by_referrer["referrers"]] == [("news", 1, 1)]


def test_creative_without_image_or_payload_is_null_in_a_valid_decision(described, client, tenant, db):
    db.execute("INSERT INTO slots (tenant, platform, slot_id) VALUES (?, ?, ?)", (tenant.name, "web", "bare"))
    db.execute("INSERT INTO creatives (tenant, platform, slot_id, creative_id, active) VALUES (?, ?, ?, ?, ?)",
               (tenant.name, "web", "bare", "plain", True))
    body = described.check("/slot/{slot_id}/creative", "get", client.get(
        "/slot/bare/creative?platform=web", headers=tenant.headers), "Decision")
    assert body["creative"] == {"creative_id": "plain", "image_url": None, "payload": None}


def test_health_metrics_and_document_answers_match_the_spec(described, client):
    assert described.check("/healthz", "get", client.get("/healthz"), "Status") == {"status": "ok"}
    ready = described.check("/readyz", "get", client.get("/readyz"), "Status")
    assert ready == {"status": "ready", "cassandra": "ok"}
    text = described.check("/metrics", "get", client.get("/metrics"))
    assert "slotbandit_request_duration_seconds" in text
    assert described.check("/openapi.json", "get", client.get("/openapi.json")) == described.document


def test_error_answers_match_the_error_schema_and_are_declared(described, client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    tenant.add_slot("short", creatives=["a"], attribution_window_s=60)
    creative_path, stats_path = "/slot/{slot_id}/creative", "/slot/{slot_id}/stats"

    def error(path, method, answer, status, code):
        body = described.check(path, method, answer, "Error")
        assert (answer.status_code, body["error"]["code"]) == (status, code)

    error(creative_path, "get", client.get("/slot/home/creative", headers=tenant.headers), 400, "missing_platform")
    error(creative_path, "get", client.get("/slot/home/creative?platform=web"), 401, "missing_api_key")
    error(creative_path, "get", client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": "sb_no"}),
          401, "unknown_api_key")
    error(creative_path, "get", client.get("/slot/nope/creative?platform=web", headers=tenant.headers),
          404, "unknown_slot")
    error(stats_path, "get", client.get("/slot/home/stats?platform=web&by=colour", headers=tenant.headers),
          400, "invalid_by")
    error(stats_path, "get", client.get("/slot/home/stats?platform=web"), 401, "missing_api_key")
    error(stats_path, "get", client.get("/slot/nope/stats?platform=web", headers=tenant.headers), 404, "unknown_slot")
    error("/click", "post", client.post("/click", data=b"{", content_type="application/json",
                                        headers=tenant.headers), 400, "invalid_json")
    error("/click", "post", client.post("/click", json={"decision_id": "x"}), 401, "missing_api_key")
    error("/click", "post", client.post("/click", json={"decision_id": "v1.a.b"}, headers=tenant.headers),
          404, "unknown_decision")
    # A genuine decision id (signed with the service's secret) issued two minutes ago, for a 60 s window.
    late = runtime.signer.sign(DecisionToken(tenant.name, "web", "short", "a", ("global",),
                                             int((time.time() - 120) * 1000), DecisionToken.new_nonce()))
    error("/click", "post", client.post("/click", json={"decision_id": late}, headers=tenant.headers),
          410, "attribution_window_closed")
    error("/click", "post", client.post("/click", data=b'{"decision_id": "' + b"x" * 100_000 + b'"}',
                                        content_type="application/json", headers=tenant.headers),
          413, "payload_too_large")


def test_storage_down_answers_match_the_spec(described, settings):
    """503 of a service whose Cassandra does not answer: Error on tenant paths, Status on /readyz."""
    down = replace(settings, cassandra_hosts=("127.0.0.1",), cassandra_port=1, protocol_version=3)
    app = create_app(down, runtime=Runtime.build(down))
    try:
        client = app.test_client()
        body = described.check("/slot/{slot_id}/creative", "get", client.get(
            "/slot/home/creative?platform=web", headers={"X-Api-Key": "sb_k"}), "Error")
        assert body["error"]["code"] == "storage_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert described.check("/readyz", "get", ready, "Status")["cassandra"] == "unreachable"
    finally:
        app.extensions["slotbandit"].close()


# --- generated requests ---------------------------------------------------------------------------

SCHEMATHESIS_EXAMPLES = 100  # per operation and mode (Hypothesis's default); the run takes about 10-20 s


def test_generated_requests_never_get_a_5xx(app, tenant, described):
    """Requests generated from the spec, valid and invalid, with a real key: never a 5xx, and every
    answer has a status the spec declares for the operation and a body that matches its schema.

    Slot paths use a real slot; a valid generated request to it is sent a second time with
    platform=web, so the generated city, segment, customer_id and referrer reach the real decision
    and stats code and not only the validation in front of it. Examples are derandomized (a fixed
    seed per operation), so a failure shows again on the next run.
    """
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings as hypothesis_settings

    tenant.add_slot("home", creatives=["a", "b", "c"])
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    statuses = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        on_slot = "{slot_id}" in operation.path
        takes_input = len(operation.query) + len(operation.path_parameters) + len(operation.body) > 0
        modes = [schemathesis.GenerationMode.POSITIVE] + [schemathesis.GenerationMode.NEGATIVE] * takes_input
        responses = described.document["paths"][operation.path][operation.method]["responses"]
        for mode in modes:
            label = f"{operation.method.upper()} {operation.path} {mode.value}"
            overrides = {"path_parameters": {"slot_id": "home"}} if on_slot else {}

            @given(case=operation.as_strategy(generation_mode=mode, **overrides))
            @hypothesis_settings(max_examples=SCHEMATHESIS_EXAMPLES, derandomize=True, deadline=None,
                                 database=None, suppress_health_check=list(HealthCheck))
            def run(case):
                cases = [case]
                if on_slot and mode is schemathesis.GenerationMode.POSITIVE:
                    cases.append(case.operation.Case(path_parameters=dict(case.path_parameters),
                                                     query={**(case.query or {}), "platform": "web"}))
                for sent in cases:
                    answer = sent.call(headers=tenant.headers)
                    statuses.setdefault(label, set()).add(answer.status_code)
                    assert answer.status_code < 500, (
                        f"{label}: {answer.status_code} for path={sent.path_parameters} query={sent.query} "
                        f"body={sent.body!r}: {answer.text[:300]}")
                    declared = responses.get(str(answer.status_code))
                    assert declared, f"{label}: undeclared {answer.status_code}: {answer.text[:300]}"
                    if "application/json" in declared["content"]:
                        described.validator(declared["content"]["application/json"]["schema"]).validate(answer.json())

            run()
    # The generated requests reached the real slot (200), and invalid ones were refused with a 4xx.
    assert 200 in statuses["GET /slot/{slot_id}/creative positive"], statuses
    assert 200 in statuses["GET /slot/{slot_id}/stats positive"], statuses
    assert {400, 404} & statuses["POST /click negative"], statuses
    assert 200 in statuses["POST /events positive"] and 400 in statuses["POST /events negative"], statuses


def test_stats_of_a_revenue_slot_match_the_spec(described, client, tenant, db):
    tenant.add_slot("shop", creatives=["small", "big"])
    db.execute("UPDATE slots SET objective = 'revenue' WHERE tenant = ? AND platform = 'web' AND slot_id = 'shop'",
               (tenant.name,))
    db.execute("UPDATE creatives SET offer_type = 'coins', price = 4.99 WHERE tenant = ? AND platform = 'web' "
               "AND slot_id = 'shop' AND creative_id = 'big'", (tenant.name,))
    body = described.check("/slot/{slot_id}/stats", "get", client.get(
        "/slot/shop/stats?platform=web", headers=tenant.headers), "Stats")
    assert body["objective"] == "revenue"
    rows = {r["creative_id"]: r for r in body["segments"][0]["creatives"]}
    # No data yet: the amount priors sit on the price, or on the default amount 1.0 without one.
    assert rows["big"]["revenue"]["amount"] == pytest.approx(4.99)
    assert rows["small"]["revenue"]["amount"] == pytest.approx(1.0)
