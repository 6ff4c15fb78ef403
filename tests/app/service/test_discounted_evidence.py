"""Slots with a half-life and an exploration floor against the real Cassandra: time buckets written
exactly once (clicks in their impression's bucket), discounted snapshots, stats, mixture propensities."""
import time

import pytest

from app.service.runtime import read_snapshot
from bandit.discount import bucket_start, bucket_width_s

pytestmark = pytest.mark.integration


def configure(tenant, runtime, slot_id, half_life_s=None, min_share=None, platform="web"):
    tenant.db.execute("UPDATE slots SET half_life_s = ?, min_share = ? WHERE tenant = ? AND platform = ? AND slot_id = ?",
                      (half_life_s, min_share, tenant.name, platform, slot_id))
    runtime.slots.invalidate((tenant.name, platform, slot_id))


def decide(client, tenant, query=""):
    answer = client.get(f"/slot/home/creative?platform=web&{query}", headers=tenant.headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def bucket_rows(db, tenant, slot_id="home"):
    rows = db.execute("SELECT bucket, segment, creative_id, impressions, clicks FROM arm_bucket_counts "
                      "WHERE tenant = ? AND platform = 'web' AND slot_id = ?", (tenant.name, slot_id))
    return {(r["bucket"], r["segment"], r["creative_id"]): (r["impressions"], r["clicks"]) for r in rows}


def test_counts_land_in_the_bucket_of_the_decision_exactly_once(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    configure(tenant, runtime, "home", half_life_s=3600)  # 900 s buckets: the test stays in one or two
    started = time.time()
    decisions = [decide(client, tenant, "city=pune") for _ in range(30)]
    for body in decisions[::2]:
        assert client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers).status_code == 202
        # the same click again: a duplicate, counted once in the buckets as in arm_counts
        assert client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers).status_code == 200
    runtime.writer.flush()
    width = bucket_width_s(3600)
    expected = {}
    for i, body in enumerate(decisions):  # the decision's own time decides the bucket: between started and now
        for segment in ("global", "city:pune"):
            key = (segment, body["creative"]["creative_id"])
            n, k = expected.get(key, (0, 0))
            expected[key] = (n + 1, k + (1 if i % 2 == 0 else 0))
    rows = bucket_rows(runtime.db, tenant)
    summed = {}
    for (bucket, segment, cid), (n, k) in rows.items():
        assert bucket_start(started, width) <= bucket <= bucket_start(time.time(), width)
        total = summed.get((segment, cid), (0, 0))
        summed[(segment, cid)] = (total[0] + n, total[1] + k)
    assert summed == expected
    raw = runtime.counts.read_slot(tenant.name, "web", "home")  # all-time counters still kept
    assert {(s, c): (v.impressions, v.clicks) for s, by in raw.items() for c, v in by.items()} == expected


def test_a_click_counts_in_its_impressions_bucket_not_the_clicks(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    configure(tenant, runtime, "home", half_life_s=4)  # 1 s buckets
    body = decide(client, tenant)
    issued = runtime.signer.verify(body["decision_id"]).issued_ms / 1000
    time.sleep(2.2)  # the click comes two buckets later
    assert client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers).status_code == 202
    runtime.writer.flush()
    assert bucket_rows(runtime.db, tenant) == {(int(issued), "global", "a"): (1, 1)}


def test_slots_without_a_half_life_write_no_buckets(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    for _ in range(5):
        body = decide(client, tenant)
        client.post("/click", json={"decision_id": body["decision_id"]}, headers=tenant.headers)
    runtime.writer.flush()
    assert bucket_rows(runtime.db, tenant) == {}


def add_bucket(db, tenant, bucket, creative_id, impressions, clicks, segment="global"):
    db.execute("UPDATE arm_bucket_counts SET impressions = impressions + ?, clicks = clicks + ? WHERE tenant = ? "
               "AND platform = 'web' AND slot_id = 'home' AND bucket = ? AND segment = ? AND creative_id = ?",
               (impressions, clicks, tenant.name, bucket, segment, creative_id))


def test_the_snapshot_weighs_buckets_by_age_and_reads_at_most_thirty(tenant, runtime):
    tenant.add_slot("home", creatives=["a"])
    now = 1_800_000_000.0  # width 15 s for a 60 s half-life; now is the start of a bucket
    add_bucket(runtime.db, tenant, int(now) - 60 - 15, "a", 1000, 100)  # middle 67.5 s ago
    add_bucket(runtime.db, tenant, int(now) - 15, "a", 100, 10)  # middle 7.5 s ago
    add_bucket(runtime.db, tenant, int(now) - 30 * 15, "a", 10**6, 10**6)  # the 31st bucket back: not read
    snapshot = read_snapshot(runtime.db, tenant.name, "web", "home", half_life_s=60, now_s=now)
    counts = snapshot.counts("global", "a")
    w_old, w_new = 0.5 ** (67.5 / 60), 0.5 ** (7.5 / 60)
    assert counts.impressions == pytest.approx(1000 * w_old + 100 * w_new)
    assert counts.clicks == pytest.approx(100 * w_old + 10 * w_new)


def test_seeded_priors_fade_with_their_age(tenant, runtime):
    from bandit import BetaPosterior
    from bandit.priors import SeededPrior
    from app.storage.priors import PriorsStore

    tenant.add_slot("home", creatives=["a"])
    PriorsStore(runtime.db).replace_slot(tenant.name, "web", "home",
                                         [SeededPrior("global", "a", BetaPosterior(21.0, 181.0), "history")])
    later = time.time() + 60
    prior = read_snapshot(runtime.db, tenant.name, "web", "home", half_life_s=60, now_s=later).prior("global", "a")
    assert prior.alpha == pytest.approx(11.0, rel=0.01) and prior.beta == pytest.approx(91.0, rel=0.01)
    assert read_snapshot(runtime.db, tenant.name, "web", "home").prior("global", "a") == BetaPosterior(21.0, 181.0)


def test_stats_show_effective_counts_beside_raw_ones(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b"])
    configure(tenant, runtime, "home", half_life_s=60)
    for creative_id, n, k in (("a", 200, 40), ("b", 200, 2)):
        runtime.db.execute("UPDATE arm_counts SET impressions = impressions + ?, clicks = clicks + ? WHERE tenant = ? "
                           "AND platform = 'web' AND slot_id = 'home' AND segment = 'global' AND creative_id = ?",
                           (n, k, tenant.name, creative_id))
    # "a" was good two half-lives ago, "b" is good now
    add_bucket(runtime.db, tenant, int(time.time()) - 120, "a", 200, 40)
    add_bucket(runtime.db, tenant, int(time.time()), "b", 20, 10)
    stats = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    assert stats["half_life_s"] == 60
    rows = {c["creative_id"]: c for c in stats["segments"][0]["creatives"]}
    assert (rows["a"]["impressions"], rows["a"]["clicks"]) == (200, 40)
    assert 200 * 0.5 ** (130 / 60) < rows["a"]["effective_impressions"] < 200 * 0.5 ** (110 / 60)
    assert 9 < rows["b"]["effective_clicks"] <= 10
    assert rows["b"]["p_best"] > 0.9  # the posteriors are the discounted ones
    configure(tenant, runtime, "home", half_life_s=None)
    plain = client.get("/slot/home/stats?platform=web", headers=tenant.headers).get_json()
    rows = {c["creative_id"]: c for c in plain["segments"][0]["creatives"]}
    assert plain["half_life_s"] is None and rows["a"]["effective_impressions"] == 200 and rows["a"]["p_best"] > 0.9


def test_min_share_shows_every_creative_and_logs_the_mixture_propensity(client, tenant, runtime):
    tenant.add_slot("home", creatives=["a", "b", "c", "d"])
    runtime.db.execute("UPDATE arm_counts SET impressions = impressions + 5000, clicks = clicks + 1000 WHERE tenant = ? "
                       "AND platform = 'web' AND slot_id = 'home' AND segment = 'global' AND creative_id = 'a'",
                       (tenant.name,))
    for cid in "bcd":
        runtime.db.execute("UPDATE arm_counts SET impressions = impressions + 5000, clicks = clicks + 50 WHERE "
                           "tenant = ? AND platform = 'web' AND slot_id = 'home' AND segment = 'global' "
                           "AND creative_id = ?", (tenant.name, cid))
    configure(tenant, runtime, "home", min_share=0.1)
    runtime.snapshots.invalidate((tenant.name, "web", "home"))
    decisions = [decide(client, tenant) for _ in range(400)]
    shown = [d["creative"]["creative_id"] for d in decisions]
    # Thompson alone shows "a" always (20% against 1%); the floor gives each of b, c, d 0.1:
    # Binomial(400, 0.1) has mean 40 and sd 6; more than 20 is over 3 sd below the mean.
    for cid in "bcd":
        assert shown.count(cid) > 20
        assert {d["propensity"] for d in decisions if d["creative"]["creative_id"] == cid} == {0.1}
    assert {d["propensity"] for d in decisions if d["creative"]["creative_id"] == "a"} == {0.7}
    runtime.writer.flush()
    logged = {row["decision_id"]: row["propensity"] for row in tenant.events("home") if row["kind"] == "impression"}
    assert all(logged[d["decision_id"]] == pytest.approx(d["propensity"]) for d in decisions)
