"""Per-tenant rate limits through the app (real Cassandra): set with the CLI, applied within 5 s,
429 with Retry-After over the limit, other tenants and the untenanted calls never limited."""
import time
from dataclasses import replace

import pytest

from app.api.factory import create_app
from app.service.runtime import Runtime

pytestmark = pytest.mark.integration
RELOAD_S = 5.0  # the promise: a changed limit applies within 5 s


def decide(client, tenant):
    return client.get("/slot/home/creative?platform=web", headers=tenant.headers)


def first_refusal_after(client, tenant, since: float):
    """Decisions every 20 ms until one is refused; (the answer, seconds since ``since``)."""
    while time.monotonic() - since < RELOAD_S + 2:
        answer = decide(client, tenant)
        if answer.status_code == 429:
            return answer, time.monotonic() - since
        assert answer.status_code == 200, answer.get_data(as_text=True)
        time.sleep(0.02)
    pytest.fail("no 429 within 7 s of the new limit")


def test_a_new_limit_applies_within_5_s_and_answers_429_with_retry_after(client, make_tenant, cli):
    busy, other = make_tenant("busy"), make_tenant("other")
    for tenant in (busy, other):
        tenant.add_slot("home")
    assert all(decide(client, busy).status_code == 200 for _ in range(30))  # unlimited so far, and cached
    result = cli("tenant", "limit", busy.name, "--rps", "2", "--burst", "3")
    assert result.exit_code == 0 and "2/s, bursts of 3" in result.output
    refused, after_s = first_refusal_after(client, busy, time.monotonic())
    assert after_s < RELOAD_S
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # The limited tenant's neighbour, and calls that carry no tenant, are never limited.
    assert all(decide(client, other).status_code == 200 for _ in range(30))
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert all(client.get(path, headers=busy.headers).status_code == 200 for _ in range(5)), path
    # Clicks and events draw from the same bucket.
    assert client.post("/click", json={"decision_id": "x"}, headers=busy.headers).status_code == 429
    assert client.post("/events", json=[{}], headers=busy.headers).status_code == 429
    metrics = client.get("/metrics").get_data(as_text=True)
    limited = [line for line in metrics.splitlines() if line.startswith("slotbandit_tenant_requests_total{")
               and f'tenant="{busy.name}"' in line and 'result="limited"' in line]
    assert limited and float(limited[0].split()[-1]) >= 3

    assert cli("tenant", "limit", busy.name, "--rps", "0").exit_code == 0  # unlimited again
    deadline = time.monotonic() + RELOAD_S
    while [decide(client, busy).status_code for _ in range(20)] != [200] * 20:  # 20 at once: over 2/s
        assert time.monotonic() < deadline, "still limited 5 s after --rps 0"
        time.sleep(0.05)
    assert all(decide(client, busy).status_code == 200 for _ in range(50))


def test_tenants_without_a_limit_of_their_own_get_the_default(settings, make_tenant, cli):
    limited_settings = replace(settings, default_rps=1.0)
    runtime = Runtime.build(limited_settings)
    try:
        client = create_app(limited_settings, runtime=runtime).test_client()
        plain, own = make_tenant("plain"), make_tenant("own")
        for tenant in (plain, own):
            tenant.add_slot("home")
        assert cli("tenant", "limit", own.name, "--rps", "0").exit_code == 0
        plain_codes = [decide(client, plain).status_code for _ in range(5)]
        assert plain_codes[0] == 200 and plain_codes.count(429) >= 3  # 1/s, a burst of 1
        assert [decide(client, own).status_code for _ in range(20)] == [200] * 20
    finally:
        runtime.close()
