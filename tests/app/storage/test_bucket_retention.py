"""Old time buckets of half-life slots are deleted (real Cassandra): counter buckets, stream and revenue
bucket rows older than the first kept go, newer ones and what snapshots read stay."""
import time

import pytest

from app.service.runtime import read_snapshot
from app.storage.bucket_retention import LATE_WRITE_MARGIN_S, BucketRetention, first_kept
from app.storage.revenue import LabelWrite, RevenueStore
from app.storage.stream_totals import StreamTotalsStore
from bandit import ArmCounts
from bandit.discount import bucket_start, bucket_width_s

pytestmark = pytest.mark.integration

HALF_LIFE, WINDOW = 60, 600  # 15 s buckets; clicks up to 10 min after their decision


def configure(tenant, runtime, half_life_s=HALF_LIFE):
    tenant.add_slot("home", creatives=("a", "b"), attribution_window_s=WINDOW)
    tenant.db.execute("UPDATE slots SET half_life_s = ? WHERE tenant = ? AND platform = 'web' AND slot_id = 'home'",
                      (half_life_s, tenant.name))
    runtime.slots.invalidate((tenant.name, "web", "home"))
    return runtime.catalog.load_slot(tenant.name, "web", "home")


def add_bucket(db, tenant, bucket, creative_id="a", segment="global"):
    db.execute("UPDATE arm_bucket_counts SET impressions = impressions + 10, clicks = clicks + 1 WHERE tenant = ? "
               "AND platform = 'web' AND slot_id = 'home' AND bucket = ? AND segment = ? AND creative_id = ?",
               (tenant.name, bucket, segment, creative_id))


def counter_buckets(db, tenant):
    rows = db.execute("SELECT bucket FROM arm_bucket_counts WHERE tenant = ? AND platform = 'web' AND slot_id = 'home'",
                      (tenant.name,))
    return sorted({r["bucket"] for r in rows})


def fill(runtime, tenant, buckets):
    """Counts in every bucket (two segments, two creatives), stream bucket totals and revenue labels."""
    for bucket in buckets:
        for segment in ("global", "city:pune"):
            for creative_id in ("a", "b"):
                add_bucket(runtime.db, tenant, bucket, creative_id, segment)
    stream = StreamTotalsStore(runtime.db)
    assert stream.apply(tenant.name, "web", "home", None, {}, {}, [],
                        {(b, "global", "a"): ArmCounts(5, 1) for b in buckets})
    RevenueStore(runtime.db).apply(tenant.name, "web", "home", [
        LabelWrite(f"d{b}", "a", ("global",), (1.0, 0.0, 3.0, 9.0, 0.0), True, 3600, b) for b in buckets])


def test_buckets_older_than_reads_and_late_writes_are_deleted_and_the_rest_kept(runtime, tenant):
    slot = configure(tenant, runtime)
    now = time.time()
    width = bucket_width_s(HALF_LIFE)
    first = first_kept(slot, now)
    # nothing read is deleted, nor anything a click or a late write can still reach
    assert first == bucket_start(now - WINDOW - LATE_WRITE_MARGIN_S, width)
    old = [first - 3 * width, first - 2 * width, first - width]
    kept = [first, first + width, bucket_start(now, width)]
    fill(runtime, tenant, old + kept)
    before = read_snapshot(runtime.db, tenant.name, "web", "home", half_life_s=HALF_LIFE, now_s=now)
    pruned = BucketRetention(runtime.db).prune(tenant.name, "web", "home", first)
    assert (pruned.counter_buckets, pruned.stream_rows, pruned.revenue_rows) == (3, 3, 3)
    assert counter_buckets(runtime.db, tenant) == kept
    stream = StreamTotalsStore(runtime.db).bucket_totals(tenant.name, "web", "home", 0)
    assert sorted(row[0] for row in stream) == kept
    revenue = RevenueStore(runtime.db).bucket_totals(tenant.name, "web", "home", 0)
    assert sorted(row[0] for row in revenue) == kept
    after = read_snapshot(runtime.db, tenant.name, "web", "home", half_life_s=HALF_LIFE, now_s=now)
    assert after.segments == before.segments and after.revenue == before.revenue
    again = BucketRetention(runtime.db).prune(tenant.name, "web", "home", first)
    assert again.total == 0


def test_the_service_prunes_the_half_life_slots_it_serves(client, runtime, tenant):
    slot = configure(tenant, runtime)
    width = bucket_width_s(HALF_LIFE)
    first = first_kept(slot, time.time())  # the pruner's own, a moment later, is at most a bucket newer
    add_bucket(runtime.db, tenant, first - 100 * width)
    add_bucket(runtime.db, tenant, first + 4 * width)
    answer = client.get("/slot/home/creative?platform=web", headers=tenant.headers)  # loads and notes the slot
    assert answer.status_code == 200
    runtime.pruner.prune_due()  # what its thread does every minute
    runtime.writer.flush()
    decided = runtime.signer.verify(answer.get_json()["decision_id"]).issued_ms / 1000
    assert counter_buckets(runtime.db, tenant) == [first + 4 * width, bucket_start(decided, width)]


def test_prune_buckets_command_prunes_every_half_life_slot(cli, runtime, tenant):
    slot = configure(tenant, runtime)
    width = bucket_width_s(HALF_LIFE)
    first = first_kept(slot, time.time())
    add_bucket(runtime.db, tenant, first - width)
    add_bucket(runtime.db, tenant, first + 4 * width)
    result = cli("prune-buckets", "--tenant", tenant.name)
    assert result.exit_code == 0, result.output
    assert f"{tenant.name}/web/home: kept from" in result.output and "deleted 1 counter buckets" in result.output
    assert counter_buckets(runtime.db, tenant) == [first + 4 * width]
