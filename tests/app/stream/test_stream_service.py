"""The service in Kafka mode: events are published, not written; a worker applies them exactly once."""
from __future__ import annotations

import numpy as np
import pytest

from app.api.factory import create_app
from app.service.runtime import Runtime
from tests.app.stream.conftest import wait_until
from tests.app.stream.helpers import stream_totals

pytestmark = [pytest.mark.integration]


@pytest.fixture
def stream_client(stream_settings):
    rt = Runtime.build(stream_settings, rng=np.random.default_rng(7))
    app = create_app(stream_settings, runtime=rt)
    yield app.test_client(), rt
    rt.close()


def test_decisions_and_clicks_flow_through_kafka_exactly_once(stream_client, tenant, db, thread_worker):
    client, rt = stream_client
    slot = tenant.add_slot("hero")
    decisions = [client.get(f"/slot/{slot}/creative?platform=web&city=pune&referrer=mail", headers=tenant.headers)
                 for _ in range(40)]
    assert all(r.status_code == 200 for r in decisions)
    ids = [r.get_json()["decision_id"] for r in decisions]
    shown = [r.get_json()["creative"]["creative_id"] for r in decisions]
    clicked = ids[:10]
    assert [client.post("/click", json={"decision_id": d}, headers=tenant.headers).status_code
            for d in clicked] == [202] * 10
    # The same decisions clicked again: duplicates, answered by the service's claim, never published.
    assert [client.post("/click", json={"decision_id": d}, headers=tenant.headers).get_json()["status"]
            for d in clicked[:5]] == ["duplicate"] * 5
    assert rt.publisher.flush(10)

    # Nothing reached Cassandra from the service itself: no counters, no event rows.
    assert db.execute("SELECT * FROM arm_counts WHERE tenant = ? AND platform = 'web' AND slot_id = ?",
                      (tenant.name, slot)).all() == []
    assert tenant.events(slot) == []

    thread_worker()
    expected = {}
    for creative in set(shown):
        n = shown.count(creative)
        k = shown[:10].count(creative)
        expected[("global", creative)] = expected[("city:pune", creative)] = (n, k)
    wait_until(lambda: stream_totals(db, tenant.name, slot) == expected, 30, "the worker to apply 40 + 10 events")

    # The service reads counters + stream totals: stats show exactly what was sent.
    stats = client.get(f"/slot/{slot}/stats?platform=web", headers=tenant.headers).get_json()
    assert stats  # shape checked by the stats tests; counts below through the store the views use
    counts = rt.counts.read_slot(tenant.name, "web", slot)
    assert {(s, c): (a.impressions, a.clicks) for s, row in counts.items() for c, a in row.items()} == expected
    referrers = rt.counts.read_referrers(tenant.name, "web", slot)
    assert sum(a.impressions for a in referrers["mail"].values()) == 40
    assert sum(a.clicks for a in referrers["mail"].values()) == 10
    rows = tenant.events(slot)
    assert sorted(r["kind"] for r in rows) == ["click"] * 10 + ["impression"] * 40
    assert {r["propensity"] is not None for r in rows if r["kind"] == "impression"} == {True}


def test_a_half_life_slot_gets_its_time_buckets_through_kafka_once(stream_client, tenant, db, thread_worker):
    client, rt = stream_client
    slot = tenant.add_slot("hero")
    db.execute("UPDATE slots SET half_life_s = 3600 WHERE tenant = ? AND platform = 'web' AND slot_id = ?",
               (tenant.name, slot))
    bodies = [client.get(f"/slot/{slot}/creative?platform=web", headers=tenant.headers).get_json() for _ in range(20)]
    for body in bodies[:6]:
        assert client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers).status_code == 202
    assert rt.publisher.flush(10)
    thread_worker()
    expected = {}
    for i, body in enumerate(bodies):
        token = rt.signer.verify(body["decision_id"])
        row = (token.issued_ms // 1000 // 900 * 900, "global", token.creative_id)  # 900 s buckets
        n, k = expected.get(row, (0, 0))
        expected[row] = (n + 1, k + (i < 6))

    def buckets():
        from app.storage.stream_totals import StreamTotalsStore

        return {(b, s, c): (n, k) for b, s, c, n, k in StreamTotalsStore(db).bucket_totals(tenant.name, "web", slot, 0)}

    wait_until(lambda: buckets() == expected, 30, "the worker to apply 20 + 6 bucketed events")
    snapshot = rt.stored_snapshot(tenant.name, "web", slot, 3600)  # read through the service's path
    # a bucket is weighed at the middle of its elapsed part: at most 450 s old plus the run, so >= 0.5^(480/3600)
    assert 20 * 0.5 ** (480 / 3600) <= sum(c.impressions for c in snapshot.segments["global"].values()) <= 20


def test_readyz_reports_kafka_state(stream_client):
    client, rt = stream_client
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready" and body["kafka"] == "ok" and body["spooled"] == 0
