"""/metrics, /healthz, /readyz and the JSON logs.

In one process the service reports from prometheus_client's default registry, so every counter
read before and after a burst of requests must have moved by exactly the number of requests made.
(test_live_server checks the sum over gunicorn workers.)
"""
import calendar
import io
import json
import logging
import math
import re
import time
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.api.factory import create_app
from app.logs import JsonFormatter

pytestmark = pytest.mark.integration

CREATIVE_ENDPOINT = "/slot/<slot_id>/creative"
LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, math.inf]
TS_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def scrape(client) -> tuple:
    """(text, {(sample name, sorted label items): value}) of one GET /metrics."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_by_exactly_the_requests_made(client, tenant):
    tenant.add_slot("home", creatives=["a", "b"])
    _, before = scrape(client)

    decisions = [client.get("/slot/home/creative?platform=web", headers=tenant.headers).get_json()
                 for _ in range(5)]
    for decision in decisions[:2]:
        assert client.post("/click", json={"decision_id": decision["decision_id"]},
                           headers=tenant.headers).status_code == 202
    assert client.post("/click", json={"decision_id": decisions[0]["decision_id"]},
                       headers=tenant.headers).status_code == 200
    for _ in range(3):
        assert client.get("/slot/home/creative", headers=tenant.headers).status_code == 400
    assert client.get("/slot/home/creative?platform=web", headers={"X-Api-Key": "sb_nope"}).status_code == 401
    assert client.get("/slot/gone/creative?platform=web", headers=tenant.headers).status_code == 404

    text, after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert "slotbandit_decisions_total" in text
    assert 'slotbandit_clicks_total{result="accepted"}' in text
    assert moved("slotbandit_decisions_total", policy="thompson") == 5
    assert moved("slotbandit_clicks_total", result="accepted") == 2
    assert moved("slotbandit_clicks_total", result="duplicate") == 1
    assert moved("slotbandit_errors_total", status="400", code="missing_platform") == 3
    assert moved("slotbandit_errors_total", status="401", code="unknown_api_key") == 1
    assert moved("slotbandit_errors_total", status="404", code="unknown_slot") == 1
    assert not [labels for (name, labels) in after if name == "slotbandit_errors_total"
                and not dict(labels)["status"].startswith(("4", "5"))]  # successes are not errors
    # Every request to the creative route is timed, whatever its answer: 5 + 3 + 1 + 1.
    assert moved("slotbandit_request_duration_seconds_count", endpoint=CREATIVE_ENDPOINT) == 10
    assert moved("slotbandit_request_duration_seconds_count", endpoint="/click") == 3
    # The first scrape is observed after it rendered, so the second one shows exactly it.
    assert moved("slotbandit_request_duration_seconds_count", endpoint="/metrics") == 1


def test_latency_histogram_has_the_declared_buckets_and_is_cumulative(client, tenant):
    tenant.add_slot("home", creatives=["a"])
    for _ in range(3):
        assert client.get("/slot/home/creative?platform=web", headers=tenant.headers).status_code == 200
    text, samples = scrape(client)
    assert f'slotbandit_request_duration_seconds_bucket{{endpoint="{CREATIVE_ENDPOINT}",le="0.001"}}' in text
    buckets = sorted(
        (float(dict(labels)["le"]), count) for (name, labels), count in samples.items()
        if name == "slotbandit_request_duration_seconds_bucket" and dict(labels)["endpoint"] == CREATIVE_ENDPOINT
    )
    assert [le for le, _ in buckets] == LATENCY_BUCKETS
    counts = [count for _, count in buckets]
    assert counts == sorted(counts)  # cumulative
    total = value(samples, "slotbandit_request_duration_seconds_count", endpoint=CREATIVE_ENDPOINT)
    assert counts[-1] == total >= 3
    assert value(samples, "slotbandit_request_duration_seconds_sum", endpoint=CREATIVE_ENDPOINT) > 0


def test_healthz_and_readyz_with_cassandra_up(client):
    health = client.get("/healthz")
    assert (health.status_code, health.get_json()) == (200, {"status": "ok"})
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_json()) == (200, {"status": "ready", "cassandra": "ok"})


# --- logs ------------------------------------------------------------------------------------------

@pytest.fixture
def json_log():
    """A logger writing through JsonFormatter into a buffer; yields (logger, function returning parsed lines)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("slotbandit.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines():
        raw = buffer.getvalue()
        assert raw.endswith("\n")
        return [json.loads(line) for line in raw.splitlines()]

    yield logger, lines
    logger.removeHandler(handler)


def test_json_formatter_writes_one_object_per_line_with_extra_fields(json_log):
    logger, lines = json_log
    started = time.time()
    logger.info("served %s in %d ms", "home", 7, extra={"tenant": "acme", "status": 200, "ms": 1.25})
    logger.warning("two\nlines and \"quotes\"", extra={"when": time, "tags": {"a"}})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    logger.debug("quiet")

    first, second, third, fourth = lines()  # four records, four lines: newlines inside are escaped
    assert first["msg"] == "served home in 7 ms"
    assert (first["level"], first["logger"]) == ("info", "slotbandit.test.json")
    assert (first["tenant"], first["status"], first["ms"]) == ("acme", 200, 1.25)
    assert TS_PATTERN.match(first["ts"])
    logged_at = calendar.timegm(time.strptime(first["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert started - 1 <= logged_at <= time.time() + 1  # UTC, the time of the call
    assert not {"args", "levelname", "pathname", "exc_info", "created"} & set(first)

    assert second["msg"] == 'two\nlines and "quotes"' and second["level"] == "warning"
    assert second["tags"] == "{'a'}" and "module 'time'" in second["when"]  # not JSON: logged as str()
    assert third["level"] == "error" and third["msg"] == "failed"
    assert "ValueError: boom" in third["exc"] and third["exc"].startswith("Traceback")
    assert fourth["level"] == "debug"


def test_access_log_is_one_json_line_per_request(settings, runtime, tenant):
    app = create_app(replace(settings, access_log=True), runtime=runtime)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("slotbandit.access")
    access.addHandler(handler)
    try:
        tenant.add_slot("home", creatives=["a"])
        client = app.test_client()
        assert client.get("/slot/home/creative?platform=web&city=pune", headers=tenant.headers).status_code == 200
        assert client.get("/slot/home/creative", headers=tenant.headers).status_code == 400
    finally:
        access.removeHandler(handler)
    ok, bad = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert (ok["logger"], ok["msg"], ok["level"]) == ("slotbandit.access", "request", "info")
    assert (ok["method"], ok["path"], ok["status"], ok["tenant"]) == ("GET", "/slot/home/creative", 200, tenant.name)
    assert isinstance(ok["ms"], (int, float)) and ok["ms"] >= 0
    assert (bad["status"], bad["tenant"]) == (400, tenant.name)
    assert "X-Api-Key" not in buffer.getvalue() and tenant.key not in buffer.getvalue()
