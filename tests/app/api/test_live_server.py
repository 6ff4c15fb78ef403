"""End to end through ``slotbandit serve`` (gunicorn, 2 workers): what only a real server shows."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from benchmarks.live_server import LiveServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def server(settings):
    live = LiveServer(settings, workers=2).start()
    yield live
    live.stop()


def test_duplicate_click_flood_across_workers_counts_once(server, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    decision = requests.get(f"{server.url}/slot/home/creative", params={"platform": "web"},
                            headers=tenant.headers, timeout=10).json()
    barrier = threading.Barrier(24)

    def hammer(_):
        barrier.wait()
        with requests.Session() as http:
            return [http.post(f"{server.url}/click", json={"decision_id": decision["decision_id"]},
                              headers=tenant.headers, timeout=30).status_code for _ in range(10)]

    with ThreadPoolExecutor(24) as pool:
        statuses = [code for codes in pool.map(hammer, range(24)) for code in codes]
    assert len(statuses) == 240 and statuses.count(202) == 1 and statuses.count(200) == 239
    counts = runtime.counts.read_slot(tenant.name, "web", "home")["global"]
    assert {cid: c.clicks for cid, c in counts.items() if c.clicks} == {decision["creative"]["creative_id"]: 1}


def test_restarted_service_keeps_everything_it_learned(settings, tenant):
    tenant.add_slot("home", creatives=["a", "b", "c"])
    server = LiveServer(settings, workers=2).start()
    http = requests.Session()
    http.headers.update(tenant.headers)
    for i in range(200):
        body = http.get(f"{server.url}/slot/home/creative", params={"platform": "web", "city": "pune"}).json()
        if i % 4 == 0:
            assert http.post(f"{server.url}/click", json={"decision_id": body["decision_id"]}).status_code == 202
    assert server.stop() == 0  # SIGTERM: workers drain their impression queues before exiting
    server.start()
    try:
        stats = http.get(f"{server.url}/slot/home/stats", params={"platform": "web"}).json()
        rows = {s["segment"]: s["creatives"] for s in stats["segments"]}
        assert sum(r["impressions"] for r in rows["global"]) == 200
        assert sum(r["clicks"] for r in rows["global"]) == 50
        assert sum(r["impressions"] for r in rows["city:pune"]) == 200
        decision = http.get(f"{server.url}/slot/home/creative", params={"platform": "web", "city": "pune"}).json()
        assert decision["segment"] == "city:pune"  # the restarted workers decide on what was learned
    finally:
        server.stop()


def test_metrics_are_summed_over_workers(server, tenant):
    tenant.add_slot("home", creatives=["a"])
    with requests.Session() as http:
        http.headers.update(tenant.headers)
        for _ in range(40):
            http.get(f"{server.url}/slot/home/creative", params={"platform": "web"})
        http.get(f"{server.url}/slot/home/creative", params={"platform": ""})
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    decisions = sum(float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith('slotbandit_decisions_total{policy="thompson"}'))
    assert decisions == 40
    errors = [line for line in text.splitlines() if line.startswith("slotbandit_errors_total{")
              and 'code="missing_platform"' in line and 'status="400"' in line]
    assert len(errors) == 1 and float(errors[0].split()[-1]) == 1.0
    assert "slotbandit_request_duration_seconds_bucket" in text


def test_frequency_cap_holds_for_one_customer_hammering_two_workers(server, tenant):
    """24 threads decide at once for one customer through two gunicorn workers: cap 3 per creative, so
    exactly 6 decisions over creatives a and b succeed and every other one is 404 frequency_capped."""
    tenant.add_slot("home", creatives=["a", "b"])
    tenant.db.execute("UPDATE slots SET frequency_cap = 3 WHERE tenant = ? AND platform = 'web' AND slot_id = 'home'",
                      (tenant.name,))
    url = f"{server.url}/slot/home/creative"  # new to both workers: each reads the slot with its cap
    barrier = threading.Barrier(24)

    def hammer(_):
        barrier.wait()
        with requests.Session() as http:
            answers = [http.get(url, params={"platform": "web", "customer_id": "u1"}, headers=tenant.headers,
                                timeout=30) for _ in range(3)]
        return [(a.status_code, a.json()) for a in answers]

    with ThreadPoolExecutor(24) as pool:
        answers = [answer for batch in pool.map(hammer, range(24)) for answer in batch]
    shown = Counter(body["creative"]["creative_id"] for code, body in answers if code == 200)
    assert shown == Counter({"a": 3, "b": 3})
    assert all(body["error"]["code"] == "frequency_capped" for code, body in answers if code != 200)
    assert len(answers) == 72
