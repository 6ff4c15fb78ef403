"""``slotbandit backfill`` and ``export-events`` on a local SparkSession against the test Cassandra.

Events are written the way the service writes them (signed decision ids, deterministic event ids);
the counters are then knocked off the log the three ways it happens in production.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from app.decision_ids import DecisionToken
from app.storage import CountDelta, CountsStore, Event, EventStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SINCE = "2026-11-20T00:00:00Z"
UNTIL = "2026-11-21T00:00:00Z"
BASE = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)


def decision(runtime, tenant, creative_id, city, minute):
    """A signed decision as the service issues it, and its impression event."""
    segments = ("global", f"city:{city}")
    token = DecisionToken(tenant.name, "web", "home", creative_id, segments,
                          int((BASE + timedelta(minutes=minute)).timestamp() * 1000), DecisionToken.new_nonce(), city)
    decision_id = runtime.signer.sign(token)
    moment = BASE + timedelta(minutes=minute)
    imp = Event(tenant.name, "web", "home", moment, f"imp:{token.nonce}", "impression", decision_id, creative_id,
                "global", city)
    return token, decision_id, imp


def click_event(tenant, token, decision_id, minute):
    return Event(tenant.name, "web", "home", BASE + timedelta(minutes=minute), f"click:{token.nonce}", "click",
                 decision_id, token.creative_id, token.segments[-1], token.city)


def counters(db, tenant) -> dict:
    rows = db.execute("SELECT segment, creative_id, impressions, clicks FROM arm_counts WHERE tenant = ? AND "
                      "platform = 'web' AND slot_id = 'home'", (tenant.name,))
    return {(r["segment"], r["creative_id"]): (r["impressions"], r["clicks"]) for r in rows}


@pytest.fixture
def drifted_slot(runtime, db, tenant):
    """10 impressions (a/pune, b/delhi alternating), 4 clicks, counters off the log three ways."""
    tenant.add_slot("home", creatives=("a", "b"))
    events, counts = EventStore(db), CountsStore(db)
    for i in range(10):
        creative, city = ("a", "pune") if i % 2 == 0 else ("b", "delhi")
        token, decision_id, imp = decision(runtime, tenant, creative, city, i)
        events.insert(imp)
        # A gap while a worker was down: impressions 8 and 9 were logged but never counted.
        if i < 8:
            counts.add_together([CountDelta(tenant.name, "web", "home", s, creative, impressions=1)
                                 for s in token.segments])
        if i < 4:
            events.insert(click_event(tenant, token, decision_id, i + 1))
            # A late click (i == 3) is in the log but missed the counters.
            if i != 3:
                counts.add_together([CountDelta(tenant.name, "web", "home", s, creative, clicks=1)
                                     for s in token.segments])
            # A replayed click (i == 0): logged again later under the same event id, counted twice.
            if i == 0:
                events.insert(click_event(tenant, token, decision_id, 30))
                counts.add_together([CountDelta(tenant.name, "web", "home", s, creative, clicks=1)
                                     for s in token.segments])
    return tenant


def test_backfill_makes_the_counters_equal_the_log_and_a_second_run_changes_nothing(cli, db, drifted_slot):
    tenant = drifted_slot
    # Truth: a/pune impressions 0,2,4,6,8 clicks 0,2; b/delhi impressions 1,3,5,7,9 clicks 1,3.
    truth = {("global", "a"): (5, 2), ("city:pune", "a"): (5, 2), ("global", "b"): (5, 2),
             ("city:delhi", "b"): (5, 2)}
    assert counters(db, tenant) != truth
    # A slot with counts but no event in the window is left alone (never zeroed by a wrong window).
    tenant.add_slot("quiet", creatives=("a",))
    CountsStore(db).add_together([CountDelta(tenant.name, "web", "quiet", "global", "a", impressions=7)])

    dry = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would change" in dry.stdout and counters(db, tenant) != truth

    first = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert first.exit_code == 0, first.output
    assert counters(db, tenant) == truth
    assert "1 duplicate event ids dropped" in first.stdout
    assert "impressions 4 -> 5 (+1)" in first.stdout  # b/delhi lost impression 9 in the gap
    assert "repaired 4 rows" in first.stdout
    assert f"{tenant.name}/web/quiet: no events in the window" in first.stdout
    quiet = db.execute("SELECT impressions FROM arm_counts WHERE tenant = ? AND platform = 'web' AND slot_id = 'quiet'",
                       (tenant.name,)).one()
    assert quiet["impressions"] == 7

    second = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert second.exit_code == 0, second.output
    assert "nothing changed" in second.stdout
    assert counters(db, tenant) == truth


def test_export_events_writes_parquet_and_csv(cli, drifted_slot, tmp_path):
    tenant = drifted_slot
    out = tmp_path / "parquet"
    result = cli("export-events", "--since", SINCE, "--until", UNTIL, "--format", "parquet", "--out", out,
                 "--tenant", tenant.name)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out).to_pandas()
    # 10 impressions and 5 click rows (one click replayed with another event time).
    assert len(table) == 15 and sorted(table["kind"].value_counts().items()) == [("click", 5), ("impression", 10)]
    assert set(table["tenant"]) == {tenant.name}
    csv_out = tmp_path / "csv"
    result = cli("export-events", "--since", SINCE, "--until", UNTIL, "--format", "csv", "--out", csv_out,
                 "--tenant", tenant.name)
    assert result.exit_code == 0, result.output
    lines = [line for f in sorted(csv_out.glob("*.csv")) for line in f.read_text().splitlines()]
    assert sum(1 for line in lines if line.startswith("tenant,")) >= 1
    assert sum(1 for line in lines if not line.startswith("tenant,")) == 15


@pytest.mark.parametrize("args, fragment", [
    (("backfill", "--since", "yesterday"), "ISO 8601"),
    (("backfill", "--since", UNTIL, "--until", SINCE), "must be before --until"),
    (("backfill", "--since", SINCE, "--tenant", "no-such-tenant"), "no slots found"),
    (("export-events", "--since", SINCE, "--out", "{existing}"), "already exists"),
])
def test_bad_input_is_one_line_and_non_zero(cli, tmp_path, args, fragment):
    existing = tmp_path / "full"
    existing.mkdir()
    (existing / "x").write_text("x")
    result = cli(*[a.format(existing=existing) for a in args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("slotbandit: ") and fragment in lines[-1], result.stderr
    assert "Traceback" not in result.stderr


def test_backfill_counts_what_the_kafka_stream_applied(cli, db, runtime, tenant):
    """In Kafka mode the worker applies events as stream totals, not counters; the service reads
    counters + stream totals. Backfill must compare the log with that sum, or it would count every
    streamed event a second time."""
    from app.storage.stream_totals import StreamTotalsStore
    from bandit import ArmCounts

    tenant.add_slot("home", creatives=("a",))
    events = EventStore(db)
    for i in range(6):
        _, _, imp = decision(runtime, tenant, "a", "pune", i)
        events.insert(imp)
    # The stream applied 5 of the 6 logged impressions (one was lost in a gap); no counters at all.
    streamed = {("global", "a"): ArmCounts(5, 0), ("city:pune", "a"): ArmCounts(5, 0)}
    assert StreamTotalsStore(db).apply(tenant.name, "web", "home", None, streamed, {}, ["e1"])

    result = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert result.exit_code == 0, result.output
    served = runtime.counts.read_slot(tenant.name, "web", "home")
    assert served["global"]["a"] == ArmCounts(6, 0) and served["city:pune"]["a"] == ArmCounts(6, 0)
    assert counters(db, tenant) == {("global", "a"): (1, 0), ("city:pune", "a"): (1, 0)}
    again = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert "nothing changed" in again.stdout


def test_backfill_rebuilds_the_time_buckets_of_a_half_life_slot(cli, db, drifted_slot):
    """With half_life_s = 1200 (300 s buckets), every logged event counts in the bucket of its decision's
    time: impressions at minutes 0-9 fall in buckets 9:00 and 9:05, and the click of minute i's decision
    (logged a minute later, one replayed at minute 30) in its impression's bucket."""
    tenant = drifted_slot
    db.execute("UPDATE slots SET half_life_s = 1200 WHERE tenant = ? AND platform = 'web' AND slot_id = 'home'",
               (tenant.name,))
    # With the default attribution window (1 day) buckets of BASE are older than the first one kept
    # (app/storage/bucket_retention.py): not rebuilt, while the all-time counters are.
    kept_only = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert kept_only.exit_code == 0 and "@" not in kept_only.stdout, kept_only.output
    assert not list(db.execute("SELECT bucket FROM arm_bucket_counts WHERE tenant = ? AND platform = 'web' "
                               "AND slot_id = 'home'", (tenant.name,)))
    # A window reaching back two days before BASE keeps them.
    window_s = int(time.time() - BASE.timestamp()) + 2 * 86_400
    db.execute("UPDATE slots SET attribution_window_s = ? WHERE tenant = ? AND platform = 'web' AND slot_id = 'home'",
               (window_s, tenant.name))
    first = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert first.exit_code == 0, first.output
    rows = db.execute("SELECT bucket, segment, creative_id, impressions, clicks FROM arm_bucket_counts WHERE tenant = ? "
                      "AND platform = 'web' AND slot_id = 'home'", (tenant.name,))
    got = {(r["bucket"], r["segment"], r["creative_id"]): (r["impressions"], r["clicks"]) for r in rows}
    b0, b5 = int(BASE.timestamp()), int(BASE.timestamp()) + 300
    # bucket 9:00: a/pune decisions 0, 2, 4 (clicks 0, 2); b/delhi 1, 3 (clicks 1, 3)
    # bucket 9:05: a/pune 6, 8; b/delhi 5, 7, 9; no clicks
    assert got == {(b0, "global", "a"): (3, 2), (b0, "city:pune", "a"): (3, 2),
                   (b0, "global", "b"): (2, 2), (b0, "city:delhi", "b"): (2, 2),
                   (b5, "global", "a"): (2, 0), (b5, "city:pune", "a"): (2, 0),
                   (b5, "global", "b"): (3, 0), (b5, "city:delhi", "b"): (3, 0)}
    second = cli("backfill", "--since", SINCE, "--until", UNTIL, "--tenant", tenant.name)
    assert "nothing changed" in second.stdout, second.output
