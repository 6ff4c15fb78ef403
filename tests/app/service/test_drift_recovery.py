"""A worn-out creative through the real service: discounting recovers, plain counting does not.

The full scenario (two minutes before the change, two after, 15 visitors a second) takes four minutes
of real time: ``./scripts/drift`` runs it. Here the two minutes before the change are written as
stored counts (the worn-out creative 4,000 impressions at 10 %, the others 300 at 3 %), 20 s before
now in the half-life slot's buckets, and the change has already happened: for 10 s visitors come at
40 a second per slot through the service, clicking the worn-out creative at 1 %, the rising one at 10 %,
the others at 3 % (seeded). Both slots see the same stored history; one has half_life_s = 4.

Tolerances: in 20 seeded in-process runs of the same live phase (bandit.sim.drift, half-life 4 s,
40 visitors a second, snapshots every 0.2 s) the rising creative's share of the last 4 s ranged from
0.38 to 0.79; the bound is 0.25. The plain slot's posterior of the worn-out creative stays near
Beta(404, 3996) (mean 0.092, sd 0.0045) while the rising one's is about Beta(10, 292) (mean 0.033,
sd 0.010) and hardly gets a draw: a Thompson draw of it beats the worn-out one with probability far
below 1e-4, so over ~160 visitors its share stays under 0.1 unless the discounting were applied.
"""
import time

import numpy as np
import pytest

pytestmark = pytest.mark.integration

RATES = {"a-worn-out": 0.01, "b-rising": 0.10, "c-steady": 0.03, "d-steady": 0.03}
HISTORY = {"a-worn-out": (4000, 400), "b-rising": (300, 9), "c-steady": (300, 9), "d-steady": (300, 9)}


def preload(db, tenant, slot_id, bucket=None):
    for creative_id, (n, k) in HISTORY.items():
        db.execute("UPDATE arm_counts SET impressions = impressions + ?, clicks = clicks + ? WHERE tenant = ? AND "
                   "platform = 'web' AND slot_id = ? AND segment = 'global' AND creative_id = ?",
                   (n, k, tenant.name, slot_id, creative_id))
        if bucket is not None:
            db.execute("UPDATE arm_bucket_counts SET impressions = impressions + ?, clicks = clicks + ? WHERE "
                       "tenant = ? AND platform = 'web' AND slot_id = ? AND bucket = ? AND segment = 'global' "
                       "AND creative_id = ?", (n, k, tenant.name, slot_id, bucket, creative_id))


def test_discounting_follows_the_new_best_where_plain_counting_stays(client, tenant, runtime):
    for slot_id in ("discounted", "plain"):
        tenant.add_slot(slot_id, creatives=list(RATES))
    tenant.db.execute("UPDATE slots SET half_life_s = 4 WHERE tenant = ? AND platform = 'web' AND slot_id = 'discounted'",
                      (tenant.name,))
    preload(runtime.db, tenant, "discounted", bucket=int(time.time()) - 20)
    preload(runtime.db, tenant, "plain")
    rng = np.random.default_rng(2024)
    shown = {"discounted": [], "plain": []}
    started = time.monotonic()
    for visitor in range(400):  # 40 a second per slot for 10 s
        wait = started + visitor / 40 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        for slot_id in ("discounted", "plain"):
            answer = client.get(f"/slot/{slot_id}/creative?platform=web", headers=tenant.headers)
            assert answer.status_code == 200, answer.get_json()
            body = answer.get_json()
            creative_id = body["creative"]["creative_id"]
            if rng.random() < RATES[creative_id]:
                assert client.post("/click", json={"decision_id": body["decision_id"]},
                                   headers=tenant.headers).status_code == 202
            shown[slot_id].append((time.monotonic() - started, creative_id))
    elapsed = time.monotonic() - started
    share = {slot_id: np.mean([cid == "b-rising" for t, cid in rows if t >= elapsed - 4])
             for slot_id, rows in shown.items()}
    assert share["discounted"] >= 0.25, share
    assert share["plain"] < 0.1, share
    stats = client.get("/slot/discounted/stats?platform=web", headers=tenant.headers).get_json()
    rows = {c["creative_id"]: c for c in stats["segments"][0]["creatives"]}
    assert rows["a-worn-out"]["impressions"] >= 4000  # raw counts keep the whole history
    assert rows["a-worn-out"]["effective_impressions"] < 1000
